//! Synthetic identity documents for Reclaim's tests and evaluation.
//!
//! Real IDs cannot be put in a repository, so the document reader is tested on documents
//! made here: ID cards, passport pages and US driving licences with correct (or
//! deliberately wrong) MRZs, real PDF417 and QR barcodes, printed portraits made from real
//! photographs, then photographed badly on purpose ([`photo`]). A seed names a document
//! exactly, so a failing case can be reproduced anywhere.

pub mod barcode;
pub mod draw;
pub mod homography;
pub mod layout;
pub mod photo;
pub mod portrait;
pub mod rng;
pub mod sample;

pub use layout::{render, DocKind, DocumentSpec, Holder, RenderedDocument};
pub use photo::{photograph, Degradation, Level, Photo};
pub use rng::Rng;
