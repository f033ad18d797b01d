//! `switchyard sync ...`: linking this installation to a hub, its state,
//! and, on the hub, pairing codes and linked devices. Each is one
//! management operation, the same the dashboard and the desktop call.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::Value;
use switchyard_api_types::{
    LinkedDeviceView, Operation, PairingCodeView, SyncConflictView, SyncDeviceStatus, SyncView,
};

use crate::{Output, dashboard, when};

/// `switchyard sync`.
#[derive(Debug, Subcommand)]
pub(crate) enum SyncCommand {
    /// On the hub: make a one-time pairing code (valid 10 minutes)
    Pair,
    /// On the hub: linked devices with their last contact and usage
    Devices,
    /// On the hub: revoke a linked device (by id or name)
    Revoke { device: String },
    /// Link this installation to a hub (`serve` or the desktop then keeps it in step)
    Link {
        /// The hub's address, such as https://hub.example:20128
        url: String,
        /// The code `switchyard sync pair` showed on the hub
        code: String,
        /// This device's name at the hub (default: the host name)
        #[arg(long)]
        name: Option<String>,
        /// Seal records end to end with a passphrase read from standard
        /// input (the hub then holds only ciphertext: it cannot refresh
        /// tokens or serve those accounts itself)
        #[arg(long)]
        passphrase_stdin: bool,
        /// Allow http:// to a hub on another machine (no TLS)
        #[arg(long)]
        allow_http: bool,
    },
    /// This installation's sync state
    Status,
    /// Push and pull once now
    Now,
    /// Concurrent edits the hub recorded, with the values that lost
    Conflicts,
    /// Put back the value that lost a conflict (it syncs as a new edit)
    Restore { id: i64 },
    /// End this installation's link (its configuration stays)
    Unlink,
}

/// Runs a `sync` command on the installation in `data_dir`.
pub(crate) fn sync(data_dir: &Path, command: SyncCommand, output: Output) -> Result<()> {
    let call = |operation| dashboard::call_value(data_dir, operation);
    match command {
        SyncCommand::Pair => {
            let code: PairingCodeView =
                serde_json::from_value(call(Operation::SyncPairingCode {})?)?;
            output.print(&code, || {
                format!(
                    "{}\n(one use, until {}; on the device: switchyard sync link <this hub's URL> {})",
                    code.code,
                    when(code.expires_at),
                    code.code
                )
            })
        }
        SyncCommand::Devices => {
            let view: SyncView = serde_json::from_value(call(Operation::SyncStatus {})?)?;
            output.print(&view.devices, || devices_text(&view.devices))
        }
        SyncCommand::Revoke { device } => {
            let id = call(Operation::SyncRevokeDevice { device })?;
            output.print(&id, || {
                format!("revoked {}", id.as_str().unwrap_or_default())
            })
        }
        SyncCommand::Link {
            url,
            code,
            name,
            passphrase_stdin,
            allow_http,
        } => {
            let passphrase = if passphrase_stdin {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("cannot read the passphrase from standard input")?;
                Some(text.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let status: SyncDeviceStatus = serde_json::from_value(call(Operation::SyncLink {
                hub_url: url,
                code,
                device_name: name,
                passphrase,
                allow_http,
            })?)?;
            output.print(&status, || {
                format!(
                    "linked to {} as {}{}; `switchyard serve` (or the desktop app) keeps this installation in step",
                    status.hub_url.as_deref().unwrap_or_default(),
                    status.device_name.as_deref().unwrap_or_default(),
                    if status.e2e { ", sealed end to end" } else { "" }
                )
            })
        }
        SyncCommand::Status => {
            let view: SyncView = serde_json::from_value(call(Operation::SyncStatus {})?)?;
            output.print(&view, || status_text(&view))
        }
        SyncCommand::Now => {
            let report = call(Operation::SyncNow {})?;
            output.print(&report, || {
                format!(
                    "pushed {}, applied {}, conflicts {}",
                    report["pushed"], report["applied"], report["conflicts"]
                )
            })
        }
        SyncCommand::Conflicts => {
            let conflicts: Vec<SyncConflictView> =
                serde_json::from_value(call(Operation::SyncConflicts {})?)?;
            output.print(&conflicts, || {
                if conflicts.is_empty() {
                    return "no conflicts".into();
                }
                conflicts
                    .iter()
                    .map(|conflict| {
                        format!(
                            "{:>4}  {} {}: {} stands over {} ({}){}",
                            conflict.id,
                            conflict.kind,
                            conflict.name,
                            conflict.winner_device,
                            conflict.loser_device,
                            when(conflict.at),
                            if conflict.resolved_at.is_some() {
                                ", resolved"
                            } else {
                                "; `switchyard sync restore <id>` puts the other value back"
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        SyncCommand::Restore { id } => {
            let record: Value = call(Operation::SyncRestore { id })?;
            output.print(&record, || {
                format!(
                    "restored {}; it syncs to the other devices as a new edit",
                    record.as_str().unwrap_or_default()
                )
            })
        }
        SyncCommand::Unlink => {
            let removed = call(Operation::SyncUnlink {})?;
            output.print(&removed, || {
                if removed.as_bool() == Some(true) {
                    "unlinked; the configuration stays as it is".into()
                } else {
                    "this installation was not linked".into()
                }
            })
        }
    }
}

fn status_text(view: &SyncView) -> String {
    let device = &view.device;
    let mut lines = Vec::new();
    if device.linked {
        lines.push(format!(
            "linked to {} as {} ({}){}",
            device.hub_url.as_deref().unwrap_or_default(),
            device.device_name.as_deref().unwrap_or_default(),
            device.device_id.as_deref().unwrap_or_default(),
            if device.e2e {
                ", sealed end to end"
            } else {
                ""
            }
        ));
        lines.push(format!(
            "state: {}; last sync: {}",
            device.state,
            device.last_sync_at.map_or_else(|| "never".into(), when)
        ));
        if let Some(error) = &device.last_error {
            lines.push(format!("last error: {error}"));
        }
        if device.open_conflicts > 0 {
            lines.push(format!(
                "{} open conflict(s): `switchyard sync conflicts`",
                device.open_conflicts
            ));
        }
    } else {
        lines.push("not linked to a hub".into());
    }
    if !view.devices.is_empty() {
        lines.push(format!(
            "as a hub{}:",
            if view.hub_e2e { " (end to end)" } else { "" }
        ));
        lines.push(devices_text(&view.devices));
    }
    lines.join("\n")
}

fn devices_text(devices: &[LinkedDeviceView]) -> String {
    if devices.is_empty() {
        return "no linked devices; make a code with `switchyard sync pair`".into();
    }
    devices
        .iter()
        .map(|device| {
            format!(
                "{}  {}  last seen {}  {} requests, ${:.4}{}",
                device.id,
                device.name,
                device.last_seen_at.map_or_else(|| "never".into(), when),
                device.requests,
                device.cost_usd,
                if device.revoked_at.is_some() {
                    "  (revoked)"
                } else {
                    ""
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
