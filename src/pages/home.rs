use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::nav::current_account;

#[component]
pub fn HomePage() -> impl IntoView {
    let query = use_query_map();
    let deleted = move || query.read().get("deleted").is_some();
    view! {
        <Title text=""/>
        <section class="card hero">
            <h1>"Welcome to Gatehouse"</h1>
            <Show when=deleted>
                <p role="status" class="notice">"Your account and everything in it have been deleted."</p>
            </Show>
            <p>"Your account, your sessions and your projects — in one place you host yourself."</p>
            {match current_account() {
                Some(user) => view! {
                    <p>"Logged in as " <strong>{user.username.clone()}</strong> "."</p>
                    <p class="actions">
                        <a href="/profile">"Your profile"</a>
                        <a href="/projects">"Your projects"</a>
                    </p>
                }
                .into_any(),
                None => view! {
                    <p class="actions">
                        <a href="/login">"Log in"</a>
                        <a href="/register">"Create an account"</a>
                    </p>
                }
                .into_any(),
            }}
        </section>
    }
}
