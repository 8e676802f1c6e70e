//! Criterion benchmarks of the pipeline on Task A (`thumb`: inside 320x320, JPEG q80) for
//! the 6 MP and 12 MP photos. The comparison with vipsthumbnail is `thumbkit bench`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;

use thumbkit::pipeline::{self, Limits, OutputFormat};
use thumbkit::preset::Preset;

fn task_a(c: &mut Criterion) {
    // As the `thumbkit` binary does at start (see src/runtime.rs).
    thumbkit::process::tune_allocator();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let preset = Preset::load(&root.join("presets/thumb.toml")).expect("thumb preset");
    let limits = Limits::default();
    let mut group = c.benchmark_group("thumb");
    group.sample_size(20);
    for (label, file) in [
        ("6MP", "2569067123_aca715a2ee_o.jpg"),
        ("12MP", "IMG_9424.JPG"),
    ] {
        let bytes = std::fs::read(root.join("fixtures").join(file)).expect("fixture");
        group.bench_function(label, |b| {
            b.iter(|| {
                pipeline::render(black_box(&bytes), &preset.spec, OutputFormat::Jpeg, &limits)
                    .expect("renders")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, task_a);
criterion_main!(benches);
