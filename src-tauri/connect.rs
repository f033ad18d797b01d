//! Subscription logins started from the dashboard. A browser login opens
//! the service's page and waits for the callback on the engine's listener
//! or on the `switchyard://oauth/callback` link; a device login shows its
//! code. The result arrives as an `account-connected` or `connect-failed`
//! event.

use std::time::Duration;

use serde_json::json;
use switchyard_api_types::{CommandError, ConnectStart};
use switchyard_gateway::oauth::{self, AuthCodeLogin, DeviceLogin, LoginKind};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_opener::OpenerExt;
use tokio::sync::mpsc;

use crate::state::DesktopState;

/// How long a login may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

fn failed(message: impl Into<String>) -> CommandError {
    CommandError {
        kind: "connect".into(),
        message: message.into(),
    }
}

/// Starts a login to `service`.
pub(crate) async fn start<R: Runtime>(
    app: AppHandle<R>,
    service: &str,
) -> Result<ConnectStart, CommandError> {
    let data_dir = app.state::<DesktopState>().data_dir().to_owned();
    let service = oauth::service(service, &data_dir).map_err(failed)?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|error| failed(error.to_string()))?;
    match service.login {
        LoginKind::AuthorizationCode => {
            let login = AuthCodeLogin::start(service.clone())
                .await
                .map_err(|error| failed(error.to_string()))?;
            let url = login.authorize_url().to_owned();
            let (callbacks, pasted) = mpsc::channel(2);
            app.state::<DesktopState>().set_pending_login(callbacks);
            if let Err(error) = app.opener().open_url(&url, None::<&str>) {
                tracing::warn!(%error, "cannot open the browser; the dashboard shows the address");
            }
            let handle = app.clone();
            tauri::async_runtime::spawn(async move {
                let result = login.finish(&http, LOGIN_TIMEOUT, pasted).await;
                finish(&handle, &service, result);
            });
            Ok(ConnectStart::Browser { url })
        }
        LoginKind::DeviceCode => {
            let login = DeviceLogin::start(&http, service.clone())
                .await
                .map_err(|error| failed(error.to_string()))?;
            let start = ConnectStart::Device {
                user_code: login.user_code.clone(),
                verification_uri: login.verification_uri.clone(),
            };
            let handle = app.clone();
            tauri::async_runtime::spawn(async move {
                let result = tokio::time::timeout(LOGIN_TIMEOUT, login.finish(&http))
                    .await
                    .unwrap_or(Err(oauth::LoginError::TimedOut(LOGIN_TIMEOUT.as_secs())));
                finish(&handle, &service, result);
            });
            Ok(start)
        }
    }
}

fn finish<R: Runtime>(
    app: &AppHandle<R>,
    service: &oauth::Service,
    result: Result<oauth::Grant, oauth::LoginError>,
) {
    let state = app.state::<DesktopState>();
    state.clear_pending_login();
    let saved = result.map_err(|error| error.to_string()).and_then(|grant| {
        state
            .with_store(|store| {
                oauth::save_login(store, service, &grant, None, None).map_err(failed)
            })
            .map_err(|error| error.message)
    });
    match saved {
        Ok((provider, account)) => {
            let _ = app.emit(
                "account-connected",
                json!({"service": service.id, "provider": provider.name, "account": account.label}),
            );
        }
        Err(message) => {
            tracing::warn!(service = service.id, %message, "login failed");
            let _ = app.emit(
                "connect-failed",
                json!({"service": service.id, "message": message}),
            );
        }
    }
}
