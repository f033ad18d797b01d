//! The tray menu as data: live state in ([`TraySnapshot`]), menu entries out
//! ([`tray_entries`]). Pure, so it is tested without a display; the real
//! tray (`tray.rs`) rebuilds itself only when these entries change.

use switchyard_api_types::GatewayState;

/// What the tray shows, read from the app's state.
#[derive(Debug, Clone, PartialEq)]
pub struct TraySnapshot {
    /// The `/v1` URL clients use.
    pub endpoint_url: String,
    /// The embedded gateway's state.
    pub gateway: GatewayState,
    /// Requests recorded since midnight (UTC).
    pub requests_today: u64,
    /// What they cost, USD.
    pub cost_today_usd: f64,
    /// Every account of every provider.
    pub accounts: Vec<TrayAccount>,
    /// Combos by name.
    pub combos: Vec<String>,
    /// The `default_model` setting: where unknown model names go.
    pub default_model: Option<String>,
    /// Whether the app starts at login; `None` when it cannot be told.
    pub launch_at_login: Option<bool>,
    /// The version of an update waiting for the user's consent.
    pub update_available: Option<String>,
    /// A line on an update under way, such as `Downloading update 0.2.0: 42%`.
    pub update_note: Option<String>,
    /// Sync with a hub, when this installation is linked to one.
    pub sync: Option<TraySync>,
}

/// Sync as the tray shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraySync {
    /// `synced`, `syncing`, `offline`, `conflict`, `revoked` or `error`.
    pub state: String,
    /// When a round last completed, as local time (`14:03`).
    pub last_sync: Option<String>,
    /// Conflicts the hub holds open.
    pub open_conflicts: i64,
}

/// The tray's sync line, such as `Sync: synced 14:03`.
pub fn sync_line(sync: &TraySync) -> String {
    let at = sync
        .last_sync
        .as_deref()
        .map(|at| format!(" (last {at})"))
        .unwrap_or_default();
    match sync.state.as_str() {
        "synced" => format!(
            "Sync: synced{}",
            sync.last_sync
                .as_deref()
                .map(|at| format!(" {at}"))
                .unwrap_or_default()
        ),
        "conflict" => format!(
            "Sync: {} conflict{} to review",
            sync.open_conflicts,
            if sync.open_conflicts == 1 { "" } else { "s" }
        ),
        "revoked" => "Sync: this device was revoked by the hub".into(),
        "offline" => format!("Sync: hub offline{at}"),
        "syncing" => "Sync: syncing…".into(),
        other => format!("Sync: {other}{at}"),
    }
}

/// The look of the tray icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayLook {
    /// The gateway serves requests: the plain icon.
    Running,
    /// Paused or starting: a grey badge.
    Paused,
    /// Stopped on an error, or an account needs a new login: a red badge.
    Error,
}

impl TrayLook {
    /// The badge colour drawn on the icon (RGBA), if any.
    pub fn badge(self) -> Option<[u8; 4]> {
        match self {
            Self::Running => None,
            Self::Paused => Some([0x8a, 0x8f, 0x98, 0xff]),
            Self::Error => Some([0xd9, 0x34, 0x2b, 0xff]),
        }
    }
}

/// How the icon looks for `snapshot`.
pub fn tray_look(snapshot: &TraySnapshot) -> TrayLook {
    match snapshot.gateway {
        GatewayState::Failed { .. } => TrayLook::Error,
        GatewayState::Starting | GatewayState::Stopped => TrayLook::Paused,
        GatewayState::Running
            if snapshot
                .accounts
                .iter()
                .any(|a| a.enabled && a.status.starts_with("needs re-login")) =>
        {
            TrayLook::Error
        }
        GatewayState::Running => TrayLook::Running,
    }
}

/// `rgba` (a `width`-pixel-wide icon) with a round badge of `color` in its
/// lower-right corner, ringed in white so it reads on dark and light bars.
pub fn with_badge(rgba: &[u8], width: u32, color: [u8; 4]) -> Vec<u8> {
    let mut out = rgba.to_vec();
    let size = width as f32;
    let height = (rgba.len() / 4) as u32 / width.max(1);
    let radius = size * 0.22;
    let (cx, cy) = (size - radius - 0.5, height as f32 - radius - 0.5);
    for y in 0..height {
        for x in 0..width {
            let distance = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            let pixel = ((y * width + x) * 4) as usize;
            if distance <= radius * 0.72 {
                out[pixel..pixel + 4].copy_from_slice(&color);
            } else if distance <= radius {
                out[pixel..pixel + 4].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
            }
        }
    }
    out
}

/// One account in the tray.
#[derive(Debug, Clone, PartialEq)]
pub struct TrayAccount {
    /// Database id.
    pub id: i64,
    /// `Provider/label`.
    pub name: String,
    /// Whether routing may use it.
    pub enabled: bool,
    /// A few words: `ok`, `cooling down until 14:05`, `needs re-login`.
    pub status: String,
    /// Its quota windows, e.g. `five_hour 42% used, resets in 2h 13m`.
    pub quotas: Vec<String>,
    /// Set when a window is 90% used or more, e.g. `five_hour 92% used`.
    pub quota_alert: Option<String>,
}

/// What a tray item does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayAction {
    /// Show and focus the dashboard window.
    OpenDashboard,
    /// Put the `/v1` endpoint URL on the clipboard.
    CopyEndpointUrl,
    /// Put an API key on the clipboard.
    CopyApiKey,
    /// Ask the release feed for an update now.
    CheckForUpdates,
    /// Download, verify and install the available update, then restart.
    InstallUpdate,
    /// Stop or restart the gateway.
    PauseResume,
    /// Enable or disable an account.
    ToggleAccount(i64),
    /// Make the combo at this index of the snapshot's combos the default
    /// (or, if it already is, stop having a default).
    DefaultCombo(usize),
    /// Turn launching at login on or off.
    ToggleLaunchAtLogin,
    /// Stop the gateway and leave.
    Quit,
}

impl TrayAction {
    /// Menu item id of this action.
    pub fn id(self) -> String {
        match self {
            Self::OpenDashboard => "open-dashboard".into(),
            Self::CopyEndpointUrl => "copy-endpoint-url".into(),
            Self::CopyApiKey => "copy-api-key".into(),
            Self::CheckForUpdates => "check-for-updates".into(),
            Self::InstallUpdate => "install-update".into(),
            Self::PauseResume => "pause-resume".into(),
            Self::ToggleAccount(id) => format!("account:{id}"),
            Self::DefaultCombo(index) => format!("default-combo:{index}"),
            Self::ToggleLaunchAtLogin => "launch-at-login".into(),
            Self::Quit => "quit".into(),
        }
    }

    /// The action a menu item id stands for.
    pub fn from_id(id: &str) -> Option<Self> {
        if let Some(account) = id.strip_prefix("account:") {
            return account.parse().ok().map(Self::ToggleAccount);
        }
        if let Some(index) = id.strip_prefix("default-combo:") {
            return index.parse().ok().map(Self::DefaultCombo);
        }
        [
            Self::OpenDashboard,
            Self::CopyEndpointUrl,
            Self::CopyApiKey,
            Self::CheckForUpdates,
            Self::InstallUpdate,
            Self::PauseResume,
            Self::ToggleLaunchAtLogin,
            Self::Quit,
        ]
        .into_iter()
        .find(|action| action.id() == id)
    }
}

/// One line of the tray menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayEntry {
    /// Text that cannot be clicked.
    Label(String),
    /// A clickable item.
    Item {
        /// What clicking does.
        action: TrayAction,
        /// The text shown.
        label: String,
    },
    /// An item with a check mark.
    Check {
        /// What clicking does.
        action: TrayAction,
        /// The text shown.
        label: String,
        /// Whether it is checked.
        checked: bool,
    },
    /// A submenu.
    Submenu {
        /// Its title.
        label: String,
        /// Its entries.
        entries: Vec<TrayEntry>,
    },
    /// A separator line.
    Separator,
}

/// The tray icon's tooltip for the gateway state.
pub fn tooltip(snapshot: &TraySnapshot) -> String {
    match &snapshot.gateway {
        GatewayState::Running => format!("Switchyard: running on {}", snapshot.endpoint_url),
        GatewayState::Starting => "Switchyard: starting".into(),
        GatewayState::Stopped => "Switchyard: paused".into(),
        GatewayState::Failed { message } => format!("Switchyard: stopped: {message}"),
    }
}

/// The tray menu for `snapshot`.
pub fn tray_entries(snapshot: &TraySnapshot) -> Vec<TrayEntry> {
    let state = match &snapshot.gateway {
        GatewayState::Running => "running",
        GatewayState::Starting => "starting",
        GatewayState::Stopped => "paused",
        GatewayState::Failed { .. } => "stopped on an error",
    };
    let mut entries = vec![
        TrayEntry::Label(format!("Switchyard {state} · {}", snapshot.endpoint_url)),
        TrayEntry::Label(format!(
            "Today: {} requests · ${:.2}",
            snapshot.requests_today, snapshot.cost_today_usd
        )),
    ];
    if let Some(sync) = &snapshot.sync {
        entries.push(TrayEntry::Label(sync_line(sync)));
    }
    entries.push(TrayEntry::Separator);
    if snapshot.accounts.is_empty() {
        entries.push(TrayEntry::Label("No accounts yet".into()));
    }
    for account in &snapshot.accounts {
        entries.push(TrayEntry::Check {
            action: TrayAction::ToggleAccount(account.id),
            label: format!("{} ({})", account.name, account.status),
            checked: account.enabled,
        });
    }
    let quotas: Vec<TrayEntry> = snapshot
        .accounts
        .iter()
        .flat_map(|account| {
            account
                .quotas
                .iter()
                .map(move |quota| TrayEntry::Label(format!("{}: {quota}", account.name)))
        })
        .collect();
    if !quotas.is_empty() {
        entries.push(TrayEntry::Submenu {
            label: "Quota".into(),
            entries: quotas,
        });
    }
    if !snapshot.combos.is_empty() {
        let mut combos = vec![TrayEntry::Label("Default for unknown model names:".into())];
        combos.extend(
            snapshot
                .combos
                .iter()
                .enumerate()
                .map(|(index, combo)| TrayEntry::Check {
                    action: TrayAction::DefaultCombo(index),
                    label: combo.clone(),
                    checked: snapshot.default_model.as_ref() == Some(combo),
                }),
        );
        entries.push(TrayEntry::Submenu {
            label: "Combos".into(),
            entries: combos,
        });
    }
    entries.push(TrayEntry::Separator);
    entries.push(TrayEntry::Item {
        action: TrayAction::CopyEndpointUrl,
        label: "Copy endpoint URL".into(),
    });
    entries.push(TrayEntry::Item {
        action: TrayAction::CopyApiKey,
        label: "Copy API key".into(),
    });
    entries.push(TrayEntry::Item {
        action: TrayAction::OpenDashboard,
        label: "Open dashboard".into(),
    });
    let pause = match snapshot.gateway {
        GatewayState::Running => Some("Pause gateway"),
        GatewayState::Stopped | GatewayState::Failed { .. } => Some("Resume gateway"),
        GatewayState::Starting => None,
    };
    if let Some(label) = pause {
        entries.push(TrayEntry::Item {
            action: TrayAction::PauseResume,
            label: label.into(),
        });
    }
    if let Some(checked) = snapshot.launch_at_login {
        entries.push(TrayEntry::Check {
            action: TrayAction::ToggleLaunchAtLogin,
            label: "Launch at login".into(),
            checked,
        });
    }
    if let Some(note) = &snapshot.update_note {
        entries.push(TrayEntry::Label(note.clone()));
    } else if let Some(version) = &snapshot.update_available {
        entries.push(TrayEntry::Item {
            action: TrayAction::InstallUpdate,
            label: format!("Install update {version} and restart"),
        });
    } else {
        entries.push(TrayEntry::Item {
            action: TrayAction::CheckForUpdates,
            label: "Check for updates".into(),
        });
    }
    entries.push(TrayEntry::Separator);
    entries.push(TrayEntry::Item {
        action: TrayAction::Quit,
        label: "Quit Switchyard".into(),
    });
    entries
}

/// The menu as text lines, as the dashboard's tray preview shows it (for
/// desktops without a tray): `[x]` checked, `[ ]` unchecked, submenu
/// entries indented, separators as `---`.
pub fn menu_lines(entries: &[TrayEntry]) -> Vec<String> {
    fn walk(entries: &[TrayEntry], indent: &str, lines: &mut Vec<String>) {
        for entry in entries {
            match entry {
                TrayEntry::Label(text) | TrayEntry::Item { label: text, .. } => {
                    lines.push(format!("{indent}{text}"));
                }
                TrayEntry::Check { label, checked, .. } => {
                    let mark = if *checked { "[x]" } else { "[ ]" };
                    lines.push(format!("{indent}{mark} {label}"));
                }
                TrayEntry::Submenu { label, entries } => {
                    lines.push(format!("{indent}{label} ▸"));
                    walk(entries, &format!("{indent}    "), lines);
                }
                TrayEntry::Separator => lines.push(format!("{indent}---")),
            }
        }
    }
    let mut lines = Vec::new();
    walk(entries, "", &mut lines);
    lines
}

/// `in 2h 13m`, `in 5m`, `now`: how long until `at` (Unix ms) from `now`.
pub fn time_until(at: i64, now: i64) -> String {
    let minutes = (at - now).max(0) / 60_000;
    match (minutes / 60, minutes % 60) {
        (0, 0) => "now".into(),
        (0, m) => format!("in {m}m"),
        (h, m) if h < 48 => format!("in {h}h {m}m"),
        (h, _) => format!("in {}d", h / 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> TraySnapshot {
        TraySnapshot {
            endpoint_url: "http://127.0.0.1:20128/v1".into(),
            gateway: GatewayState::Running,
            requests_today: 12,
            cost_today_usd: 0.4567,
            accounts: vec![
                TrayAccount {
                    id: 1,
                    name: "Claude Code/me@example.com".into(),
                    enabled: true,
                    status: "ok".into(),
                    quotas: vec!["five_hour 42% used, resets in 2h 13m".into()],
                    quota_alert: None,
                },
                TrayAccount {
                    id: 2,
                    name: "OpenAI/default".into(),
                    enabled: false,
                    status: "off".into(),
                    quotas: vec![],
                    quota_alert: None,
                },
            ],
            combos: vec!["coding".into(), "cheap".into()],
            default_model: Some("coding".into()),
            launch_at_login: Some(true),
            update_available: None,
            update_note: None,
            sync: None,
        }
    }

    #[test]
    fn the_menu_follows_the_state() {
        let entries = tray_entries(&snapshot());
        assert_eq!(
            entries[0],
            TrayEntry::Label("Switchyard running · http://127.0.0.1:20128/v1".into())
        );
        assert_eq!(
            entries[1],
            TrayEntry::Label("Today: 12 requests · $0.46".into())
        );
        assert!(entries.contains(&TrayEntry::Check {
            action: TrayAction::ToggleAccount(2),
            label: "OpenAI/default (off)".into(),
            checked: false
        }));
        assert!(entries.contains(&TrayEntry::Submenu {
            label: "Quota".into(),
            entries: vec![TrayEntry::Label(
                "Claude Code/me@example.com: five_hour 42% used, resets in 2h 13m".into()
            )]
        }));
        assert!(entries.contains(&TrayEntry::Item {
            action: TrayAction::PauseResume,
            label: "Pause gateway".into()
        }));
        assert!(entries.contains(&TrayEntry::Check {
            action: TrayAction::ToggleLaunchAtLogin,
            label: "Launch at login".into(),
            checked: true
        }));
        assert_eq!(
            entries.last(),
            Some(&TrayEntry::Item {
                action: TrayAction::Quit,
                label: "Quit Switchyard".into()
            })
        );

        let mut paused = snapshot();
        paused.gateway = GatewayState::Stopped;
        paused.launch_at_login = None;
        paused.accounts.clear();
        let entries = tray_entries(&paused);
        assert!(entries.contains(&TrayEntry::Item {
            action: TrayAction::PauseResume,
            label: "Resume gateway".into()
        }));
        assert!(entries.contains(&TrayEntry::Label("No accounts yet".into())));
        assert!(!entries.iter().any(|e| matches!(
            e,
            TrayEntry::Check {
                action: TrayAction::ToggleLaunchAtLogin,
                ..
            }
        )));
        assert_eq!(tooltip(&paused), "Switchyard: paused");
    }

    #[test]
    fn copy_key_and_updates_are_in_the_menu() {
        let entries = tray_entries(&snapshot());
        for (action, label) in [
            (TrayAction::CopyEndpointUrl, "Copy endpoint URL"),
            (TrayAction::CopyApiKey, "Copy API key"),
            (TrayAction::CheckForUpdates, "Check for updates"),
        ] {
            assert!(entries.contains(&TrayEntry::Item {
                action,
                label: label.into()
            }));
        }
        let mut ready = snapshot();
        ready.update_available = Some("0.2.0".into());
        let entries = tray_entries(&ready);
        assert!(entries.contains(&TrayEntry::Item {
            action: TrayAction::InstallUpdate,
            label: "Install update 0.2.0 and restart".into()
        }));
        assert!(!entries.iter().any(|e| matches!(
            e,
            TrayEntry::Item {
                action: TrayAction::CheckForUpdates,
                ..
            }
        )));
        ready.update_note = Some("Downloading update 0.2.0: 42%".into());
        let entries = tray_entries(&ready);
        assert!(entries.contains(&TrayEntry::Label("Downloading update 0.2.0: 42%".into())));
        assert!(!entries.iter().any(|e| matches!(
            e,
            TrayEntry::Item {
                action: TrayAction::InstallUpdate,
                ..
            }
        )));
    }

    #[test]
    fn the_icon_shows_the_gateway_state() {
        let mut current = snapshot();
        assert_eq!(tray_look(&current), TrayLook::Running);
        current.accounts[0].status = "needs re-login".into();
        assert_eq!(tray_look(&current), TrayLook::Error);
        current.accounts[0].enabled = false;
        assert_eq!(tray_look(&current), TrayLook::Running);
        current.gateway = GatewayState::Stopped;
        assert_eq!(tray_look(&current), TrayLook::Paused);
        current.gateway = GatewayState::Failed {
            message: "port in use".into(),
        };
        assert_eq!(tray_look(&current), TrayLook::Error);
        assert_eq!(TrayLook::Running.badge(), None);
    }

    #[test]
    fn a_badge_marks_the_lower_right_corner_only() {
        let blank = vec![0u8; 32 * 32 * 4];
        let red = TrayLook::Error.badge().unwrap();
        let badged = with_badge(&blank, 32, red);
        let pixel = |x: usize, y: usize| &badged[(y * 32 + x) * 4..(y * 32 + x) * 4 + 4];
        assert_eq!(pixel(0, 0), [0, 0, 0, 0]);
        assert_eq!(pixel(31, 0), [0, 0, 0, 0]);
        assert_eq!(pixel(25, 25), red);
        assert_eq!(badged.len(), blank.len());
    }

    #[test]
    fn the_default_combo_is_marked() {
        let entries = tray_entries(&snapshot());
        assert!(entries.contains(&TrayEntry::Submenu {
            label: "Combos".into(),
            entries: vec![
                TrayEntry::Label("Default for unknown model names:".into()),
                TrayEntry::Check {
                    action: TrayAction::DefaultCombo(0),
                    label: "coding".into(),
                    checked: true
                },
                TrayEntry::Check {
                    action: TrayAction::DefaultCombo(1),
                    label: "cheap".into(),
                    checked: false
                },
            ]
        }));
    }

    #[test]
    fn the_menu_reads_as_text() {
        let lines = menu_lines(&tray_entries(&snapshot()));
        assert!(lines.contains(&"[x] Claude Code/me@example.com (ok)".to_owned()));
        assert!(lines.contains(&"[ ] OpenAI/default (off)".to_owned()));
        assert!(lines.contains(&"Quota ▸".to_owned()));
        assert!(lines.contains(
            &"    Claude Code/me@example.com: five_hour 42% used, resets in 2h 13m".to_owned()
        ));
        assert_eq!(lines.last().map(String::as_str), Some("Quit Switchyard"));
    }

    #[test]
    fn ids_map_back_to_actions() {
        for action in [
            TrayAction::OpenDashboard,
            TrayAction::CopyEndpointUrl,
            TrayAction::CopyApiKey,
            TrayAction::CheckForUpdates,
            TrayAction::InstallUpdate,
            TrayAction::PauseResume,
            TrayAction::ToggleAccount(42),
            TrayAction::DefaultCombo(3),
            TrayAction::ToggleLaunchAtLogin,
            TrayAction::Quit,
        ] {
            assert_eq!(TrayAction::from_id(&action.id()), Some(action));
        }
        assert_eq!(TrayAction::from_id("account:x"), None);
        assert_eq!(TrayAction::from_id("other"), None);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(time_until(0, 0), "now");
        assert_eq!(time_until(5 * 60_000, 0), "in 5m");
        assert_eq!(time_until((2 * 60 + 13) * 60_000, 0), "in 2h 13m");
        assert_eq!(time_until(72 * 3_600_000, 0), "in 3d");
    }

    #[test]
    fn the_sync_line_says_the_state_and_when() {
        let mut with_sync = snapshot();
        assert!(
            !tray_entries(&with_sync)
                .iter()
                .any(|entry| matches!(entry, TrayEntry::Label(text) if text.starts_with("Sync")))
        );
        with_sync.sync = Some(TraySync {
            state: "synced".into(),
            last_sync: Some("14:03".into()),
            open_conflicts: 0,
        });
        assert!(tray_entries(&with_sync).contains(&TrayEntry::Label("Sync: synced 14:03".into())));
        let conflict = TraySync {
            state: "conflict".into(),
            last_sync: Some("14:05".into()),
            open_conflicts: 2,
        };
        assert_eq!(sync_line(&conflict), "Sync: 2 conflicts to review");
        let offline = TraySync {
            state: "offline".into(),
            ..conflict
        };
        assert_eq!(sync_line(&offline), "Sync: hub offline (last 14:05)");
    }
}
