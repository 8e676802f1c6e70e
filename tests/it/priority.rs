//! Where `thumbkit serve`'s threads stand with the scheduler: render threads at the
//! process's own nice value (so a busy neighbour cannot take their CPU), the threads that
//! answer connections with the shortest slice (so a memory hit does not wait for a render).

use crate::helpers::process::temp_dir;
use crate::helpers::servers::Binary;

/// Each thread of `pid`: its name, nice value and, where the kernel shows it, its slice.
fn threads(pid: u32) -> Vec<(String, i64, Option<u64>)> {
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
        out.push((comm.trim().to_owned(), nice, slice));
    }
    out
}

#[test]
fn render_threads_keep_the_process_nice_and_connection_threads_take_the_short_slice() {
    let dir = temp_dir("priority");
    let server = Binary::start(&[("THUMBKIT_STORAGE", format!("fs:{}", dir.display()))]);
    let all = threads(server.child.id());
    let (main, renders): (Vec<_>, Vec<_>) = (
        all.iter().filter(|t| t.0 == "thumbkit").collect(),
        all.iter()
            .filter(|t| t.0.starts_with("thumbkit-render"))
            .collect(),
    );
    assert!(!renders.is_empty(), "no render threads among {all:?}");
    let own = main.first().map_or(0, |t| t.1);
    for t in &renders {
        assert_eq!(
            t.1, own,
            "a render thread below the process's nice value: {all:?}"
        );
    }
    // The slice shows where the kernel has per-thread slices (EEVDF, Linux 6.12+) and
    // scheduler statistics; elsewhere the default stands and there is nothing to see.
    let workers: Vec<_> = all.iter().filter(|t| t.0 == "tokio-rt-worker").collect();
    assert!(!workers.is_empty(), "no connection threads among {all:?}");
    let default = renders[0].2;
    if let (Some(default), Some(_)) = (default, workers[0].2)
        && default != 100_000
    {
        for t in &workers {
            assert_eq!(
                t.2,
                Some(100_000),
                "a connection thread at the default slice: {all:?}"
            );
        }
        assert!(main.iter().all(|t| t.2 == Some(100_000)), "{all:?}");
    } else {
        eprintln!("this kernel shows no per-thread slices: only the nice values were checked");
    }
}
