//! Gatehouse: self-hostable user accounts. One crate, two builds: `ssr` (the axum server, which
//! renders every page with Leptos) and `hydrate` (the small wasm that makes those pages better
//! in a browser: `enhance`).

#![recursion_limit = "512"]

#[cfg(feature = "ssr")]
pub mod app;
#[cfg(feature = "ssr")]
pub mod components;
pub mod domain;
#[cfg(feature = "hydrate")]
pub mod enhance;
#[cfg(feature = "ssr")]
pub mod pages;
#[cfg(feature = "ssr")]
pub mod server;

/// The wasm's entry point, called by the page's start-up script once the module has loaded.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    enhance::start();
}
