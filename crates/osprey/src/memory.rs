//! How the process gives memory back to the system.
//!
//! glibc's allocator raises its mmap threshold every time a large block is
//! freed, so after an upload (megabyte-sized request and log buffers on every
//! batch) such blocks come from the heap and stay there: measured on
//! 100,000 × 384 vectors, about 85 MiB of resident memory the process no
//! longer used. A fixed threshold keeps large buffers in their own mappings,
//! returned to the system when freed, and two arenas per process stop every
//! worker thread from keeping a heap of its own.

/// Sets the allocator's policy; call first thing in `main`, before any thread starts.
pub fn configure_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // mallopt parameter numbers from glibc's <malloc.h>.
        const M_MMAP_THRESHOLD: i32 = -3;
        const M_ARENA_MAX: i32 = -8;
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only changes allocator tunables; it is called before
        // any other thread exists, as glibc asks.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 128 * 1024);
            mallopt(M_ARENA_MAX, 2);
        }
    }
}
