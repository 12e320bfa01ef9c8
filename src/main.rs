#[tokio::main]
async fn main() -> std::process::ExitCode {
    gatehouse::server::run().await
}
