//! The comparison itself: every image at every worker count, thumbkit, vipsthumbnail and
//! (when installed) sharp on the same files in interleaved rounds; then one table row per
//! tool with its rate, its ratio, peak RSS per worker, output size and PSNR against the
//! image's lossless master.

use std::path::{Path, PathBuf};

use super::quality::{Reference, median, reference};
use super::tools;
use crate::pipeline::{self, Limits, OutputFormat};
use crate::preset::Preset;

/// One file to render and the lossless image its quality is measured against (itself, when
/// no better master exists).
pub(super) struct Input {
    pub file: PathBuf,
    pub master: PathBuf,
}

/// How much to run: the bench's `--rounds`, `--batch`, `--workers` and `--sharp`.
pub(super) struct Rounds {
    pub rounds: usize,
    pub batch: usize,
    pub workers: Vec<usize>,
    /// The directory of sharp's worker script.
    pub sharp: PathBuf,
}

/// A tool the comparison times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Thumbkit,
    Vips,
    /// sharp through `--sharp`'s `worker.mjs`.
    Sharp,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Thumbkit => "thumbkit",
            Tool::Vips => "vipsthumbnail",
            Tool::Sharp => "sharp",
        }
    }
}

/// One tool's figures for one image and worker count.
struct Figures {
    images_per_s: f64,
    peak_rss_mib: f64,
    out_bytes: u64,
    /// The output's width and height.
    size: (u32, u32),
    psnr: f64,
}

/// One tool's timings for one image and worker count: rates, peak RSS, the first output;
/// or why the tool could not render the image (a peer that cannot read a format).
#[derive(Default)]
struct Timed(Vec<f64>, u64, Vec<u8>, Option<String>);

/// The comparison: every image, at every worker count, every tool; then the table.
pub(super) fn compare(
    args: &Rounds,
    inputs: &[Input],
    preset: &Preset,
    preset_files: &[PathBuf],
    limits: &Limits,
) -> Result<(), String> {
    let vips_version = tools::vips_version()?;
    let sharp = tools::sharp_dir(&args.sharp);
    let mut tools = vec![Tool::Thumbkit, Tool::Vips];
    let sharp_note = match &sharp {
        Ok(version) => {
            tools.push(Tool::Sharp);
            format!("sharp {version} in-process, concurrency(1), cache off")
        }
        Err(why) => format!("sharp not measured: {why}"),
    };
    let work = std::env::temp_dir().join(format!("thumbkit-bench-{}", std::process::id()));
    let run = Run {
        args,
        tools: &tools,
        preset,
        preset_files,
        limits,
        work: &work,
    };
    let result = (|| {
        println!(
            "preset `{}` ({}), {} rounds x {} images, interleaved; medians. vipsthumbnail: {vips_version}, VIPS_CONCURRENCY=1 per worker; {sharp_note}",
            preset.name,
            preset.summary(),
            args.rounds,
            args.batch
        );
        println!(
            "{:<30} {:>7}  {:<14} {:>8} {:>7} {:>7} {:>16} {:>10} {:>9} {:>8}",
            "image",
            "workers",
            "tool",
            "img/s",
            "×vips",
            "×sharp",
            "peak RSS/worker",
            "out bytes",
            "size",
            "PSNR dB"
        );
        // Every timed run happens before any reference is decoded: a child's peak RSS as the
        // kernel reports it includes the parent's peak (the memory it was forked from), so
        // the parent must stay small until all workers have run.
        let mut measured = Vec::new();
        for input in inputs {
            measured.push((input, run.image(&input.file)?));
        }
        for (input, rows) in measured {
            run.print(input, rows)?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// What every round of one comparison shares.
struct Run<'a> {
    args: &'a Rounds,
    tools: &'a [Tool],
    preset: &'a Preset,
    preset_files: &'a [PathBuf],
    limits: &'a Limits,
    work: &'a Path,
}

impl Run<'_> {
    /// Times every tool on `batch` copies of `image` at each worker count.
    fn image(&self, image: &Path) -> Result<Vec<(usize, Vec<Timed>)>, String> {
        let _ = std::fs::remove_dir_all(self.work.join("in"));
        let inputs = tools::copies(&self.work.join("in"), image, self.args.batch)?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let outs: Vec<PathBuf> = self
            .tools
            .iter()
            .map(|t| self.work.join(format!("out-{}", t.name())))
            .collect();
        for dir in &outs {
            let _ = std::fs::remove_dir_all(dir);
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let log = self.work.join("stderr.log");
        let format = self.output_format(&exe, &inputs[0], &outs[0], &log)?;
        let mut rows = Vec::new();
        for &workers in &self.args.workers {
            let chunks: Vec<&[PathBuf]> = inputs
                .chunks(inputs.len().div_ceil(workers.max(1)))
                .collect();
            let mut timed: Vec<Timed> = self.tools.iter().map(|_| Timed::default()).collect();
            for round in 0..self.args.rounds.max(1) {
                // Rotate which tool goes first, so none always meets a warm cache.
                for k in 0..self.tools.len() {
                    let i = (round + k) % self.tools.len();
                    if timed[i].3.is_some() {
                        continue;
                    }
                    let ran = self.time(self.tools[i], &chunks, (&exe, format, &outs[i]), &log);
                    match ran {
                        Ok((seconds, rss)) => {
                            timed[i].0.push(inputs.len() as f64 / seconds);
                            timed[i].1 = timed[i].1.max(rss);
                        }
                        // thumbkit failing is the bench failing; a peer is shown as unable.
                        Err(e) if self.tools[i] == Tool::Thumbkit => return Err(e),
                        Err(e) => timed[i].3 = Some(e),
                    }
                }
            }
            let first = inputs[0]
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let ext = format.extension();
            for (i, tool) in self.tools.iter().enumerate() {
                if timed[i].3.is_some() {
                    continue;
                }
                let name = match tool {
                    Tool::Vips => format!("tn_{first}.{ext}"),
                    _ => format!("{first}.{ext}"),
                };
                timed[i].2 = read_output(&outs[i].join(name))?;
            }
            rows.push((workers, timed));
        }
        Ok(rows)
    }

    /// One timed run of `tool`, one worker per chunk: wall seconds (sharp's own, from its
    /// first image) and the largest peak RSS.
    fn time(
        &self,
        tool: Tool,
        chunks: &[&[PathBuf]],
        (exe, format, out): (&Path, OutputFormat, &Path),
        log: &Path,
    ) -> Result<(f64, u64), String> {
        let times: Vec<PathBuf> = (0..chunks.len())
            .map(|j| self.work.join(format!("sharp-seconds-{j}")))
            .collect();
        let commands = chunks.iter().zip(&times).map(|(files, time)| match tool {
            Tool::Thumbkit => {
                tools::thumbkit(exe, self.preset, self.preset_files, self.limits, out, files)
            }
            Tool::Vips => tools::vips(self.preset, format, out, files),
            Tool::Sharp => tools::sharp(&self.args.sharp, self.preset, format, (out, time), files),
        });
        let (seconds, rss) = tools::run_parallel(commands.collect(), log)?;
        match tool {
            Tool::Sharp => Ok((tools::sharp_seconds(&times)?, rss)),
            _ => Ok((seconds, rss)),
        }
    }

    /// The format `auto` or `source` presets give this input, from an untimed thumbkit run
    /// on it (the bench does not read inputs itself: see [`tools::run_parallel`]).
    fn output_format(
        &self,
        exe: &Path,
        input: &Path,
        out: &Path,
        log: &Path,
    ) -> Result<OutputFormat, String> {
        let files = [input.to_path_buf()];
        let run = tools::thumbkit(
            exe,
            self.preset,
            self.preset_files,
            self.limits,
            out,
            &files,
        );
        tools::run_parallel(vec![run], log)?;
        let stem = input.file_stem().unwrap_or_default();
        std::fs::read_dir(out)
            .map_err(|e| format!("{}: {e}", out.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .find(|p| p.file_stem() == Some(stem))
            .and_then(|p| OutputFormat::parse(p.extension()?.to_str()?))
            .ok_or_else(|| format!("{}: thumbkit wrote no output", input.display()))
    }

    /// Prints one image's rows: each tool's median rate, memory, bytes and PSNR.
    fn print(&self, input: &Input, rows: Vec<(usize, Vec<Timed>)>) -> Result<(), String> {
        let master =
            std::fs::read(&input.master).map_err(|e| format!("{}: {e}", input.master.display()))?;
        let name = input
            .file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("image");
        let reference = reference(&master, self.preset, self.limits)?;
        drop(master);
        for (workers, timed) in rows {
            let figures = timed
                .iter()
                .map(|t| match &t.3 {
                    Some(why) => Ok(Err(why.clone())),
                    None => figures(t, &reference, self.preset, self.limits).map(Ok),
                })
                .collect::<Result<Vec<_>, String>>()?;
            let ratio_to = |tool: Tool| {
                let i = self.tools.iter().position(|t| *t == tool)?;
                let (Ok(tk), Ok(peer)) = (&figures[0], &figures[i]) else {
                    return None;
                };
                Some(format!("{:.2}", tk.images_per_s / peer.images_per_s))
            };
            let (vs_vips, vs_sharp) = (ratio_to(Tool::Vips), ratio_to(Tool::Sharp));
            for (i, (tool, f)) in self.tools.iter().zip(&figures).enumerate() {
                let f = match f {
                    Ok(f) => f,
                    Err(why) => {
                        println!("{name:<30} {workers:>7}  {:<14} cannot: {why}", tool.name());
                        continue;
                    }
                };
                let ratio = |r: &Option<String>| match (i, r) {
                    (0, Some(r)) => r.clone(),
                    _ => String::new(),
                };
                println!(
                    "{:<30} {:>7}  {:<14} {:>8.1} {:>7} {:>7} {:>12.1} MiB {:>10} {:>9} {:>8.2}",
                    name,
                    workers,
                    tool.name(),
                    f.images_per_s,
                    ratio(&vs_vips),
                    ratio(&vs_sharp),
                    f.peak_rss_mib,
                    f.out_bytes,
                    format!("{}x{}", f.size.0, f.size.1),
                    f.psnr
                );
            }
        }
        Ok(())
    }
}

fn read_output(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn figures(
    Timed(rates, rss, bytes, _): &Timed,
    reference: &Reference,
    preset: &Preset,
    limits: &Limits,
) -> Result<Figures, String> {
    Ok(Figures {
        images_per_s: median(rates),
        peak_rss_mib: *rss as f64 / (1024.0 * 1024.0),
        out_bytes: bytes.len() as u64,
        size: pipeline::probe(bytes, limits)
            .map_err(|e| format!("an output: {e}"))?
            .upright(),
        psnr: reference.psnr_of_output(preset, bytes, limits)?,
    })
}
