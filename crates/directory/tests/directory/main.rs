//! The LDAP connector against real servers: OpenLDAP 2.5 with ppolicy (one slapd per test,
//! under a second to start) and a Samba 4 AD DC (one per test binary, shared; each test
//! uses its own account).

mod active_directory;
mod entra;
mod openldap;
