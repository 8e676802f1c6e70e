//! Runs `ffmpeg` or `ffprobe` as a bounded subprocess: no environment, no network, limits
//! on memory, CPU, file size and wall time, killed if thumbkit dies first.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::pipeline::{Limits, PipelineError};

/// The programs this module runs, found once on `PATH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Ffmpeg,
    Ffprobe,
}

impl Program {
    fn name(self) -> &'static str {
        match self {
            Program::Ffmpeg => "ffmpeg",
            Program::Ffprobe => "ffprobe",
        }
    }

    /// Where the program is, if it is installed.
    pub fn path(self) -> Option<&'static Path> {
        static FOUND: OnceLock<[Option<PathBuf>; 2]> = OnceLock::new();
        let found = FOUND.get_or_init(|| [find("ffmpeg"), find("ffprobe")]);
        found[self as usize].as_deref()
    }

    /// The program's path, or why videos cannot be read here.
    pub fn require(self) -> Result<&'static Path, PipelineError> {
        self.path().ok_or_else(|| {
            PipelineError::Unavailable(format!(
                "a video's poster frame is read by the `{}` program, which is not installed \
                 on this server (Debian and Ubuntu: apt install ffmpeg)",
                self.name()
            ))
        })
    }
}

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// How a run ended, when it ended by itself.
pub struct Finished {
    pub status: ExitStatus,
    /// The end of what the program wrote to stderr (its reasons when it fails).
    pub stderr: String,
}

/// Runs `program` with `args` in `dir` until `deadline`, under `limits`' memory bound and a
/// bound of `max_file` bytes on each file it writes.
pub fn run(
    program: Program,
    args: &[String],
    dir: &Path,
    deadline: Instant,
    limits: &Limits,
    max_file: u64,
) -> Result<Finished, PipelineError> {
    let path = program.require()?;
    let log = dir.join(format!("{}.log", program.name()));
    let stderr = std::fs::File::create(&log).map_err(io)?;
    let memory = limits.video_memory;
    let cpu = limits.video_time.as_secs().saturating_add(1);
    let mut command = Command::new(path);
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    // SAFETY: between fork and exec only async-signal-safe calls are made (setrlimit and
    // prctl are system calls), touching no memory shared with the parent.
    unsafe {
        command.pre_exec(move || {
            limit(libc::RLIMIT_AS, memory)?;
            limit(libc::RLIMIT_CPU, cpu)?;
            limit(libc::RLIMIT_FSIZE, max_file)?;
            limit(libc::RLIMIT_CORE, 0)?;
            // The child dies with the thread that started it, never outliving thumbkit.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(io)?;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(io)? {
            break status;
        }
        if Instant::now() >= deadline {
            // Already gone if it exited meanwhile: then `wait` reaps it.
            let _ = child.kill();
            let _ = child.wait();
            return Err(PipelineError::TooSlow {
                seconds: limits.video_time.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Finished {
        status,
        stderr: tail(&log),
    })
}

fn limit(resource: libc::__rlimit_resource_t, value: u64) -> std::io::Result<()> {
    let bound = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: a plain system call on a valid struct.
    if unsafe { libc::setrlimit(resource, &bound) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The end of the program's log, where it says why it stopped.
fn tail(log: &Path) -> String {
    let text = std::fs::read(log).unwrap_or_default();
    let start = text.len().saturating_sub(4096);
    String::from_utf8_lossy(&text[start..]).into_owned()
}

/// A failure to run or read back from a program: the machine's, not the input's.
pub fn io(e: std::io::Error) -> PipelineError {
    PipelineError::Internal(format!("running ffmpeg: {e}"))
}
