//! Any bytes through everything an upload and a render do to them: probe, inspect, validate
//! (decode to the last block), the placeholder, and a render to each output format. The
//! pipeline turns a panic into `PipelineError::Internal`; here that is a crash.

#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use thumbkit::pipeline::{self, Limits, OutputFormat, PipelineError};
use thumbkit::preset::Preset;

/// Smaller than the service's limits, so each input costs milliseconds, not seconds.
fn limits() -> Limits {
    Limits {
        max_pixels: 4_000_000,
        ..Limits::default()
    }
}

fn preset() -> &'static Preset {
    static P: OnceLock<Preset> = OnceLock::new();
    P.get_or_init(|| {
        let toml = "width = 96\nheight = 96\nfit = \"cover\"\nformat = \"jpeg\"\n";
        Preset::parse("fuzz", toml, Path::new("fuzz.toml")).expect("valid preset")
    })
}

fn no_panic<T>(what: &str, r: Result<T, PipelineError>) {
    if let Err(PipelineError::Internal(m)) = r {
        panic!("{what}: {m}");
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = limits();
    let _ = pipeline::probe(data, &limits);
    let _ = pipeline::inspect::inspect(data);
    no_panic("check", pipeline::check(data, &limits));
    no_panic("validate", pipeline::validate(data, &limits));
    no_panic("placeholder", pipeline::placeholder(data, &limits));
    for format in [OutputFormat::Jpeg, OutputFormat::Png, OutputFormat::Webp] {
        no_panic("render", pipeline::render(data, &preset().spec, format, &limits));
    }
});
