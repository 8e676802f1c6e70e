//! Video originals (MP4, MOV, WebM, Matroska) shown by a poster frame a short way in, which
//! the `ffmpeg` program extracts as a subprocess (never linked: Debian's build is GPL).
//!
//! The pipeline stays pure: it is handed the frame as a PNG, never the video. Each video is
//! written to a private directory (mode 0700) that is removed afterwards, and read under
//! limits: only the `file` protocol, the container's own demuxer (never a playlist or a
//! list that names other files), one thread, bounded memory, CPU, file size and wall time.
//! No tag of the video reaches an output: only the frame's pixels do.

mod poster;
mod run;

use std::borrow::Cow;
use std::io::Write;
use std::time::Instant;

use crate::pipeline::{self, Limits, PipelineError, Probe, SourceFormat};

pub use run::Program;

/// `input` as the pipeline reads it: itself, or a video's poster frame as a PNG.
pub fn viewable<'a>(input: &'a [u8], limits: &Limits) -> Result<Cow<'a, [u8]>, PipelineError> {
    if !is_video(input) {
        return Ok(Cow::Borrowed(input));
    }
    Ok(Cow::Owned(poster(input, limits)?.1))
}

/// What [`pipeline::probe`] says of `input`, with `input` as the pipeline reads it (see
/// [`viewable`]). A video's facts are its poster frame's, with the format `video` and the
/// duration.
pub fn probe<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<(Probe, Cow<'a, [u8]>), PipelineError> {
    if !is_video(input) {
        return Ok((pipeline::probe(input, limits)?, Cow::Borrowed(input)));
    }
    let (stream, frame) = poster(input, limits)?;
    let probe = pipeline::probe(&frame, limits)?;
    Ok((of_video(probe, &stream), Cow::Owned(frame)))
}

/// What [`pipeline::validate`] says of `input` (a video's poster frame), with `input` as
/// the pipeline reads it.
pub fn validate<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<(pipeline::Validated, Cow<'a, [u8]>), PipelineError> {
    if !is_video(input) {
        return Ok((pipeline::validate(input, limits)?, Cow::Borrowed(input)));
    }
    let (stream, frame) = poster(input, limits)?;
    let mut validated = pipeline::validate(&frame, limits)?;
    validated.probe = of_video(validated.probe, &stream);
    Ok((validated, Cow::Owned(frame)))
}

/// A poster frame's facts as the video's.
fn of_video(mut probe: Probe, stream: &poster::Stream) -> Probe {
    probe.format = SourceFormat::Video;
    probe.duration_ms = stream.duration.map(|d| (d * 1000.0).round() as u64);
    probe
}

/// The MIME type of a video container: QuickTime, WebM or Matroska, else MP4.
pub fn mime(input: &[u8]) -> &'static str {
    let head = &input[..input.len().min(64)];
    if input.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        // The EBML header names its DocType near the start.
        if head.windows(4).any(|w| w == b"webm") {
            "video/webm"
        } else {
            "video/x-matroska"
        }
    } else if input.get(8..12) == Some(b"qt  ") || input.get(4..8) != Some(b"ftyp") {
        "video/quicktime"
    } else {
        "video/mp4"
    }
}

/// The poster frame [`viewable`] or [`probe`] made, if they made one (an image is itself).
pub fn frame(view: Cow<'_, [u8]>) -> Option<Vec<u8>> {
    match view {
        Cow::Owned(frame) => Some(frame),
        Cow::Borrowed(_) => None,
    }
}

/// True when `input` is a video container.
pub fn is_video(input: &[u8]) -> bool {
    pipeline::sniff::sniff(input).is_ok_and(|f| f == SourceFormat::Video)
}

/// The poster frame of a video, and what its stream says.
fn poster(input: &[u8], limits: &Limits) -> Result<(poster::Stream, Vec<u8>), PipelineError> {
    if input.len() > limits.max_input_bytes {
        return Err(PipelineError::InputTooLarge {
            bytes: input.len(),
            limit: limits.max_input_bytes,
        });
    }
    Program::Ffmpeg.require()?;
    Program::Ffprobe.require()?;
    let deadline = Instant::now() + limits.video_time;
    // Removed when dropped, whatever happens below.
    let dir = tempfile::Builder::new()
        .prefix("thumbkit-video-")
        .tempdir()
        .map_err(run::io)?;
    let file = dir.path().join("original");
    std::fs::File::create_new(&file)
        .and_then(|mut f| f.write_all(input))
        .map_err(run::io)?;
    let stream = poster::stream(input, &file, deadline, limits)?;
    if u64::from(stream.width) * u64::from(stream.height) > limits.max_pixels {
        return Err(PipelineError::TooManyPixels {
            width: stream.width,
            height: stream.height,
            limit: limits.max_pixels,
        });
    }
    let frame = poster::extract(input, &file, &stream, deadline, limits)?;
    Ok((stream, frame))
}

/// The installed ffmpeg's version line, for `doctor`, or why videos cannot be read.
pub fn version() -> Result<String, PipelineError> {
    let path = Program::Ffmpeg.require()?;
    Program::Ffprobe.require()?;
    let out = std::process::Command::new(path)
        .arg("-version")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(run::io)?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("ffmpeg");
    Ok(first.split(" Copyright").next().unwrap_or(first).to_owned())
}
