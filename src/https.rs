//! The one HTTPS client thumbkit makes outbound calls with (SNS certificates, purge
//! webhooks): the system's root certificates on the AWS SDK's own TLS stack (rustls with
//! aws-lc), so no second TLS library is linked.

use std::sync::Arc;

use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A client for bodies of type `B`, over HTTPS (or plain HTTP where the caller allows it).
pub type HttpsClient<B> = Client<hyper_rustls::HttpsConnector<HttpConnector>, B>;

/// An HTTPS client with the system's root certificates.
pub fn client<B>() -> Result<HttpsClient<B>, String>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        tracing::warn!("no system root certificates found: HTTPS calls out will fail");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot configure TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        // Plain http reaches only what the caller's checked URL names (an emulator, a test).
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}
