//! Any bytes through every TPM parser and check the server runs on what a device sends
//! when its key is registered as `hardware` (TPM2B_PUBLIC, TPMT_PUBLIC, TPMS_ATTEST,
//! TPMT_SIGNATURE, the Names and attribute rules, MakeCredential, the JSON messages):
//! a typed error, never a panic, never an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| reclaim_tpm::parse(data));
