//! Subscription logins started from the dashboard. A browser login opens
//! the service's page and waits for the callback on the engine's listener
//! or on the `switchyard://oauth/callback` link; a device login shows its
//! code. The result arrives as an `account-connected` or `connect-failed`
//! event. On a remote server the service's page sends the browser to a
//! localhost address that is not the server: the user pastes the address
//! the browser ended on, and [`finish_login`] hands it to the waiting login.

use std::time::Duration;

use serde_json::json;
use std::sync::Arc;
use switchyard_api_types::{CommandError, ConnectStart, ServiceView};
use switchyard_providers::oauth::{self, AuthCodeLogin, DeviceLogin, LoginKind};

use switchyard_providers::{self as providers, Subscription};
use tokio::sync::mpsc;

use crate::Manager;

/// How long a login may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// The service called `id`, with the endpoint overrides of the data folder.
fn subscription(manager: &Manager, id: &str) -> Result<Subscription, CommandError> {
    manager
        .providers()
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
pub(crate) async fn start(
    manager: &Arc<Manager>,
    service: &str,
    device: bool,
) -> Result<ConnectStart, CommandError> {
    let subscription = subscription(manager, service)?;
    let service = subscription.service.clone();
    let http = switchyard_providers::tls::http_client()
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
            manager.set_pending_login(callbacks);
            let handle = Arc::clone(manager);
            tokio::spawn(async move {
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
            let handle = Arc::clone(manager);
            tokio::spawn(async move {
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

/// Finishes the waiting browser login with the address the browser ended
/// on (its `code` and `state`; the login checks the state).
pub(crate) fn finish_login(manager: &Manager, address: &str) -> Result<(), CommandError> {
    let address = address.trim();
    let query = address
        .split_once('?')
        .map_or(address, |(_, query)| query)
        .split('#')
        .next()
        .unwrap_or_default();
    let mut code = None;
    let mut state = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "code" => code = Some(value.into_owned()),
            "state" => state = Some(value.into_owned()),
            _ => {}
        }
    }
    let (Some(code), Some(state)) = (code, state) else {
        return Err(failed(
            "paste the whole address the browser ended on: it holds ?code=...&state=...",
        ));
    };
    if manager.deliver_login_callback(&code, &state) {
        Ok(())
    } else {
        Err(failed("no login is waiting; start it again"))
    }
}

/// The services, with whether their CLI's credentials are on this machine.
pub(crate) fn services(manager: &Manager) -> Vec<ServiceView> {
    let home = oauth::imports::home_dir();
    manager
        .providers()
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
pub(crate) async fn import(manager: &Manager, service: &str) -> Result<(), CommandError> {
    let subscription = subscription(manager, service)?;
    let home = oauth::imports::home_dir().ok_or_else(|| failed("cannot find the home folder"))?;
    let http = client()?;
    let result = match providers::import(&subscription, &home) {
        Ok(grant) => completed(&http, &subscription, Ok(grant)).await,
        Err(message) => Err(message),
    };
    finish(manager, &subscription, result);
    Ok(())
}

fn client() -> Result<reqwest::Client, CommandError> {
    switchyard_providers::tls::http_client()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|error| failed(error.to_string()))
}

/// Saves an account from a pasted refresh token, after one refresh proves it.
pub(crate) async fn with_refresh_token(
    manager: &Manager,
    service: &str,
    token: &str,
) -> Result<(), CommandError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(failed("paste a refresh token first"));
    }
    let subscription = subscription(manager, service)?;
    let http = client()?;
    let refreshed = oauth::flows::refresh(&http, &subscription.service, token).await;
    let result = completed(&http, &subscription, refreshed).await;
    finish(manager, &subscription, result);
    Ok(())
}

fn finish(manager: &Manager, subscription: &Subscription, result: Result<oauth::Grant, String>) {
    let service = &subscription.service;
    manager.clear_pending_login();
    let saved = result.and_then(|grant| {
        manager
            .with_store(|store| {
                providers::save_login(store, subscription, &grant, None, None).map_err(failed)
            })
            .map_err(|error| error.message)
    });
    match saved {
        Ok((provider, account)) => {
            manager.publish(
                "account-connected",
                json!({"service": service.id, "provider": provider.name, "account": account.label}),
            );
            manager.publish("state-changed", ());
        }
        Err(message) => {
            tracing::warn!(service = service.id, %message, "login failed");
            manager.publish(
                "connect-failed",
                json!({"service": service.id, "message": message}),
            );
        }
    }
}
