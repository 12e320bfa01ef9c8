//! Gatehouse: self-hostable user accounts. One crate, two builds: `ssr` (the axum server) and
//! `hydrate` (the wasm that makes the server-rendered pages interactive).

#![recursion_limit = "512"]

pub mod app;
pub mod components;
pub mod domain;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
