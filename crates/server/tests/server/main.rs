//! reclaim-server's integration tests: a real server on a loopback port, a real
//! database (SQLite, and a throwaway PostgreSQL cluster), the demo directory in a file,
//! and a client that signs attestations the way the app does. Every scenario runs on
//! both databases.

mod harness;

mod admission;
mod attacks;
mod audit_chain;
mod capabilities;
mod cluster;
mod console;
mod console_pages;
mod console_passkey;
mod contract;
mod datakey;
mod flow;
mod idv;
mod input;
mod light;
mod limits;
mod notify;
mod oidc;
mod ops;
mod oracle;
mod pg_tls;
mod replay;
mod review;
mod schema;
mod siem;
mod sign_in_codes;
mod trust;
