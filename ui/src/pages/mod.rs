//! One module per page, and the loading pattern they share.

pub(crate) mod access;
pub(crate) mod combos;
pub(crate) mod connect;
pub(crate) mod keys;
pub(crate) mod logs;
pub(crate) mod models;
pub(crate) mod overview;
pub(crate) mod prices;
pub(crate) mod providers;
pub(crate) mod quota;
pub(crate) mod settings;
pub(crate) mod sync;
pub(crate) mod tools;
pub(crate) mod transfer;
pub(crate) mod usage;
pub(crate) mod webhooks;

use std::future::Future;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_api_types::CommandError;

/// What a page loads: the data once it came, the last error, and a way to
/// load again.
pub(crate) struct Loaded<T: Send + Sync + 'static> {
    /// `None` until the first answer.
    pub(crate) data: RwSignal<Option<T>>,
    /// The last failure, cleared by the next success.
    pub(crate) problem: RwSignal<Option<String>>,
}

impl<T: Send + Sync + 'static> Clone for Loaded<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Loaded<T> {}

/// Calls `fetch` now and, with `every`, again at that pace while the page is
/// shown; returns the signals and a function that loads again at once.
pub(crate) fn load_polled<T, Fetch, Answer>(
    fetch: Fetch,
    every: Option<Duration>,
) -> (Loaded<T>, impl Fn() + Copy + Send + Sync + 'static)
where
    T: Send + Sync + 'static,
    Fetch: Fn() -> Answer + Copy + Send + Sync + 'static,
    Answer: Future<Output = Result<T, CommandError>> + 'static,
{
    let loaded = Loaded {
        data: RwSignal::new(None),
        problem: RwSignal::new(None),
    };
    let reload = move || {
        spawn_local(async move {
            match fetch().await {
                Ok(fresh) => {
                    loaded.data.set(Some(fresh));
                    loaded.problem.set(None);
                }
                Err(error) => loaded.problem.set(Some(error.message)),
            }
        });
    };
    reload();
    if let Some(every) = every
        && let Ok(handle) = set_interval_with_handle(reload, every)
    {
        on_cleanup(move || handle.clear());
    }
    (loaded, reload)
}

/// A Unix-millisecond time in the browser's locale and time zone.
pub(crate) fn format_time(ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}
