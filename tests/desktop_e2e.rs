//! End-to-end test of the real desktop app: the window under Xvfb, driven
//! through tauri-driver and WebKitWebDriver. Run by `cargo xtask test`, which
//! provides the display, D-Bus session and driver; plain `cargo test` skips it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use switchyard_store::{NewProvider, ProviderKind, Store};

/// tauri-driver running on its own ports, ended on drop.
struct Driver {
    process: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts tauri-driver; the app it launches inherits `env`.
fn start_driver(env: &[(&str, String)]) -> Driver {
    let program = std::env::var_os("TAURI_DRIVER").unwrap_or_else(|| "tauri-driver".into());
    let port = free_port();
    let native_port = free_port();
    let mut command = Command::new(program);
    command
        .args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .stdout(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let process = command.spawn().expect("cannot start tauri-driver");
    let driver = Driver { process, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tauri-driver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    driver
}

/// Starts tauri-driver and opens the app. Ports are picked free but can be
/// taken again before WebKitWebDriver binds them, so a failed start is retried
/// on new ports.
async fn launch_app(env: &[(&str, String)]) -> (Driver, Client) {
    let mut last_error = String::new();
    for _ in 0..3 {
        let driver = start_driver(env);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "tauri:options".into(),
            json!({ "application": env!("CARGO_BIN_EXE_switchyard-desktop") }),
        );
        capabilities.insert("browserName".into(), json!("wry"));
        match ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
        {
            Ok(client) => return (driver, client),
            Err(error) => last_error = error.to_string(),
        }
    }
    panic!("cannot open a WebDriver session on the app: {last_error}");
}

/// Polls until the element `css` shows `expected` (the page refreshes itself).
async fn wait_for_text(client: &Client, css: &str, expected: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            if expected(&text) {
                return text;
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    save_screenshot(client, "failure.png").await;
    if let Ok(source) = client.source().await {
        println!("page source at the failure:\n{source}");
    }
    panic!("{css} never showed what was expected; last text: {last:?}");
}

fn screenshot_path(name: &str) -> PathBuf {
    let path = std::env::var_os("SWITCHYARD_E2E_SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/e2e/overview.png"));
    path.with_file_name(name)
}

async fn save_screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("cannot take a screenshot");
    let path = screenshot_path(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, png).unwrap();
    println!("screenshot saved to {}", path.display());
}

#[tokio::test]
#[ignore = "needs a display, D-Bus and tauri-driver: run by `cargo xtask test`"]
async fn overview_shows_the_gateway_and_counts_requests_live() {
    let data_dir = tempfile::tempdir().unwrap();
    let dead_port = free_port();
    let key = {
        let mut store = Store::open_in_dir(data_dir.path()).unwrap();
        store
            .add_provider(&NewProvider {
                name: "Offline".into(),
                kind: ProviderKind::OpenaiCompatible,
                prefix: "off".into(),
                base_url: format!("http://127.0.0.1:{dead_port}/v1"),
                api_key: "sk-offline".into(),
                models: vec!["m".into()],
                enabled: true,
            })
            .unwrap();
        store.create_api_key("e2e").unwrap().key
    };
    let port = free_port();
    let (_driver, client) = launch_app(&[
        ("SWITCHYARD_DATA_DIR", data_dir.path().display().to_string()),
        ("SWITCHYARD_PORT", port.to_string()),
    ])
    .await;

    let address = format!("127.0.0.1:{port}");
    wait_for_text(&client, "#listen-address", |text| text == address).await;
    wait_for_text(&client, "#gateway-state", |text| text == "Running").await;
    wait_for_text(&client, "#providers-count", |text| text == "1").await;
    wait_for_text(&client, "#requests-served", |text| text == "0").await;

    // The gateway inside the app serves real HTTP; the page counts the request.
    let http = switchyard_providers::tls::http_client().build().unwrap();
    let response = http
        .post(format!("http://{address}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "off/m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    wait_for_text(&client, "#requests-served", |text| text == "1").await;
    wait_for_text(&client, "#today-requests", |text| text == "1").await;

    save_screenshot(&client, "overview.png").await;
    // Reported, not asserted (speed is measured, not tested): how long after
    // the page started loading the dashboard was mounted.
    let ready = client
        .execute(
            "return document.documentElement.getAttribute('data-ready-ms')",
            vec![],
        )
        .await
        .unwrap();
    println!("dashboard interactive {ready} ms after the page started loading");
    // Narrow windows stay readable: the sidebar shrinks, tables scroll.
    client.set_window_size(640, 800).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    save_screenshot(&client, "overview-narrow.png").await;
    client.close().await.unwrap();
}

#[tokio::test]
#[ignore = "needs a display, D-Bus and tauri-driver: run by `cargo xtask test`"]
async fn a_taken_port_is_explained_on_the_overview() {
    let data_dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (_driver, client) = launch_app(&[
        ("SWITCHYARD_DATA_DIR", data_dir.path().display().to_string()),
        ("SWITCHYARD_PORT", port.to_string()),
    ])
    .await;

    let message = wait_for_text(&client, "#gateway-error", |text| {
        text.contains("already in use")
    })
    .await;
    assert!(message.contains(&port.to_string()), "{message}");
    wait_for_text(&client, "#gateway-state", |text| text == "Not running").await;
    save_screenshot(&client, "overview-port-taken.png").await;
    client.close().await.unwrap();
    drop(taken);
}

/// An OpenAI-compatible upstream that answers every chat request.
async fn start_mock_upstream() -> String {
    use axum::routing::post;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route(
            "/v1/models",
            axum::routing::get(|headers: axum::http::HeaderMap| async move {
                // Only the real key lists models, as a provider does.
                if headers.get("authorization").and_then(|v| v.to_str().ok())
                    != Some("Bearer sk-e2e-upstream")
                {
                    return Err(axum::http::StatusCode::UNAUTHORIZED);
                }
                Ok(axum::Json(json!({"object": "list", "data": [{"id": "m"}, {"id": "other"}]})))
            }),
        )
        .route(
        "/v1/chat/completions",
        post(|axum::Json(body): axum::Json<serde_json::Value>| async move {
            axum::Json(json!({
                "id": "chatcmpl-e2e", "object": "chat.completion", "created": 1, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
            }))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/v1")
}

async fn type_into(client: &Client, css: &str, text: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("no {css}: {error}"))
        .send_keys(text)
        .await
        .unwrap();
}

async fn click(client: &Client, css: &str) {
    // Pages re-render as live data arrives, so an element found can be
    // replaced before the click lands: find it again and retry a few times.
    let mut last_error = String::new();
    for _ in 0..20 {
        let element = match client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(error) => {
                last_error = error.to_string();
                tokio::time::sleep(Duration::from_millis(150)).await;
                continue;
            }
        };
        // Bring it into view first: WebKitWebDriver refuses clicks below the fold.
        let _ = client
            .execute(
                "arguments[0].scrollIntoView({block: 'center'})",
                vec![serde_json::to_value(&element).unwrap()],
            )
            .await;
        match element.click().await {
            Ok(_) => return,
            Err(error) => last_error = error.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    save_screenshot(client, "failure.png").await;
    panic!("cannot click {css}: {last_error}");
}

#[tokio::test]
#[ignore = "needs a display, D-Bus and tauri-driver: run by `cargo xtask test`"]
async fn a_provider_added_in_the_dashboard_serves_a_request_that_shows_in_the_logs() {
    let data_dir = tempfile::tempdir().unwrap();
    let key = Store::open_in_dir(data_dir.path())
        .unwrap()
        .create_api_key("e2e")
        .unwrap()
        .key;
    let upstream = start_mock_upstream().await;
    let port = free_port();
    let (_driver, client) = launch_app(&[
        ("SWITCHYARD_DATA_DIR", data_dir.path().display().to_string()),
        ("SWITCHYARD_PORT", port.to_string()),
    ])
    .await;
    wait_for_text(&client, "#gateway-state", |text| text == "Running").await;

    click(&client, "#nav-providers").await;
    wait_for_text(&client, "#no-providers", |text| {
        text.contains("No providers")
    })
    .await;
    type_into(&client, "#provider-name", "Mock").await;
    type_into(&client, "#provider-prefix", "mock").await;
    type_into(&client, "#provider-base-url", &upstream).await;
    type_into(&client, "#provider-models", "m").await;
    // A wrong key is checked with the provider before anything is saved.
    type_into(&client, "#provider-api-key", "sk-wrong").await;
    click(&client, "#provider-submit").await;
    wait_for_text(&client, "#provider-add-error", |text| {
        text.contains("refused this key (401)")
    })
    .await;
    client
        .find(Locator::Css("#provider-api-key"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    type_into(&client, "#provider-api-key", "sk-e2e-upstream").await;
    click(&client, "#provider-submit").await;
    wait_for_text(&client, "#provider-added", |text| {
        text == "added Mock (key checked)"
    })
    .await;
    wait_for_text(&client, "#provider-mock .account-status", |text| {
        text == "ok"
    })
    .await;
    // The catalogue fills the form for a built-in provider.
    client
        .find(Locator::Css("#provider-preset"))
        .await
        .unwrap()
        .select_by_value("openrouter")
        .await
        .unwrap();
    let filled = client
        .find(Locator::Css("#provider-base-url"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(filled.contains("openrouter.ai"), "{filled}");
    // The account's key is tested from the window against the provider.
    click(&client, "#provider-mock .account-actions summary").await;
    click(&client, "#provider-mock .account-test").await;
    wait_for_text(&client, "#provider-mock .account-result", |text| {
        text.contains("works: the provider lists 2 models")
    })
    .await;
    save_screenshot(&client, "providers.png").await;

    // The gateway in the app routes to the provider added through the window.
    let response = switchyard_providers::tls::http_client()
        .build()
        .unwrap()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "mock/m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    click(&client, "#nav-logs").await;
    let log = wait_for_text(&client, "#request-log", |text| text.contains("mock/m")).await;
    assert!(log.contains("200"), "{log}");
    // One request opened: its path with the attempt's account and timing.
    click(&client, "#request-log tr.request td").await;
    let detail = wait_for_text(&client, ".detail", |text| text.contains("mock/m")).await;
    assert!(
        detail.contains("(default)") && detail.contains("200 in"),
        "{detail}"
    );
    save_screenshot(&client, "logs.png").await;

    // A combo built in the window, its targets reordered by the buttons.
    click(&client, "#nav-combos").await;
    wait_for_text(&client, "#no-combos", |text| text.contains("No combos")).await;
    type_into(&client, "#combo-name", "coding").await;
    for target in ["mock/m", "mock/other"] {
        type_into(&client, "#combo-new-target", target).await;
        click(&client, "#combo-add-target").await;
    }
    click(&client, "#combo-targets li:nth-child(2) .move-up").await;
    click(&client, "#combo-save").await;
    wait_for_text(&client, "#combo-coding .combo-targets", |text| {
        text == "mock/other → mock/m"
    })
    .await;
    // The default for unknown model names, chosen here, is marked in the
    // tray and takes a request for a name only the client knows.
    click(&client, "#combo-coding .combo-default").await;
    wait_for_text(&client, "#combo-coding .combo-default", |text| {
        text == "Default ✓"
    })
    .await;
    save_screenshot(&client, "combos.png").await;
    let unknown = switchyard_providers::tls::http_client()
        .build()
        .unwrap()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(
            &json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 200);

    // A link handed to a second launch reaches the running app, once, and
    // acts only when the user accepts it; a link carrying a key is refused.
    let env = [
        ("SWITCHYARD_DATA_DIR", data_dir.path().display().to_string()),
        ("SWITCHYARD_PORT", port.to_string()),
    ];
    hand_link_to_second_launch(
        "switchyard://import?kind=combo&name=shared&targets=mock/m,mock/other",
        &env,
    );
    wait_for_text(&client, ".link-banner", |text| {
        text.contains("shares the combo shared")
    })
    .await;
    save_screenshot(&client, "deep-link.png").await;
    let banners = client.find_all(Locator::Css(".link-banner")).await.unwrap();
    assert_eq!(banners.len(), 1, "the link is handled once");
    click(&client, ".link-banner .link-accept").await;
    wait_for_text(&client, "#combo-shared .combo-targets", |text| {
        text == "mock/m → mock/other"
    })
    .await;
    assert!(
        client
            .find_all(Locator::Css(".link-banner"))
            .await
            .unwrap()
            .is_empty()
    );
    hand_link_to_second_launch(
        "switchyard://import?kind=combo&name=x&targets=mock/m&api_key=sk-leak",
        &env,
    );
    let refused = wait_for_text(&client, ".link-refused", |text| {
        text.contains("must not carry keys")
    })
    .await;
    assert!(!refused.contains("sk-leak"), "{refused}");

    click(&client, "#nav-usage").await;
    wait_for_text(&client, "#usage-chart", |_| true).await;
    let usage = wait_for_text(&client, ".usage-table", |text| text.contains("Mock")).await;
    assert!(usage.contains('1'), "{usage}");
    save_screenshot(&client, "usage.png").await;
    click(&client, "#export-daily").await;
    let saved = wait_for_text(&client, "#usage-exported", |text| {
        text.contains("switchyard-usage-daily")
    })
    .await;
    let path = saved.trim_start_matches("Saved").trim();
    let csv = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert!(csv.starts_with("total,bucket_start,requests"), "{csv}");
    assert!(csv.lines().any(|line| line.contains(",2,2,0,0,")), "{csv}");

    // Every name a client can send, searchable, and an alias added here.
    click(&client, "#nav-models").await;
    wait_for_text(&client, "#models", |text| {
        text.contains("mock/m") && text.contains("coding")
    })
    .await;
    type_into(&client, "#alias-name", "fast").await;
    type_into(&client, "#alias-target", "coding").await;
    click(&client, "#add-alias").await;
    wait_for_text(&client, "#models", |text| text.contains("→ coding")).await;
    type_into(&client, "#model-search", "fast").await;
    wait_for_text(&client, "#model-count", |text| text.starts_with("1 ")).await;
    save_screenshot(&client, "models.png").await;

    // A daily limit set from the CLI's side shows as a window with its use.
    {
        let store = Store::open_in_dir(data_dir.path()).unwrap();
        let account = store.find_account("mock/default").unwrap();
        store
            .set_quota_limit(&switchyard_store::QuotaLimit {
                account_id: account.id,
                window: switchyard_store::QuotaWindow::Day,
                metric: switchyard_store::QuotaMetric::Requests,
                max: 10,
            })
            .unwrap();
    }
    click(&client, "#nav-quota").await;
    wait_for_text(&client, "#quota-list", |text| text.contains("2 / 10")).await;
    save_screenshot(&client, "quota.png").await;

    // Keys and settings from the window, with the app's own checks.
    click(&client, "#nav-settings").await;
    type_into(&client, "#key-name", "laptop").await;
    click(&client, "#create-key").await;
    wait_for_text(&client, "#created-key", |text| text.starts_with("sy-")).await;
    wait_for_text(&client, "#api-keys", |text| text.contains("laptop")).await;
    type_into(&client, "#setting-cooldown_cap_secs", "soon\n").await;
    client
        .execute(
            "document.getElementById('setting-cooldown_cap_secs').dispatchEvent(new Event('change'))",
            vec![],
        )
        .await
        .unwrap();
    wait_for_text(&client, "#settings-error", |text| {
        text.contains("whole number")
    })
    .await;
    save_screenshot(&client, "settings.png").await;

    // A price of the user's own, which Usage costs then follow.
    type_into(&client, "#price-model", "mock/m").await;
    type_into(&client, "#price-input", "3").await;
    type_into(&client, "#price-output", "15").await;
    type_into(&client, "#price-per-image", "0.04").await;
    click(&client, "#price-save").await;
    type_into(&client, "#price-search", "mock/").await;
    wait_for_text(&client, "#price-list", |text| {
        text.contains("mock/m") && text.contains("yours") && text.contains("0.04")
    })
    .await;

    // The configuration exported without secrets, previewed back in, and a
    // 9router installation's database previewed.
    click(&client, "#export-config").await;
    let saved = wait_for_text(&client, "#transfer-done", |text| text.starts_with("Saved")).await;
    let exported = std::fs::read_to_string(saved.trim_start_matches("Saved").trim()).unwrap();
    assert!(exported.contains("switchyard-config"), "{exported}");
    assert!(
        !exported.contains("sk-e2e-upstream"),
        "no secrets unless asked"
    );
    let element = client.find(Locator::Css("#config-file")).await.unwrap();
    element
        .send_keys(saved.trim_start_matches("Saved").trim())
        .await
        .unwrap();
    click(&client, "#preview-import").await;
    wait_for_text(&client, "#transfer-report", |text| {
        text.contains("Preview") && text.contains("updated")
    })
    .await;
    let nine_router = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/store/tests/fixtures/9router/db.json")
        .display()
        .to_string();
    type_into(&client, "#nine-router-path", &nine_router).await;
    click(&client, "#preview-9router").await;
    let report = wait_for_text(&client, "#transfer-report", |text| {
        text.contains("Preview") && text.contains("added")
    })
    .await;
    assert!(
        report.contains("provider cc") && report.contains("Cursor's own protocol"),
        "{report}"
    );
    save_screenshot(&client, "settings-transfer.png").await;

    // Switching the account off in the window is seen by the gateway.
    click(&client, "#nav-providers").await;
    click(&client, "#provider-mock .account-toggle").await;
    wait_for_text(&client, "#provider-mock .account-status", |text| {
        text == "off"
    })
    .await;
    let refused = switchyard_providers::tls::http_client()
        .build()
        .unwrap()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "mock/m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_ne!(refused.status(), 200, "a disabled account is not used");
    client.close().await.unwrap();
}

/// Launches the app a second time with `link`, as the OS does for a
/// `switchyard://` link; the single-instance plugin hands it to the running
/// app and the second process leaves.
fn hand_link_to_second_launch(link: &str, env: &[(&str, String)]) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard-desktop"));
    command
        .arg(link)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut second = command.spawn().expect("cannot launch the app again");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = second.try_wait().unwrap() {
            assert!(status.success(), "the second launch failed: {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("the second launch did not hand over and leave");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A GitHub-style device authorization server (RFC 8628): a code, then
/// `authorization_pending` for the first two polls, then a token.
async fn start_mock_device_login() -> String {
    use axum::routing::post;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let polls = Arc::new(AtomicU32::new(0));
    let verification = format!("{base}/login/device");
    let app = axum::Router::new()
        .route(
            "/login/device/code",
            post(move || {
                let verification = verification.clone();
                async move {
                    axum::Json(json!({
                        "device_code": "device-e2e", "user_code": "WDJB-MJHT",
                        "verification_uri": verification, "expires_in": 900, "interval": 1
                    }))
                }
            }),
        )
        .route(
            "/login/oauth/access_token",
            post(move |body: String| {
                let polls = polls.clone();
                async move {
                    assert!(body.contains("device_code=device-e2e"), "{body}");
                    if polls.fetch_add(1, Ordering::SeqCst) < 2 {
                        axum::Json(json!({"error": "authorization_pending"}))
                    } else {
                        axum::Json(json!({
                            "access_token": "gho_e2e", "token_type": "bearer", "scope": "read:user"
                        }))
                    }
                }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test]
#[ignore = "needs a display, D-Bus and tauri-driver: run by `cargo xtask test`"]
async fn a_device_code_login_connects_an_account_and_the_tray_follows_its_switch() {
    let data_dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    // Claude Code is "installed" in this home, with a setting of the user's.
    let claude_settings = home.path().join(".claude/settings.json");
    std::fs::create_dir_all(claude_settings.parent().unwrap()).unwrap();
    let original = "{\n  \"theme\": \"dark\"\n}\n";
    std::fs::write(&claude_settings, original).unwrap();
    let login = start_mock_device_login().await;
    // Pointing the service at the mock is configuration, as for a mirror.
    std::fs::write(
        data_dir.path().join("endpoints.json"),
        json!({"github-copilot": {
            "device_url": format!("{login}/login/device/code"),
            "token_url": format!("{login}/login/oauth/access_token"),
            "exchange_url": format!("{login}/copilot_internal/v2/token"),
            "api_base": format!("{login}/copilot"),
            "usage_url": format!("{login}/copilot_internal/user")
        }})
        .to_string(),
    )
    .unwrap();
    let port = free_port();
    let (_driver, client) = launch_app(&[
        ("SWITCHYARD_DATA_DIR", data_dir.path().display().to_string()),
        ("SWITCHYARD_PORT", port.to_string()),
        ("HOME", home.path().display().to_string()),
    ])
    .await;
    wait_for_text(&client, "#gateway-state", |text| text == "Running").await;

    click(&client, "#nav-providers").await;
    wait_for_text(&client, "#service-github-copilot", |text| {
        text.contains("GitHub Copilot")
    })
    .await;
    click(&client, "#service-github-copilot .connect-login").await;
    wait_for_text(&client, "#device-code", |text| text == "WDJB-MJHT").await;
    let countdown = wait_for_text(&client, "#device-countdown", |text| {
        text.contains("expires in")
    })
    .await;
    assert!(countdown.contains("expires in 1"), "{countdown}");
    save_screenshot(&client, "connect-device-code.png").await;
    // The app polls; the mock approves on the third poll.
    wait_for_text(&client, "#connect-done", |text| text.contains("Connected")).await;
    wait_for_text(&client, "#provider-gh .account-status", |text| text == "ok").await;
    save_screenshot(&client, "providers-connected.png").await;

    // The tray model follows the account's switch (shown on the Overview
    // for desktops without a tray).
    click(&client, "#nav-overview").await;
    wait_for_text(&client, "#tray-preview", |text| {
        text.contains("[x] GitHub Copilot/") && text.contains("(ok)")
    })
    .await;
    click(&client, "#nav-providers").await;
    click(&client, "#provider-gh .account-toggle").await;
    wait_for_text(&client, "#provider-gh .account-status", |text| {
        text == "off"
    })
    .await;
    click(&client, "#nav-overview").await;
    let tray = wait_for_text(&client, "#tray-preview", |text| {
        text.contains("[ ] GitHub Copilot/")
    })
    .await;
    assert!(
        tray.contains("Copy API key") && tray.contains("Check for updates"),
        "{tray}"
    );
    save_screenshot(&client, "overview-at-a-glance.png").await;

    // Tools: Claude Code set up with a model in the temporary home, then
    // restored byte for byte.
    click(&client, "#nav-tools").await;
    wait_for_text(&client, "#tool-claude-code .tool-state", |text| {
        text == "not set up"
    })
    .await;
    type_into(&client, "#tool-claude-code .tool-model", "gh/gpt-4.1").await;
    click(&client, "#tool-claude-code .tool-apply").await;
    wait_for_text(&client, "#tools-done", |text| {
        text.contains("Claude Code now uses Switchyard")
    })
    .await;
    wait_for_text(&client, "#tool-claude-code .tool-state", |text| {
        text == "uses Switchyard"
    })
    .await;
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&claude_settings).unwrap()).unwrap();
    assert_eq!(written["theme"], "dark", "{written}");
    assert_eq!(
        written["env"]["ANTHROPIC_BASE_URL"],
        format!("http://127.0.0.1:{port}"),
        "{written}"
    );
    assert_eq!(written["env"]["ANTHROPIC_MODEL"], "gh/gpt-4.1", "{written}");
    let token = written["env"]["ANTHROPIC_AUTH_TOKEN"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("sy-"), "{written}");
    // The key written is a working gateway key.
    let models = switchyard_providers::tls::http_client()
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{port}/v1/models"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    save_screenshot(&client, "tools.png").await;
    click(&client, "#tool-claude-code .tool-restore").await;
    wait_for_text(&client, "#tools-done", |text| {
        text.contains("your own settings are back")
    })
    .await;
    assert_eq!(std::fs::read_to_string(&claude_settings).unwrap(), original);
    client.close().await.unwrap();
}

/// Error kinds a transport gives before an operation runs.
const TRANSPORT_KINDS: &[&str] = &["unauthorized", "csrf", "forbidden_origin", "too_large"];

#[tokio::test]
#[ignore = "needs a display, D-Bus and tauri-driver: run by `cargo xtask test`"]
async fn every_operation_is_reachable_through_the_manage_command() {
    let data_dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_driver, client) = launch_app(&[
        ("SWITCHYARD_DATA_DIR", data_dir.path().display().to_string()),
        ("SWITCHYARD_PORT", port.to_string()),
        ("HOME", home.path().display().to_string()),
    ])
    .await;
    wait_for_text(&client, "#gateway-state", |text| text == "Running").await;
    let calls: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("operations.json")).unwrap();
    for call in calls {
        let answer = client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 window.__TAURI__.core.invoke('manage', { call: arguments[0] })
                   .then(value => done({ ok: value === undefined ? null : value }),
                         error => done({ error }));",
                vec![call.clone()],
            )
            .await
            .unwrap_or_else(|error| panic!("{call}: {error}"));
        if answer.get("ok").is_some() {
            continue;
        }
        let kind = answer["error"]["kind"].as_str().unwrap_or_default();
        assert!(
            !kind.is_empty() && !TRANSPORT_KINDS.contains(&kind),
            "{call} did not reach the manager: {answer}"
        );
    }
    // The desktop's changes are in the record, as the desktop's.
    let log = Store::open_in_dir(data_dir.path())
        .unwrap()
        .management_log(200)
        .unwrap();
    assert!(
        log.iter()
            .any(|entry| entry.actor == "desktop" && entry.operation == "add_provider")
    );
    client.close().await.unwrap();
}

#[path = "support/resident_memory.rs"]
mod resident_memory;
use resident_memory::resident_mb;

/// The app started as at login (`--hidden`: no webview): its gateway must
/// answer. Reported, not asserted (measured, not tested): how long that
/// took and the app's memory once settled, its window closed.
#[tokio::test]
#[ignore = "needs a display, D-Bus and tauri-driver: run by `cargo xtask test`"]
async fn the_app_started_hidden_serves_and_reports_its_memory() {
    let data_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let started = Instant::now();
    let app = Command::new(env!("CARGO_BIN_EXE_switchyard-desktop"))
        .arg("--hidden")
        .env("SWITCHYARD_DATA_DIR", data_dir.path())
        .env("SWITCHYARD_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot launch the app");
    // Ended on drop, like the driver.
    let mut app = Driver { process: app, port };
    let http = switchyard_providers::tls::http_client().build().unwrap();
    let health = format!("http://127.0.0.1:{port}/health/live");
    loop {
        if let Ok(answer) = http.get(&health).send().await
            && answer.status().is_success()
        {
            break;
        }
        if let Some(status) = app.process.try_wait().unwrap() {
            panic!("the app left before its gateway answered: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the hidden app's gateway did not answer"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let serving = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(app.process.try_wait().unwrap().is_none(), "the app left");
    println!(
        "desktop app (test build), started hidden: its gateway answered {} ms after exec; {:.1} MB resident 2 s later, window closed (with its child processes)",
        serving.as_millis(),
        resident_mb(app.process.id())
    );
}
