//! Connections to a collector, a receiver or (for the admin console's sign-in) an OpenID
//! provider: TCP, in TLS when configured, each step within a timeout.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A TCP connection to `address`, in TLS when `tls` says so; each step within `timeout`.
pub(crate) async fn connect(
    address: &str,
    tls: Option<&(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    timeout: Duration,
) -> Result<Box<dyn Io>, String> {
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(address))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    match tls {
        None => Ok(Box::new(tcp)),
        Some((config, name)) => {
            let connector = tokio_rustls::TlsConnector::from(config.clone());
            let stream = tokio::time::timeout(timeout, connector.connect(name.clone(), tcp))
                .await
                .map_err(|_| "TLS handshake timed out".to_string())?
                .map_err(|e| format!("TLS: {e}"))?;
            Ok(Box::new(stream))
        }
    }
}

/// A TLS client configuration trusting the CAs of `ca_file`, or the system's.
pub(crate) fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("ca_file {}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("ca_file {}: no certificate in it", path.display()));
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
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}
