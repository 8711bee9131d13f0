//! End to end: the real app, built, under Xvfb, driven through WebDriver (tauri-driver
//! and WebKitWebDriver), against a real `reclaim serve` with the demo directory, and a
//! file-backed camera showing generated scenes. Screenshots of every screen are taken
//! from the X display (the WebDriver screenshot call hangs under Xvfb) into
//! `$RECLAIM_SCREENSHOTS` (default: a temporary directory the test prints). The X screen
//! is the size of the app's window, so a screenshot is the window.

mod harness;
mod webdriver;

mod flows;
mod keystore;
