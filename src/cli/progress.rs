//! Progress of a long command: a bar with rate and ETA on a terminal, a plain line every
//! few seconds otherwise (a log, a CI job).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar with rate and ETA on a terminal; a plain line every few seconds otherwise.
pub(crate) struct Progress {
    /// The command, opening each plain line.
    command: &'static str,
    /// What is counted, e.g. `originals`.
    unit: &'static str,
    bar: std::sync::OnceLock<Option<ProgressBar>>,
    /// When the run started, when the last plain line was printed and the count it showed.
    plain: std::sync::Mutex<Option<(Instant, Instant, usize)>>,
}

impl Progress {
    /// A progress report for `command`, counting `unit`.
    pub(crate) fn new(command: &'static str, unit: &'static str) -> Self {
        Self {
            command,
            unit,
            bar: std::sync::OnceLock::new(),
            plain: std::sync::Mutex::new(None),
        }
    }

    /// Shows `done` of `total`.
    pub(crate) fn update(&self, done: usize, total: usize) {
        let bar = self.bar.get_or_init(|| {
            std::io::stderr().is_terminal().then(|| {
                let bar = ProgressBar::new(total as u64);
                let template = format!(
                    "{{bar:40}} {{pos}}/{{len}} {}  {{rate}}  ETA {{eta}}  ({{elapsed}} elapsed)",
                    self.unit
                );
                if let Ok(style) = ProgressStyle::with_template(&template) {
                    // indicatif's {per_sec} prints every digit it has ("86.7157/s").
                    bar.set_style(style.with_key(
                        "rate",
                        |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{:.1}/s", state.per_sec());
                        },
                    ));
                }
                bar
            })
        });
        if let Some(bar) = bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            return;
        }
        let Ok(mut state) = self.plain.lock() else {
            return;
        };
        let now = Instant::now();
        let (started, last, shown) = state.get_or_insert((now, now, 0));
        let due = last.elapsed() >= Duration::from_secs(5) || done >= total;
        if done > *shown && due {
            (*last, *shown) = (now, done);
            let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
            let eta = total.saturating_sub(done) as f64 / rate.max(1e-9);
            let (command, unit) = (self.command, self.unit);
            eprintln!("{command}: {done}/{total} {unit}, {rate:.1}/s, ETA {eta:.0} s");
        }
    }

    /// Clears the bar.
    pub(crate) fn finish(&self) {
        if let Some(Some(bar)) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}
