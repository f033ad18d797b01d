//! Logging in to a subscription service end to end: importing the
//! official CLI's credentials, completing a login, and storing it as an
//! account of the service's provider.

use switchyard_store::{Account, Provider, Store};

use super::Subscription;
use crate::oauth::{Grant, LoginError, imports};

/// Reads the official CLI's credentials file of `subscription` under `home`
/// into a grant. The file is only read, never changed.
pub fn import(subscription: &Subscription, home: &std::path::Path) -> Result<Grant, String> {
    let (file, path) = imports::read_credentials(&subscription.service, home)?;
    subscription
        .api
        .import_credentials(&file, &path)
        .map_err(|why| format!("{}: {why}", path.display()))
}

/// What a login still needs once the tokens are there (see
/// [`ProviderApi::complete_login`]): runs after every login, import and
/// pasted refresh token.
pub async fn complete_login(
    http: &reqwest::Client,
    subscription: &Subscription,
    grant: Grant,
) -> Result<Grant, LoginError> {
    subscription
        .api
        .complete_login(http, &subscription.service, grant)
        .await
}

/// Stores a completed login as an account of the service's provider,
/// creating the provider (with the service's prefix, or `prefix`) on first
/// use. With `prefix`, the account joins the service's provider of that
/// prefix, created when there is none: one service can have several
/// providers (say work and personal accounts under two prefixes). A second
/// login to the same e-mail updates that account.
pub fn save_login(
    store: &Store,
    subscription: &Subscription,
    grant: &Grant,
    label: Option<&str>,
    prefix: Option<&str>,
) -> Result<(Provider, Account), String> {
    let service = &subscription.service;
    let existing = store
        .list_providers()
        .map_err(|error| error.to_string())?
        .into_iter()
        .filter(|provider| provider.subscription.as_deref() == Some(service.id))
        .find(|provider| prefix.is_none_or(|prefix| provider.prefix == prefix));
    let provider = match existing {
        Some(provider) => provider,
        None => store
            .add_subscription_provider(
                &match prefix {
                    Some(prefix) if prefix != service.prefix => {
                        format!("{} ({prefix})", service.name)
                    }
                    _ => service.name.to_owned(),
                },
                service.kind,
                prefix.unwrap_or(service.prefix),
                service.endpoints.api_base.as_deref().unwrap_or_default(),
                &service
                    .models
                    .iter()
                    .map(|m| (*m).to_owned())
                    .collect::<Vec<_>>(),
                service.id,
            )
            .map_err(|error| format!("{error} (pass --prefix to choose another prefix)"))?,
    };
    let (email, meta) = subscription.api.account_facts(grant);
    let label = label
        .map(str::to_owned)
        .or_else(|| email.clone())
        .unwrap_or_else(|| "default".into());
    let account = store
        .save_oauth_account(provider.id, &label, &grant.tokens, email.as_deref(), &meta)
        .map_err(|error| error.to_string())?;
    Ok((provider, account))
}
