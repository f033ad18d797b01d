//! Subscription logins started from the dashboard. A browser login opens
//! the service's page and waits for the callback on the engine's listener
//! or on the `switchyard://oauth/callback` link; a device login shows its
//! code. The result arrives as an `account-connected` or `connect-failed`
//! event.

use std::time::Duration;

use serde_json::json;
use switchyard_api_types::{CommandError, ConnectStart, ServiceView};
use switchyard_providers::oauth::{self, AuthCodeLogin, DeviceLogin, LoginKind};
use switchyard_providers::{self as providers, Subscription};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_opener::OpenerExt;
use tokio::sync::mpsc;

use crate::state::DesktopState;

/// How long a login may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// The service called `id`, with the endpoint overrides of the data folder.
fn subscription<R: Runtime>(app: &AppHandle<R>, id: &str) -> Result<Subscription, CommandError> {
    let data_dir = app.state::<DesktopState>().data_dir().to_owned();
    switchyard_providers::ProviderTable::for_data_dir(&data_dir)
        .subscription(id)
        .cloned()
        .map_err(failed)
}

fn failed(message: impl Into<String>) -> CommandError {
    CommandError {
        kind: "connect".into(),
        message: message.into(),
    }
}

/// Starts a login to `service`; `device` asks for a device code where the
/// service also offers one besides its browser login (Codex).
pub(crate) async fn start<R: Runtime>(
    app: AppHandle<R>,
    service: &str,
    device: bool,
) -> Result<ConnectStart, CommandError> {
    let subscription = subscription(&app, service)?;
    let service = subscription.service.clone();
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|error| failed(error.to_string()))?;
    if device && service.endpoints.device_url.is_none() {
        return Err(failed(format!("{} has no device-code login", service.name)));
    }
    let login = if device {
        LoginKind::DeviceCode
    } else {
        service.login
    };
    match login {
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
                let finished = login.finish(&http, LOGIN_TIMEOUT, pasted).await;
                let result = completed(&http, &subscription, finished).await;
                finish(&handle, &subscription, result);
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
                verification_uri_complete: login.verification_uri_complete.clone(),
                expires_in_secs: login.expires_in().as_secs(),
            };
            let handle = app.clone();
            tauri::async_runtime::spawn(async move {
                let finished = tokio::time::timeout(LOGIN_TIMEOUT, login.finish(&http))
                    .await
                    .unwrap_or(Err(oauth::LoginError::TimedOut(LOGIN_TIMEOUT.as_secs())));
                let result = completed(&http, &subscription, finished).await;
                finish(&handle, &subscription, result);
            });
            Ok(start)
        }
    }
}

/// A finished login with what the service still needs (see
/// `ProviderApi::complete_login`), or why it failed.
async fn completed(
    http: &reqwest::Client,
    subscription: &Subscription,
    finished: Result<oauth::Grant, oauth::LoginError>,
) -> Result<oauth::Grant, String> {
    match finished {
        Ok(grant) => providers::complete_login(http, subscription, grant).await,
        Err(error) => Err(error),
    }
    .map_err(|error| error.to_string())
}

/// The services, with whether their CLI's credentials are on this machine.
pub(crate) fn services(data_dir: &std::path::Path) -> Vec<ServiceView> {
    let home = oauth::imports::home_dir();
    switchyard_providers::ProviderTable::for_data_dir(data_dir)
        .subscriptions()
        .map(|subscription| &subscription.service)
        .map(|service| ServiceView {
            id: service.id.into(),
            name: service.name.into(),
            prefix: service.prefix.into(),
            login: match service.login {
                LoginKind::AuthorizationCode => "browser".into(),
                LoginKind::DeviceCode => "device".into(),
            },
            device_option: service.login == LoginKind::AuthorizationCode
                && service.endpoints.device_url.is_some(),
            import_from: home
                .as_deref()
                .and_then(|home| oauth::imports::credentials_path(service, home))
                .filter(|path| path.is_file())
                .map(|path| path.display().to_string()),
            terms_note: service.terms_note.map(Into::into),
        })
        .collect()
}

/// Imports the credentials `service`'s official CLI holds (read only; the
/// file is never changed) and saves the account after the service's
/// post-login steps (project discovery, API key, ...).
pub(crate) async fn import<R: Runtime>(
    app: AppHandle<R>,
    service: &str,
) -> Result<(), CommandError> {
    let subscription = subscription(&app, service)?;
    let home = oauth::imports::home_dir().ok_or_else(|| failed("cannot find the home folder"))?;
    let http = client()?;
    let result = match providers::import(&subscription, &home) {
        Ok(grant) => completed(&http, &subscription, Ok(grant)).await,
        Err(message) => Err(message),
    };
    finish(&app, &subscription, result);
    Ok(())
}

fn client() -> Result<reqwest::Client, CommandError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|error| failed(error.to_string()))
}

/// Saves an account from a pasted refresh token, after one refresh proves it.
pub(crate) async fn with_refresh_token<R: Runtime>(
    app: AppHandle<R>,
    service: &str,
    token: &str,
) -> Result<(), CommandError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(failed("paste a refresh token first"));
    }
    let subscription = subscription(&app, service)?;
    let http = client()?;
    let refreshed = oauth::flows::refresh(&http, &subscription.service, token).await;
    let result = completed(&http, &subscription, refreshed).await;
    finish(&app, &subscription, result);
    Ok(())
}

fn finish<R: Runtime>(
    app: &AppHandle<R>,
    subscription: &Subscription,
    result: Result<oauth::Grant, String>,
) {
    let service = &subscription.service;
    let state = app.state::<DesktopState>();
    state.clear_pending_login();
    let saved = result.and_then(|grant| {
        state
            .with_store(|store| {
                providers::save_login(store, subscription, &grant, None, None).map_err(failed)
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
