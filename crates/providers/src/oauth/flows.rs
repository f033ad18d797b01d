//! The login flows, one engine for every service: authorization code with
//! PKCE (RFC 7636) through a one-shot listener on this machine, the device
//! authorization grant (RFC 8628), and the refresh-token grant.

use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use switchyard_store::{OAuthTokens, now_millis};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use super::service::{AuthorizeStyle, BodyStyle, DeviceProtocol, Redirect, Service};

/// Why a login or refresh did not work. Messages never hold tokens.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The service refused (bad code, denied, revoked refresh token, ...).
    #[error("{service} refused: {reason}")]
    Refused {
        /// Service id.
        service: &'static str,
        /// What it said.
        reason: String,
    },
    /// The service could not be reached or answered nonsense.
    #[error("cannot talk to {service}: {reason}")]
    Unreachable {
        /// Service id.
        service: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The user did not finish in time.
    #[error("the login was not completed within {0} seconds")]
    TimedOut(u64),
    /// The callback came with another `state` than the one sent: possibly a
    /// forged request, so the login stops.
    #[error("the login callback carried an unexpected state; start again")]
    StateMismatch,
    /// The local callback listener could not start.
    #[error("cannot listen for the login callback on port {port}: {reason}")]
    Listener {
        /// The port tried.
        port: u16,
        /// Why.
        reason: String,
    },
    /// The service is missing an endpoint for this flow.
    #[error("{0}")]
    Misconfigured(String),
}

impl LoginError {
    /// Whether a refresh failed because the grant is gone for good (the user
    /// must log in again), as opposed to a passing network or server error.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::StateMismatch)
    }
}

/// What a successful grant returns.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The tokens to store.
    pub tokens: OAuthTokens,
    /// The OpenID id token, when the service sends one.
    pub id_token: Option<String>,
    /// Every other field of the token response (e.g. Qwen's `resource_url`,
    /// Claude's `account`).
    pub extra: Map<String, Value>,
}

impl Grant {
    /// A grant read from a credentials file: an access token (required),
    /// a refresh token and the expiry in milliseconds if the file has them.
    pub fn imported(
        access_token: Option<String>,
        refresh_token: Option<String>,
        expires_at: Option<i64>,
    ) -> Result<Self, String> {
        let access_token = access_token.ok_or("it holds no access token")?;
        Ok(Self {
            tokens: OAuthTokens {
                access_token,
                refresh_token,
                expires_at,
            },
            id_token: None,
            extra: Map::new(),
        })
    }
}

/// A PKCE verifier and its S256 challenge.
#[derive(Clone)]
pub struct Pkce {
    /// Sent with the token request.
    pub verifier: String,
    /// Sent with the authorization request.
    pub challenge: String,
}

impl Pkce {
    /// A fresh random verifier (43 characters) and its challenge.
    pub fn new() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

fn random_state() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn endpoint<'a>(
    service: &'a Service,
    value: &'a Option<String>,
    what: &str,
) -> Result<&'a str, LoginError> {
    value.as_deref().ok_or_else(|| {
        LoginError::Misconfigured(format!("{} has no {what} configured", service.id))
    })
}

/// Posts `fields` to a token endpoint in the service's body style and reads
/// the answer (JSON, or form-encoded as GitHub sends without `Accept`).
async fn token_request(
    http: &reqwest::Client,
    service: &Service,
    url: &str,
    fields: &[(&str, &str)],
) -> Result<(reqwest::StatusCode, Map<String, Value>), LoginError> {
    let mut request = http.post(url).header("accept", "application/json");
    if service.basic_auth {
        request = request.basic_auth(service.client_id, service.client_secret);
    }
    let request = match service.token_body {
        BodyStyle::Form => request.form(fields),
        BodyStyle::Json => request.json(
            &fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
                .collect::<Map<_, _>>(),
        ),
    };
    read_token_answer(service, request.send().await).await
}

/// Posts a JSON body (AWS SSO OIDC, Kiro) and reads the answer.
async fn json_request(
    http: &reqwest::Client,
    service: &Service,
    url: &str,
    body: &Value,
) -> Result<(reqwest::StatusCode, Map<String, Value>), LoginError> {
    let request = http
        .post(url)
        .header("accept", "application/json")
        .json(body);
    read_token_answer(service, request.send().await).await
}

/// Reads a token endpoint's answer: JSON, or form-encoded as GitHub sends
/// without `Accept`.
async fn read_token_answer(
    service: &Service,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<(reqwest::StatusCode, Map<String, Value>), LoginError> {
    let response = sent.map_err(|error| LoginError::Unreachable {
        service: service.id,
        reason: if error.is_connect() {
            "could not connect".into()
        } else {
            "the request failed".into()
        },
    })?;
    let status = response.status();
    let text = crate::side_call::side_text(response)
        .await
        .unwrap_or_default();
    let body = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => map,
        _ => url::form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .filter(|(k, _)| !k.is_empty())
            .collect(),
    };
    if body.is_empty() && !status.is_success() {
        return Err(LoginError::Unreachable {
            service: service.id,
            reason: format!("the token endpoint answered {status}"),
        });
    }
    Ok((status, body))
}

/// Reads a grant out of a token response, or the error it carries.
pub(crate) fn grant_from(
    service: &Service,
    status: reqwest::StatusCode,
    mut body: Map<String, Value>,
) -> Result<Grant, LoginError> {
    // AWS SSO OIDC and Kiro answer in camelCase.
    for (camel, snake) in [
        ("accessToken", "access_token"),
        ("refreshToken", "refresh_token"),
        ("expiresIn", "expires_in"),
        ("idToken", "id_token"),
    ] {
        if !body.contains_key(snake)
            && let Some(value) = body.remove(camel)
        {
            body.insert(snake.into(), value);
        }
    }
    if let Some(error) = body.get("error").and_then(Value::as_str) {
        let description = body
            .get("error_description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(LoginError::Refused {
            service: service.id,
            reason: format!("{error} {description}").trim().to_owned(),
        });
    }
    if status.is_server_error() {
        return Err(LoginError::Unreachable {
            service: service.id,
            reason: format!("the token endpoint answered {status}"),
        });
    }
    let Some(Value::String(access_token)) = body.remove("access_token") else {
        return Err(LoginError::Refused {
            service: service.id,
            reason: format!("the token endpoint answered {status} without an access token"),
        });
    };
    let refresh_token = match body.remove("refresh_token") {
        Some(Value::String(token)) if !token.is_empty() => Some(token),
        _ => None,
    };
    let expires_in = body.get("expires_in").and_then(|value| {
        value
            .as_i64()
            .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
    });
    let id_token = match body.remove("id_token") {
        Some(Value::String(token)) => Some(token),
        _ => None,
    };
    Ok(Grant {
        tokens: OAuthTokens {
            access_token,
            refresh_token,
            expires_at: expires_in.map(|seconds| now_millis() + seconds * 1000),
        },
        id_token,
        extra: body,
    })
}

/// Exchanges a refresh token for new tokens.
pub async fn refresh(
    http: &reqwest::Client,
    service: &Service,
    refresh_token: &str,
) -> Result<Grant, LoginError> {
    refresh_with(http, service, refresh_token, &Map::new()).await
}

/// Exchanges a refresh token of an account whose facts are `meta` (Kiro
/// refreshes through AWS SSO OIDC with the client it registered, or, for a
/// login imported from the Kiro IDE's social sign-in, through Kiro's own
/// refresh endpoint).
pub async fn refresh_with(
    http: &reqwest::Client,
    service: &Service,
    refresh_token: &str,
    meta: &Map<String, Value>,
) -> Result<Grant, LoginError> {
    if let DeviceProtocol::AwsSsoOidc { .. } = service.device {
        let fact = |name: &str| meta.get(name).and_then(Value::as_str);
        let (status, body) = match (fact("client_id"), fact("client_secret")) {
            (Some(client_id), Some(client_secret)) => {
                let url = oidc_token_url(service, fact("region"))?;
                let body = serde_json::json!({
                    "clientId": client_id,
                    "clientSecret": client_secret,
                    "grantType": "refresh_token",
                    "refreshToken": refresh_token,
                });
                json_request(http, service, &url, &body).await?
            }
            _ => {
                let url = endpoint(service, &service.endpoints.refresh_url, "refresh URL")?;
                let body = serde_json::json!({"refreshToken": refresh_token});
                json_request(http, service, url, &body).await?
            }
        };
        return kept_refresh_token(grant_from(service, status, body), refresh_token);
    }
    let url = endpoint(service, &service.endpoints.token_url, "token URL")?;
    let refresh_style = Service {
        token_body: service.refresh_body,
        ..service.clone()
    };
    let mut fields = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", service.client_id),
    ];
    if let Some(secret) = service.client_secret {
        fields.push(("client_secret", secret));
    }
    let (status, body) = token_request(http, &refresh_style, url, &fields).await?;
    kept_refresh_token(grant_from(service, status, body), refresh_token)
}

/// A refresh answer without a new refresh token (Google does not rotate
/// them) keeps the one that was used.
fn kept_refresh_token(
    grant: Result<Grant, LoginError>,
    refresh_token: &str,
) -> Result<Grant, LoginError> {
    grant.map(|mut grant| {
        grant
            .tokens
            .refresh_token
            .get_or_insert_with(|| refresh_token.to_owned());
        grant
    })
}

/// The AWS SSO OIDC token endpoint of `region` (an IAM Identity Center login
/// may live outside us-east-1); the configured one when the region is the
/// default, unknown or not region-shaped.
fn oidc_token_url(service: &Service, region: Option<&str>) -> Result<String, LoginError> {
    let configured = endpoint(service, &service.endpoints.token_url, "token URL")?;
    let region_shaped = |region: &str| {
        let parts: Vec<&str> = region.split('-').collect();
        parts.len() >= 3
            && parts.iter().all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
    };
    Ok(match region {
        Some(region)
            if region != "us-east-1"
                && region_shaped(region)
                && configured == "https://oidc.us-east-1.amazonaws.com/token" =>
        {
            format!("https://oidc.{region}.amazonaws.com/token")
        }
        _ => configured.to_owned(),
    })
}

/// The result of a callback: a code, or what the service said instead.
type Callback = Result<(String, String), String>;

/// A started authorization-code login: open [`Self::authorize_url`] in a
/// browser, then [`Self::finish`].
pub struct AuthCodeLogin {
    service: Service,
    pkce: Pkce,
    state: String,
    redirect_uri: String,
    authorize_url: String,
    callbacks: mpsc::Receiver<Callback>,
    stop_listener: Option<oneshot::Sender<()>>,
}

#[derive(serde::Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(sender): State<mpsc::Sender<Callback>>,
    Query(query): Query<CallbackQuery>,
) -> Html<&'static str> {
    let result = match (query.code, query.state, query.error) {
        (Some(code), Some(state), None) => Ok((code, state)),
        (_, _, Some(error)) => Err(format!(
            "{error} {}",
            query.error_description.unwrap_or_default()
        )),
        _ => Err("the callback carried no code".into()),
    };
    let ok = result.is_ok();
    let _ = sender.try_send(result);
    Html(if ok {
        "<!doctype html><title>Switchyard</title><p>Signed in. You can close this window and return to Switchyard.</p>"
    } else {
        "<!doctype html><title>Switchyard</title><p>The sign-in did not complete. Return to Switchyard for details.</p>"
    })
}

impl AuthCodeLogin {
    /// Starts the callback listener and builds the authorization URL.
    pub async fn start(service: Service) -> Result<Self, LoginError> {
        let (ports, path, host) = match service.redirect {
            Redirect::Fixed {
                port,
                fallback_port,
                path,
            } => (
                std::iter::once(port).chain(fallback_port).collect(),
                path,
                "localhost",
            ),
            Redirect::Ephemeral => (vec![0], "/callback", "localhost"),
            Redirect::Loopback { path } => (vec![0], path, "127.0.0.1"),
        };
        let listener = bind_first(&service, &ports).await?;
        let port = listener
            .local_addr()
            .map_err(|error| LoginError::Listener {
                port: ports[0],
                reason: error.to_string(),
            })?
            .port();
        let redirect_uri = format!("http://{host}:{port}{path}");
        let (sender, callbacks) = mpsc::channel(4);
        let (stop_listener, stopped) = oneshot::channel::<()>();
        let app = axum::Router::new()
            .route(path, get(callback))
            .with_state(sender);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        let pkce = Pkce::new();
        let state = random_state();
        let base = endpoint(
            &service,
            &service.endpoints.authorize_url,
            "authorization URL",
        )?;
        let mut authorize = url::Url::parse(base)
            .map_err(|error| LoginError::Misconfigured(format!("{base}: {error}")))?;
        {
            let mut query = authorize.query_pairs_mut();
            for (name, value) in service.extra_authorize_params {
                query.append_pair(name, value);
            }
            match service.authorize_style {
                AuthorizeStyle::Pkce => query
                    .append_pair("response_type", "code")
                    .append_pair("client_id", service.client_id)
                    .append_pair("redirect_uri", &redirect_uri)
                    .append_pair("scope", service.scopes)
                    .append_pair("code_challenge", &pkce.challenge)
                    .append_pair("code_challenge_method", "S256")
                    .append_pair("state", &state),
                AuthorizeStyle::IFlow => query
                    .append_pair("redirect", &redirect_uri)
                    .append_pair("state", &state)
                    .append_pair("client_id", service.client_id),
            };
        }
        Ok(Self {
            authorize_url: authorize.into(),
            service,
            pkce,
            state,
            redirect_uri,
            callbacks,
            stop_listener: Some(stop_listener),
        })
    }

    /// The page the user opens to approve.
    pub fn authorize_url(&self) -> &str {
        &self.authorize_url
    }

    /// Where the browser is sent back to.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits for the browser's callback (or, for a remote machine, what the
    /// user pasted: the callback URL or Claude's `code#state`), then
    /// exchanges the code. The listener stops either way.
    pub async fn finish(
        mut self,
        http: &reqwest::Client,
        timeout: Duration,
        mut pasted: mpsc::Receiver<String>,
    ) -> Result<Grant, LoginError> {
        let received = tokio::time::timeout(timeout, async {
            tokio::select! {
                Some(callback) = self.callbacks.recv() => callback,
                Some(text) = pasted.recv() => parse_pasted(&text),
            }
        })
        .await;
        if let Some(stop) = self.stop_listener.take() {
            let _ = stop.send(());
        }
        let (code, state) = match received {
            Err(_) => return Err(LoginError::TimedOut(timeout.as_secs())),
            Ok(Err(reason)) => {
                return Err(LoginError::Refused {
                    service: self.service.id,
                    reason,
                });
            }
            Ok(Ok(pair)) => pair,
        };
        if state != self.state {
            return Err(LoginError::StateMismatch);
        }
        let url = endpoint(
            &self.service,
            &self.service.endpoints.token_url,
            "token URL",
        )?;
        let mut fields = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("client_id", self.service.client_id),
        ];
        if self.service.authorize_style == AuthorizeStyle::Pkce {
            fields.push(("code_verifier", self.pkce.verifier.as_str()));
        }
        if let Some(secret) = self.service.client_secret {
            fields.push(("client_secret", secret));
        }
        if self.service.state_in_token_request {
            fields.push(("state", state.as_str()));
        }
        let (status, body) = token_request(http, &self.service, url, &fields).await?;
        grant_from(&self.service, status, body)
    }
}

/// Listens on the first of `ports` that is free. When a service's fixed
/// ports are all taken (its own CLI may be logging in), the error says so
/// and points to the device-code login where the service has one.
async fn bind_first(service: &Service, ports: &[u16]) -> Result<TcpListener, LoginError> {
    let mut in_use = Vec::new();
    for &port in ports {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return Ok(listener),
            Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => in_use.push(port),
            Err(error) => {
                return Err(LoginError::Listener {
                    port,
                    reason: error.to_string(),
                });
            }
        }
    }
    let mut reason = format!(
        "{} in use (is the {} CLI logging in right now?)",
        if in_use.len() > 1 {
            let others: Vec<String> = in_use[1..].iter().map(u16::to_string).collect();
            format!("it and port {} are", others.join(", "))
        } else {
            "it is".to_owned()
        },
        service.name
    );
    if service.endpoints.device_url.is_some() {
        reason.push_str(&format!(
            "; log in with a device code instead: `switchyard connect {} --device`",
            service.id
        ));
    }
    Err(LoginError::Listener {
        port: in_use.first().copied().unwrap_or_default(),
        reason,
    })
}

/// Reads a pasted callback URL, query string, or `code#state`.
fn parse_pasted(text: &str) -> Callback {
    let text = text.trim();
    let query = text.split_once('?').map_or(text, |(_, query)| query);
    let pairs: Map<String, Value> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    let get = |name: &str| pairs.get(name).and_then(Value::as_str).map(str::to_owned);
    if let (Some(code), Some(state)) = (get("code"), get("state")) {
        return Ok((code, state));
    }
    if let Some(error) = get("error") {
        return Err(error);
    }
    match text.split_once('#') {
        Some((code, state)) if !code.is_empty() && !state.is_empty() => {
            Ok((code.to_owned(), state.to_owned()))
        }
        _ => Err("what was pasted is neither the callback URL nor code#state".into()),
    }
}

/// A started device-code login: show [`Self::user_code`] and
/// [`Self::verification_uri`], then [`Self::finish`].
pub struct DeviceLogin {
    service: Service,
    device_code: String,
    /// The code the user types.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// A link with the code filled in, when the service gives one.
    pub verification_uri_complete: Option<String>,
    interval: Duration,
    expires_at: Instant,
    pkce: Option<Pkce>,
    /// The client registered for this login (AWS SSO OIDC): id and secret.
    registered: Option<(String, String)>,
}

impl DeviceLogin {
    /// Time left before the code expires.
    pub fn expires_in(&self) -> Duration {
        self.expires_at.saturating_duration_since(Instant::now())
    }

    /// Asks the service for a device code.
    pub async fn start(http: &reqwest::Client, service: Service) -> Result<Self, LoginError> {
        match service.device {
            DeviceProtocol::AwsSsoOidc { start_url } => {
                return Self::start_aws(http, service, start_url).await;
            }
            DeviceProtocol::OpenAiDeviceAuth {
                verification_uri, ..
            } => return Self::start_openai(http, service, verification_uri).await,
            DeviceProtocol::Rfc8628 => {}
        }
        let url = endpoint(
            &service,
            &service.endpoints.device_url,
            "device authorization URL",
        )?
        .to_owned();
        let pkce = service.device_pkce.then(Pkce::new);
        let mut fields = vec![("client_id", service.client_id), ("scope", service.scopes)];
        if let Some(pkce) = &pkce {
            fields.push(("code_challenge", &pkce.challenge));
            fields.push(("code_challenge_method", "S256"));
        }
        // Device authorization requests are form-encoded everywhere (RFC 8628).
        let form_service = Service {
            token_body: BodyStyle::Form,
            ..service.clone()
        };
        let (status, body) = token_request(http, &form_service, &url, &fields).await?;
        let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        let number = |name: &str| {
            body.get(name).and_then(|value| {
                value
                    .as_u64()
                    .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
            })
        };
        let (Some(device_code), Some(user_code)) = (text("device_code"), text("user_code")) else {
            return Err(LoginError::Refused {
                service: service.id,
                reason: text("error").unwrap_or_else(|| {
                    format!("the device authorization endpoint answered {status}")
                }),
            });
        };
        let verification_uri = text("verification_uri")
            .or_else(|| text("verification_url"))
            .unwrap_or_default();
        Ok(Self {
            device_code,
            user_code,
            verification_uri,
            verification_uri_complete: text("verification_uri_complete"),
            interval: Duration::from_secs(number("interval").unwrap_or(5).max(1)),
            expires_at: Instant::now() + Duration::from_secs(number("expires_in").unwrap_or(900)),
            pkce,
            registered: None,
            service,
        })
    }

    /// AWS SSO OIDC: `RegisterClient`, then `StartDeviceAuthorization`.
    async fn start_aws(
        http: &reqwest::Client,
        service: Service,
        start_url: &str,
    ) -> Result<Self, LoginError> {
        let register_url = endpoint(
            &service,
            &service.endpoints.register_url,
            "registration URL",
        )?;
        let scopes: Vec<&str> = service.scopes.split_whitespace().collect();
        let registration = serde_json::json!({
            "clientName": "Switchyard",
            "clientType": "public",
            "scopes": scopes,
            "grantTypes": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
        });
        let (status, registered) =
            json_request(http, &service, register_url, &registration).await?;
        let text = |body: &Map<String, Value>, name: &str| {
            body.get(name).and_then(Value::as_str).map(str::to_owned)
        };
        let refused = |body: &Map<String, Value>, what: &str| LoginError::Refused {
            service: service.id,
            reason: text(body, "error_description")
                .or_else(|| text(body, "error"))
                .or_else(|| text(body, "message"))
                .unwrap_or_else(|| format!("{what} answered {status}")),
        };
        let (Some(client_id), Some(client_secret)) = (
            text(&registered, "clientId"),
            text(&registered, "clientSecret"),
        ) else {
            return Err(refused(&registered, "client registration"));
        };
        let device_url = endpoint(
            &service,
            &service.endpoints.device_url,
            "device authorization URL",
        )?;
        let (status, body) = json_request(
            http,
            &service,
            device_url,
            &serde_json::json!({"clientId": client_id, "clientSecret": client_secret, "startUrl": start_url}),
        )
        .await?;
        let (Some(device_code), Some(user_code)) =
            (text(&body, "deviceCode"), text(&body, "userCode"))
        else {
            return Err(LoginError::Refused {
                service: service.id,
                reason: text(&body, "error_description")
                    .or_else(|| text(&body, "error"))
                    .unwrap_or_else(|| format!("the device authorization answered {status}")),
            });
        };
        let number = |name: &str| body.get(name).and_then(Value::as_u64);
        Ok(Self {
            device_code,
            user_code,
            verification_uri: text(&body, "verificationUri").unwrap_or_default(),
            verification_uri_complete: text(&body, "verificationUriComplete"),
            interval: Duration::from_secs(number("interval").unwrap_or(5).max(1)),
            expires_at: Instant::now() + Duration::from_secs(number("expiresIn").unwrap_or(600)),
            pkce: None,
            registered: Some((client_id, client_secret)),
            service,
        })
    }

    /// OpenAI: a user code for the Codex CLI's client; `device_code` keeps
    /// the `device_auth_id` that polls name along with the user code.
    async fn start_openai(
        http: &reqwest::Client,
        service: Service,
        verification_uri: &str,
    ) -> Result<Self, LoginError> {
        let url = endpoint(
            &service,
            &service.endpoints.device_url,
            "device authorization URL",
        )?;
        let (status, body) = json_request(
            http,
            &service,
            url,
            &serde_json::json!({"client_id": service.client_id}),
        )
        .await?;
        let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        let (Some(device_auth_id), Some(user_code)) = (
            text("device_auth_id"),
            text("user_code").or_else(|| text("usercode")),
        ) else {
            return Err(LoginError::Refused {
                service: service.id,
                reason: if status == reqwest::StatusCode::NOT_FOUND {
                    "device code login is not enabled for this account or server; use the browser login".into()
                } else {
                    format!("the device code request answered {status}")
                },
            });
        };
        // The interval comes as a string ("5"), sometimes as a number.
        let interval = body
            .get("interval")
            .and_then(|value| {
                value
                    .as_u64()
                    .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
            })
            .unwrap_or(5);
        Ok(Self {
            device_code: device_auth_id,
            user_code,
            verification_uri: verification_uri.to_owned(),
            verification_uri_complete: None,
            interval: Duration::from_secs(interval.max(1)),
            // The Codex CLI gives up after 15 minutes; so does the code.
            expires_at: Instant::now() + Duration::from_secs(15 * 60),
            pkce: None,
            registered: None,
            service,
        })
    }

    /// OpenAI: polls until approved (403 and 404 mean not yet), then
    /// exchanges the authorization code with the verifier the server chose.
    async fn finish_openai(
        self,
        http: &reqwest::Client,
        redirect_uri: &str,
    ) -> Result<Grant, LoginError> {
        let poll_url = endpoint(
            &self.service,
            &self.service.endpoints.device_token_url,
            "device polling URL",
        )?;
        let poll =
            serde_json::json!({"device_auth_id": self.device_code, "user_code": self.user_code});
        let approved = loop {
            if Instant::now() >= self.expires_at {
                return Err(LoginError::TimedOut(0));
            }
            tokio::time::sleep(self.interval).await;
            let sent = http
                .post(poll_url)
                .header("accept", "application/json")
                .json(&poll)
                .send()
                .await;
            // Pending answers may come without a body: decided by status alone.
            if let Ok(response) = &sent
                && matches!(
                    response.status(),
                    reqwest::StatusCode::FORBIDDEN | reqwest::StatusCode::NOT_FOUND
                )
            {
                continue;
            }
            let (status, body) = read_token_answer(&self.service, sent).await?;
            if status.is_success() {
                break body;
            }
            let said = body
                .get("error")
                .and_then(|error| error.get("message").or(Some(error)))
                .and_then(Value::as_str)
                .map_or(String::new(), |message| format!(": {message}"));
            return Err(LoginError::Refused {
                service: self.service.id,
                reason: format!("the device authorization answered {status}{said}"),
            });
        };
        let text = |name: &str| approved.get(name).and_then(Value::as_str);
        let (Some(code), Some(verifier)) = (text("authorization_code"), text("code_verifier"))
        else {
            return Err(LoginError::Unreachable {
                service: self.service.id,
                reason: "the approved device login carried no authorization code".into(),
            });
        };
        let token_url = endpoint(
            &self.service,
            &self.service.endpoints.token_url,
            "token URL",
        )?;
        let fields = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", self.service.client_id),
            ("code_verifier", verifier),
        ];
        let (status, body) = token_request(http, &self.service, token_url, &fields).await?;
        grant_from(&self.service, status, body)
    }

    /// Polls the token endpoint at the pace the service asks for until the
    /// user approves, denies, or the code expires.
    pub async fn finish(mut self, http: &reqwest::Client) -> Result<Grant, LoginError> {
        if let DeviceProtocol::OpenAiDeviceAuth { redirect_uri, .. } = self.service.device {
            return self.finish_openai(http, redirect_uri).await;
        }
        let url = endpoint(
            &self.service,
            &self.service.endpoints.token_url,
            "token URL",
        )?
        .to_owned();
        loop {
            if Instant::now() >= self.expires_at {
                return Err(LoginError::TimedOut(0));
            }
            tokio::time::sleep(self.interval).await;
            let (status, body) = match &self.registered {
                Some((client_id, client_secret)) => {
                    let body = serde_json::json!({
                        "clientId": client_id,
                        "clientSecret": client_secret,
                        "grantType": "urn:ietf:params:oauth:grant-type:device_code",
                        "deviceCode": self.device_code,
                    });
                    json_request(http, &self.service, &url, &body).await?
                }
                None => {
                    let mut fields = vec![
                        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                        ("device_code", self.device_code.as_str()),
                        ("client_id", self.service.client_id),
                    ];
                    if let Some(pkce) = &self.pkce {
                        fields.push(("code_verifier", &pkce.verifier));
                    }
                    token_request(http, &self.service, &url, &fields).await?
                }
            };
            match body.get("error").and_then(Value::as_str) {
                Some("authorization_pending") => continue,
                Some("slow_down") => {
                    self.interval += Duration::from_secs(5);
                    continue;
                }
                Some("expired_token") => return Err(LoginError::TimedOut(0)),
                _ => {
                    let mut grant = grant_from(&self.service, status, body)?;
                    if let Some((client_id, client_secret)) = self.registered.take() {
                        // Refreshes go through the same registered client.
                        grant.extra.insert("client_id".into(), client_id.into());
                        grant
                            .extra
                            .insert("client_secret".into(), client_secret.into());
                        grant
                            .extra
                            .insert("auth_method".into(), "builder-id".into());
                    }
                    return Ok(grant);
                }
            }
        }
    }
}

/// The claims of a JWT (an id token), read without checking its signature:
/// only to learn the account's e-mail and ids, never to trust them.
pub fn jwt_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_the_s256_of_the_verifier() {
        let pkce = Pkce::new();
        assert_eq!(pkce.verifier.len(), 43);
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(pkce.verifier.as_bytes()));
        assert_eq!(pkce.challenge, expected);
        assert_ne!(Pkce::new().verifier, pkce.verifier);
    }

    #[test]
    fn pasted_callbacks_are_understood() {
        assert_eq!(
            parse_pasted("http://localhost:1455/auth/callback?code=abc&state=xyz"),
            Ok(("abc".into(), "xyz".into()))
        );
        assert_eq!(parse_pasted("abc#xyz"), Ok(("abc".into(), "xyz".into())));
        assert!(parse_pasted("?error=access_denied").is_err());
        assert!(parse_pasted("nonsense").is_err());
    }

    #[test]
    fn jwt_claims_are_read() {
        let payload = URL_SAFE_NO_PAD.encode(r#"{"email":"a@b.c"}"#);
        let claims = jwt_claims(&format!("x.{payload}.y")).unwrap();
        assert_eq!(claims["email"], "a@b.c");
        assert!(jwt_claims("garbage").is_none());
    }
}
