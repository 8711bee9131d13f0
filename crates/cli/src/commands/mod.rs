pub mod bench;
pub mod compare;
pub mod eval;
