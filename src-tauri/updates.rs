//! Signed self-updates through tauri-plugin-updater: the release feed
//! (`latest.json`, endpoint and public key in `tauri.conf.json`) is asked at
//! start and every six hours unless the `check_updates` setting is off; an
//! available update raises a notification, and is downloaded, verified
//! against the public key and installed only when the user asks (tray or
//! Settings), with progress sent to the dashboard as `update-status`.

use std::sync::Mutex;
use std::time::Duration;

use switchyard_api_types::{UpdateState, UpdateStatusView};
use switchyard_store::now_millis;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_updater::{Update, UpdaterExt};

use crate::notices;
use crate::state::{DesktopState, Notice};

/// Wait after start before the first check, so it never slows the launch.
const FIRST_CHECK_AFTER: Duration = Duration::from_secs(30);
/// Time between two checks.
const CHECK_EVERY: Duration = Duration::from_secs(6 * 3600);

/// The update status and the update waiting for the user's consent.
pub(crate) struct Updates {
    status: Mutex<UpdateStatusView>,
    pending: Mutex<Option<Update>>,
}

impl Updates {
    /// Nothing checked yet; `current_version` is the running app's.
    pub(crate) fn new(current_version: String) -> Self {
        Self {
            status: Mutex::new(UpdateStatusView {
                current_version,
                state: UpdateState::Idle,
                checked_at: None,
            }),
            pending: Mutex::new(None),
        }
    }

    /// The status now.
    pub(crate) fn status(&self) -> UpdateStatusView {
        lock(&self.status).clone()
    }

    /// The version waiting for the user's consent, if any.
    pub(crate) fn available_version(&self) -> Option<String> {
        match &lock(&self.status).state {
            UpdateState::Available { version, .. } => Some(version.clone()),
            _ => None,
        }
    }
}

/// Registers [`Updates`] and starts the periodic check.
pub(crate) fn watch<R: Runtime>(app: &AppHandle<R>) {
    app.manage(Updates::new(app.package_info().version.to_string()));
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(FIRST_CHECK_AFTER).await;
        loop {
            if handle.state::<DesktopState>().update_checks_enabled() {
                check(&handle).await;
            }
            tokio::time::sleep(CHECK_EVERY).await;
        }
    });
}

/// Asks the release feed for a newer signed version; notifies when one is
/// new. Failures (no network, a bad feed) become a `failed` status.
pub(crate) async fn check<R: Runtime>(app: &AppHandle<R>) -> UpdateStatusView {
    let updates = app.state::<Updates>();
    if matches!(
        updates.status().state,
        UpdateState::Checking | UpdateState::Downloading { .. } | UpdateState::Installed { .. }
    ) {
        return updates.status();
    }
    let was_available = updates.available_version();
    set_state(app, UpdateState::Checking, false);
    let found = match app.updater() {
        Ok(updater) => updater.check().await,
        Err(error) => Err(error),
    };
    let state = match found {
        Ok(Some(update)) => {
            let state = UpdateState::Available {
                version: update.version.clone(),
                notes: update.body.clone(),
            };
            if was_available.as_deref() != Some(update.version.as_str()) {
                notices::notify(
                    app,
                    Notice::Update,
                    "Switchyard update available",
                    &format!(
                        "Version {} is ready to install from the tray or Settings.",
                        update.version
                    ),
                );
            }
            *lock(&updates.pending) = Some(update);
            state
        }
        Ok(None) => {
            *lock(&updates.pending) = None;
            UpdateState::UpToDate
        }
        Err(error) => {
            tracing::warn!(%error, "update check failed");
            UpdateState::Failed {
                message: format!("could not check for updates: {error}"),
            }
        }
    };
    set_state(app, state, true);
    updates.status()
}

/// Downloads, verifies and installs the update the last check found, then
/// restarts into it (the restart drains open requests like Quit does).
pub(crate) async fn install<R: Runtime>(app: &AppHandle<R>) -> Result<(), String> {
    let updates = app.state::<Updates>();
    let Some(update) = lock(&updates.pending).take() else {
        return Err("there is no update to install; check for updates first".into());
    };
    let version = update.version.clone();
    set_state(
        app,
        UpdateState::Downloading {
            version: version.clone(),
            percent: Some(0),
        },
        false,
    );
    let mut received: u64 = 0;
    let mut last_percent = None;
    let progress_app = app.clone();
    let progress_version = version.clone();
    let result = update
        .download_and_install(
            move |chunk, total| {
                received += chunk as u64;
                let percent = total
                    .filter(|total| *total > 0)
                    .map(|total| (received.min(total) * 100 / total) as u8);
                if percent != last_percent {
                    last_percent = percent;
                    set_state(
                        &progress_app,
                        UpdateState::Downloading {
                            version: progress_version.clone(),
                            percent,
                        },
                        false,
                    );
                }
            },
            || {},
        )
        .await;
    match result {
        Ok(()) => {
            set_state(app, UpdateState::Installed { version }, false);
            app.restart();
        }
        Err(error) => {
            let message = format!("the update to {version} was not installed: {error}");
            tracing::warn!(%message);
            set_state(
                app,
                UpdateState::Failed {
                    message: message.clone(),
                },
                false,
            );
            Err(message)
        }
    }
}

fn set_state<R: Runtime>(app: &AppHandle<R>, state: UpdateState, checked: bool) {
    let updates = app.state::<Updates>();
    let status = {
        let mut status = lock(&updates.status);
        status.state = state;
        if checked {
            status.checked_at = Some(now_millis());
        }
        status.clone()
    };
    // The tray listens for this event too (and rebuilds its menu).
    let _ = app.emit("update-status", status);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    //! The updater as the app configures it, against a release feed served
    //! on loopback: a correctly signed package is accepted, a tampered one,
    //! one signed by another key, and one whose signature names another
    //! version are refused.

    use std::io::Cursor;

    use axum::Router;
    use axum::routing::get;
    use base64::Engine;
    use minisign::KeyPair;
    use serde_json::json;
    use tauri_plugin_updater::UpdaterExt;

    const PACKAGE: &[u8] = b"pretend this is Switchyard 0.2.0's AppImage";
    const TARGET: &str = "test-target";

    fn base64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    /// The signature as `tauri signer sign` writes it: a minisign signature
    /// whose trusted comment records the version, base64-encoded.
    fn sign(keys: &KeyPair, bytes: &[u8], version: &str) -> String {
        let comment = format!("timestamp:1763900000\tfile:switchyard.AppImage\tversion:{version}");
        let signature = minisign::sign(
            Some(&keys.pk),
            &keys.sk,
            Cursor::new(bytes),
            Some(&comment),
            None,
        )
        .unwrap();
        base64(&signature.to_string())
    }

    /// Serves `latest.json` announcing 0.2.0 with `signature`, and `package`.
    async fn serve_feed(signature: String, package: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let manifest = json!({
            "version": "0.2.0",
            "notes": "Faster streaming",
            "pub_date": "2026-11-23T12:00:00Z",
            "platforms": {
                TARGET: {"signature": signature, "url": format!("{base}/switchyard.AppImage")}
            }
        });
        let app = Router::new()
            .route(
                "/latest.json",
                get(move || {
                    let manifest = manifest.clone();
                    async move { axum::Json(manifest) }
                }),
            )
            .route(
                "/switchyard.AppImage",
                get(move || {
                    let package = package.clone();
                    async move { package }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("{base}/latest.json")
    }

    /// Runs the app's updater (plugin configured as in `tauri.conf.json`,
    /// public key replaced by the test's) against the feed; returns the
    /// announced version and the outcome of download + verification.
    async fn fetch_update(
        trusted: &KeyPair,
        signature: String,
        package: Vec<u8>,
    ) -> (String, Result<Vec<u8>, String>) {
        let feed = serve_feed(signature, package).await;
        let mut context = tauri::test::mock_context(tauri::test::noop_assets());
        let configured: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
        let mut updater_config = configured["plugins"]["updater"].clone();
        updater_config["pubkey"] = json!(base64(&trusted.pk.to_box().unwrap().to_string()));
        updater_config["endpoints"] = json!([feed]);
        // The test feed is plain HTTP on loopback; the app's own endpoints
        // are HTTPS (checked below) and this flag is not in its config.
        updater_config["dangerousInsecureTransportProtocol"] = json!(true);
        context
            .config_mut()
            .plugins
            .0
            .insert("updater".into(), updater_config);
        let app = tauri::test::mock_builder()
            .plugin(tauri_plugin_updater::Builder::new().build())
            .build(context)
            .unwrap();
        let update = app
            .updater_builder()
            .target(TARGET)
            .build()
            .unwrap()
            .check()
            .await
            .unwrap()
            .expect("0.2.0 is newer than the test app's 0.1.0");
        let version = update.version.clone();
        let downloaded = update
            .download(|_, _| {}, || {})
            .await
            .map_err(|error| error.to_string());
        (version, downloaded)
    }

    #[tokio::test]
    async fn a_correctly_signed_update_is_accepted() {
        let keys = KeyPair::generate_unencrypted_keypair().unwrap();
        let signature = sign(&keys, PACKAGE, "0.2.0");
        let (version, downloaded) = fetch_update(&keys, signature, PACKAGE.to_vec()).await;
        assert_eq!(version, "0.2.0");
        assert_eq!(downloaded.unwrap(), PACKAGE);
    }

    #[tokio::test]
    async fn a_tampered_package_is_refused() {
        let keys = KeyPair::generate_unencrypted_keypair().unwrap();
        let signature = sign(&keys, PACKAGE, "0.2.0");
        let mut tampered = PACKAGE.to_vec();
        tampered[0] ^= 1;
        let (_, downloaded) = fetch_update(&keys, signature, tampered).await;
        let error = downloaded.unwrap_err();
        assert!(error.to_lowercase().contains("signature"), "{error}");
    }

    #[tokio::test]
    async fn a_package_signed_by_another_key_is_refused() {
        let trusted = KeyPair::generate_unencrypted_keypair().unwrap();
        let other = KeyPair::generate_unencrypted_keypair().unwrap();
        let signature = sign(&other, PACKAGE, "0.2.0");
        let (_, downloaded) = fetch_update(&trusted, signature, PACKAGE.to_vec()).await;
        assert!(downloaded.is_err());
    }

    #[tokio::test]
    async fn a_signature_for_another_version_is_refused() {
        // The feed is not signed: an old, validly signed package announced
        // as a new version must not pass (requireSignedVersion).
        let keys = KeyPair::generate_unencrypted_keypair().unwrap();
        let signature = sign(&keys, PACKAGE, "0.1.5");
        let (_, downloaded) = fetch_update(&keys, signature, PACKAGE.to_vec()).await;
        let error = downloaded.unwrap_err();
        assert!(
            error.contains("0.1.5") || error.contains("version"),
            "{error}"
        );
    }

    #[test]
    fn the_configured_public_key_is_a_minisign_key() {
        let configured: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
        let encoded = configured["plugins"]["updater"]["pubkey"].as_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        minisign::PublicKeyBox::from_string(std::str::from_utf8(&decoded).unwrap())
            .unwrap()
            .into_public_key()
            .unwrap();
        let endpoints = configured["plugins"]["updater"]["endpoints"]
            .as_array()
            .unwrap();
        assert!(
            endpoints
                .iter()
                .all(|e| e.as_str().unwrap().starts_with("https://"))
        );
    }
}
