/// mimalloc rather than the system allocator: pages allocate many small objects on every
/// worker thread, and glibc's per-thread arenas both contend on their locks and keep freed
/// memory after a flood (see bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc commits its first arena (1 GiB of address space) up front on Linux, and a purge of
/// committed memory there only marks pages free (`MADV_FREE`): they stay resident until the
/// kernel runs short. After a flood resident memory then stayed ~20 MB above idle for good.
/// Committing on demand makes a purge (10 ms after a page empties) hand pages back at once.
/// The option must be set before the first allocation creates the arena, so it is set by a
/// constructor that runs after mimalloc's own start-up and before Rust's runtime allocates.
/// `mi_option_arena_eager_commit` of mimalloc 3's `mi_option_e` (`mimalloc.h`), which
/// `libmimalloc-sys` does not name; `arena_commit_reads_back` checks that the option set is
/// the one read back.
#[cfg(target_os = "linux")]
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
#[unsafe(link_section = ".init_array")]
#[used]
static COMMIT_ARENAS_ON_DEMAND: extern "C" fn() = {
    extern "C" fn commit_arenas_on_demand() {
        // SAFETY: sets a plain integer in mimalloc's option table; nothing else runs yet.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0) }
    }
    commit_arenas_on_demand
};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    gatehouse::server::main().await
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::MI_OPTION_ARENA_EAGER_COMMIT;

    #[test]
    #[allow(unsafe_code)]
    fn arena_commit_reads_back() {
        // SAFETY: reads a plain integer from mimalloc's option table.
        let (arena, neighbours) = unsafe {
            (
                libmimalloc_sys::mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT),
                [
                    libmimalloc_sys::mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT - 1),
                    libmimalloc_sys::mi_option_get(MI_OPTION_ARENA_EAGER_COMMIT + 1),
                ],
            )
        };
        assert_eq!(arena, 0, "arenas are committed on demand");
        // The options beside it keep mimalloc's defaults (deprecated eager commit 1, purge
        // decommits 1): an index off by one would have changed one of them instead.
        assert_eq!(neighbours, [1, 1]);
    }
}
