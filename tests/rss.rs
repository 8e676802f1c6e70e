//! The CLI's peak memory on hostile files, as the kernel counts it. A binary of its own: the
//! peak RSS that `wait4` reports for a child includes its parent's at the time of `exec`,
//! so it is only the child's own when the parent (this test process) is small, which the
//! shared test binary, decoding photos in its other tests, is not.

#[path = "it/helpers/process.rs"]
mod process;

use process::*;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, noting the largest single request this process makes.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: as `GlobalAlloc::realloc` requires, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// A 380-byte JPEG XL (found by the fuzzer) whose frame table declares a 548 MB section:
/// jxl-oxide reserved the declared size as the bytes were fed, before any check.
#[test]
fn a_few_bytes_of_jpeg_xl_never_reserve_what_their_frame_table_declares() {
    let bytes = std::fs::read("fixtures/hostile/jxl-toc-548mb.jxl").expect("fixture");
    let limits = thumbkit::pipeline::Limits::default();
    LARGEST.store(0, Ordering::Relaxed);
    let probed = thumbkit::pipeline::probe(&bytes, &limits);
    let checked = thumbkit::pipeline::validate(&bytes, &limits);
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(checked.is_err(), "{probed:?} {checked:?}");
    assert!(
        largest < 64 << 20,
        "one allocation of {} MiB",
        largest >> 20
    );
}

/// A GIF (found by the fuzzer) with a frame declaring 3.4 gigapixels: counting its frames
/// reserved a quarter of that for the frame's data before reading any.
#[test]
fn counting_a_gifs_frames_never_reserves_what_a_frame_declares() {
    let bytes = std::fs::read("fixtures/hostile/gif-frame-reserves-848mb.gif").expect("fixture");
    let limits = thumbkit::pipeline::Limits::default();
    LARGEST.store(0, Ordering::Relaxed);
    let probed = thumbkit::pipeline::probe(&bytes, &limits);
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest < 64 << 20,
        "one allocation of {} MiB ({probed:?})",
        largest >> 20
    );
    // Frames are still counted: an animation's, one by one.
    let animation = std::fs::read("fixtures/rotating-squares.gif").expect("fixture");
    let probe = thumbkit::pipeline::probe(&animation, &limits).expect("probes");
    assert!(probe.frames > 1, "{probe:?}");
}

#[test]
fn bad_files_get_one_line_and_a_failing_exit_with_little_memory() {
    let dir = temp_dir("bad");
    for (name, expected) in [
        ("truncated.jpg", "truncated"),
        ("empty.jpg", "empty"),
        ("exif-samples-README.jpg", "text, not an image"),
        ("bomb-60000x60000.png", "60000x60000"),
        ("giant-image.jpg", "20000x14000"),
    ] {
        let input = format!("fixtures/{name}");
        let out = dir.join("out.jpg");
        let (o, rss) = run_measured(&[
            "render",
            "--preset",
            "thumb",
            &input,
            "-o",
            out.to_str().unwrap(),
        ]);
        let err = stderr(&o);
        assert!(!o.status.success(), "{name} must fail");
        assert_eq!(
            o.status.code(),
            Some(1),
            "{name}: an error exit, not a crash"
        );
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{name}: one line, got:\n{err}"
        );
        assert!(
            err.contains(expected),
            "{name}: `{err}` should mention `{expected}`"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(!out.exists(), "{name}: nothing written");
        // The bombs are refused from the header: nowhere near their 450 MB-3.6 GB of pixels.
        assert!(rss < 64 << 20, "{name}: peak RSS {} MiB", rss >> 20);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A render's peak memory above the binary's own stays within what `decode_cost` tells the
/// render workers' shared budget, for the formats decoded by C libraries whose buffers
/// thumbkit does not see (libheif with dav1d or libde265). An AVIF used to take 14 bytes a
/// pixel where the budget counted 9.
#[test]
fn heif_and_avif_decodes_stay_within_the_cost_the_budget_counts() {
    let dir = temp_dir("cost");
    let presets = dir.join("presets");
    std::fs::create_dir_all(&presets).unwrap();
    std::fs::write(
        presets.join("master.toml"),
        "width = 2040\nheight = 2040\nformat = \"avif\"\nquality = 60\n",
    )
    .unwrap();
    std::fs::write(
        presets.join("tiny.toml"),
        "width = 64\nheight = 64\nformat = \"jpeg\"\n",
    )
    .unwrap();
    let avif = dir.join("photo.avif");
    let render = |preset: &str, input: &str, out: &std::path::Path| {
        let args = [
            "render",
            "--preset-files",
            presets.to_str().unwrap(),
            "--preset",
            preset,
            input,
            "-o",
            out.to_str().unwrap(),
        ];
        let (o, rss) = run_measured(&args);
        assert!(o.status.success(), "{input}: {}", stderr(&o));
        rss
    };
    let made = render("master", "fixtures/2569067123_aca715a2ee_o.jpg", &avif);
    assert!(made > 0);
    // The binary's own peak: a 64 px render of a 64 px JPEG.
    let small = dir.join("small.jpg");
    let base = render("tiny", "fixtures/Landscape_1.jpg", &small);
    let base = base.max(render(
        "tiny",
        small.to_str().unwrap(),
        &dir.join("again.jpg"),
    ));
    for input in [avif.to_str().unwrap(), "fixtures/IMG_5195.HEIC"] {
        let rss = render("tiny", input, &dir.join("out.jpg"));
        let cost = thumbkit::pipeline::decode_cost(&std::fs::read(input).unwrap());
        let used = rss.saturating_sub(base);
        assert!(
            used <= cost,
            "{input}: {} MiB above the binary's {} MiB, the budget counts {} MiB",
            used >> 20,
            base >> 20,
            cost >> 20
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
