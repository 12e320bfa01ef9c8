use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::components::nav::use_account;

#[component]
pub fn HomePage() -> impl IntoView {
    let account = use_account().separate_resource();
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
            <Transition fallback=|| ()>
                {move || {
                    account
                        .get()
                        .map(|user| match user {
                            Ok(Some(user)) => {
                                view! {
                                    <p>"Logged in as " <strong>{user.username}</strong> "."</p>
                                    <p class="actions">
                                        <A href="/profile">"Your profile"</A>
                                        <A href="/projects">"Your projects"</A>
                                    </p>
                                }
                                    .into_any()
                            }
                            _ => {
                                view! {
                                    <p class="actions">
                                        <A href="/login">"Log in"</A>
                                        <A href="/register">"Create an account"</A>
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
        </section>
    }
}
