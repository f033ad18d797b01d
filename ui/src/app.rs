//! The app frame: sidebar navigation and the current page, chosen by the
//! address's `#fragment` so the back button and reloads keep the page.

use leptos::prelude::*;

use crate::pages::combos::CombosPage;
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

fn current_fragment() -> String {
    let hash = window().location().hash().unwrap_or_default();
    let fragment = hash.trim_start_matches('#');
    if PAGES.iter().any(|(id, _)| *id == fragment) {
        fragment.to_owned()
    } else {
        "overview".to_owned()
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
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = crate::api::sign_in(password.get_untracked()).await;
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
                <label for="password">"Dashboard password"</label>
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
                {PAGES.iter().map(|(id, title)| {
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
