pub mod bench;
pub mod compare;
pub mod document;
pub mod enroll;
pub mod eval;
pub mod eval_documents;
pub mod eval_liveness;
pub mod verify;
