//! An IAM policy enforced by the in-process S3 server: requests signed with [`APP_KEY`] are
//! allowed only what the policy's statements allow (explicit deny wins; actions and
//! resources with `*` wildcards, as IAM matches them), so a test can run thumbkit under
//! `deploy/iam-policy.json`, or under it with one permission taken out.

#![allow(dead_code)]

use s3s::access::{S3Access, S3AccessContext};
use s3s::{S3Result, s3_error};

/// The access key the policy applies to (the test's own key stays unrestricted).
pub const APP_KEY: &str = "thumbkit-app";
pub const APP_SECRET: &str = "thumbkit-app-secret-key";

/// One statement: effect, actions and resources (ARNs, `YOUR-BUCKET` already replaced).
#[derive(Debug, Clone)]
pub struct Statement {
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// A parsed policy.
#[derive(Debug, Clone)]
pub struct Policy(pub Vec<Statement>);

impl Policy {
    /// Reads `deploy/{file}` for `bucket`. Refuses what this evaluator does not model
    /// (conditions, NotAction, principals), so a policy cannot pass by being misread.
    pub fn shipped(file: &str, bucket: &str) -> Self {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy")
            .join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("YOUR-BUCKET", bucket);
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["Version"], "2012-10-17", "{file}");
        let list = |v: &serde_json::Value| -> Vec<String> {
            match v {
                serde_json::Value::String(s) => vec![s.clone()],
                serde_json::Value::Array(a) => {
                    a.iter().map(|s| s.as_str().unwrap().to_owned()).collect()
                }
                other => panic!("{file}: {other} is not a string or a list"),
            }
        };
        let statements = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
                for k in &keys {
                    assert!(
                        ["Sid", "Effect", "Action", "Resource"].contains(&k.as_str()),
                        "{file}: `{k}` is not modelled"
                    );
                }
                Statement {
                    allow: match s["Effect"].as_str() {
                        Some("Allow") => true,
                        Some("Deny") => false,
                        other => panic!("{file}: Effect {other:?}"),
                    },
                    actions: list(&s["Action"]),
                    resources: list(&s["Resource"]),
                }
            })
            .collect();
        Self(statements)
    }

    /// The policy without `action` in any statement.
    pub fn without(mut self, action: &str) -> Self {
        for s in &mut self.0 {
            s.actions.retain(|a| a != action);
        }
        self
    }

    /// Whether the policy allows `action` on `resource`.
    pub fn allows(&self, action: &str, resource: &str) -> bool {
        let matching = |s: &&Statement| {
            s.actions.iter().any(|a| glob(a, action))
                && s.resources.iter().any(|r| glob(r, resource))
        };
        let hits: Vec<&Statement> = self.0.iter().filter(matching).collect();
        !hits.is_empty() && hits.iter().all(|s| s.allow)
    }
}

/// IAM's matching: `*` any run of characters, `?` one; case-sensitive.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The IAM action an S3 operation needs (the service authorization reference's table).
pub fn action_of(operation: &str) -> String {
    let action = match operation {
        "HeadObject" | "GetObject" => "GetObject",
        "PutObject"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "CompleteMultipartUpload" => "PutObject",
        "DeleteObject" | "DeleteObjects" => "DeleteObject",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "ListBucket",
        "ListMultipartUploads" => "ListBucketMultipartUploads",
        "ListParts" => "ListMultipartUploadParts",
        other => other,
    };
    format!("s3:{action}")
}

/// The [`S3Access`] that applies `policy` to [`APP_KEY`].
pub struct PolicyAccess(pub Policy);

#[async_trait::async_trait]
impl S3Access for PolicyAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(credentials) = cx.credentials() else {
            return Err(s3_error!(AccessDenied, "anonymous"));
        };
        if credentials.access_key != APP_KEY {
            return Ok(());
        }
        let action = action_of(cx.s3_op().name());
        let path = cx.s3_path();
        let resource = match (path.get_bucket_name(), path.get_object_key()) {
            (Some(b), Some(k)) => format!("arn:aws:s3:::{b}/{k}"),
            (Some(b), None) => format!("arn:aws:s3:::{b}"),
            _ => "*".to_owned(),
        };
        if self.0.allows(&action, &resource) {
            Ok(())
        } else {
            Err(s3_error!(
                AccessDenied,
                "{action} on {resource} is not allowed"
            ))
        }
    }
}

#[test]
fn globs_match_as_iam_does() {
    assert!(glob(
        "arn:aws:s3:::b/_variants/*",
        "arn:aws:s3:::b/_variants/ab/x.jpg"
    ));
    assert!(!glob(
        "arn:aws:s3:::b/_variants/*",
        "arn:aws:s3:::b/photo.jpg"
    ));
    assert!(!glob("arn:aws:s3:::b", "arn:aws:s3:::b/x"));
    assert!(glob("s3:Get*", "s3:GetObject"));
}
