//! Where `thumbkit serve`'s threads stand with the scheduler: render threads at the
//! process's own nice value (so a busy neighbour cannot take their CPU), the threads that
//! answer connections with the shortest slice (so a memory hit does not wait for a render),
//! and the store's file threads with the default one (so they do not get ahead of a hit).

use std::time::{Duration, Instant};

use thumbkit::process::{CONNECTION_THREAD, STORAGE_THREAD};

use crate::helpers::process::temp_dir;
use crate::helpers::servers::Binary;

/// The shortest slice the kernel grants, in nanoseconds: what connection threads ask for.
const SHORT: u64 = 100_000;

/// One thread of a process as the scheduler sees it.
#[derive(Debug)]
struct Thread {
    tid: u32,
    name: String,
    nice: i64,
    /// Where the kernel shows it (`/proc/…/sched`).
    slice: Option<u64>,
}

/// Each thread of `pid`.
fn threads(pid: u32) -> Vec<Thread> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let dir = task.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
        // After the name: state, ppid, … priority (the 16th), nice (the 17th).
        let Some(nice) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(16))
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        let slice = std::fs::read_to_string(dir.join("sched"))
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("se.slice"))
            .and_then(|l| l.rsplit(':').next())
            .and_then(|v| v.trim().parse().ok());
        let tid = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        out.push(Thread {
            tid,
            name: comm.trim().to_owned(),
            nice,
            slice,
        });
    }
    out
}

/// What a thread should show: render threads at `own` nice and the default slice, the
/// store's file threads at the default slice, the others at the short slice (where the
/// kernel shows slices).
fn settled(t: &Thread, own: i64, short: bool) -> bool {
    if t.name.starts_with("thumbkit-render") {
        t.nice == own && (!short || t.slice != Some(SHORT))
    } else if t.name == STORAGE_THREAD {
        !short || t.slice != Some(SHORT)
    } else {
        !short || t.slice == Some(SHORT)
    }
}

/// A thumbnail request for an original that is not there: the store looks for it on a
/// file thread, so one exists afterwards.
fn ask_the_store(addr: std::net::SocketAddr) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /t/thumb/absent.jpg HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
}

#[test]
fn render_threads_keep_the_process_nice_connection_threads_take_the_short_slice_and_file_threads_do_not()
 {
    let dir = temp_dir("priority");
    let server = Binary::start(&[("THUMBKIT_STORAGE", format!("fs:{}", dir.display()))]);
    let pid = server.child.id();
    // A thread takes its name and its place with the scheduler as it starts, which may be
    // just after the server says it listens.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (all, own, short) = loop {
        // Each time: an idle file thread leaves after 10 s.
        ask_the_store(server.addr);
        let all = threads(pid);
        let main = all.iter().find(|t| t.tid == pid);
        let own = main.map_or(0, |t| t.nice);
        // The slice shows where the kernel has per-thread slices (EEVDF, Linux 6.12+) and
        // scheduler statistics; elsewhere only the nice values can be checked.
        let short = main.is_some_and(|t| t.slice == Some(SHORT));
        let renders = all
            .iter()
            .filter(|t| t.name.starts_with("thumbkit-render"))
            .count();
        let named = |name| all.iter().any(|t| t.name == name);
        let done = renders > 0
            && named(CONNECTION_THREAD)
            && named(STORAGE_THREAD)
            && all.iter().all(|t| settled(t, own, short));
        if done || Instant::now() > deadline {
            break (all, own, short);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let renders: Vec<_> = all
        .iter()
        .filter(|t| t.name.starts_with("thumbkit-render"))
        .collect();
    assert!(!renders.is_empty(), "no render threads among {all:?}");
    for t in &renders {
        assert_eq!(
            t.nice, own,
            "a render thread below the process's nice value: {all:?}"
        );
    }
    for name in [CONNECTION_THREAD, STORAGE_THREAD] {
        assert!(
            all.iter().any(|t| t.name == name),
            "no {name} thread among {all:?}"
        );
    }
    if short {
        for t in &all {
            assert!(
                settled(t, own, true),
                "a thread at the wrong slice: {t:?} among {all:?}"
            );
        }
    } else {
        eprintln!("this kernel shows no per-thread slices: only the nice values were checked");
    }
}
