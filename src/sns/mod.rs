//! Amazon SNS, the way AWS delivers S3 event notifications to an HTTP endpoint. Nothing in
//! a message is believed before its signature verifies against the SNS signing certificate,
//! fetched over HTTPS from an SNS host only; a subscription is confirmed by fetching its
//! `SubscribeURL`, again only from an SNS host.

mod hosts;
mod tls;

pub use hosts::sns_host;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use moka::future::Cache;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm};

use serde::Deserialize;
use tls::{HttpsClient, RsaPkcs1Sha1, client};

/// Largest certificate or confirmation answer read from SNS.
const MAX_FETCH_BYTES: usize = 64 << 10;
/// Longest a fetch from SNS may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Oldest message acted on: a captured message replayed later is refused, and the ids of
/// the ones acted on are remembered for as long.
const MAX_AGE: Duration = Duration::from_secs(3600);
/// How far ahead of this instance's clock a message's `Timestamp` may be.
const MAX_AHEAD: Duration = Duration::from_secs(15 * 60);

/// Who may send SNS messages (`THUMBKIT_SNS_*`).
#[derive(Debug, Clone, Default)]
pub struct SnsOptions {
    /// Topic ARNs accepted; empty accepts any topic whose messages verify.
    pub topics: Vec<String>,
    /// One more origin (`scheme://host:port`) trusted to serve signing certificates and
    /// subscription URLs, for an SNS emulator; AWS's SNS hosts are always trusted.
    pub extra_origin: Option<String>,
}

/// Why an SNS message was not acted on.
#[derive(Debug, thiserror::Error)]
pub enum SnsError {
    /// The message is not a well-formed SNS message (400).
    #[error("not a well-formed SNS message: {0}")]
    Malformed(String),
    /// The message is not from SNS, or not from an accepted topic (403).
    #[error("{0}")]
    Refused(String),
    /// SNS could not be reached to fetch the certificate or confirm (502).
    #[error("{0}")]
    Unreachable(String),
}

/// An SNS message as POSTed to an HTTP(S) subscription.
#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "MessageId")]
    pub message_id: String,
    #[serde(rename = "TopicArn")]
    pub topic_arn: String,
    #[serde(rename = "Subject")]
    pub subject: Option<String>,
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "Token")]
    pub token: Option<String>,
    #[serde(rename = "SubscribeURL")]
    pub subscribe_url: Option<String>,
    #[serde(rename = "SignatureVersion")]
    pub signature_version: String,
    #[serde(rename = "Signature")]
    pub signature: String,
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
}

impl Message {
    /// The SNS message in `value`, `None` when `value` is not shaped like one (a bare S3
    /// notification), or why it is an SNS message that cannot be read (unsigned, say).
    pub fn from_value(value: &serde_json::Value) -> Option<Result<Self, SnsError>> {
        if value.get("Type").is_none() || value.get("TopicArn").is_none() {
            return None;
        }
        Some(
            serde_json::from_value(value.clone())
                .map_err(|e| SnsError::Malformed(format!("{e} (SNS messages are signed)"))),
        )
    }

    /// The text SNS signs: named fields in a fixed order, each as `name\nvalue\n`.
    pub fn string_to_sign(&self) -> Result<String, SnsError> {
        let missing = |field: &str| SnsError::Malformed(format!("a {} has no {field}", self.kind));
        let mut fields: Vec<(&str, &str)> =
            vec![("Message", &self.message), ("MessageId", &self.message_id)];
        match self.kind.as_str() {
            "Notification" => {
                if let Some(subject) = &self.subject {
                    fields.push(("Subject", subject));
                }
                fields.push(("Timestamp", &self.timestamp));
            }
            "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
                let url = self
                    .subscribe_url
                    .as_deref()
                    .ok_or_else(|| missing("SubscribeURL"))?;
                let token = self.token.as_deref().ok_or_else(|| missing("Token"))?;
                fields.extend([("SubscribeURL", url), ("Timestamp", &self.timestamp)]);
                fields.push(("Token", token));
            }
            other => return Err(SnsError::Malformed(format!("unknown Type `{other}`"))),
        }
        fields.extend([("TopicArn", &*self.topic_arn), ("Type", &*self.kind)]);
        Ok(fields
            .iter()
            .map(|(name, value)| format!("{name}\n{value}\n"))
            .collect())
    }

    /// The SNS host of the topic's ARN (`arn:PARTITION:sns:REGION:ACCOUNT:NAME`), when the
    /// partition is one SNS serves HTTPS subscriptions from and the region is a region of it.
    fn sns_host(&self) -> Option<String> {
        let mut parts = self.topic_arn.split(':');
        let (Some("arn"), Some(partition), Some("sns"), Some(region)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        sns_host(partition, region)
    }

    /// When SNS sent the message, in Unix seconds.
    fn sent_at(&self) -> Result<i64, SnsError> {
        aws_smithy_types::DateTime::from_str(
            &self.timestamp,
            aws_smithy_types::date_time::Format::DateTime,
        )
        .map(|t| t.secs())
        .map_err(|e| SnsError::Malformed(format!("the Timestamp is not an ISO 8601 time: {e}")))
    }
}

/// Splits `scheme://authority/rest` without normalising anything.
fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    Some((scheme, authority, tail))
}

/// Verifies SNS messages and confirms subscriptions.
pub struct Sns {
    options: SnsOptions,
    client: tokio::sync::OnceCell<Result<HttpsClient, String>>,
    /// Signing certificates by URL (SNS rotates them rarely; each is fetched once).
    certs: Cache<String, Arc<Vec<u8>>>,
    /// `MessageId`s of the verified messages of the last [`MAX_AGE`]: SNS delivers at least
    /// once, and a message is acted on once.
    seen: Cache<String, ()>,
}

impl Sns {
    /// A verifier trusting AWS's SNS hosts (and `options.extra_origin`).
    pub fn new(options: SnsOptions) -> Self {
        Self {
            options,
            client: tokio::sync::OnceCell::new(),
            certs: Cache::builder()
                .max_capacity(64)
                .time_to_live(Duration::from_secs(24 * 3600))
                .build(),
            seen: Cache::builder()
                .max_capacity(1 << 20)
                .time_to_live(MAX_AGE + MAX_AHEAD)
                .build(),
        }
    }

    /// Whether only SNS messages are accepted (topics are configured): a bare S3 event
    /// notification is then refused, since anyone with the token could forge one.
    pub fn required(&self) -> bool {
        !self.options.topics.is_empty()
    }

    /// Whether the verified `message` is seen for the first time (and remembers it).
    pub async fn first_time(&self, message: &Message) -> bool {
        let entry = self
            .seen
            .entry(message.message_id.clone())
            .or_insert(())
            .await;
        entry.is_fresh()
    }

    /// Forgets that `message` was seen, so that its redelivery is acted on (its work failed
    /// for a passing reason).
    pub async fn forget(&self, message: &Message) {
        self.seen.invalidate(&message.message_id).await;
    }

    /// Refuses a URL that is not on an SNS host of the topic's region (or the extra origin).
    fn check_url(&self, message: &Message, url: &str, what: &str) -> Result<(), SnsError> {
        let refused = || {
            SnsError::Refused(format!(
                "the {what} `{}` is not on an SNS host of the topic's region \
                 (https://sns.REGION.amazonaws.com/)",
                url.chars().take(200).collect::<String>()
            ))
        };
        let (scheme, authority, _) = split_url(url).ok_or_else(refused)?;
        let origin = format!("{scheme}://{authority}");
        if self.options.extra_origin.as_deref() == Some(origin.as_str()) {
            return Ok(());
        }
        let host = message.sns_host().ok_or_else(refused)?;
        if scheme == "https" && authority == host {
            Ok(())
        } else {
            Err(refused())
        }
    }

    /// Checks that `message` comes from SNS (its signature, over its fields, verifies with
    /// the certificate at its `SigningCertURL`) and from an accepted topic.
    pub async fn verify(&self, message: &Message) -> Result<(), SnsError> {
        if !self.options.topics.is_empty() && !self.options.topics.contains(&message.topic_arn) {
            return Err(SnsError::Refused(format!(
                "the topic `{}` is not one of THUMBKIT_SNS_TOPICS",
                message.topic_arn
            )));
        }
        let now = i64::try_from(crate::signing::now()).unwrap_or(i64::MAX);
        let sent = message.sent_at()?;
        if now.saturating_sub(sent) > MAX_AGE.as_secs() as i64 {
            return Err(SnsError::Refused(format!(
                "the message was sent at {}, more than an hour ago: it is not acted on",
                message.timestamp
            )));
        }
        if sent.saturating_sub(now) > MAX_AHEAD.as_secs() as i64 {
            return Err(SnsError::Refused(format!(
                "the message's Timestamp {} is ahead of this instance's clock",
                message.timestamp
            )));
        }
        let url = &message.signing_cert_url;
        self.check_url(message, url, "SigningCertURL")?;
        let (_, _, path) = split_url(url).unwrap_or_default();
        if !path.ends_with(".pem") {
            return Err(SnsError::Refused(
                "the SigningCertURL does not name a .pem certificate".into(),
            ));
        }
        let signed = message.string_to_sign()?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(message.signature.trim())
            .map_err(|e| SnsError::Refused(format!("the Signature is not base64: {e}")))?;
        let algorithm: &dyn SignatureVerificationAlgorithm =
            match message.signature_version.as_str() {
                "1" => &RsaPkcs1Sha1,
                "2" => webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
                other => {
                    return Err(SnsError::Refused(format!(
                        "SignatureVersion `{other}` is not 1 or 2"
                    )));
                }
            };
        let der = self
            .certs
            .try_get_with(url.clone(), async {
                let pem = self.fetch(url).await?;
                let cert = CertificateDer::from_pem_slice(&pem).map_err(|e| {
                    SnsError::Refused(format!("the SigningCertURL is not a PEM certificate: {e}"))
                })?;
                Ok::<_, SnsError>(Arc::new(cert.to_vec()))
            })
            .await
            .map_err(|e| match &*e {
                SnsError::Malformed(m) => SnsError::Malformed(m.clone()),
                SnsError::Refused(m) => SnsError::Refused(m.clone()),
                SnsError::Unreachable(m) => SnsError::Unreachable(m.clone()),
            })?;
        let der = CertificateDer::from(der.as_slice());
        let cert = webpki::EndEntityCert::try_from(&der).map_err(|e| {
            SnsError::Refused(format!("the signing certificate is unreadable: {e}"))
        })?;
        cert.verify_signature(algorithm, signed.as_bytes(), &signature)
            .map_err(|_| {
                SnsError::Refused(
                    "the SNS signature does not verify: the message was not sent by SNS or was \
                     altered"
                        .into(),
                )
            })
    }

    /// Confirms a verified `SubscriptionConfirmation` by fetching its `SubscribeURL`.
    pub async fn confirm(&self, message: &Message) -> Result<(), SnsError> {
        let url = message
            .subscribe_url
            .as_deref()
            .ok_or_else(|| SnsError::Malformed("no SubscribeURL".into()))?;
        self.check_url(message, url, "SubscribeURL")?;
        if !url.contains("Action=ConfirmSubscription") {
            return Err(SnsError::Refused(
                "the SubscribeURL is not a ConfirmSubscription call".into(),
            ));
        }
        self.fetch(url).await.map(|_| ())
    }

    /// GETs `url` (already checked), bounded in size and time.
    async fn fetch(&self, url: &str) -> Result<Bytes, SnsError> {
        let unreachable = |why: String| SnsError::Unreachable(format!("cannot fetch {url}: {why}"));
        let client = match self.client.get_or_init(|| async { client() }).await {
            Ok(client) => client,
            Err(e) => return Err(unreachable(e.clone())),
        };
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| SnsError::Refused(format!("`{url}` is not a URL: {e}")))?;
        let got = tokio::time::timeout(FETCH_TIMEOUT, async {
            let response = client
                .get(uri)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_FETCH_BYTES)
                .collect()
                .await
                .map_err(|e| unreachable(e.to_string()))?
                .to_bytes();
            if !status.is_success() {
                return Err(unreachable(format!("HTTP {status}")));
            }
            Ok(body)
        })
        .await;
        got.unwrap_or_else(|_| Err(unreachable(format!("no answer within {FETCH_TIMEOUT:?}"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arn_names_the_only_host_trusted() {
        let mut m = message("x");
        m.topic_arn = "arn:aws:sns:s3:123456789012:MyTopic".into();
        let sns = Sns::new(SnsOptions::default());
        let bucket = "https://sns.s3.amazonaws.com/x.pem";
        assert!(sns.check_url(&m, bucket, "SigningCertURL").is_err());
        m.topic_arn = "arn:aws-cn:sns:cn-north-1:123456789012:T".into();
        let china = "https://sns.cn-north-1.amazonaws.com.cn/x.pem";
        assert!(sns.check_url(&m, china, "SigningCertURL").is_ok());
    }

    fn message(url: &str) -> Message {
        Message {
            kind: "SubscriptionConfirmation".into(),
            message_id: "m".into(),
            topic_arn: "arn:aws:sns:us-west-2:123456789012:MyTopic".into(),
            subject: None,
            message: "You have chosen to subscribe".into(),
            timestamp: "2012-04-26T20:45:04.751Z".into(),
            token: Some("t".into()),
            subscribe_url: Some(url.into()),
            signature_version: "1".into(),
            signature: String::new(),
            signing_cert_url: url.into(),
        }
    }

    #[test]
    fn urls_are_checked_against_the_topics_region() {
        let sns = Sns::new(SnsOptions::default());
        let ok = "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=t";
        assert!(sns.check_url(&message(ok), ok, "SubscribeURL").is_ok());
        for bad in [
            "http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription",
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
            "https://sns.us-west-2.amazonaws.com.attacker.net/x.pem",
            "https://attacker.net/?x=https://sns.us-west-2.amazonaws.com/",
            "https://sns.us-west-2.amazonaws.com@attacker.net/x.pem",
            "https://127.0.0.1/x.pem",
            "sns.us-west-2.amazonaws.com/x.pem",
        ] {
            assert!(sns.check_url(&message(bad), bad, "URL").is_err(), "{bad}");
        }
    }

    #[test]
    fn the_signed_text_follows_the_documented_field_order() {
        let m = message("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription");
        assert_eq!(
            m.string_to_sign().unwrap(),
            "Message\nYou have chosen to subscribe\nMessageId\nm\nSubscribeURL\n\
             https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription\nTimestamp\n\
             2012-04-26T20:45:04.751Z\nToken\nt\nTopicArn\n\
             arn:aws:sns:us-west-2:123456789012:MyTopic\nType\nSubscriptionConfirmation\n"
        );
        let mut n = m.clone();
        n.kind = "Notification".into();
        n.subject = Some("S".into());
        assert_eq!(
            n.string_to_sign().unwrap(),
            "Message\nYou have chosen to subscribe\nMessageId\nm\nSubject\nS\nTimestamp\n\
             2012-04-26T20:45:04.751Z\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n\
             Type\nNotification\n"
        );
    }
}
