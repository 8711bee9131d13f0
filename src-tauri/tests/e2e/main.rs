//! End to end: the real app, built, under Xvfb, driven through WebDriver (WebKitWebDriver,
//! as tauri-driver would start it), against a real `reclaim serve` with the demo directory and its
//! default camera and model policies, and a file-backed camera showing generated scenes
//! (declared a sensor by the tests' switch, except in the camera policy's own test). Screenshots of every screen are taken
//! from the X display (the WebDriver screenshot call hangs under Xvfb) into
//! `$RECLAIM_SCREENSHOTS` (default: a temporary directory the test prints). The X screen
//! is the size of the app's window, so a screenshot is the window.

mod harness;

mod flows;
mod keystore;
