//! Process-wide settings for a rendering workload.
//!
//! Every render allocates a few buffers of one to a few MiB (decoded pixels, resize
//! scratch). glibc serves allocations that large with a fresh `mmap` and returns them with
//! `munmap`, so each render paid page faults on memory it had just given back: measured on
//! a worker rendering 24 six-megapixel photos, raising the thresholds made it 13% faster
//! (0.31 s to 0.27 s) at the same peak RSS (8.2 MiB), because the next render reuses the
//! memory the previous one freed.
//!
//! What is kept is kept per arena, and glibc gives each thread that allocates under
//! contention an arena of its own (up to 8 per core). Renders run on a fixed set of threads
//! ([`crate::workers`]), and the arenas are capped, so what is kept stays a bounded multiple
//! of one render's working set instead of growing with every thread that ever held pixels.

/// Arenas glibc may create: one per core for the render threads, plus two shared by the
/// async and I/O threads, whose allocations are small.
fn arena_cap() -> i32 {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    i32::try_from(cores + 2).unwrap_or(64)
}

/// Keeps large freed buffers in the heap for reuse instead of unmapping them, in a bounded
/// number of arenas (glibc only).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator parameters; it is called before any thread is
    // started, and all values are valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
        libc::mallopt(libc::M_ARENA_MAX, arena_cap());
    }
}

/// Raises the soft limit on open files to the hard limit (as Go and nginx do), so that the
/// connection cap, not the descriptor limit, is what bounds connections.
pub fn raise_open_files_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit read and write a plain struct owned here.
    unsafe {
        let mut limit = std::mem::zeroed::<libc::rlimit>();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The soft limit on open files, when known.
pub fn open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    // SAFETY: getrlimit writes a plain struct owned here.
    unsafe {
        let mut limit = std::mem::zeroed::<libc::rlimit>();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            return Some(limit.rlim_cur);
        }
    }
    None
}

/// Which threads the scheduler should pick first when both are ready, inside this process.
///
/// Lowering the render threads' nice value kept memory hits fast under a render backlog,
/// but nice weighs against every process on the machine: beside one busy process per core
/// the renders got a fraction of the CPU they were owed. EEVDF (Linux 6.12+) takes a
/// per-thread slice instead: a thread with a short slice gets an earlier deadline and
/// preempts a running one when it wakes, while its weight, and so the process's share of
/// the machine, is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Threads that answer connections: a 0.1 ms slice (the kernel's minimum).
    Prompt,
    /// Render threads: the kernel's default slice.
    Patient,
}

/// Applies `urgency` to the calling thread, keeping its nice value; returns whether the
/// kernel took it (older kernels and other systems keep their default, harmlessly).
pub fn set_urgency(urgency: Urgency) -> bool {
    #[cfg(target_os = "linux")]
    {
        /// `struct sched_attr` of `<linux/sched/types.h>`, its first version.
        #[repr(C)]
        struct SchedAttr {
            size: u32,
            policy: u32,
            flags: u64,
            nice: i32,
            priority: u32,
            runtime: u64,
            deadline: u64,
            period: u64,
        }
        // SAFETY: getpriority only reads its arguments; errno is cleared first because -1
        // is also a valid nice value.
        let nice = unsafe {
            *libc::__errno_location() = 0;
            let n = libc::getpriority(libc::PRIO_PROCESS, 0);
            if *libc::__errno_location() != 0 { 0 } else { n }
        };
        let attr = SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            policy: libc::SCHED_OTHER as u32,
            flags: 0,
            nice,
            priority: 0,
            // 0 asks for the default slice.
            runtime: match urgency {
                Urgency::Prompt => 100_000,
                Urgency::Patient => 0,
            },
            deadline: 0,
            period: 0,
        };
        // SAFETY: sched_setattr reads `attr`, a valid struct of the size it states; pid 0
        // is the calling thread.
        unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = urgency;
        false
    }
}

/// Name of the runtime's worker threads, the ones that answer connections.
pub const CONNECTION_THREAD: &str = "thumbkit-http";
/// Name of the runtime's blocking threads, which run the store's file operations.
pub const STORAGE_THREAD: &str = "thumbkit-io";

thread_local! {
    static PROMPT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Gives the calling runtime worker the short slice and its name, once per thread.
///
/// Called from tokio's `on_thread_park`, which only worker threads run. The blocking pool
/// shares their start hook, and new threads inherit their creator's slice, so the store's
/// file operations (ext4 inode searches, fsyncs' bookkeeping) had the short slice too and
/// competed with the threads answering connections as equals.
pub fn prompt_once() {
    if PROMPT.with(|done| done.replace(true)) {
        return;
    }
    set_urgency(Urgency::Prompt);
    #[cfg(target_os = "linux")]
    {
        if let Ok(name) = std::ffi::CString::new(CONNECTION_THREAD) {
            // SAFETY: PR_SET_NAME reads a NUL-terminated string (the kernel keeps 15 bytes).
            unsafe {
                libc::prctl(libc::PR_SET_NAME, name.as_ptr());
            }
        }
    }
}
