//! Native notifications: an account ran out and requests moved to others,
//! an account needs a new login, a quota window is almost spent, a link was
//! refused. Each kind can be turned off in the settings.

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

use crate::state::DesktopState;
use crate::tray_model::TraySnapshot;

/// The kinds of notification, each with its setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notice {
    /// An account started cooling down: requests fall back to others.
    Fallback,
    /// An account needs the user to log in again.
    Relogin,
    /// A quota window is 90% used.
    Quota,
    /// A `switchyard://` link was refused.
    RefusedLink,
    /// An update is available.
    Update,
}

impl Notice {
    /// The setting that turns this kind off (`false`).
    pub(crate) fn setting(self) -> &'static str {
        match self {
            Self::Fallback => "notify_fallback",
            Self::Relogin => "notify_relogin",
            Self::Quota => "notify_quota",
            Self::RefusedLink => "notify_refused_link",
            Self::Update => "notify_update",
        }
    }
}

/// Shows a notification unless its kind is turned off.
pub(crate) fn notify<R: Runtime>(app: &AppHandle<R>, kind: Notice, title: &str, body: &str) {
    if !app.state::<DesktopState>().notice_enabled(kind) {
        return;
    }
    if let Err(error) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(%error, "cannot show a notification");
    }
}

/// Raises the notifications a change of state calls for.
pub(crate) fn on_change<R: Runtime>(app: &AppHandle<R>, before: &TraySnapshot, now: &TraySnapshot) {
    for account in &now.accounts {
        let Some(was) = before.accounts.iter().find(|a| a.id == account.id) else {
            continue;
        };
        if account.status != was.status {
            if account.status.starts_with("needs re-login") {
                notify(
                    app,
                    Notice::Relogin,
                    "Switchyard: log in again",
                    &format!(
                        "{} needs a new login; until then requests use your other accounts.",
                        account.name
                    ),
                );
            } else if account.status.starts_with("cooling down") {
                notify(
                    app,
                    Notice::Fallback,
                    "Switchyard: an account ran out",
                    &format!(
                        "{} is {}; requests go to your other accounts.",
                        account.name, account.status
                    ),
                );
            }
        }
        if let Some(alert) = &account.quota_alert
            && was.quota_alert.is_none()
        {
            notify(
                app,
                Notice::Quota,
                "Switchyard: quota almost spent",
                &format!("{}: {alert}.", account.name),
            );
        }
    }
}
