//! Video originals through `thumbkit::video` and the pipeline: the poster frame a short way
//! in (past the black), upright, at the preset's size, with none of the video's tags, and
//! hostile videos rendered within the limits or refused in one line.

use std::time::{Duration, Instant};

use crate::helpers::fixtures::*;
use thumbkit::pipeline::{self, Limits, OutputFormat, PipelineError, SourceFormat};
use thumbkit::preset::Preset;
use thumbkit::video;

fn medium() -> Preset {
    preset(
        "medium",
        "width = 480\nheight = 480\nfit = \"inside\"\nformat = \"png\"\n",
    )
}

/// The colour at a fraction of the picture's width and height.
fn at(png: &[u8], fx: f64, fy: f64) -> [u8; 3] {
    let img = image::load_from_memory(png).expect("decodes").to_rgb8();
    let x = ((f64::from(img.width()) * fx) as u32).min(img.width() - 1);
    let y = ((f64::from(img.height()) * fy) as u32).min(img.height() - 1);
    img.get_pixel(x, y).0
}

fn near(got: [u8; 3], want: [u8; 3], what: &str) {
    let off = got
        .iter()
        .zip(want)
        .map(|(g, w)| (i16::from(*g) - i16::from(w)).abs())
        .max()
        .unwrap_or(0);
    assert!(off <= 24, "{what}: {got:?}, want about {want:?}");
}

fn render(file: &str) -> Result<pipeline::Rendered, PipelineError> {
    let bytes = fixture(file);
    let limits = Limits::default();
    let view = video::viewable(&bytes, &limits)?;
    pipeline::render(&view, &medium().spec, OutputFormat::Png, &limits)
}

const BLUE: [u8; 3] = [0x1f, 0x5f, 0xbf];
const RED: [u8; 3] = [0xd0, 0x30, 0x20];

#[test]
fn every_container_gives_the_frame_after_the_black_with_its_marks_in_place() {
    for file in ["videos/clip.mp4", "videos/clip.webm", "videos/clip.mkv"] {
        assert_eq!(
            pipeline::sniff::sniff(&fixture(file)).ok(),
            Some(SourceFormat::Video),
            "{file}"
        );
        let out = render(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!((out.width, out.height), (480, 270), "{file}");
        near(
            at(&out.bytes, 0.25, 0.25),
            BLUE,
            &format!("{file}, top left"),
        );
        near(
            at(&out.bytes, 0.75, 0.75),
            RED,
            &format!("{file}, bottom right"),
        );
        assert_no_metadata(&out.bytes, file);
        for secret in ["secret", "48.8584", "Lavf"] {
            assert!(
                !String::from_utf8_lossy(&out.bytes).contains(secret),
                "{file} carries {secret}"
            );
        }
    }
}

#[test]
fn a_phone_video_held_upright_is_shown_upright() {
    let out = render("videos/upright.mov").expect("renders");
    assert_eq!((out.width, out.height), (270, 480));
    // Turned a quarter clockwise: the stored top left is now top right.
    near(at(&out.bytes, 0.75, 0.25), BLUE, "top right");
    near(at(&out.bytes, 0.25, 0.75), RED, "bottom left");
}

#[test]
fn a_videos_facts_are_its_poster_frames_with_its_duration() {
    let clip = fixture("videos/clip.mp4");
    let (probe, view) = video::probe(&clip, &Limits::default()).expect("probe");
    assert_eq!(probe.format, SourceFormat::Video);
    assert_eq!((probe.width, probe.height, probe.alpha), (640, 360, false));
    // Half a second of black and a second and a half of the scene (the last frame lasts 40 ms).
    let ms = probe.duration_ms.expect("a duration");
    assert!((1960..=2080).contains(&ms), "{ms} ms");
    assert!(
        view.starts_with(b"\x89PNG"),
        "the frame, as the pipeline reads it"
    );
    // `auto` and `source` give a photograph's formats, never the frame's PNG.
    let source = preset("p", "width = 100\nformat = \"source\"\n");
    assert_eq!(
        OutputFormat::resolve(&source.spec, &probe, &[]),
        OutputFormat::Jpeg
    );
    // Handed to the pipeline directly, a video is refused in one line, not misread.
    let direct = pipeline::probe(&fixture("videos/clip.mp4"), &Limits::default());
    assert!(
        matches!(direct, Err(PipelineError::UnsupportedFormat(_))),
        "{direct:?}"
    );
}

/// What each hostile video gives: rendered (its size) or refused (the error's kind).
#[test]
fn hostile_videos_are_rendered_within_the_limits_or_refused_in_one_line() {
    let cases: &[(&str, &str)] = &[
        ("hostile/video-truncated-index-at-end.mp4", "truncated"),
        ("hostile/video-truncated-index-first.mp4", "rendered"),
        ("hostile/video-sound-only.mp4", "unsupported_format"),
        ("hostile/video-claims-65535x65535.mov", "corrupt"),
        ("hostile/video-webm-header-then-noise.webm", "truncated"),
    ];
    for (file, want) in cases {
        let started = Instant::now();
        let got = match render(file) {
            Ok(out) => {
                assert!(out.width <= 480 && out.height <= 480, "{file}");
                "rendered".to_owned()
            }
            Err(e) => {
                let line = e.to_string();
                assert!(
                    !line.contains('\n') && !line.contains("thumbkit-video"),
                    "{file}: {line}"
                );
                serde_json::to_value(&e).expect("json")["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        assert_eq!(&got, want, "{file}");
        assert!(started.elapsed() < Duration::from_secs(10), "{file}");
    }
}

#[test]
fn a_video_over_the_pixel_limit_or_the_time_limit_is_refused() {
    let bytes = fixture("videos/clip.mp4");
    let small = Limits {
        max_pixels: 640 * 359,
        ..Limits::default()
    };
    let refused = video::viewable(&bytes, &small);
    assert!(
        matches!(
            refused,
            Err(PipelineError::TooManyPixels {
                width: 640,
                height: 360,
                ..
            })
        ),
        "{refused:?}"
    );
    let hurried = Limits {
        video_time: Duration::ZERO,
        ..Limits::default()
    };
    let refused = video::viewable(&bytes, &hurried);
    assert!(
        matches!(refused, Err(PipelineError::TooSlow { .. })),
        "{refused:?}"
    );
    // With too little memory, ffmpeg cannot start: refused, not a crash.
    let starved = Limits {
        video_memory: 16 << 20,
        ..Limits::default()
    };
    let refused = video::viewable(&bytes, &starved);
    assert!(refused.is_err(), "{refused:?}");
}

#[test]
fn an_image_is_handed_on_as_it_is() {
    let bytes = fixture("DSCN0010.jpg");
    let view = video::viewable(&bytes, &Limits::default()).expect("an image");
    assert!(matches!(view, std::borrow::Cow::Borrowed(_)));
}

/// `thumbkit render` of videos, as a user runs it: what it leaves in its temporary folder
/// (nothing), and what it says on a machine without ffmpeg (what to install, in one line).
#[test]
fn the_cli_renders_videos_leaves_nothing_behind_and_says_what_to_install() {
    use crate::helpers::process::{temp_dir, thumbkit};
    let tmp = temp_dir("video-tmp");
    let out = temp_dir("video-out");
    let written = out.join("poster.jpg");
    let run = thumbkit()
        .args(["render", "--preset", "thumb", "-o"])
        .arg(&written)
        .arg("fixtures/videos/clip.mp4")
        .env("TMPDIR", &tmp)
        .output()
        .expect("runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let jpeg = std::fs::read(&written).expect("written");
    assert_nothing_left(&tmp);
    assert_no_metadata(&jpeg, "cli poster");
    // A video ffmpeg refuses, and one killed at its time limit, leave nothing either.
    for (file, limit) in [
        ("fixtures/hostile/video-truncated-index-at-end.mp4", "20s"),
        ("fixtures/videos/clip.webm", "0s"),
    ] {
        let run = thumbkit()
            .args([
                "render",
                "--preset",
                "thumb",
                "--video-timeout",
                limit,
                "-o",
            ])
            .arg(out.join("x.jpg"))
            .arg(file)
            .env("TMPDIR", &tmp)
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(
            (run.status.code(), err.lines().count()),
            (Some(1), 1),
            "{file}: {err}"
        );
        assert_nothing_left(&tmp);
    }
    // No ffmpeg on PATH: one line saying what to install.
    let empty = temp_dir("video-no-path");
    let run = thumbkit()
        .args(["render", "--preset", "thumb", "-o"])
        .arg(out.join("y.jpg"))
        .arg("fixtures/videos/clip.mp4")
        .env("PATH", &empty)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("apt install ffmpeg"), "{err}");
    // `inspect` says what a video is, and that it cannot render here.
    let seen = |path: Option<&std::path::Path>| {
        let mut inspect = thumbkit();
        inspect.args(["inspect", "fixtures/videos/upright.mov"]);
        if let Some(path) = path {
            inspect.env("PATH", path);
        }
        let run = inspect.output().expect("runs");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        String::from_utf8_lossy(&run.stdout).into_owned()
    };
    let report = seen(None);
    for line in [
        "video (video/quicktime)",
        "360x640",
        "duration:    2.04 s",
        "renders:     yes",
    ] {
        assert!(report.contains(line), "{line}: {report}");
    }
    let report = seen(Some(&empty));
    assert!(
        report.contains("renders:     no: ") && report.contains("apt install ffmpeg"),
        "{report}"
    );
}

fn assert_nothing_left(dir: &std::path::Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .expect("readable")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// What ffmpeg would follow to other files and URLs (an HLS playlist, a concatenation list,
/// each named like a video) is never handed to it: no connection reaches a listening
/// socket, and nothing is read from the paths they name.
#[test]
fn playlists_and_lists_dressed_as_videos_fetch_nothing() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}/clip.ts", listener.local_addr().expect("addr"));
    let hostile = [
        format!("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{url}\n#EXT-X-ENDLIST\n"),
        format!("ffconcat version 1.0\nfile '{url}'\nfile '/etc/passwd'\n"),
        // A QuickTime opening (as `is_video` looks for) around a playlist: read as QuickTime.
        format!("\0\0\0\x10moovxxxx#EXTM3U\n{url}\n"),
    ];
    for input in &hostile {
        let limits = Limits::default();
        let got = video::viewable(input.as_bytes(), &limits)
            .and_then(|view| pipeline::probe(&view, &limits));
        assert!(got.is_err(), "{input:?}");
    }
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "no connection reached the listener"
    );
}

/// A video of non-square pixels (DV, some broadcast) is shown at its display aspect: 320x240
/// stored with pixels twice as wide as tall is a 640x240 picture.
#[test]
fn non_square_pixels_are_shown_at_the_display_aspect() {
    let dir = crate::helpers::process::temp_dir("video-sar");
    let file = dir.join("wide-pixels.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .args([
            "testsrc2=s=320x240:d=1",
            "-vf",
            "setsar=2",
            "-c:v",
            "libx264",
        ])
        .arg(&file)
        .status()
        .expect("ffmpeg runs (make test-deps installs it)");
    assert!(made.success());
    let bytes = std::fs::read(&file).expect("made");
    let limits = Limits::default();
    let (probe, _) = video::probe(&bytes, &limits).expect("a poster");
    assert_eq!((probe.width, probe.height), (640, 240));
}
