//! Video originals over HTTP: uploaded with a manifest that says `kind: video` and the
//! duration, rendered from the poster frame on demand from the bucket, with none of the
//! video's tags; a video ffmpeg cannot read is refused in one line.

use super::*;

fn pixel(jpeg: &[u8], fx: f64, fy: f64) -> [u8; 3] {
    let img = decode_rgb(jpeg);
    let x = ((f64::from(img.width()) * fx) as u32).min(img.width() - 1);
    let y = ((f64::from(img.height()) * fy) as u32).min(img.height() - 1);
    img.get_pixel(x, y).0
}

fn assert_nothing_of_the_video(body: &[u8], what: &str) {
    assert_no_metadata(body, what);
    let text = String::from_utf8_lossy(body);
    for secret in ["secret", "48.8584", "Lavf"] {
        assert!(!text.contains(secret), "{what} carries {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_upload_says_its_kind_and_duration_and_its_thumbnails_show_the_scene() {
    let s3 = S3Server::start("videos-mp4").await;
    let app = app_with_token(&s3, Settings::default()).await;
    let clip = fixture("videos/clip.mp4");
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/films/clip.mp4?pregenerate=all",
        Some(TOKEN),
        &clip,
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = json(&r);
    assert_eq!(
        (m["format"].as_str(), m["kind"].as_str()),
        (Some("video"), Some("video"))
    );
    let duration = m["duration"].as_f64().expect("a duration");
    assert!((1.95..2.1).contains(&duration), "{duration}");
    assert_eq!(
        (m["width"].as_u64(), m["height"].as_u64()),
        (Some(640), Some(360))
    );
    let (stored, content_type) = s3.get("films/clip.mp4").await.expect("stored");
    assert_eq!((stored == clip, content_type.as_str()), (true, "video/mp4"));
    let r = send(app.addr, "GET", "/t/medium/films/clip.mp4", None, b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        "image/jpeg",
        "a photograph's format"
    );
    assert_eq!(r.header("x-cache"), "hit-memory", "pre-generated");
    let blue = pixel(&r.body, 0.25, 0.25);
    assert!(
        blue[2] > 150 && blue[0] < 70,
        "the blue quarter, past the black: {blue:?}"
    );
    let red = pixel(&r.body, 0.75, 0.75);
    assert!(red[0] > 160 && red[2] < 80, "the red quarter: {red:?}");
    assert_nothing_of_the_video(&r.body, "mp4 over http");

    // Written straight to the bucket, a WebM renders on demand like a photo.
    s3.put("films/direct.webm", fixture("videos/clip.webm"))
        .await;
    let r = send(app.addr, "GET", "/t/thumb/films/direct.webm", None, b"").await;
    assert_eq!((r.status, r.header("x-cache")), (200, "miss"));
    assert_nothing_of_the_video(&r.body, "direct webm");
    let r = send(
        app.addr,
        "GET",
        "/v1/originals/films/direct.webm",
        Some(TOKEN),
        b"",
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(json(&r)["kind"], "video");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_without_a_picture_is_refused_in_one_line_each_time() {
    let s3 = S3Server::start("videos-broken").await;
    let app = app_with_token(&s3, Settings::default()).await;
    let r = send(
        app.addr,
        "PUT",
        "/v1/originals/films/sound.mp4",
        Some(TOKEN),
        &fixture("hostile/video-sound-only.mp4"),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(s3.get("films/sound.mp4").await.is_none(), "nothing stored");
    s3.put(
        "films/cut.mp4",
        fixture("hostile/video-truncated-index-at-end.mp4"),
    )
    .await;
    for _ in 0..2 {
        let r = send(app.addr, "GET", "/t/thumb/films/cut.mp4", None, b"").await;
        assert_eq!(r.status, 422);
        assert_eq!(r.header("content-type"), "application/problem+json");
        let detail = r.problem()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            detail.contains("truncated") && !detail.contains('\n'),
            "{detail}"
        );
        assert!(
            !detail.contains("thumbkit-video"),
            "no private path: {detail}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_upload_tickets_take_video_types() {
    let s3 = S3Server::start("videos-tickets").await;
    let app = app_with_token(&s3, Settings::default()).await;
    let ask = |content_type: &str| {
        serde_json::json!({"key": "films/a", "content_type": content_type, "size": 1000})
            .to_string()
    };
    for accepted in [
        "video/mp4",
        "video/quicktime",
        "video/webm",
        "video/x-matroska",
    ] {
        let r = send(
            app.addr,
            "POST",
            "/v1/uploads",
            Some(TOKEN),
            ask(accepted).as_bytes(),
        )
        .await;
        assert_eq!(
            r.status,
            201,
            "{accepted}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    let r = send(
        app.addr,
        "POST",
        "/v1/uploads",
        Some(TOKEN),
        ask("video/x-msvideo").as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    let detail = r.problem()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        detail.contains("video/webm"),
        "says what is accepted: {detail}"
    );
}
