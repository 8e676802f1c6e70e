//! A video's poster frame: what its first video stream says (ffprobe), then a few candidate
//! frames a short way in (ffmpeg), of which the first that is not black or nearly uniform.

use std::path::Path;
use std::time::Instant;

use super::run::{self, Program};
use crate::pipeline::{Limits, PipelineError};

/// Candidate frames taken after the first.
const LATER: usize = 4;

/// Side of the grey miniature each candidate is judged by.
const PREVIEW: usize = 32;

/// Below this spread of grey levels (standard deviation, of 255) a frame is taken for a
/// fade, a black or white card, or an empty scene.
const UNIFORM: f64 = 8.0;

/// What ffprobe says of the first video stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stream {
    pub width: u32,
    pub height: u32,
    /// The container's duration in seconds, when it says.
    pub duration: Option<f64>,
}

/// The demuxer for a sniffed container: given explicitly, so no other (a playlist, a
/// concatenation list) ever reads the file and follows what it names.
pub fn demuxer(input: &[u8]) -> &'static str {
    if input.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        "matroska"
    } else {
        "mov"
    }
}

/// Common arguments: quiet, only the file protocol, the demuxer forced.
fn opening(input: &[u8], file: &Path) -> Vec<String> {
    [
        "-v",
        "error",
        "-protocol_whitelist",
        "file",
        "-f",
        demuxer(input),
        "-i",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([format!("file:{}", file.display())])
    .collect()
}

/// The first video stream's size and the duration, from ffprobe's JSON.
pub fn stream(
    input: &[u8],
    file: &Path,
    deadline: Instant,
    limits: &Limits,
) -> Result<Stream, PipelineError> {
    let mut args = opening(input, file);
    args.extend(
        [
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height:format=duration",
            "-of",
            "json",
            "-o",
            "probe.json",
        ]
        .map(String::from),
    );
    let dir = file.parent().unwrap_or(Path::new("."));
    let done = run::run(Program::Ffprobe, &args, dir, deadline, limits, 1 << 20)?;
    if !done.status.success() {
        return Err(unreadable(&done.stderr, file));
    }
    let json = std::fs::read(dir.join("probe.json")).map_err(run::io)?;
    parse_stream(&json)
}

/// Reads ffprobe's answer.
pub fn parse_stream(json: &[u8]) -> Result<Stream, PipelineError> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        streams: Vec<Dims>,
        format: Option<Format>,
    }
    #[derive(serde::Deserialize)]
    struct Dims {
        width: Option<u32>,
        height: Option<u32>,
    }
    #[derive(serde::Deserialize)]
    struct Format {
        duration: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(json)
        .map_err(|e| PipelineError::Corrupt(format!("ffprobe's answer: {e}")))?;
    let Some(Dims {
        width: Some(width),
        height: Some(height),
    }) = answer.streams.into_iter().next()
    else {
        return Err(PipelineError::UnsupportedFormat(
            "the video file has no video stream (sound alone has no picture)".into(),
        ));
    };
    if width == 0 || height == 0 {
        return Err(PipelineError::Corrupt(
            "its video stream declares no size ffmpeg accepts".into(),
        ));
    }
    let duration = answer
        .format
        .and_then(|f| f.duration)
        .and_then(|d| d.parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0);
    Ok(Stream {
        width,
        height,
        duration,
    })
}

/// When the candidates after the first frame start, and how far apart they are: a tenth
/// of the way in (at most a second), then an eighth of the video apart (¼ s to 2 s).
fn schedule(duration: Option<f64>) -> (f64, f64) {
    let d = duration.unwrap_or(4.0);
    ((d / 10.0).min(1.0), (d / 8.0).clamp(0.25, 2.0))
}

/// The filter graph: the first frame and up to [`LATER`] more (non-square pixels made square
/// by widening or heightening), each also as a grey miniature to judge it by.
fn graph(duration: Option<f64>) -> String {
    let (start, step) = schedule(duration);
    format!(
        "[0:v:0]select='eq(n\\,0)+gte(t\\,{start:.3})*(isnan(prev_selected_t)+gte(t-prev_selected_t\\,{step:.3}))',\
         split[full][small];\
         [full]scale=w='iw*max(sar\\,1)':h='ih/min(sar\\,1)',setsar=1,format=rgb24[frames];\
         [small]scale={PREVIEW}:{PREVIEW},format=gray[previews]"
    )
}

/// Extracts the candidates into `dir` (`1.png`, `2.png`, … and `previews.gray`) and
/// returns the chosen one's PNG.
pub fn extract(
    input: &[u8],
    file: &Path,
    stream: &Stream,
    deadline: Instant,
    limits: &Limits,
) -> Result<Vec<u8>, PipelineError> {
    let frames = (LATER + 1).to_string();
    // One decoding thread: a render worker's share of the machine.
    let mut args: Vec<String> = ["-nostdin", "-threads", "1"].map(String::from).into();
    args.extend(opening(input, file));
    args.extend(
        [
            "-threads",
            "1",
            "-filter_threads",
            "1",
            "-filter_complex",
            &graph(stream.duration),
            "-map",
            "[frames]",
            "-fps_mode",
            "passthrough",
            "-frames:v",
            &frames,
            "-c:v",
            "png",
            "-compression_level",
            "1",
            "-y",
            "%d.png",
            "-map",
            "[previews]",
            "-fps_mode",
            "passthrough",
            "-frames:v",
            &frames,
            "-f",
            "rawvideo",
            "-y",
            "previews.gray",
        ]
        .map(String::from),
    );
    // A frame as 8-bit RGB, compressed a little, with room for PNG's framing.
    let max_file = (u64::from(stream.width) * u64::from(stream.height) * 3 + (1 << 20))
        .max(input.len() as u64);
    let dir = file.parent().unwrap_or(Path::new("."));
    let done = run::run(Program::Ffmpeg, &args, dir, deadline, limits, max_file)?;
    if !done.status.success() {
        return Err(unreadable(&done.stderr, file));
    }
    let previews = std::fs::read(dir.join("previews.gray")).unwrap_or_default();
    let chosen = choose(&previews);
    std::fs::read(dir.join(format!("{}.png", chosen + 1))).map_err(|_| {
        PipelineError::Corrupt("ffmpeg found no frame to show in its video stream".into())
    })
}

/// Which candidate to show, from their grey miniatures (the first frame's first): the
/// first later one that is not nearly uniform, else the first frame if it is not, else the
/// first later one (a video that is all fades still shows a frame a short way in).
pub fn choose(previews: &[u8]) -> usize {
    let spreads: Vec<f64> = previews
        .chunks_exact(PREVIEW * PREVIEW)
        .map(spread)
        .collect();
    let varied = |i: &usize| spreads[*i] >= UNIFORM;
    (1..spreads.len())
        .find(varied)
        .or_else(|| (!spreads.is_empty()).then_some(0).filter(varied))
        .unwrap_or(usize::from(spreads.len() > 1))
}

/// The standard deviation of grey levels.
fn spread(grey: &[u8]) -> f64 {
    let n = grey.len() as f64;
    let mean = grey.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    (grey
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}

/// ffmpeg's reason, as the input's fault: a file its demuxer or decoder refuses. Its last
/// line says why, without the private path it was read from.
pub fn unreadable(log: &str, file: &Path) -> PipelineError {
    let lower = log.to_ascii_lowercase();
    let named = format!("file:{}: ", file.display());
    let last = log
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .replace(&named, "");
    let last = last.split_whitespace().collect::<Vec<_>>().join(" ");
    if lower.contains("cannot allocate memory") || lower.contains("out of memory") {
        PipelineError::Corrupt("reading it needs more memory than a video may use".into())
    } else if lower.contains("end of file") || lower.contains("moov atom not found") {
        PipelineError::Truncated
    } else if last.is_empty() {
        PipelineError::Corrupt("ffmpeg could not read it".into())
    } else {
        PipelineError::Corrupt(format!("ffmpeg: {last}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(level: impl Fn(usize) -> u8) -> Vec<u8> {
        (0..PREVIEW * PREVIEW).map(level).collect()
    }

    #[test]
    fn the_first_varied_frame_a_short_way_in_is_chosen() {
        let black = frame(|_| 0);
        let bars = frame(|i| if i % PREVIEW < 16 { 20 } else { 220 });
        let white = frame(|_| 250);
        assert_eq!(
            choose(&[bars.clone(), black.clone(), bars.clone()].concat()),
            2
        );
        assert_eq!(
            choose(&[black.clone(), white.clone(), bars.clone()].concat()),
            2
        );
        // Every later frame a fade: the first frame, if it shows something.
        assert_eq!(
            choose(&[bars.clone(), black.clone(), white.clone()].concat()),
            0
        );
        // Nothing anywhere: a frame a short way in.
        assert_eq!(choose(&[black.clone(), black.clone()].concat()), 1);
        assert_eq!(choose(&black), 0);
        assert_eq!(choose(&[]), 0);
    }

    #[test]
    fn ffprobe_answers_without_a_video_stream_or_duration_are_read() {
        let audio = br#"{"programs":[],"streams":[],"format":{"duration":"3.0"}}"#;
        assert!(matches!(
            parse_stream(audio),
            Err(PipelineError::UnsupportedFormat(_))
        ));
        let live = br#"{"streams":[{"width":640,"height":360}],"format":{"duration":"N/A"}}"#;
        let s = parse_stream(live).expect("a stream");
        assert_eq!((s.width, s.height, s.duration), (640, 360, None));
        assert!(parse_stream(b"not json").is_err());
    }
}
