//! Native notifications: an account ran out and requests moved to others,
//! an account needs a new login, a quota window is almost spent, a link was
//! refused, a sync conflict or a revoked device. Each kind can be turned
//! off in the settings.

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

use crate::state::{DesktopState, Notice};
use crate::tray_model::TraySnapshot;

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
    if let Some(sync) = &now.sync {
        let was = before.sync.as_ref();
        if sync.open_conflicts > was.map_or(0, |was| was.open_conflicts) {
            notify(
                app,
                Notice::Sync,
                "Switchyard: sync conflict",
                "Two devices changed the same thing; one value stands on all of them and the other can be restored in Settings → Sync.",
            );
        }
        if sync.state == "revoked" && was.is_none_or(|was| was.state != "revoked") {
            notify(
                app,
                Notice::Sync,
                "Switchyard: sync stopped",
                "Your sync hub revoked this device; it keeps routing with what it has. Link it again in Settings → Sync.",
            );
        }
    }
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
