//! The LDAP connector against real servers: OpenLDAP 2.5 with ppolicy (one slapd per test,
//! under a second to start) and a Samba 4 AD DC (one per test binary, shared; each test
//! uses its own account). Duo against a double of its Admin API that checks signatures with
//! Duo's reference client; Okta against a double behind Prism, which validates every request
//! against Okta's published OpenAPI description.

mod active_directory;
mod duo;
mod entra;
mod okta;
mod openldap;
