//! The app frame: sidebar navigation and the current page.

use leptos::prelude::*;

use crate::pages::overview::OverviewPage;

/// Root component.
#[component]
pub(crate) fn App() -> impl IntoView {
    view! {
        <div class="shell">
            <nav class="sidebar" aria-label="Sections">
                <div class="brand">
                    <img src="icon.png" alt="" width="28" height="28"/>
                    <span>"Switchyard"</span>
                </div>
                <a class="nav-item active" href="#overview" aria-current="page">"Overview"</a>
            </nav>
            <main class="content">
                <OverviewPage/>
            </main>
        </div>
    }
}
