#[tokio::main]
async fn main() -> std::process::ExitCode {
    gatehouse::server::main().await
}
