//! TLS to providers, hubs and every other HTTPS server the binaries call:
//! rustls on ring (no system OpenSSL), certificates checked against the
//! platform's roots by `rustls-platform-verifier`, which reads them on the
//! first handshake rather than at start, so starting the gateway reads no
//! certificate store (loading it costs tens of milliseconds and several
//! megabytes that a gateway serving only local providers never needs).

use std::sync::{Arc, LazyLock, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// The one TLS set-up of the process: HTTP/2 and HTTP/1.1 offered by ALPN.
static CLIENT_CONFIG: LazyLock<Arc<rustls::ClientConfig>> = LazyLock::new(|| {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(LazyPlatformVerifier {
        provider: provider.clone(),
        inner: OnceLock::new(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
});

/// The process's TLS client configuration (cheap to clone).
pub fn client_config() -> Arc<rustls::ClientConfig> {
    CLIENT_CONFIG.clone()
}

/// A reqwest client builder on [`client_config`]; every HTTPS client of
/// the binaries starts here.
pub fn http_client() -> reqwest::ClientBuilder {
    install_ring_default();
    reqwest::Client::builder().tls_backend_preconfigured((*CLIENT_CONFIG).as_ref().clone())
}

/// Makes ring the process's rustls crypto provider (once; a provider
/// already installed stays), for a reqwest client that sets up TLS itself
/// (its own roots, or a loopback certificate accepted as is).
pub fn install_ring_default() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // Err: another provider was installed first, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The platform verifier, made (the platform's roots read) on the first
/// certificate to check. Signatures are checked with the crypto provider's
/// algorithms alone, as the platform verifier itself does on Linux.
#[derive(Debug)]
struct LazyPlatformVerifier {
    provider: Arc<CryptoProvider>,
    inner: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl LazyPlatformVerifier {
    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.inner
            .get_or_init(|| rustls_platform_verifier::Verifier::new(self.provider.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for LazyPlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roots_are_read_only_when_a_certificate_is_checked() {
        let config = client_config();
        assert_eq!(config.alpn_protocols[0], b"h2");
        let verifier = LazyPlatformVerifier {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            inner: OnceLock::new(),
        };
        assert!(!verifier.supported_verify_schemes().is_empty());
        assert!(verifier.inner.get().is_none());
        // A certificate that is not one: refused, after the roots were read.
        let refused = verifier.verify_server_cert(
            &CertificateDer::from(vec![0u8; 8]),
            &[],
            &ServerName::try_from("example.com").unwrap(),
            &[],
            UnixTime::now(),
        );
        assert!(refused.is_err());
        assert!(verifier.inner.get().is_some());
    }
}
