//! The app frame: sidebar navigation and the current page, chosen by the
//! address's `#fragment` so the back button and reloads keep the page.

use leptos::prelude::*;

use crate::pages::combos::CombosPage;
use crate::pages::keys::KeysPanel;
use crate::pages::logs::LogsPage;
use crate::pages::models::ModelsPage;
use crate::pages::overview::OverviewPage;
use crate::pages::providers::ProvidersPage;
use crate::pages::quota::QuotaPage;
use crate::pages::settings::SettingsPage;
use crate::pages::tools::ToolsPage;
use crate::pages::usage::UsagePage;

/// The pages, by fragment and title.
const PAGES: &[(&str, &str)] = &[
    ("overview", "Overview"),
    ("providers", "Providers"),
    ("combos", "Combos"),
    ("models", "Models"),
    ("usage", "Usage"),
    ("quota", "Quota"),
    ("logs", "Logs"),
    ("tools", "Tools"),
    ("settings", "Settings"),
];

/// The pages of a team member (their keys, usage and requests).
const MEMBER_PAGES: &[(&str, &str)] = &[("keys", "API keys"), ("usage", "Usage"), ("logs", "Logs")];

/// The pages the signed-in person may open.
fn pages() -> &'static [(&'static str, &'static str)] {
    if crate::api::member().get_untracked().is_some() {
        MEMBER_PAGES
    } else {
        PAGES
    }
}

fn current_fragment() -> String {
    let hash = window().location().hash().unwrap_or_default();
    let fragment = hash.trim_start_matches('#');
    let pages = pages();
    if pages.iter().any(|(id, _)| *id == fragment) {
        fragment.to_owned()
    } else {
        pages[0].0.to_owned()
    }
}

/// Root component: the dashboard once operations can be called, else the
/// sign-in (a browser without a session).
#[component]
pub(crate) fn App() -> impl IntoView {
    let access = crate::api::access();
    leptos::task::spawn_local(crate::api::check_access());
    move || match access.get() {
        crate::api::Access::Checking => {
            view! { <p class="muted loading">"Loading…"</p> }.into_any()
        }
        crate::api::Access::SignedOut { password_set } => {
            view! { <SignIn password_set=password_set/> }.into_any()
        }
        crate::api::Access::SignedIn => view! { <Shell/> }.into_any(),
    }
}

/// The sign-in form of a browser without a session.
#[component]
fn SignIn(password_set: bool) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let user = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        busy.set(true);
        leptos::task::spawn_local(async move {
            let name = user.get_untracked().trim().to_owned();
            let result =
                crate::api::sign_in((!name.is_empty()).then_some(name), password.get_untracked())
                    .await;
            busy.set(false);
            password.set(String::new());
            if let Err(error) = result {
                problem.set(Some(error.message));
            }
        });
    };
    view! {
        <main class="signin">
            <div class="brand">
                <img src="icon.png" alt="" width="28" height="28"/>
                <span>"Switchyard"</span>
            </div>
            <h1>"Sign in"</h1>
            {(!password_set).then(|| view! {
                <p class="banner" id="no-password">
                    "No dashboard password is set yet. Open the one-time sign-in link that "
                    <code>"switchyard serve"</code>" printed (or run "<code>"switchyard dashboard link"</code>
                    " on the server), then set a password in Settings."
                </p>
            })}
            <form class="inline-form" id="signin-form" on:submit=submit>
                <label for="user">"User (leave empty for the administrator)"</label>
                <input id="user" autocomplete="username"
                    prop:value=move || user.get()
                    on:input=move |ev| user.set(event_target_value(&ev))/>
                <label for="password">"Password"</label>
                <input id="password" type="password" autocomplete="current-password" required
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))/>
                <button type="submit" id="sign-in" disabled=move || busy.get()>"Sign in"</button>
            </form>
            {move || problem.get().map(|text| view! {
                <p class="banner error" id="signin-error" role="alert">{text}</p>
            })}
        </main>
    }
}

/// The dashboard: sidebar navigation and the current page.
#[component]
fn Shell() -> impl IntoView {
    let page = RwSignal::new(current_fragment());
    let listener = window_event_listener(leptos::ev::hashchange, move |_| {
        page.set(current_fragment())
    });
    on_cleanup(move || listener.remove());
    view! {
        <div class="shell">
            <nav class="sidebar" aria-label="Sections">
                <div class="brand">
                    <img src="icon.png" alt="" width="28" height="28"/>
                    <span>"Switchyard"</span>
                </div>
                {pages().iter().map(|(id, title)| {
                    let id = *id;
                    view! {
                        <a
                            class=move || if page.get() == id { "nav-item active" } else { "nav-item" }
                            id=format!("nav-{id}")
                            href=format!("#{id}")
                            aria-current=move || (page.get() == id).then_some("page")
                        >{*title}</a>
                    }
                }).collect_view()}
                {crate::api::can_sign_out().then(|| view! {
                    <button class="secondary nav-signout" id="sign-out" on:click=move |_| {
                        leptos::task::spawn_local(async move { let _ = crate::api::sign_out().await; });
                    }>"Sign out"</button>
                })}
            </nav>
            <main class="content">
                <crate::links::LinkBanners/>
                {move || match page.get().as_str() {
                    "providers" => view! { <ProvidersPage/> }.into_any(),
                    "combos" => view! { <CombosPage/> }.into_any(),
                    "models" => view! { <ModelsPage/> }.into_any(),
                    "usage" => view! { <UsagePage/> }.into_any(),
                    "keys" => view! {
                        <header class="page-header"><h1>"API keys"</h1></header>
                        <KeysPanel/>
                    }.into_any(),
                    "logs" => view! { <LogsPage/> }.into_any(),
                    "quota" => view! { <QuotaPage/> }.into_any(),
                    "settings" => view! { <SettingsPage/> }.into_any(),
                    "tools" => view! { <ToolsPage/> }.into_any(),
                    _ => view! { <OverviewPage/> }.into_any(),
                }}
            </main>
        </div>
    }
}
