//! The dashboard `switchyard serve` offers, in headless Chromium driven
//! through ChromeDriver (Debian's `chromium` and `chromium-driver`, which
//! `cargo xtask setup` installs): first-run sign-in with the printed link,
//! a password set, a wrong then a right password, every page working (a
//! provider added, a combo built, a request seen live in Logs), logout,
//! a device linked for sync with a pairing code made in the page,
//! session expiry, a cross-site form post refused and a rebinding `Host`
//! refused. Screenshots of each page go to `target/browser/`. Run by
//! `cargo xtask test` (its browser-e2e stage); plain `cargo test` skips it.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Cli, Server};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// ChromeDriver on its own port, ended on drop.
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
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_driver() -> Driver {
    let program =
        std::env::var_os("CHROMEDRIVER").unwrap_or_else(|| "/usr/bin/chromedriver".into());
    let port = free_port();
    let process = Command::new(&program)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "cannot start {}: {error}",
                PathBuf::from(&program).display()
            )
        });
    let driver = Driver { process, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    driver
}

/// Opens headless Chromium; `rebound` is a host name mapped to 127.0.0.1
/// (what a DNS rebinding attack achieves).
async fn open_browser(driver: &Driver, profile: &std::path::Path, rebound: &str) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
                format!("--host-resolver-rules=MAP {rebound} 127.0.0.1"),
            ]
        }),
    );
    ClientBuilder::native()
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("cannot open a WebDriver session on Chromium")
}

fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser")
}

async fn save_screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("cannot take a screenshot");
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}

/// Polls until the element `css` shows text `expected` accepts.
async fn wait_for_text(client: &Client, css: &str, expected: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
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
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    save_screenshot(client, "failure.png").await;
    if let Ok(source) = client.source().await {
        println!("page source at the failure:\n{source}");
    }
    panic!("{css} never showed what was expected; last text: {last:?}");
}

async fn type_into(client: &Client, css: &str, text: &str) {
    // Pages render as their data arrives: wait for the field.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match client.find(Locator::Css(css)).await {
            Ok(element) => {
                if element.clear().await.is_ok() && element.send_keys(text).await.is_ok() {
                    return;
                }
                assert!(Instant::now() < deadline, "cannot type into {css}");
            }
            Err(error) if Instant::now() > deadline => {
                save_screenshot(client, "failure.png").await;
                panic!("no {css}: {error}");
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn click(client: &Client, css: &str) {
    let mut last_error = String::new();
    for _ in 0..20 {
        match client.find(Locator::Css(css)).await {
            Ok(element) => {
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
            }
            Err(error) => last_error = error.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    save_screenshot(client, "failure.png").await;
    panic!("cannot click {css}: {last_error}");
}

/// An OpenAI-compatible upstream answering every chat request.
async fn start_mock_upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route(
            "/v1/models",
            axum::routing::get(|| async {
                axum::Json(json!({"object": "list", "data": [{"id": "m"}, {"id": "other"}]}))
            }),
        )
        .route(
            "/v1/chat/completions",
            axum::routing::post(|axum::Json(body): axum::Json<serde_json::Value>| async move {
                axum::Json(json!({
                    "id": "chatcmpl-browser", "object": "chat.completion", "created": 1, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
                }))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/v1")
}

/// A page on another origin with a form that posts to the dashboard's API
/// when it loads (a cross-site request forgery attempt).
async fn start_attacker_page(target: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let page = format!(
        "<!doctype html><form id=f method=post enctype=text/plain action=\"{target}/dashboard/api/call\">\
         <input name='{{\"op\":\"add_alias\",\"args\":{{\"name\":\"evil\",\"target\":\"x/y\",\"pad\":\"' value='\"}}}}'>\
         </form><script>document.getElementById('f').submit()</script>"
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/")
}

#[tokio::test]
#[ignore = "needs Chromium and ChromeDriver: run by `cargo xtask test`"]
async fn browser_journey_through_the_served_dashboard() {
    let cli = Cli::new();
    let upstream = start_mock_upstream().await;
    let server = Server::start(&cli, &[]);
    let base = server.base.clone();
    let link = server
        .signin_link
        .clone()
        .expect("no sign-in link printed at first start");
    let driver = start_driver();
    let profile = tempfile::tempdir().unwrap();
    let client = open_browser(&driver, profile.path(), "rebound.test").await;

    // First run: no session, no password.
    client.goto(&format!("{base}/dashboard/")).await.unwrap();
    wait_for_text(&client, "#no-password", |text| {
        text.contains("sign-in link")
    })
    .await;
    save_screenshot(&client, "signin-first-run.png").await;
    // The printed link signs in once and opens Settings.
    client.goto(&link).await.unwrap();
    wait_for_text(&client, "#access h2", |text| text == "Dashboard access").await;
    save_screenshot(&client, "settings-after-link.png").await;
    // Setting a password signs every browser out, this one too.
    type_into(&client, "#new-password", "a browser password").await;
    click(&client, "#set-password").await;
    wait_for_text(&client, "label[for=password]", |text| {
        text.contains("Password")
    })
    .await;
    // A wrong password, then the right one.
    type_into(&client, "#password", "not the password").await;
    click(&client, "#sign-in").await;
    wait_for_text(&client, "#signin-error", |text| {
        text.contains("wrong password")
    })
    .await;
    save_screenshot(&client, "signin-wrong-password.png").await;
    type_into(&client, "#password", "a browser password").await;
    click(&client, "#sign-in").await;
    wait_for_text(&client, "#sign-out", |text| text == "Sign out").await;
    click(&client, "#nav-overview").await;
    wait_for_text(&client, "#gateway-state", |text| text == "Running").await;
    save_screenshot(&client, "overview.png").await;

    // A provider added in the browser.
    click(&client, "#nav-providers").await;
    wait_for_text(&client, "#no-providers", |text| {
        text.contains("No providers")
    })
    .await;
    type_into(&client, "#provider-name", "Mock").await;
    type_into(&client, "#provider-prefix", "mock").await;
    type_into(&client, "#provider-base-url", &upstream).await;
    type_into(&client, "#provider-models", "m").await;
    type_into(&client, "#provider-api-key", "sk-browser-upstream").await;
    click(&client, "#provider-submit").await;
    wait_for_text(&client, "#provider-added", |text| {
        text.starts_with("added Mock")
    })
    .await;
    wait_for_text(&client, "#provider-mock .account-status", |text| {
        text == "ok"
    })
    .await;
    save_screenshot(&client, "providers.png").await;

    // A combo built.
    click(&client, "#nav-combos").await;
    wait_for_text(&client, "#no-combos", |text| text.contains("No combos")).await;
    type_into(&client, "#combo-name", "coding").await;
    for target in ["mock/m", "mock/other"] {
        type_into(&client, "#combo-new-target", target).await;
        click(&client, "#combo-add-target").await;
    }
    click(&client, "#combo-save").await;
    wait_for_text(&client, "#combo-coding .combo-targets", |text| {
        text == "mock/m → mock/other"
    })
    .await;
    save_screenshot(&client, "combos.png").await;

    // An API key made in the browser; a request with it shows in Logs
    // without reloading (the server's events reach the page).
    click(&client, "#nav-settings").await;
    type_into(&client, "#key-name", "browser").await;
    click(&client, "#create-key").await;
    let key = wait_for_text(&client, "#created-key", |text| text.starts_with("sy-")).await;
    click(&client, "#nav-logs").await;
    wait_for_text(&client, "h1", |text| text == "Logs").await;
    let answered = switchyard_providers::tls::http_client()
        .build()
        .unwrap()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(key.trim())
        .json(&json!({"model": "coding", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    let log = wait_for_text(&client, "#request-log", |text| text.contains("mock/m")).await;
    assert!(log.contains("200"), "{log}");
    save_screenshot(&client, "logs.png").await;

    // The key's policy set in the browser: allowed models, a daily budget,
    // then paused; the CLI reads back what was stored.
    click(&client, "#nav-settings").await;
    type_into(
        &client,
        "#api-keys tr:last-child .key-models",
        "coding\u{E007}",
    )
    .await;
    type_into(
        &client,
        "#api-keys tr:last-child .key-day-budget",
        "5\u{E007}",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let keys = cli.json(&["key", "list"]);
        let stored = keys.as_array().unwrap().last().unwrap().clone();
        if stored["allowed_models"] == json!(["coding"])
            && stored["limits"]["budget_day_usd"] == json!(5.0)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the key's policy was not stored: {stored}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    click(&client, "#api-keys tr:last-child .key-pause").await;
    wait_for_text(&client, "#api-keys tr:last-child .key-state", |text| {
        text == "paused"
    })
    .await;
    save_screenshot(&client, "settings-key-policy.png").await;
    assert_eq!(
        cli.json(&["key", "list"])
            .as_array()
            .unwrap()
            .last()
            .unwrap()["paused"],
        true
    );

    // Every other page renders.
    for page in ["models", "usage", "quota", "tools", "settings", "overview"] {
        click(&client, &format!("#nav-{page}")).await;
        wait_for_text(&client, "h1", |text| !text.is_empty()).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        save_screenshot(&client, &format!("{page}.png")).await;
    }
    // The record shows the browser's changes.
    click(&client, "#nav-settings").await;
    wait_for_text(&client, "#management-log", |text| {
        text.contains("add_provider") && text.contains("save_combo")
    })
    .await;

    // Sync: a pairing code made in the browser links a device, which the
    // hub's Settings then lists.
    click(&client, "#sync-pair").await;
    let shown = wait_for_text(&client, "#sync-pairing-code", |text| {
        text.contains("valid until")
    })
    .await;
    let code = shown.split_whitespace().next().unwrap().to_owned();
    let device = Cli::new();
    device.ok(&["sync", "link", &base, &code, "--name", "browser-linked"]);
    wait_for_text(&client, "#sync-devices", |text| {
        text.contains("browser-linked")
    })
    .await;
    save_screenshot(&client, "settings-sync.png").await;

    // A cross-site form post: refused, nothing changed.
    let attacker = start_attacker_page(base.clone()).await;
    client.goto(&attacker).await.unwrap();
    let refused = wait_for_text(&client, "body", |text| text.contains("refused")).await;
    assert!(!refused.contains("\"evil\""), "{refused}");
    save_screenshot(&client, "cross-site-refused.png").await;
    let aliases = cli.json(&["call", "list_aliases"]);
    assert_eq!(aliases, json!([]), "the forged post changed something");

    // A rebinding Host (a foreign name that resolves to this machine).
    let port = base.rsplit(':').next().unwrap();
    client
        .goto(&format!("http://rebound.test:{port}/dashboard/"))
        .await
        .unwrap();
    wait_for_text(&client, "body", |text| text.contains("DNS rebinding")).await;
    save_screenshot(&client, "rebinding-refused.png").await;

    // Logout.
    client.goto(&format!("{base}/dashboard/")).await.unwrap();
    click(&client, "#sign-out").await;
    wait_for_text(&client, "label[for=password]", |text| {
        text.contains("Password")
    })
    .await;

    // A team member sees their keys, usage and logs, and nothing else.
    cli.ok(&[
        "call",
        "set_dashboard_user",
        r#"{"name": "alice", "password": "alice's long password", "role": "member"}"#,
    ]);
    type_into(&client, "#user", "alice").await;
    type_into(&client, "#password", "alice's long password").await;
    click(&client, "#sign-in").await;
    wait_for_text(&client, "#nav-keys", |text| text == "API keys").await;
    assert!(
        client.find(Locator::Css("#nav-providers")).await.is_err(),
        "a member is shown the Providers page"
    );
    type_into(&client, "#key-name", "alice laptop").await;
    click(&client, "#create-key").await;
    wait_for_text(&client, "#created-key", |text| text.starts_with("sy-")).await;
    save_screenshot(&client, "member-keys.png").await;
    let owned = cli.json(&["key", "list"]);
    assert!(
        owned
            .as_array()
            .unwrap()
            .iter()
            .any(|key| key["name"] == "alice laptop" && key["owner"] == "alice"),
        "{owned}"
    );
    click(&client, "#sign-out").await;
    wait_for_text(&client, "label[for=password]", |text| {
        text.contains("Password")
    })
    .await;

    // Session expiry: a session whose end passed is signed out on reload.
    type_into(&client, "#password", "a browser password").await;
    click(&client, "#sign-in").await;
    wait_for_text(&client, "#sign-out", |text| text == "Sign out").await;
    let connection = rusqlite::Connection::open(cli.data_dir.path().join("switchyard.db")).unwrap();
    connection
        .execute("UPDATE dashboard_sessions SET expires_at = 1", [])
        .unwrap();
    client.refresh().await.unwrap();
    wait_for_text(&client, "label[for=password]", |text| {
        text.contains("Password")
    })
    .await;
    save_screenshot(&client, "signed-out-after-expiry.png").await;

    client.close().await.unwrap();
    drop(server);
}
