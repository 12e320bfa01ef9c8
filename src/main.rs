/// mimalloc rather than the system allocator: pages allocate many small objects on every
/// worker thread, and glibc's per-thread arenas both contend on their locks and keep freed
/// memory after a flood (see bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    gatehouse::server::main().await
}
