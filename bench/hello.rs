//! The yardstick of `make bench`: the smallest axum server that answers an HTML page, on the
//! same runtime settings as Gatehouse. Usage: `hello ADDRESS`.

use axum::response::Html;
use axum::routing::get;

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3999".to_string());
    let app = axum::Router::new().route(
        "/",
        get(|| async { Html("<!DOCTYPE html><title>Hello</title><p>Hello, world!</p>") }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
