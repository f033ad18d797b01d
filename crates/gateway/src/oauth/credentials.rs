//! The credentials a request goes out with: an API key as stored, or an
//! OAuth access token kept fresh (refreshed ahead of expiry and after a 401,
//! one refresh at a time per account, the rotated refresh token stored
//! before the new access token is used), plus GitHub Copilot's short-lived
//! token exchange.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use switchyard_store::{Account, AccountAuth, now_millis};

use crate::RouterState;
use crate::routing::Candidate;

use super::code_assist;
use super::flows::{self, LoginError};
use super::iflow;
use super::providers;

/// What a request authenticates with.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    /// Sent as the bearer token or API key.
    pub(crate) token: String,
    /// A base URL that replaces the provider's (Copilot, Qwen).
    pub(crate) base_url: Option<String>,
    /// Whether a 401 is worth one refresh and retry.
    pub(crate) refreshable: bool,
    /// The account's facts as of now (Code Assist project, Kiro profile).
    pub(crate) meta: Map<String, Value>,
}

/// Why no credentials could be had.
#[derive(Debug)]
pub(crate) struct CredentialError {
    /// For the log and the client.
    pub(crate) message: String,
}

/// In-memory state for credentials: one lock per account for refreshes, and
/// Copilot's short-lived tokens.
#[derive(Debug, Default)]
pub(crate) struct CredentialCache {
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    copilot: Mutex<HashMap<i64, (String, i64, String)>>,
}

impl CredentialCache {
    fn lock_for(&self, account_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(locks.entry(account_id).or_default())
    }
}

impl RouterState {
    /// The credentials for `candidate`, refreshing an OAuth token that is
    /// about to expire (or, with `force`, that the provider just refused).
    pub(crate) async fn credentials(
        &self,
        candidate: &Candidate,
        force: bool,
    ) -> Result<Credentials, CredentialError> {
        let account = &candidate.account;
        let subscription = candidate.provider.provider.subscription.as_deref();
        if account.auth == AccountAuth::ApiKey && subscription.is_none() {
            return Ok(Credentials {
                token: account.api_key.clone(),
                base_url: None,
                refreshable: false,
                meta: Map::new(),
            });
        }
        let Some(subscription) = subscription else {
            return Ok(Credentials {
                token: account.api_key.clone(),
                base_url: None,
                refreshable: false,
                meta: Map::new(),
            });
        };
        let service = self
            .services
            .get(subscription)
            .cloned()
            .ok_or_else(|| CredentialError {
                message: format!("unknown subscription service {subscription:?}"),
            })?;
        let account = if account.auth == AccountAuth::Oauth {
            self.fresh_account(&service, account, force).await?
        } else {
            account.clone()
        };
        let mut credentials = Credentials {
            token: account.api_key.clone(),
            base_url: None,
            refreshable: account.auth == AccountAuth::Oauth,
            meta: account.meta.clone(),
        };
        match service.id {
            "github-copilot" => {
                let (token, api) = self.copilot_token(&service, &account, force).await?;
                credentials.token = token;
                credentials.base_url = Some(api);
                credentials.refreshable = true;
            }
            "gemini-cli" if !account.meta.contains_key("project_id") => {
                // Logged in elsewhere (or onboarding was pending): find the
                // project now, once.
                let setup = code_assist::setup(self.http(), &service, &account.api_key).await?;
                credentials
                    .meta
                    .insert("project_id".into(), setup.project.into());
                if let Some(tier) = setup.tier {
                    credentials.meta.insert("tier".into(), tier.into());
                }
                let _ = self
                    .with_store_mut(|store| store.set_account_meta(account.id, &credentials.meta));
            }
            "qwen" => {
                if let Some(resource) = account.meta.get("resource_url").and_then(Value::as_str) {
                    credentials.base_url = Some(qwen_base(resource));
                }
            }
            "iflow" => {
                // Requests use the account's API key. After a refresh forced
                // by a refusal the key may have changed: ask for it again.
                if force || !account.meta.contains_key(iflow::API_KEY_FACT) {
                    let facts = iflow::user_info(self.http(), &service, &account.api_key).await?;
                    credentials.meta.extend(facts);
                    let _ = self.with_store_mut(|store| {
                        store.set_account_meta(account.id, &credentials.meta)
                    });
                }
                if let Some(key) = credentials
                    .meta
                    .get(iflow::API_KEY_FACT)
                    .and_then(Value::as_str)
                {
                    credentials.token = key.to_owned();
                }
            }
            _ => {}
        }
        Ok(credentials)
    }

    /// The account with an access token valid for at least the service's
    /// lead time, refreshing it if needed (one refresh at a time).
    async fn fresh_account(
        &self,
        service: &providers::Service,
        account: &Account,
        force: bool,
    ) -> Result<Account, CredentialError> {
        let lead = service.refresh_lead.as_millis() as i64;
        let fresh_enough =
            |account: &Account| account.expires_at.is_none_or(|at| at - lead > now_millis());
        if !force && fresh_enough(account) {
            return Ok(account.clone());
        }
        let lock = self.credential_cache.lock_for(account.id);
        let _guard = lock.lock().await;
        // Another request may have refreshed while this one waited.
        let current = self
            .with_store(|store| store.account(account.id))
            .map_err(|error| CredentialError {
                message: error.to_string(),
            })?;
        if current.api_key != account.api_key && fresh_enough(&current) {
            return Ok(current);
        }
        if !force && fresh_enough(&current) {
            return Ok(current);
        }
        let Some(refresh_token) = current.refresh_token.clone() else {
            return Err(self.needs_login(&current, "it has no refresh token"));
        };
        match flows::refresh_with(self.http(), service, &refresh_token, &current.meta).await {
            Ok(grant) => {
                let stored = self.with_store_mut(|store| {
                    store
                        .update_tokens(current.id, &grant.tokens)
                        .and_then(|()| store.account(current.id))
                });
                let refreshed = stored.map_err(|error| CredentialError {
                    message: format!("cannot store refreshed tokens: {error}"),
                })?;
                tracing::info!(account = %current.label, service = service.id, "access token refreshed");
                Ok(refreshed)
            }
            Err(error) if error.is_permanent() => {
                Err(self.needs_login(&current, &error.to_string()))
            }
            Err(error) => Err(CredentialError {
                message: format!("cannot refresh the access token: {error}"),
            }),
        }
    }

    fn needs_login(&self, account: &Account, reason: &str) -> CredentialError {
        tracing::warn!(account = %account.label, reason, "account needs a new login");
        let _ = self.with_store_mut(|store| store.set_needs_login(account.id, true));
        CredentialError {
            message: format!(
                "account {:?} needs a new login ({reason}); run `switchyard connect` again",
                account.label
            ),
        }
    }

    /// GitHub Copilot's short-lived API token and API base, exchanged for the
    /// GitHub token and kept until five minutes before it expires.
    async fn copilot_token(
        &self,
        service: &providers::Service,
        account: &Account,
        force: bool,
    ) -> Result<(String, String), CredentialError> {
        if !force {
            let cache = self
                .credential_cache
                .copilot
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some((token, expires_at, api)) = cache.get(&account.id)
                && *expires_at - 5 * 60 * 1000 > now_millis()
            {
                return Ok((token.clone(), api.clone()));
            }
        }
        let url = service
            .endpoints
            .exchange_url
            .clone()
            .ok_or_else(|| CredentialError {
                message: "GitHub Copilot has no token exchange URL configured".into(),
            })?;
        let response = self
            .http()
            .get(url)
            .header("authorization", format!("token {}", account.api_key))
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|_| CredentialError {
                message: "cannot reach GitHub to get a Copilot token".into(),
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(self.needs_login(
                account,
                &format!("GitHub answered {status} to the Copilot token request"),
            ));
        }
        let body: Value =
            crate::transport::side_json(response)
                .await
                .ok_or_else(|| CredentialError {
                    message: format!("GitHub answered {status} without a Copilot token"),
                })?;
        let token = body["token"].as_str().ok_or_else(|| CredentialError {
            message: format!("GitHub answered {status} without a Copilot token"),
        })?;
        // Kept until five minutes before `expires_at` (checked above). That
        // time is on GitHub's clock, so when `refresh_in` (seconds from now)
        // is given it decides instead: a skewed clock here then neither
        // throws tokens away early nor keeps them past their life.
        let now = now_millis();
        let expires_at = match body["refresh_in"].as_i64() {
            Some(seconds) => now + seconds * 1000 + 5 * 60 * 1000,
            None => body["expires_at"]
                .as_i64()
                .map_or(now + 20 * 60 * 1000, |s| s * 1000),
        };
        let api = body["endpoints"]["api"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| service.endpoints.api_base.clone())
            .unwrap_or_default();
        self.credential_cache
            .copilot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(account.id, (token.to_owned(), expires_at, api.clone()));
        Ok((token.to_owned(), api))
    }
}

/// Qwen's API base from the `resource_url` its token endpoint returns.
fn qwen_base(resource: &str) -> String {
    let host = resource.trim_end_matches('/');
    let with_scheme = if host.starts_with("http://") || host.starts_with("https://") {
        host.to_owned()
    } else {
        format!("https://{host}")
    };
    if with_scheme.ends_with("/v1") {
        with_scheme
    } else {
        format!("{with_scheme}/v1")
    }
}

impl From<LoginError> for CredentialError {
    fn from(error: LoginError) -> Self {
        Self {
            message: error.to_string(),
        }
    }
}
