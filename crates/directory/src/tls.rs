//! The TLS client settings every connector uses: rustls with ring, trusting the CAs of a
//! configured PEM file or else the system's roots.

use std::path::Path;
use std::sync::Arc;

use crate::DirectoryError;

/// A TLS client configuration trusting the certificates of `ca_file`, or the system's
/// roots when there is none.
pub(crate) fn client_config(
    ca_file: Option<&Path>,
) -> Result<rustls::ClientConfig, DirectoryError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let bad = |e: &dyn std::fmt::Display| {
                DirectoryError::Config(format!("ca_file {}: {e}", path.display()))
            };
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
                roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
            }
            if roots.is_empty() {
                return Err(bad(&"no certificate in it"));
            }
        }
        None => {
            // Unreadable system certificates are skipped, like a TLS library would.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    // The provider is named rather than taken from the process default, so this works
    // whatever other crates in the binary install.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DirectoryError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
