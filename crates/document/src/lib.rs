//! What an identity document says, and whether it says it consistently.
//!
//! This crate turns the text an ID carries into checked fields: the machine-readable zone
//! of passports and ID cards (ICAO 9303: [`mrz`]), the PDF417 barcode of North American
//! driving licences (AAMVA DL/ID: [`aamva`]), and compares the names found with a
//! directory's record ([`names`]). It sees no pixels: reading the text off a photo is the
//! engine's job (`reclaim-verify`), so everything here is cheap to test and to fuzz.

pub mod aamva;
pub mod date;
pub mod fields;
pub mod mrz;
pub mod names;
pub mod visual_zone;

pub use date::Date;
pub use fields::{DocumentFields, DocumentKind, Sex};
