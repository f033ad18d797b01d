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

/// Root component.
#[component]
pub(crate) fn App() -> impl IntoView {
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
