//! Running the `thumbkit` binary as a user would, from the repo's root, and measuring it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The binary, run from the repo's root (so `fixtures/` and `presets/` resolve).
pub fn thumbkit() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_thumbkit"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// A fresh, empty directory for one CLI test.
pub fn temp_dir(tag: &str) -> PathBuf {
    super::app::temp_dir(&format!("cli-{tag}"))
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
