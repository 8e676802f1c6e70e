//! Every hostile request the security review lists, over a real socket to the fs store:
//! traversal in every spelling, NUL and control characters, absolute paths, overlong keys,
//! bodies over the limit on every write route, and JSON that is huge, deep or of the wrong
//! shape. Each gets a 4xx problem+json, and nothing outside the store's root is read or
//! written (a file beside the root keeps its bytes, and the root holds only what it held).

use std::sync::Arc;

use crate::helpers::app::*;
use crate::helpers::fixtures::*;
use thumbkit::http::Options;
use thumbkit::pipeline::Limits;
use thumbkit::service::Settings;
use thumbkit::storage::{FsStore, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "token-for-hostile-requests";

thread_local! {
    /// How many refusals of each status, for the summary.
    static STATUSES: std::cell::RefCell<std::collections::BTreeMap<u16, u32>> =
        std::cell::RefCell::default();
}

/// Sends `head` (with the token and `Connection: close` added) and `body`; the whole answer.
async fn send(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> Reply {
    let mut request = format!(
        "{head}\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    // The server may answer and close before a body over the limit is all sent.
    let _ = stream.write_all(&request).await;
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out).await;
    recorded(&request, parse_reply(&out))
}

/// A 4xx with a problem+json body whose detail is one readable line naming no local path.
fn assert_refused(what: &str, r: &Reply, root: &str) {
    // Refused for what it is, not for want of the token (which every request carries).
    assert!(
        (400..500).contains(&r.status) && r.status != 401 && r.status != 403,
        "{what}: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    let problem = r.problem();
    assert_eq!(problem["status"], r.status, "{what}");
    STATUSES.with(|s| *s.borrow_mut().entry(r.status).or_insert(0) += 1);
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        !detail.is_empty() && !detail.contains('\n'),
        "{what}: {detail}"
    );
    assert!(!detail.contains(root), "{what}: {detail}");
}

/// Spellings of keys that must not name anything: traversal, separators, absolute paths,
/// NUL and control characters, and a key longer than S3's 1024 bytes.
fn hostile_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "..%2fsecret.jpg",
        "%2e%2e/secret.jpg",
        "%2e%2e%2fsecret.jpg",
        ".%2e/secret.jpg",
        "a/%2e%2e/%2e%2e/secret.jpg",
        "a%2f..%2f..%2fsecret.jpg",
        "..%5csecret.jpg",
        "a%5c..%5c..%5csecret.jpg",
        "%2fetc%2fpasswd",
        "/etc/passwd",
        "a.jpg%00.png",
        "a%00/../secret.jpg",
        "a%01b.jpg",
        "a%0a.jpg",
        "a%0d%0aSet-Cookie:%20x.jpg",
        "a%7f.jpg",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    keys.push(format!("{}.jpg", "k".repeat(1100)));
    keys
}

#[tokio::test]
async fn every_hostile_request_is_a_4xx_problem_and_touches_nothing_outside_the_root() {
    let base = temp_dir("hostile");
    let root = base.join("store");
    std::fs::create_dir_all(&root).expect("root");
    let photo = fixture("DSCN0010.jpg");
    std::fs::write(root.join("a.jpg"), &photo).expect("original");
    std::fs::write(base.join("secret.jpg"), &photo).expect("beside the root");
    let store: Arc<dyn Store> = Arc::new(FsStore::open(&root).await.expect("fs store"));
    let settings = Settings {
        limits: Limits {
            max_input_bytes: 1 << 20,
            ..Limits::default()
        },
        ..Settings::default()
    };
    let options = Options {
        api_token: Some(TOKEN.into()),
        ..Options::default()
    };
    let app = spawn_app_with(store, shipped_presets(), settings, options).await;
    let addr = app.addr;
    let root_text = std::fs::canonicalize(&root)
        .expect("root")
        .display()
        .to_string();
    let before = walk(&root);
    let mut count = 0;

    for key in hostile_keys() {
        for head in [
            format!("GET /t/thumb/{key} HTTP/1.1"),
            format!("GET /v1/originals/{key} HTTP/1.1"),
            format!("DELETE /v1/originals/{key} HTTP/1.1"),
        ] {
            let r = send(addr, &head, b"").await;
            assert_refused(&head, &r, &root_text);
            count += 1;
        }
        let head = format!("PUT /v1/originals/{key} HTTP/1.1");
        let r = send(addr, &head, &photo).await;
        assert_refused(&head, &r, &root_text);
        count += 1;
        // A JSON body naming it, on each route that takes keys in JSON.
        let json_key = serde_json::to_string(&percent_decoded(&key)).expect("json");
        for (route, body) in [
            (
                "POST /v1/pregenerate",
                format!("{{\"keys\": [{json_key}]}}"),
            ),
            (
                "POST /v1/uploads",
                format!("{{\"key\": {json_key}, \"content_type\": \"image/jpeg\", \"size\": 10}}"),
            ),
        ] {
            let r = send(addr, &format!("{route} HTTP/1.1"), body.as_bytes()).await;
            // A batch answers 200 with each key's own error; anything else is a refusal.
            if r.status == 200 {
                let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
                let result = &v["results"][0];
                assert!(result["error"].is_string(), "{route} {key}: {v}");
            } else {
                assert_refused(&format!("{route} {key}"), &r, &root_text);
            }
            count += 1;
        }
    }

    // Bodies over the limit on every write route: 1 MiB for originals, 2 MB for JSON.
    let big = vec![b'x'; 3 << 20];
    for head in [
        "PUT /v1/originals/big.jpg HTTP/1.1",
        "POST /v1/pregenerate HTTP/1.1",
        "POST /v1/uploads HTTP/1.1",
        "POST /v1/hooks/s3 HTTP/1.1",
    ] {
        let r = send(addr, head, &big).await;
        assert_eq!(r.status, 413, "{head}");
        assert_refused(head, &r, &root_text);
        count += 1;
    }

    // JSON that is deep, of the wrong shape, or not JSON at all.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!(
        "{}{}",
        "{\"a\":".repeat(50_000),
        "1".to_owned() + &"}".repeat(50_000)
    );
    let many_keys = format!("{{\"keys\": [{}]}}", vec!["\"a.jpg\""; 1001].join(","));
    for body in [
        deep.as_str(),
        deep_object.as_str(),
        "",
        "null",
        "[]",
        "\"keys\"",
        "{\"keys\": 5}",
        "{\"keys\": [1, 2]}",
        "{\"keys\": {\"a\": 1}}",
        "{\"key\": [\"a.jpg\"], \"size\": -1}",
        "{\"key\": \"a.jpg\", \"content_type\": \"image/jpeg\", \"size\": 1e400}",
        "{\"keys\": [\"a.jpg\"] trailing",
        "\u{feff}{\"keys\": []}",
        many_keys.as_str(),
    ] {
        for route in ["POST /v1/pregenerate", "POST /v1/uploads"] {
            let r = send(addr, &format!("{route} HTTP/1.1"), body.as_bytes()).await;
            let what = format!("{route} {}", &body[..body.len().min(40)]);
            assert_refused(&what, &r, &root_text);
            count += 1;
        }
    }
    let r = send(
        addr,
        "POST /v1/pregenerate HTTP/1.1",
        &[0xFF, 0xFE, b'{', b'}'],
    )
    .await;
    assert_refused("JSON not UTF-8", &r, &root_text);

    // Nothing outside the root changed; inside it, only what was there (and what thumbkit
    // derives from `a.jpg`, never a file of a hostile key).
    assert_eq!(
        std::fs::read(base.join("secret.jpg")).expect("secret"),
        photo
    );
    let names: Vec<String> = std::fs::read_dir(&base)
        .expect("base")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "only the root and the file beside it: {names:?}"
    );
    let after = walk(&root);
    for path in &after {
        let name = path
            .strip_prefix(&root)
            .expect("under root")
            .display()
            .to_string();
        assert!(
            before.contains(path) || name.contains("a.jpg") || name.starts_with("_variants"),
            "a hostile request left {name}"
        );
    }
    // And the service still serves.
    let r = send(addr, "GET /t/thumb/a.jpg HTTP/1.1", b"").await;
    assert_eq!(r.status, 200);
    let statuses = STATUSES.with(|s| s.borrow().clone());
    eprintln!("{count} hostile requests: 4xx problem+json {statuses:?}, nothing outside the root");
    // Each kind is refused for its own reason: bad keys (400/404), bodies over the limit
    // (413), JSON of the wrong shape (400/422).
    assert!(
        statuses.contains_key(&400) && statuses.contains_key(&413),
        "{statuses:?}"
    );
}

/// The key as a client would put it in JSON: percent-decoding undone, bytes kept.
fn percent_decoded(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => {
                let v = u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16);
                out.push(v.unwrap_or(b'%'));
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
