//! The credentials a request goes out with: an API key as stored, or an
//! OAuth access token kept fresh (refreshed ahead of expiry and after a
//! refusal, one refresh at a time per account, the rotated refresh token
//! stored before the new access token is used), then exchanged the way its
//! service wants (`ProviderApi::exchange`: Copilot's short-lived token, the
//! iFlow key, a Code Assist project), exchanged tokens reused while valid.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use switchyard_store::{Account, AccountAuth, now_millis};

use crate::RouterState;
use crate::routing::Candidate;
use switchyard_providers::oauth::{LoginError, Service, flows};
use switchyard_providers::{Exchange, ExchangeError, Exchanged};

/// A refresh lease's answer, in time.
pub type LeaseFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = LeaseAnswer> + Send + 'a>>;

/// Someone besides the database who must agree before an account's tokens
/// are refreshed: a sync hub, when the same account lives on several
/// devices (providers that rotate refresh tokens end a login used twice).
pub trait RefreshCoordinator: Send + Sync + 'static {
    /// Asks for the turn to refresh `subject` (`prefix/label`).
    fn take<'a>(&'a self, subject: &'a str) -> LeaseFuture<'a>;
    /// This process is done with `subject`: `refreshed` says whether new
    /// tokens were stored (then they travel to the others before the turn
    /// passes on).
    fn end<'a>(&'a self, subject: &'a str, refreshed: bool) -> LeaseFuture<'a>;
}

/// What a [`RefreshCoordinator`] answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseAnswer {
    /// This process may refresh.
    Granted,
    /// Another one refreshes (or newer tokens are on their way): wait.
    HeldElsewhere,
    /// It cannot be asked (not set up, or unreachable): refresh alone.
    Unavailable,
}

/// What a request authenticates with.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    /// Sent as the bearer token or API key.
    pub(crate) token: String,
    /// A base URL that replaces the provider's (Copilot, Qwen).
    pub(crate) base_url: Option<String>,
    /// Whether a refusal is worth one refresh and retry.
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
/// exchanged tokens that may be reused.
#[derive(Debug, Default)]
pub(crate) struct CredentialCache {
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    exchanged: Mutex<HashMap<i64, Exchanged>>,
}

impl CredentialCache {
    fn lock_for(&self, account_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(locks.entry(account_id).or_default())
    }

    /// A token exchanged earlier for `account_id`, while it may be reused.
    fn reusable(&self, account_id: i64) -> Option<Exchanged> {
        let cache = self.exchanged.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&account_id)
            .filter(|exchanged| {
                exchanged
                    .reuse_until
                    .is_some_and(|until| until > now_millis())
            })
            .cloned()
    }

    fn keep(&self, account_id: i64, exchanged: &Exchanged) {
        if exchanged.reuse_until.is_some() {
            let kept = Exchanged {
                learned: None,
                ..exchanged.clone()
            };
            self.exchanged
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(account_id, kept);
        }
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
        let entry = &candidate.provider;
        let Some(subscription) = entry.subscription.as_ref() else {
            if let Some(unknown) = &entry.provider.subscription {
                return Err(CredentialError {
                    message: format!("unknown subscription service {unknown:?}"),
                });
            }
            return Ok(Credentials {
                token: account.api_key.clone(),
                base_url: None,
                refreshable: false,
                meta: Map::new(),
            });
        };
        let account = if account.auth == AccountAuth::Oauth {
            self.fresh_account(
                &subscription.service,
                &entry.provider.prefix,
                account,
                force,
            )
            .await?
        } else {
            account.clone()
        };
        let reused = (!force)
            .then(|| self.credential_cache.reusable(account.id))
            .flatten();
        let exchanged = match reused {
            Some(exchanged) => exchanged,
            None => {
                let exchange = Exchange {
                    http: self.http(),
                    service: &subscription.service,
                    account: &account,
                    force,
                };
                let exchanged =
                    subscription
                        .api
                        .exchange(exchange)
                        .await
                        .map_err(|error| match error {
                            ExchangeError::NeedsLogin(reason) => {
                                self.needs_login(&account, &reason)
                            }
                            ExchangeError::Failed(error) => error.into(),
                        })?;
                self.credential_cache.keep(account.id, &exchanged);
                exchanged
            }
        };
        let meta = match exchanged.learned {
            Some(learned) => {
                let _ = self.with_store_mut(|store| store.set_account_meta(account.id, &learned));
                learned
            }
            None => account.meta.clone(),
        };
        Ok(Credentials {
            token: exchanged.token,
            base_url: exchanged.base_url,
            refreshable: account.auth == AccountAuth::Oauth || exchanged.reuse_until.is_some(),
            meta,
        })
    }

    /// The account with an access token valid for at least the service's
    /// lead time, refreshing it if needed (one refresh at a time).
    async fn fresh_account(
        &self,
        service: &Service,
        prefix: &str,
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
        // Other processes on the same database (replicas, the desktop and a
        // server) refresh this account too: one at a time, the others wait
        // for the tokens it stores.
        let subject = format!("{prefix}/{}", account.label);
        let current = match self
            .refresh_lease(account.id, &subject, &fresh_enough)
            .await?
        {
            Lease::Held => {
                let reread = self.with_store(|store| store.account(account.id));
                reread.map_err(|error| CredentialError {
                    message: error.to_string(),
                })?
            }
            Lease::RefreshedElsewhere(account) => return Ok(account),
        };
        // The turn came with newer tokens than this request started with
        // (another process's, arrived meanwhile): those, not a refresh.
        let outcome = if current.api_key != account.api_key && fresh_enough(&current) {
            Ok(current.clone())
        } else {
            self.refresh_now(service, &current).await
        };
        let refreshed = outcome
            .as_ref()
            .is_ok_and(|fresh| fresh.api_key != current.api_key);
        let holder = lease_holder();
        if let Err(error) = self.with_store(|store| store.end_refresh_lease(account.id, &holder)) {
            tracing::warn!(%error, "cannot end a refresh lease; it runs out by itself");
        }
        if let Some(coordinator) = &self.refresh_coordinator {
            coordinator.end(&subject, refreshed).await;
        }
        outcome
    }

    /// Waits for this process's turn to refresh `account_id` (a lease in the
    /// database), or for another process to have stored fresh tokens.
    async fn refresh_lease(
        &self,
        account_id: i64,
        subject: &str,
        fresh_enough: &impl Fn(&Account) -> bool,
    ) -> Result<Lease, CredentialError> {
        let holder = lease_holder();
        let deadline = tokio::time::Instant::now() + REFRESH_LEASE;
        let failed = |error: switchyard_store::StoreError| CredentialError {
            message: error.to_string(),
        };
        let first = self
            .with_store(|store| store.account(account_id))
            .map_err(failed)?;
        loop {
            let until = now_millis() + REFRESH_LEASE.as_millis() as i64;
            let taken =
                self.with_store(|store| store.take_refresh_lease(account_id, &holder, until));
            let held = match taken {
                Ok(true) => true,
                // Without the database nobody else can refresh either.
                Err(error) if error.is_unreachable() => true,
                Err(error) => return Err(failed(error)),
                Ok(false) => false,
            };
            if held {
                // Devices synced through a hub hold the same account: the
                // hub's turn too (a hub that cannot be asked does not stop
                // this process from keeping its account working).
                let coordinated = match &self.refresh_coordinator {
                    None => LeaseAnswer::Unavailable,
                    Some(coordinator) => coordinator.take(subject).await,
                };
                if coordinated != LeaseAnswer::HeldElsewhere {
                    return Ok(Lease::Held);
                }
                let _ = self.with_store(|store| store.end_refresh_lease(account_id, &holder));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let current = self
                .with_store(|store| store.account(account_id))
                .map_err(failed)?;
            if current.api_key != first.api_key && fresh_enough(&current) {
                return Ok(Lease::RefreshedElsewhere(current));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(CredentialError {
                    message:
                        "another Switchyard is refreshing this account's token and has not finished"
                            .into(),
                });
            }
        }
    }

    /// Refreshes `current`'s tokens and stores them (the lease is held).
    async fn refresh_now(
        &self,
        service: &Service,
        current: &Account,
    ) -> Result<Account, CredentialError> {
        let Some(refresh_token) = current.refresh_token.clone() else {
            return Err(self.needs_login(current, "it has no refresh token"));
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
                Err(self.needs_login(current, &error.to_string()))
            }
            Err(error) => Err(CredentialError {
                message: format!("cannot refresh the access token: {error}"),
            }),
        }
    }

    fn needs_login(&self, account: &Account, reason: &str) -> CredentialError {
        tracing::warn!(account = %account.label, reason, "account needs a new login");
        let _ = self.with_store_mut(|store| store.set_needs_login(account.id, true));
        self.emit(crate::webhooks::WebhookEvent::new(
            "account_needs_login",
            format!("account {:?} needs a new login ({reason})", account.label),
            serde_json::json!({"account": account.label, "account_id": account.id, "reason": reason}),
        ));
        CredentialError {
            message: format!(
                "account {:?} needs a new login ({reason}); run `switchyard connect` again",
                account.label
            ),
        }
    }
}

impl From<LoginError> for CredentialError {
    fn from(error: LoginError) -> Self {
        Self {
            message: error.to_string(),
        }
    }
}

/// How long a refresh lease lasts if its holder never ends it (it died):
/// longer than a token endpoint may take to answer.
const REFRESH_LEASE: std::time::Duration = std::time::Duration::from_secs(45);

/// Whose turn it is to refresh.
enum Lease {
    /// This process holds the lease.
    Held,
    /// Another process refreshed meanwhile: its tokens.
    RefreshedElsewhere(Account),
}

/// This process's name on refresh leases.
fn lease_holder() -> String {
    static HOLDER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOLDER
        .get_or_init(|| {
            let random: u64 = rand::random();
            format!("{}-{random:016x}", std::process::id())
        })
        .clone()
}
