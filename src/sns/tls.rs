//! The HTTPS client that fetches SNS signing certificates and confirms subscriptions (the
//! system's roots on the AWS SDK's own TLS stack), and the SHA-1 signature check that SNS's
//! SignatureVersion 1 still needs.

use bytes::Bytes;
use http_body_util::Empty;
use rustls_pki_types::{
    AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm, alg_id,
};

/// The client fetches use.
pub(super) type HttpsClient = crate::https::HttpsClient<Empty<Bytes>>;

/// An HTTPS client with the system's root certificates, on the AWS SDK's own TLS stack.
pub(super) fn client() -> Result<HttpsClient, String> {
    crate::https::client()
}

/// RSA PKCS#1 v1.5 with SHA-1: SNS's SignatureVersion 1, still the default for topics.
#[derive(Debug)]
pub(super) struct RsaPkcs1Sha1;

impl SignatureVerificationAlgorithm for RsaPkcs1Sha1 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            public_key,
        )
        .verify(message, signature)
        .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        // Only compared when verifying certificate chains, which this never does.
        alg_id::RSA_PKCS1_SHA256
    }
}
