use leptos::prelude::*;
use leptos_meta::Title;

/// The 404 page; during server rendering it also sets the status.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found"/>
        <section class="card narrow">
            <h1>"Page not found"</h1>
            <p>"There is nothing here. It may have been deleted, or the address is mistyped."</p>
            <p><a href="/">"Go to the home page"</a></p>
        </section>
    }
}
