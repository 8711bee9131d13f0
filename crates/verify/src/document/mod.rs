//! Reading identity documents from photos: the MRZ, the barcodes and the portrait.

pub mod barcode;
pub mod filler_shapes;
pub mod mrz;
pub mod ocr;
pub mod reader;
pub mod text_lines;

pub use reader::{DocumentReader, DocumentReason, DocumentReport, Side};
