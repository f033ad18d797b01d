//! `switchyard connect`: log in to a subscription service (browser with
//! PKCE, device code, importing the official CLI's credentials, or a pasted
//! refresh token) and store the account.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::json;
use switchyard_providers as providers;
use switchyard_providers::oauth::{self, AuthCodeLogin, DeviceLogin, LoginKind, imports};
use switchyard_store::Store;
use tokio::sync::mpsc;

use crate::Output;

#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    /// The service: claude-code, codex, gemini-cli, github-copilot, iflow, kiro, qwen (omit to list them)
    service: Option<String>,
    /// Label of the account [default: its e-mail, else `default`]
    #[arg(long)]
    label: Option<String>,
    /// Put the account in the service's provider with this model prefix,
    /// created when there is none [default: the service's provider, else its prefix]
    #[arg(long)]
    prefix: Option<String>,
    /// Import the credentials the service's own CLI stored on this machine
    #[arg(long, conflicts_with = "refresh_token_stdin")]
    import: bool,
    /// Read a refresh token from standard input instead of logging in
    #[arg(long)]
    refresh_token_stdin: bool,
    /// Log in with a code typed on another device instead of a browser
    /// coming back to this machine (codex)
    #[arg(long, conflicts_with_all = ["import", "refresh_token_stdin"])]
    device: bool,
    /// Give up after this many seconds
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
}

pub(crate) fn connect(
    store: &Store,
    data_dir: &std::path::Path,
    args: ConnectArgs,
    output: Output,
) -> Result<()> {
    let Some(id) = args.service.as_deref() else {
        let table = switchyard_providers::ProviderTable::for_data_dir(data_dir);
        let services: Vec<_> = table
            .subscriptions()
            .map(|subscription| &subscription.service)
            .map(|s| {
                json!({
                    "id": s.id,
                    "name": s.name,
                    "prefix": s.prefix,
                    "login": match s.login {
                        LoginKind::AuthorizationCode if s.endpoints.device_url.is_some() => {
                            "browser, --device"
                        }
                        LoginKind::AuthorizationCode => "browser",
                        LoginKind::DeviceCode => "device code",
                    },
                    "import": s.cli_credentials.is_some(),
                })
            })
            .collect();
        return output.print(&services, || {
            let mut text = format!(
                "{:<16} {:<16} {:<7} {:<18} IMPORT",
                "SERVICE", "NAME", "PREFIX", "LOGIN"
            );
            for service in &services {
                text.push_str(&format!(
                    "\n{:<16} {:<16} {:<7} {:<18} {}",
                    service["id"].as_str().unwrap_or(""),
                    service["name"].as_str().unwrap_or(""),
                    service["prefix"].as_str().unwrap_or(""),
                    service["login"].as_str().unwrap_or(""),
                    if service["import"] == true {
                        "yes"
                    } else {
                        "no"
                    }
                ));
            }
            text
        });
    };
    let table = switchyard_providers::ProviderTable::for_data_dir(data_dir);
    let subscription = table.subscription(id).map_err(anyhow::Error::msg)?;
    let service = &subscription.service;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let http = switchyard_providers::tls::http_client()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()?;
    let timeout = Duration::from_secs(args.timeout_secs);
    if let Some(note) = service.terms_note {
        eprintln!("Note: {note}");
    }
    let grant = if args.import {
        let home = imports::home_dir().context("cannot find the home directory")?;
        let grant = providers::import(subscription, &home).map_err(anyhow::Error::msg)?;
        runtime.block_on(providers::complete_login(&http, subscription, grant))?
    } else if args.refresh_token_stdin {
        let mut token = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut token)
            .context("cannot read the refresh token from standard input")?;
        let token = token.trim();
        if token.is_empty() {
            bail!("the refresh token is empty");
        }
        runtime.block_on(async {
            let grant = oauth::flows::refresh(&http, service, token).await?;
            providers::complete_login(&http, subscription, grant).await
        })?
    } else {
        if args.device && service.endpoints.device_url.is_none() {
            bail!("{} has no device-code login", service.name);
        }
        let login = if args.device {
            LoginKind::DeviceCode
        } else {
            service.login
        };
        match login {
            LoginKind::AuthorizationCode => runtime.block_on(async {
                let login = AuthCodeLogin::start(service.clone()).await?;
                eprintln!("Open this address in a browser to sign in to {}:", service.name);
                println!("{}", login.authorize_url());
                eprintln!(
                    "Waiting for the sign-in (on another machine, paste the address the browser was sent to, or code#state, and press Enter)..."
                );
                let (pasted_sender, pasted) = mpsc::channel(1);
                std::thread::spawn(move || {
                    let mut line = String::new();
                    while std::io::stdin().read_line(&mut line).is_ok_and(|read| read > 0) {
                        if !line.trim().is_empty() && pasted_sender.blocking_send(line.clone()).is_err() {
                            break;
                        }
                        line.clear();
                    }
                });
                let grant = login.finish(&http, timeout, pasted).await?;
                providers::complete_login(&http, subscription, grant).await
            })?,
            LoginKind::DeviceCode => runtime.block_on(async {
                let login = DeviceLogin::start(&http, service.clone()).await?;
                eprintln!("To sign in to {}, open {} and enter the code:", service.name, login.verification_uri);
                println!("{}", login.user_code);
                if let Some(complete) = &login.verification_uri_complete {
                    eprintln!("(or open {complete})");
                }
                eprintln!("Waiting for the approval...");
                let grant = tokio::time::timeout(timeout, login.finish(&http))
                    .await
                    .unwrap_or(Err(oauth::LoginError::TimedOut(timeout.as_secs())))?;
                providers::complete_login(&http, subscription, grant).await
            })?,
        }
    };
    let (provider, account) = providers::save_login(
        store,
        subscription,
        &grant,
        args.label.as_deref(),
        args.prefix.as_deref(),
    )
    .map_err(anyhow::Error::msg)?;
    let result = json!({ "provider": provider, "account": account });
    output.print(&result, || {
        format!(
            "connected {} account {:?}: use models as {}/<model>",
            service.name, account.label, provider.prefix
        )
    })
}
