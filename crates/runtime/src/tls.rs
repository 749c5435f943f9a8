//! TLS between services (rustls): a service run on its own serves its gRPC over TLS when it has
//! a certificate and key, and a caller speaks TLS to every `https://` service URL, trusting the
//! Mozilla roots and, for a private authority, the certificates of a CA file. The internal token
//! still authenticates every call; TLS keeps it and the calls private on a shared network.

use std::path::Path;

use anyhow::Context as _;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The TLS settings of one process's internal calls, in and out.
#[derive(Clone, Debug, Default)]
pub struct ServiceTls {
    /// The certificate chain and key this process's gRPC server presents, if it serves TLS.
    identity: Option<Identity>,
    /// Authorities trusted besides the Mozilla roots.
    authority: Option<Certificate>,
}

impl ServiceTls {
    /// Plain connections only: all services in one process, on loopback.
    pub fn none() -> ServiceTls {
        ServiceTls::default()
    }

    /// Reads the PEM files: a certificate chain and its key (both or neither), and authorities.
    pub fn load(
        cert_file: Option<&Path>,
        key_file: Option<&Path>,
        ca_file: Option<&Path>,
    ) -> anyhow::Result<ServiceTls> {
        let read = |path: &Path, what: &str| {
            std::fs::read(path).with_context(|| format!("reading the {what} {}", path.display()))
        };
        let identity = match (cert_file, key_file) {
            (Some(cert), Some(key)) => Some(Identity::from_pem(
                read(cert, "gRPC TLS certificate (BOXOFFICE_GRPC_TLS_CERT_FILE)")?,
                read(key, "gRPC TLS key (BOXOFFICE_GRPC_TLS_KEY_FILE)")?,
            )),
            (None, None) => None,
            _ => anyhow::bail!(
                "BOXOFFICE_GRPC_TLS_CERT_FILE (grpc_tls_cert_file) and BOXOFFICE_GRPC_TLS_KEY_FILE \
                 (grpc_tls_key_file) go together: set both to serve gRPC over TLS, or neither"
            ),
        };
        let authority = ca_file
            .map(|path| read(path, "gRPC certificate authorities (BOXOFFICE_GRPC_TLS_CA_FILE)"))
            .transpose()?
            .map(Certificate::from_pem);
        Ok(ServiceTls { identity, authority })
    }

    /// The server's TLS, if it serves TLS.
    pub(crate) fn server(&self) -> Option<ServerTlsConfig> {
        self.identity.clone().map(|identity| ServerTlsConfig::new().identity(identity))
    }

    /// The TLS of a call to an `https://` URL.
    pub(crate) fn client(&self) -> ClientTlsConfig {
        let config = ClientTlsConfig::new().with_webpki_roots();
        match &self.authority {
            Some(authority) => config.ca_certificate(authority.clone()),
            None => config,
        }
    }
}
