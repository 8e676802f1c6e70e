//! Running the `thumbkit` binary as a user would, from the repo's root, and measuring it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary, run from the repo's root (so `fixtures/` and `presets/` resolve).
pub fn thumbkit() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_thumbkit"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// A fresh, empty temporary directory for one test, under this run's own folder of
/// [`tests_root`] (what earlier runs left there is removed when the first one is made).
pub fn temp_dir(tag: &str) -> PathBuf {
    // Unique per call: every test shares this process (and so its id).
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| sweep_finished_runs(&tests_root()));
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = tests_root()
        .join(std::process::id().to_string())
        .join(format!("{tag}-{n}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Where test runs keep their files: one folder per test process, named by its id.
pub fn tests_root() -> PathBuf {
    std::env::temp_dir().join("thumbkit-tests")
}

/// Removes the folders of test processes that are no longer running (a test binary cannot
/// clean up after itself: a failed test's files are what one looks at).
pub fn sweep_finished_runs(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let running = name
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !running {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// What the command printed on stderr.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs the binary and returns its output and peak RSS in bytes (from the kernel).
pub fn run_measured(args: &[&str]) -> (Output, u64) {
    let child = thumbkit()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    // Read the pipes first (the outputs are small), then reap with wait4 for the rusage.
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    use std::io::Read;
    let mut child = child;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; `pid` is our unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the pointers are to live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid);
    let exit =
        <std::process::ExitStatus as std::os::unix::process::ExitStatusExt>::from_raw(status);
    (
        Output {
            status: exit,
            stdout,
            stderr,
        },
        usage.ru_maxrss as u64 * 1024,
    )
}
