//! [`Manager::call`]: one match over [`Operation`], each arm a call into
//! [`crate::views`], a login, a check or a transfer; changes are recorded
//! (who, what, when, outcome) and announced as `state-changed`.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use switchyard_api_types::{
    CommandError, CreatedManagementToken, CreatedWebhook, ManagementEntryView, ManagementTokenView,
    Operation, PresetView, RequestBodiesView, TargetOutcomeView, ToolId, WebhookDeliveryView,
    WebhookView,
};
use switchyard_store::{ManagementEntry, ProviderKind, now_millis};

use crate::views::{self, ManageResult, store_error};
use crate::{Actor, Manager, connect, password};

/// Whether an argument called `name` may hold a secret (its value never
/// reaches the record): keys, tokens, passwords, a configuration's text, a
/// login's callback address.
fn secret_argument(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('_', "");
    ["key", "token", "password", "secret", "passphrase"]
        .iter()
        .any(|part| name.contains(part))
        || name == "json"
        || name == "code"
        || name == "address"
}

/// How long a sync pairing code works.
const PAIRING_CODE_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// A sync failure as the caller sees it.
fn sync_error(error: switchyard_sync::SyncError) -> CommandError {
    use switchyard_sync::SyncError;
    let kind = match &error {
        SyncError::Offline(_) => "unavailable",
        SyncError::Revoked => "revoked",
        SyncError::Refused(_) => "invalid",
        SyncError::HubReset => "conflict",
        SyncError::Protocol(_) => "upstream",
        SyncError::Store(_) => "storage",
    };
    failed(kind, error.to_string())
}

/// This machine's name, as a device's default name at a hub.
fn default_device_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "device".into())
}

/// The longest argument summary recorded.
const DETAIL_CHARS: usize = 400;

fn answer(value: impl Serialize) -> ManageResult<Value> {
    serde_json::to_value(value).map_err(|error| CommandError {
        kind: "internal".into(),
        message: format!("cannot encode the answer: {error}"),
    })
}

fn failed(kind: &str, message: impl Into<String>) -> CommandError {
    CommandError {
        kind: kind.into(),
        message: message.into(),
    }
}

/// The operation's arguments as recorded: secrets replaced, bounded.
fn detail(operation: &Operation) -> String {
    let mut value = serde_json::to_value(operation).unwrap_or(Value::Null);
    let mut args = value
        .get_mut("args")
        .map(Value::take)
        .unwrap_or(Value::Null);
    redact(&mut args);
    let mut text = args.to_string();
    if text.len() > DETAIL_CHARS {
        let mut end = DETAIL_CHARS;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, member) in map.iter_mut() {
                if secret_argument(name) {
                    *member = Value::String("[redacted]".into());
                } else {
                    redact(member);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

impl Manager {
    /// Runs `operation` for `actor`. A change is recorded with its outcome
    /// and announced to dashboards as `state-changed`.
    pub async fn call(
        self: &Arc<Self>,
        operation: Operation,
        actor: &Actor,
    ) -> ManageResult<Value> {
        let changes = operation.changes_state();
        let name = operation.name();
        let recorded = changes.then(|| detail(&operation));
        let result = match &actor.member {
            Some(member) => self.run_as_member(operation, member).await,
            None => self.run(operation).await,
        };
        if let Some(detail) = recorded {
            let entry = ManagementEntry {
                at: now_millis(),
                actor: actor.name.clone(),
                operation: name.into(),
                detail,
                outcome: match &result {
                    Ok(_) => "ok".into(),
                    Err(error) => error.kind.clone(),
                },
            };
            if let Err(error) =
                self.with_store(|store| store.record_management(&entry).map_err(store_error))
            {
                tracing::warn!(error = %error.message, "cannot record a management call");
            }
            if result.is_ok() {
                self.publish("state-changed", ());
            }
        }
        result
    }

    /// What a team member may do: list, make, pause, copy and revoke their
    /// own keys, and read their keys' usage and requests. Anything else is
    /// refused (`forbidden`).
    async fn run_as_member(
        self: &Arc<Self>,
        operation: Operation,
        member: &str,
    ) -> ManageResult<Value> {
        use Operation as Op;
        let owns = |id: i64| {
            self.with_store(|store| {
                let owned = store
                    .list_api_keys()
                    .map_err(store_error)?
                    .iter()
                    .any(|key| key.id == id && key.owner.as_deref() == Some(member));
                if owned {
                    Ok(())
                } else {
                    Err(forbidden(format!("API key {id} is not yours")))
                }
            })
        };
        match operation {
            Op::ListApiKeys {} => {
                let keys = self.with_store(views::list_api_keys)?;
                answer(
                    keys.into_iter()
                        .filter(|key| key.owner.as_deref() == Some(member))
                        .collect::<Vec<_>>(),
                )
            }
            Op::CreateApiKey { name } => answer(self.with_store(|store| {
                let created = views::create_api_key(store, &name)?;
                views::set_api_key_policy(store, created.id, Some(member), None, &[])?;
                Ok(created)
            })?),
            Op::RevokeApiKey { id } | Op::SetApiKeyPaused { id, .. } => {
                owns(id)?;
                self.run(operation).await
            }
            Op::RevealApiKey { id: Some(id) } => {
                owns(id)?;
                self.run(operation).await
            }
            Op::UsageReport { query } => {
                answer(self.with_store(|store| views::usage_report_of(store, query, Some(member)))?)
            }
            Op::UsageCsv { query } => {
                answer(self.with_store(|store| views::usage_csv_of(store, query, Some(member)))?)
            }
            Op::RecentRequests { limit } => answer(
                self.with_store(|store| views::recent_requests_of(store, limit, Some(member)))?,
            ),
            other => Err(forbidden(format!(
                "{} is for administrators: a member manages their own API keys and sees their usage",
                other.name()
            ))),
        }
    }

    async fn run(self: &Arc<Self>, operation: Operation) -> ManageResult<Value> {
        use Operation as Op;
        match operation {
            Op::GetOverview {} => answer(self.overview()?),
            Op::ListProviders {} => answer(self.with_store(views::list_providers)?),
            Op::AddProvider { input } => answer(self.add_provider(input).await?),
            Op::SetProviderEnabled { name, enabled } => {
                answer(self.with_store(|store| views::set_provider_enabled(store, &name, enabled))?)
            }
            Op::RemoveProvider { name } => {
                answer(self.with_store(|store| views::remove_provider(store, &name))?)
            }
            Op::SetAccountStrategy { name, strategy } => answer(self.with_store(|store| {
                views::set_account_strategy(store, &name, strategy.as_deref())
            })?),
            Op::AddAccount {
                provider,
                label,
                api_key,
                priority,
            } => answer(self.with_store(|store| {
                views::add_account(store, &provider, &label, &api_key, priority)
            })?),
            Op::SetAccountEnabled { id, enabled } => {
                answer(self.with_store(|store| views::set_account_enabled(store, id, enabled))?)
            }
            Op::SetAccountPriority { id, priority } => {
                answer(self.with_store(|store| views::set_account_priority(store, id, priority))?)
            }
            Op::ResetCooldowns { id } => {
                answer(self.with_store(|store| views::reset_cooldowns(store, id))?)
            }
            Op::RemoveAccount { id } => {
                answer(self.with_store(|store| views::remove_account(store, id))?)
            }
            Op::RenameAccount { id, label } => {
                answer(self.with_store(|store| views::rename_account(store, id, &label))?)
            }
            Op::TestAccount { id } => answer(self.test_account(id).await?),
            Op::ListApiKeys {} => answer(self.with_store(views::list_api_keys)?),
            Op::CreateApiKey { name } => {
                answer(self.with_store(|store| views::create_api_key(store, &name))?)
            }
            Op::RevokeApiKey { id } => {
                answer(self.with_store(|store| views::revoke_api_key(store, id))?)
            }
            Op::SetApiKeyPaused { id, paused } => {
                self.with_store(|store| store.set_api_key_paused(id, paused).map_err(store_error))?;
                if paused {
                    self.deliver(switchyard_gateway::webhooks::WebhookEvent::new(
                        "key_paused",
                        format!("API key {id} was paused"),
                        serde_json::json!({ "key_id": id }),
                    ));
                }
                answer(())
            }
            Op::SetApiKeyLimits { id, limits } => {
                answer(self.with_store(|store| views::set_api_key_limits(store, id, &limits))?)
            }
            Op::SetApiKeyPolicy {
                id,
                owner,
                expires_at,
                allowed_models,
            } => answer(self.with_store(|store| {
                views::set_api_key_policy(store, id, owner.as_deref(), expires_at, &allowed_models)
            })?),
            Op::RevealApiKey { id } => {
                answer(self.with_store(|store| views::copyable_api_key(store, id))?)
            }
            Op::ListCombos {} => answer(self.with_store(views::list_combos)?),
            Op::SaveCombo { combo } => {
                answer(self.with_store(|store| views::save_combo(store, combo))?)
            }
            Op::RemoveCombo { name } => {
                answer(self.with_store(|store| views::remove_combo(store, &name))?)
            }
            Op::ListAliases {} => answer(self.with_store(views::list_aliases)?),
            Op::AddAlias { name, target } => {
                answer(self.with_store(|store| views::add_alias(store, &name, &target))?)
            }
            Op::RemoveAlias { name } => {
                answer(self.with_store(|store| views::remove_alias(store, &name))?)
            }
            Op::ListPrices {} => answer(self.with_store(views::list_prices)?),
            Op::SetPrice { price } => {
                answer(self.with_store(|store| views::set_price(store, price))?)
            }
            Op::RemovePrice { model } => {
                answer(self.with_store(|store| views::remove_price(store, &model))?)
            }
            Op::ListSettings {} => answer(self.with_store(views::list_settings)?),
            Op::SetSetting { name, value } => {
                answer(self.with_store(|store| views::set_setting(store, &name, value.as_deref()))?)
            }
            Op::UsageReport { query } => {
                answer(self.with_store(|store| views::usage_report(store, query))?)
            }
            Op::UsageCsv { query } => {
                answer(self.with_store(|store| views::usage_csv(store, query))?)
            }
            Op::RecentRequests { limit } => {
                answer(self.with_store(|store| views::recent_requests(store, limit))?)
            }
            Op::RequestBodies { id } => answer(self.with_store(|store| {
                Ok(store
                    .request_bodies(id)
                    .map_err(store_error)?
                    .map(|bodies| RequestBodiesView {
                        request: bodies.request,
                        response: bodies.response,
                    }))
            })?),
            Op::TargetOutcomes { from } => answer(self.with_store(|store| {
                Ok(store
                    .target_outcomes(Some(from), None)
                    .map_err(store_error)?
                    .into_iter()
                    .map(|o| TargetOutcomeView {
                        target: o.target,
                        attempts: o.attempts,
                        succeeded: o.succeeded,
                    })
                    .collect::<Vec<_>>())
            })?),
            Op::ListServices {} => answer(connect::services(self)),
            Op::StartConnect { service, device } => {
                answer(connect::start(self, &service, device.unwrap_or(false)).await?)
            }
            Op::FinishLogin { address } => answer(connect::finish_login(self, &address)?),
            Op::ImportAccount { service } => answer(connect::import(self, &service).await?),
            Op::ConnectWithRefreshToken { service, token } => {
                answer(connect::with_refresh_token(self, &service, &token).await?)
            }
            Op::ListTools {} => answer(self.list_tools()?),
            Op::ApplyTool { tool, model } => answer(self.apply_tool(tool, model)?),
            Op::RestoreTool { tool } => answer(
                switchyard_tools::restore(&tool_home()?, &self.tool_backups(), tool)
                    .map_err(tool_error)?,
            ),
            Op::ExportConfig { with_secrets } => answer(self.with_store(|store| {
                switchyard_config::transfer::export_config(store, with_secrets)
                    .map_err(transfer_error)
            })?),
            Op::ImportConfig { json, dry_run } => answer(self.with_store(|store| {
                switchyard_config::transfer::import_config(store, &json, dry_run)
                    .map_err(transfer_error)
            })?),
            Op::Find9router {} => answer(
                switchyard_config::transfer::default_9router_path()
                    .map(|path| path.display().to_string()),
            ),
            Op::Import9router { path, dry_run } => {
                let path = path
                    .filter(|path| !path.trim().is_empty())
                    .map(std::path::PathBuf::from)
                    .or_else(switchyard_config::transfer::default_9router_path)
                    .ok_or_else(|| {
                        failed(
                            "transfer",
                            "no 9router installation found; give the path of its db.json or data.sqlite",
                        )
                    })?;
                answer(self.with_store(|store| {
                    switchyard_config::transfer::import_9router(store, &path, dry_run)
                        .map_err(transfer_error)
                })?)
            }
            Op::ListPresets {} => answer(presets()),
            Op::ManagementLog { limit } => answer(self.with_store(|store| {
                Ok(store
                    .management_log(limit.min(1000))
                    .map_err(store_error)?
                    .into_iter()
                    .map(|entry| ManagementEntryView {
                        at: entry.at,
                        actor: entry.actor,
                        operation: entry.operation,
                        detail: entry.detail,
                        outcome: entry.outcome,
                    })
                    .collect::<Vec<_>>())
            })?),
            Op::ListManagementTokens {} => answer(self.with_store(|store| {
                Ok(store
                    .list_management_tokens()
                    .map_err(store_error)?
                    .into_iter()
                    .map(|token| ManagementTokenView {
                        id: token.id,
                        name: token.name,
                        created_at: token.created_at,
                        last_used_at: token.last_used_at,
                    })
                    .collect::<Vec<_>>())
            })?),
            Op::CreateManagementToken { name } => {
                let name = name.trim().to_owned();
                if name.is_empty() || name.len() > 64 {
                    return Err(failed(
                        "invalid",
                        "a token needs a name of 1 to 64 characters",
                    ));
                }
                answer(self.with_store(|store| {
                    let (id, token) = store.create_management_token(&name).map_err(store_error)?;
                    Ok(CreatedManagementToken { id, name, token })
                })?)
            }
            Op::RevokeManagementToken { id } => answer(
                self.with_store(|store| store.revoke_management_token(id).map_err(store_error))?,
            ),
            Op::SetMetricsToken { enabled } => answer(self.with_store(|store| {
                let setting = switchyard_config::settings::METRICS_TOKEN_SETTING;
                if enabled {
                    store
                        .create_setting_token(setting, "sym-metrics-")
                        .map(Some)
                        .map_err(store_error)
                } else {
                    store
                        .unset_setting(setting)
                        .map(|_| None)
                        .map_err(store_error)
                }
            })?),
            Op::ListWebhooks {} => answer(self.with_store(|store| {
                Ok(store
                    .list_webhooks()
                    .map_err(store_error)?
                    .into_iter()
                    .map(webhook_view)
                    .collect::<Vec<_>>())
            })?),
            Op::AddWebhook {
                url,
                format,
                events,
            } => {
                switchyard_gateway::webhooks::check_webhook(&url, &format, &events)
                    .map_err(|message| failed("invalid", message))?;
                answer(self.with_store(|store| {
                    let (webhook, secret) = store
                        .add_webhook(&url, &format, &events)
                        .map_err(store_error)?;
                    Ok(CreatedWebhook {
                        webhook: webhook_view(webhook),
                        secret,
                    })
                })?)
            }
            Op::RemoveWebhook { id } => {
                answer(self.with_store(|store| store.remove_webhook(id).map_err(store_error))?)
            }
            Op::SetWebhookEnabled { id, enabled } => {
                answer(self.with_store(|store| {
                    store.set_webhook_enabled(id, enabled).map_err(store_error)
                })?)
            }
            Op::TestWebhook { id } => {
                self.with_store(|store| {
                    store
                        .list_webhooks()
                        .map_err(store_error)?
                        .into_iter()
                        .find(|hook| hook.id == id)
                        .ok_or_else(|| failed("not_found", format!("webhook {id} not found")))
                })?;
                switchyard_gateway::webhooks::deliver(
                    self.data_dir().to_owned(),
                    switchyard_gateway::webhooks::WebhookEvent::new(
                        "test",
                        "a test event from Switchyard",
                        serde_json::json!({ "webhook_id": id }),
                    ),
                )
                .await;
                let delivery = self.with_store(|store| {
                    store
                        .webhook_deliveries(50)
                        .map_err(store_error)
                        .map(|deliveries| deliveries.into_iter().find(|d| d.webhook_id == id))
                })?;
                answer(delivery.map(delivery_view))
            }
            Op::WebhookDeliveries { limit } => answer(self.with_store(|store| {
                Ok(store
                    .webhook_deliveries(limit.min(500))
                    .map_err(store_error)?
                    .into_iter()
                    .map(delivery_view)
                    .collect::<Vec<_>>())
            })?),
            Op::SetDashboardPassword { password } => {
                let hash = password::hash_password(&password)?;
                answer(self.with_store_mut(|store| {
                    store
                        .set_dashboard_password_hash(&hash)
                        .map_err(store_error)
                })?)
            }
            Op::ListDashboardUsers {} => answer(self.with_store(|store| {
                Ok(store
                    .list_dashboard_users()
                    .map_err(store_error)?
                    .into_iter()
                    .map(|user| switchyard_api_types::DashboardUserView {
                        name: user.name,
                        role: user.role,
                        created_at: user.created_at,
                    })
                    .collect::<Vec<_>>())
            })?),
            Op::SetDashboardUser {
                name,
                password,
                role,
            } => {
                let hash = password::hash_password(&password)?;
                answer(self.with_store(|store| {
                    store
                        .set_dashboard_user(&name, &role, &hash)
                        .map_err(store_error)
                })?)
            }
            Op::RemoveDashboardUser { name } => answer(
                self.with_store(|store| store.remove_dashboard_user(&name).map_err(store_error))?,
            ),
            Op::SyncStatus {} => answer(self.sync_view()?),
            Op::SyncLink {
                hub_url,
                code,
                device_name,
                passphrase,
                allow_http,
            } => {
                let device_name = device_name
                    .filter(|name| !name.trim().is_empty())
                    .unwrap_or_else(default_device_name);
                let options = switchyard_sync::LinkOptions {
                    hub_url,
                    code,
                    device_name,
                    passphrase: passphrase.filter(|passphrase| !passphrase.is_empty()),
                    allow_http,
                };
                answer(
                    self.sync_client()?
                        .link(options)
                        .await
                        .map_err(sync_error)?,
                )
            }
            Op::SyncUnlink {} => answer(self.sync_client()?.unlink().await.map_err(sync_error)?),
            Op::SyncNow {} => answer(self.sync_client()?.sync_now().await.map_err(sync_error)?),
            Op::SyncPairingCode {} => answer(self.with_store(|store| {
                let code = store
                    .create_pairing_code(PAIRING_CODE_LIFETIME_MS)
                    .map_err(store_error)?;
                Ok(switchyard_api_types::PairingCodeView {
                    code,
                    expires_at: now_millis() + PAIRING_CODE_LIFETIME_MS,
                })
            })?),
            Op::SyncRevokeDevice { device } => answer(
                self.with_store(|store| store.revoke_sync_device(&device).map_err(store_error))?,
            ),
            Op::SyncConflicts {} => {
                let conflicts = self.sync_client()?.conflicts().await.map_err(sync_error)?;
                answer(
                    conflicts
                        .into_iter()
                        .map(|conflict| switchyard_api_types::SyncConflictView {
                            id: conflict.id,
                            kind: conflict.kind,
                            name: conflict.name,
                            winner_device: conflict.winner_device,
                            loser_device: conflict.loser_device,
                            kept: conflict.loser_body,
                            at: conflict.at,
                            resolved_at: conflict.resolved_at,
                        })
                        .collect::<Vec<_>>(),
                )
            }
            Op::SyncRestore { id } => {
                let record = self.sync_client()?.restore(id).await.map_err(sync_error)?;
                answer(record.to_string())
            }
        }
    }

    /// This installation's sync, as a device and as a hub.
    fn sync_view(&self) -> ManageResult<switchyard_api_types::SyncView> {
        let device = self.sync_client()?.status().map_err(sync_error)?;
        self.with_store(|store| {
            let devices = store.list_sync_devices().map_err(store_error)?;
            let space = store.sync_space().map_err(store_error)?;
            Ok(switchyard_api_types::SyncView {
                device,
                devices: devices
                    .into_iter()
                    .map(|device| switchyard_api_types::LinkedDeviceView {
                        id: device.id,
                        name: device.name,
                        created_at: device.created_at,
                        last_seen_at: device.last_seen_at,
                        revoked_at: device.revoked_at,
                        requests: device.requests,
                        cost_usd: device.cost_usd,
                    })
                    .collect(),
                hub_e2e: space.e2e_salt.is_some(),
            })
        })
    }

    /// Adds an API-key provider, after checking the key against the
    /// provider's models endpoint (unless `skip_check`); an empty model
    /// list is filled from the provider's answer. Answers what was added.
    async fn add_provider(
        &self,
        input: switchyard_api_types::NewProviderInput,
    ) -> ManageResult<String> {
        let mut new = views::provider_from_input(&input)?;
        let mut note = String::new();
        if !input.skip_check {
            let probe = switchyard_store::Provider {
                id: 0,
                name: new.name.clone(),
                kind: new.kind,
                prefix: new.prefix.clone(),
                base_url: new.base_url.clone(),
                models: Vec::new(),
                enabled: true,
                account_strategy: None,
                subscription: None,
                created_at: 0,
            };
            let http = check_client()?;
            match switchyard_config::presets::fetch_models(&http, &probe, &new.api_key).await {
                Ok(models) => {
                    if new.models.is_empty() {
                        note = format!(" with its {} models", models.len());
                        new.models = models;
                    } else {
                        note = " (key checked)".into();
                    }
                }
                Err(switchyard_config::presets::ModelListError::Status { status, .. })
                    if status == 401 || status == 403 =>
                {
                    return Err(failed(
                        "key_refused",
                        format!("the provider refused this key ({status}); nothing was saved"),
                    ));
                }
                Err(error) => {
                    return Err(failed(
                        "unchecked",
                        format!("the key could not be checked: {error}"),
                    ));
                }
            }
        }
        let name = new.name.clone();
        self.with_store_mut(|store| store.add_provider(&new).map(|_| ()).map_err(store_error))?;
        Ok(format!("added {name}{note}"))
    }

    /// Checks that an account works: an API key by asking the provider's
    /// models endpoint with it; a subscription by refreshing its token if
    /// due and reading its usage. Answers a sentence for the user.
    async fn test_account(&self, id: i64) -> ManageResult<String> {
        let (account, provider) = self.with_store(|store| {
            let account = store.account(id).map_err(store_error)?;
            let provider = store
                .list_providers()
                .map_err(store_error)?
                .into_iter()
                .find(|p| p.id == account.provider_id)
                .ok_or_else(|| failed("not_found", "the account's provider is gone"))?;
            Ok((account, provider))
        })?;
        if provider.subscription.is_none() {
            let models = switchyard_config::presets::fetch_models(
                &check_client()?,
                &provider,
                &account.api_key,
            )
            .await
            .map_err(|error| failed("test", error.to_string()))?;
            return Ok(format!(
                "{}/{} works: the provider lists {} models",
                provider.name,
                account.label,
                models.len()
            ));
        }
        let name = format!("{}/{}", provider.name, account.label);
        let checks = switchyard_gateway::maintain_accounts(self.data_dir())
            .await
            .map_err(|error| failed("test", error.to_string()))?;
        let needs_login = self
            .with_store(|store| store.account(id).map_err(store_error))?
            .needs_login;
        if needs_login {
            return Err(failed("test", format!("{name} needs a new login")));
        }
        match checks.into_iter().find(|check| check.account == name) {
            Some(check) => match check.windows {
                Ok(windows) => Ok(format!(
                    "{name} works: token valid, {} usage windows read",
                    windows.len()
                )),
                Err(reason) => Ok(format!(
                    "{name}: token valid; usage not readable ({reason})"
                )),
            },
            None => Ok(format!("{name}: token valid")),
        }
    }

    fn tool_backups(&self) -> std::path::PathBuf {
        self.data_dir().join("tool-backups")
    }

    /// Where the gateway is, as tools are given it (root URL, no `/v1`).
    fn tool_options(&self) -> switchyard_tools::SetupOptions {
        switchyard_tools::SetupOptions {
            base_url: self.endpoint_url().trim_end_matches("/v1").to_owned(),
            api_key: None,
            model: None,
        }
    }

    /// Every coding tool: installed or not, pointed at Switchyard or not.
    fn list_tools(&self) -> ManageResult<Vec<switchyard_tools::ToolStatus>> {
        let home = tool_home()?;
        let options = self.tool_options();
        Ok(switchyard_tools::catalogue()
            .into_iter()
            .map(|tool| switchyard_tools::status(&home, &self.tool_backups(), tool.id, &options))
            .collect())
    }

    /// Points `tool` at Switchyard with `model` (a copyable API key is
    /// used, created if there is none), backing up the user's file first.
    fn apply_tool(
        &self,
        tool: ToolId,
        model: Option<String>,
    ) -> ManageResult<switchyard_tools::ToolApplied> {
        let home = tool_home()?;
        let key = self.with_store(|store| views::copyable_api_key(store, None))?;
        let options = switchyard_tools::SetupOptions {
            api_key: Some(key),
            model: model.filter(|model| !model.trim().is_empty()),
            ..self.tool_options()
        };
        switchyard_tools::apply(&home, &self.tool_backups(), tool, &options).map_err(tool_error)
    }
}

fn webhook_view(hook: switchyard_store::Webhook) -> WebhookView {
    WebhookView {
        id: hook.id,
        url: hook.url,
        format: hook.format,
        events: hook.events,
        enabled: hook.enabled,
        consecutive_failures: hook.consecutive_failures,
    }
}

fn delivery_view(delivery: switchyard_store::WebhookDelivery) -> WebhookDeliveryView {
    WebhookDeliveryView {
        webhook_id: delivery.webhook_id,
        event: delivery.event,
        at: delivery.at,
        attempts: delivery.attempts,
        status: delivery.status,
        outcome: delivery.outcome,
        error: delivery.error,
    }
}

/// The client for key checks: bounded connect and answer times.
fn check_client() -> ManageResult<reqwest::Client> {
    switchyard_providers::tls::http_client()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|error| failed("check", error.to_string()))
}

fn tool_error(error: switchyard_tools::ToolError) -> CommandError {
    failed("tool", error.to_string())
}

fn tool_home() -> ManageResult<std::path::PathBuf> {
    switchyard_tools::home_dir().ok_or_else(|| failed("tool", "cannot find the home folder"))
}

fn transfer_error(error: switchyard_store::TransferError) -> CommandError {
    failed("transfer", error.to_string())
}

/// The built-in providers the add form can start from.
fn presets() -> Vec<PresetView> {
    switchyard_config::presets::PRESETS
        .iter()
        .filter_map(|preset| {
            let kind = match preset.kind {
                ProviderKind::OpenaiCompatible => "openai",
                ProviderKind::AnthropicCompatible => "anthropic",
                ProviderKind::Gemini => "gemini",
                ProviderKind::OpenaiResponses => "responses",
                _ => return None,
            };
            Some(PresetView {
                id: preset.id.into(),
                name: preset.name.into(),
                kind: kind.into(),
                prefix: preset.prefix.into(),
                base_url: preset.base_url.into(),
                models: preset.models.iter().map(|m| (*m).to_owned()).collect(),
            })
        })
        .collect()
}

/// A refusal of what the caller's role does not allow.
fn forbidden(message: impl Into<String>) -> CommandError {
    CommandError {
        kind: "forbidden".into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_name_decodes_and_details_hide_secrets() {
        for name in Operation::names() {
            let error =
                serde_json::from_value::<Operation>(serde_json::json!({"op": name, "args": {}}))
                    .err()
                    .map(|error| error.to_string())
                    .unwrap_or_default();
            assert!(!error.contains("unknown variant"), "{name}: {error}");
        }
        let add = Operation::AddAccount {
            provider: "p".into(),
            label: "work".into(),
            api_key: "sk-secret-value".into(),
            priority: 1,
        };
        let text = detail(&add);
        assert!(!text.contains("sk-secret-value"), "{text}");
        let provider = Operation::AddProvider {
            input: switchyard_api_types::NewProviderInput {
                name: "n".into(),
                prefix: "p".into(),
                kind: "openai".into(),
                base_url: "http://x".into(),
                api_key: "sk-nested-secret".into(),
                models: Vec::new(),
                skip_check: true,
            },
        };
        assert!(!detail(&provider).contains("sk-nested-secret"));
        assert!(text.contains("work"), "{text}");
        assert!(add.changes_state());
        assert!(!Operation::ListProviders {}.changes_state());
    }

    #[test]
    fn the_operations_fixture_has_each_operation_once() {
        let calls: Vec<Value> =
            serde_json::from_str(include_str!("../../../tests/operations.json")).unwrap();
        for call in &calls {
            serde_json::from_value::<Operation>(call.clone())
                .unwrap_or_else(|error| panic!("{call}: {error}"));
        }
        let mut named: Vec<&str> = calls
            .iter()
            .map(|call| call["op"].as_str().unwrap())
            .collect();
        named.sort_unstable();
        let mut all = Operation::names().to_vec();
        all.sort_unstable();
        assert_eq!(named, all);
    }
}
