//! What a page shows when its data could not be loaded.

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

use crate::domain::{AppError, ErrorKind};
use crate::pages::not_found::NotFound;

/// Shows a server-loaded value: "Loading…" until it arrives, then `ready(value)`, or
/// `LoadError` when it could not be loaded. Every page that loads data goes through it.
#[component]
pub fn Loaded<T, F, V>(resource: Resource<Result<T, AppError>>, ready: F) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    F: Fn(T) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                resource
                    .get()
                    .map(|result| match result {
                        Ok(value) => ready(value).into_any(),
                        Err(error) => view! { <LoadError error/> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

/// Guests are sent to log in (and brought back); missing things get the 404 page.
#[component]
pub fn LoadError(error: AppError) -> impl IntoView {
    match error.kind {
        ErrorKind::Unauthenticated => {
            let location = use_location();
            let here = format!(
                "{}{}",
                location.pathname.get_untracked(),
                location.search.get_untracked()
            );
            let target = format!("/login?next={}", super::encode_query_value(&here));
            view! { <Redirect path=target/> }.into_any()
        }
        ErrorKind::NotFound => view! { <NotFound/> }.into_any(),
        _ => view! {
            <div role="alert" class="error-summary">
                <p>{error.message}</p>
            </div>
        }
        .into_any(),
    }
}
