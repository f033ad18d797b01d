//! Sync across devices through a hub: three real `switchyard serve`
//! processes on loopback, a hub and two devices with their own data
//! directories, linked with one-time pairing codes. A provider added on one
//! device serves on the other within five seconds; concurrent edits of one
//! combo converge to the same value on both and are reported, and the lost
//! value can be restored; a device offline for a while merges when back; a
//! revoked device can no longer pull; replays and malformed pushes are
//! refused; the end-to-end mode leaves no plaintext secret in the hub's
//! database files; an OAuth account on both devices whose token is due is
//! refreshed exactly once, the hub linked to itself serving it too (the
//! mock token server counts).

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::upstream::{add_provider, ask, runtime, start_upstream};
use common::{Cli, Server, free_port};
use serde_json::{Value, json};

/// Runs the binary on `cli` with `input` on standard input.
fn run_with_stdin(cli: &Cli, args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("--data-dir")
        .arg(cli.data_dir.path())
        .args(args)
        .env("HOME", cli.home.path())
        .env_remove("SWITCHYARD_HOST")
        .env_remove("SWITCHYARD_PORT")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A one-time pairing code made on the hub.
fn pairing_code(hub: &Cli) -> String {
    hub.json(&["sync", "pair"])["code"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Links `device` to the hub at `base` as `name`.
fn link(device: &Cli, hub: &Cli, base: &str, name: &str, passphrase: Option<&str>) {
    let code = pairing_code(hub);
    match passphrase {
        None => {
            device.ok(&["sync", "link", base, &code, "--name", name]);
        }
        Some(passphrase) => {
            let out = run_with_stdin(
                device,
                &[
                    "sync",
                    "link",
                    base,
                    &code,
                    "--name",
                    name,
                    "--passphrase-stdin",
                ],
                passphrase,
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Waits until `ready` holds, at most `limit`; how long it took.
fn wait_for(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

/// A combo's strategy on `cli`, if it has the combo.
fn combo_strategy(cli: &Cli, name: &str) -> Option<String> {
    cli.json(&["combo", "list"])
        .as_array()
        .unwrap()
        .iter()
        .find(|combo| combo["name"] == name)
        .map(|combo| combo["strategy"].as_str().unwrap().to_owned())
}

fn sync_status(cli: &Cli) -> Value {
    cli.json(&["sync", "status"])
}

#[test]
fn two_devices_converge_through_a_hub() {
    let rt = runtime();
    let (upstream_url, _upstream) = rt.block_on(start_upstream());
    let hub = Cli::new();
    let hub_port = free_port();
    let mut hub_server = Some(Server::start_on(&hub, hub_port, &[]));
    let hub_base = hub_server.as_ref().unwrap().base.clone();
    let (a, b) = (Cli::new(), Cli::new());

    // Pairing: a code works once; a wrong one is refused.
    let code = pairing_code(&hub);
    a.ok(&["sync", "link", &hub_base, &code, "--name", "laptop"]);
    let reused = b.fails(&["sync", "link", &hub_base, &code, "--name", "desktop"]);
    assert!(reused.contains("wrong, used or expired"), "{reused}");
    let wrong = b.fails(&[
        "sync",
        "link",
        &hub_base,
        "AAAAA-BBBBB",
        "--name",
        "desktop",
    ]);
    assert!(wrong.contains("pairing code"), "{wrong}");
    link(&b, &hub, &hub_base, "desktop", None);
    let devices = hub.json(&["sync", "devices"]);
    assert_eq!(devices.as_array().unwrap().len(), 2, "{devices}");

    let server_a = Server::start(&a, &[]);
    let mut server_b = Some(Server::start(&b, &[]));
    let base_b = server_b.as_ref().unwrap().base.clone();

    // A provider and a key made on A serve a request on B within five seconds.
    add_provider(&a, "first", &format!("{upstream_url}/v1"), "sk-first", "m");
    let key = a.json(&["key", "create", "--name", "laptop"])["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let http = switchyard_providers::tls::http_client().build().unwrap();
    let took = wait_for(Duration::from_secs(5), "A's provider serving on B", || {
        rt.block_on(ask(&http, &base_b, &key, "first/m")).0 == StatusCode::OK
    });
    println!("a provider and a key added on A served a request on B after {took:?}");

    // Concurrent edits of one combo while the hub is down: both devices
    // end with the same value, and the conflict is reported.
    a.ok(&["combo", "add", "team", "first/m"]);
    wait_for(Duration::from_secs(5), "the combo reaching B", || {
        combo_strategy(&b, "team").is_some()
    });
    drop(hub_server.take());
    a.ok(&["combo", "strategy", "team", "round-robin"]);
    b.ok(&["combo", "strategy", "team", "weighted"]);
    std::thread::sleep(Duration::from_millis(1500));
    wait_for(Duration::from_secs(5), "A noticing the hub is down", || {
        sync_status(&a)["device"]["state"] == "offline"
    });
    hub_server = Some(Server::start_on(&hub, hub_port, &[]));
    let took = wait_for(Duration::from_secs(15), "A and B converging", || {
        let (on_a, on_b) = (combo_strategy(&a, "team"), combo_strategy(&b, "team"));
        on_a == on_b
            && sync_status(&a)["device"]["open_conflicts"] == 1
            && sync_status(&b)["device"]["open_conflicts"] == 1
    });
    let winner = combo_strategy(&a, "team").unwrap();
    println!("after the hub came back A and B converged on {winner:?} in {took:?}");
    let conflicts = a.json(&["sync", "conflicts"]);
    let conflict = &conflicts[0];
    assert_eq!(conflict["kind"], "combo", "{conflicts}");
    assert_eq!(conflict["name"], "team", "{conflicts}");
    let kept: Value = serde_json::from_str(conflict["kept"].as_str().unwrap()).unwrap();
    let loser = kept["strategy"].as_str().unwrap().to_owned();
    assert_ne!(loser, winner, "{conflicts}");
    assert_eq!(sync_status(&a)["device"]["state"], "conflict");
    // Restoring the other value puts it on both devices.
    let id = conflict["id"].as_i64().unwrap().to_string();
    a.ok(&["sync", "restore", &id]);
    wait_for(Duration::from_secs(5), "the restored value on both", || {
        combo_strategy(&a, "team").as_deref() == Some(&loser)
            && combo_strategy(&b, "team").as_deref() == Some(&loser)
            && sync_status(&b)["device"]["open_conflicts"] == 0
    });

    // B offline for a while: both sides keep their edits and merge when it is back.
    drop(server_b.take());
    a.ok(&["alias", "add", "quick", "first/m"]);
    b.ok(&["price", "set", "first/m", "--input", "1.5", "--output", "6"]);
    std::thread::sleep(Duration::from_secs(2));
    server_b = Some(Server::start(&b, &[]));
    let base_b = server_b.as_ref().unwrap().base.clone();
    let took = wait_for(
        Duration::from_secs(10),
        "B's offline edit and A's meeting",
        || {
            let aliases = b.json(&["alias", "list"]).to_string();
            let prices = a.json(&["price", "list"]).to_string();
            aliases.contains("quick") && prices.contains("first/m")
        },
    );
    println!("B back after being offline merged both ways in {took:?}");
    assert_eq!(
        rt.block_on(ask(&http, &base_b, &key, "quick")).0,
        StatusCode::OK
    );
    // The hub shows each device's usage summary.
    wait_for(
        Duration::from_secs(10),
        "B's usage summary at the hub",
        || {
            hub.json(&["sync", "devices"])
                .as_array()
                .unwrap()
                .iter()
                .any(|device| device["name"] == "desktop" && device["requests"].as_i64() >= Some(1))
        },
    );

    // Raw protocol: replays, malformed pushes and unknown credentials are refused.
    rt.block_on(async {
        let code = pairing_code(&hub);
        let linked: Value = http
            .post(format!("{hub_base}/sync/v1/link"))
            .json(&json!({"code": code, "name": "raw"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = linked["token"].as_str().unwrap().to_owned();
        let push = |body: Value| {
            http.post(format!("{hub_base}/sync/v1/push"))
                .bearer_auth(&token)
                .json(&body)
                .send()
        };
        let good = json!({"request_id": "0123456789abcdef0123", "items": [
            {"kind": "alias", "name": "raw", "base": 0, "body": "{\"name\":\"raw\",\"target\":\"first/m\"}"}
        ]});
        let first = push(good.clone()).await.unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        let again = push(good).await.unwrap();
        assert_eq!(again.status(), StatusCode::CONFLICT);
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["error"]["code"], "replayed", "{again}");
        for bad in [
            json!({"request_id": "0123456789abcdef0124", "items": [{"kind": "nonsense", "name": "x", "base": 0, "body": "{}"}]}),
            json!({"request_id": "0123456789abcdef0125", "items": [{"kind": "alias", "name": "x", "base": 0, "body": "not json"}]}),
            json!({"request_id": "short", "items": []}),
            json!({"items": "no"}),
        ] {
            let answer = push(bad.clone()).await.unwrap();
            assert_eq!(answer.status().as_u16() / 100, 4, "{bad}");
        }
        let stranger = http
            .get(format!("{hub_base}/sync/v1/pull?since=0"))
            .bearer_auth("syd-0000")
            .send()
            .await
            .unwrap();
        assert_eq!(stranger.status(), StatusCode::UNAUTHORIZED);
    });
    wait_for(
        Duration::from_secs(5),
        "the raw device's alias reaching A",
        || a.json(&["alias", "list"]).to_string().contains("\"raw\""),
    );

    // A revoked device can no longer pull, and says so.
    hub.ok(&["sync", "revoke", "desktop"]);
    let refused = b.fails(&["sync", "now"]);
    assert!(refused.contains("revoked"), "{refused}");
    wait_for(Duration::from_secs(5), "B's state showing revoked", || {
        sync_status(&b)["device"]["state"] == "revoked"
    });
    a.ok(&["alias", "add", "after-revoke", "first/m"]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !b.json(&["alias", "list"])
            .to_string()
            .contains("after-revoke")
    );
    // B keeps routing on what it has.
    assert_eq!(
        rt.block_on(ask(&http, &base_b, &key, "first/m")).0,
        StatusCode::OK
    );
    drop((server_a, server_b, hub_server));
}

#[test]
fn end_to_end_mode_keeps_plaintext_off_the_hub() {
    const SECRET: &str = "sk-e2e-canary-4f1d9a7c";
    const PASSPHRASE: &str = "correct horse battery staple";
    let rt = runtime();
    let (upstream_url, upstream) = rt.block_on(start_upstream());
    let hub = Cli::new();
    let hub_server = Server::start(&hub, &[]);
    let (a, b) = (Cli::new(), Cli::new());
    link(&a, &hub, &hub_server.base, "laptop", Some(PASSPHRASE));
    // Without the passphrase, or with another, B is refused before its code is spent.
    let code = pairing_code(&hub);
    let without = b.fails(&["sync", "link", &hub_server.base, &code, "--name", "desktop"]);
    assert!(without.contains("end-to-end"), "{without}");
    let wrong = run_with_stdin(
        &b,
        &[
            "sync",
            "link",
            &hub_server.base,
            &code,
            "--passphrase-stdin",
        ],
        "not the passphrase at all",
    );
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("not the hub's sync passphrase"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    let right = run_with_stdin(
        &b,
        &[
            "sync",
            "link",
            &hub_server.base,
            &code,
            "--name",
            "desktop",
            "--passphrase-stdin",
        ],
        PASSPHRASE,
    );
    assert!(
        right.status.success(),
        "{}",
        String::from_utf8_lossy(&right.stderr)
    );
    assert_eq!(sync_status(&b)["device"]["e2e"], true);

    let _server_a = Server::start(&a, &[]);
    let server_b = Server::start(&b, &[]);
    add_provider(&a, "sealed", &format!("{upstream_url}/v1"), SECRET, "m");
    let key = a.json(&["key", "create", "--name", "laptop"])["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let http = switchyard_providers::tls::http_client().build().unwrap();
    let took = wait_for(
        Duration::from_secs(5),
        "A's sealed provider serving on B",
        || rt.block_on(ask(&http, &server_b.base, &key, "sealed/m")).0 == StatusCode::OK,
    );
    println!("end to end: A's provider served on B after {took:?}");
    assert!(
        upstream
            .authorizations
            .lock()
            .unwrap()
            .contains(&format!("Bearer {SECRET}")),
        "B sent the key it opened"
    );
    assert_eq!(hub.json(&["sync", "status"])["hub_e2e"], true);
    drop(hub_server);
    // Neither the key nor anything else readable of the records is in the hub's files.
    let mut scanned = 0;
    for entry in std::fs::read_dir(hub.data_dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            scanned += bytes.len();
            for needle in [SECRET, upstream_url.as_str(), "\"base_url\""] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{needle:?} in plain text in {}",
                    path.display()
                );
            }
        }
    }
    assert!(scanned > 0);
    println!("end to end: {scanned} bytes of the hub's data directory hold no plaintext record");
}

#[test]
fn an_oauth_account_on_two_devices_is_refreshed_once() {
    let rt = runtime();
    let (upstream_url, upstream) = rt.block_on(start_upstream());
    let hub = Cli::new();
    let (a, b) = (Cli::new(), Cli::new());
    for device in [&a, &b, &hub] {
        std::fs::write(
            device.data_dir.path().join("endpoints.json"),
            json!({"qwen": {"token_url": format!("{upstream_url}/oauth/token"), "api_base": format!("{upstream_url}/v1")}}).to_string(),
        )
        .unwrap();
    }
    let hub_server = Server::start(&hub, &[]);
    link(&a, &hub, &hub_server.base, "laptop", None);
    link(&b, &hub, &hub_server.base, "desktop", None);
    // The hub holds the secrets in this mode, and serves the accounts
    // itself when it is linked to itself: a third device in the race.
    link(&hub, &hub, &hub_server.base, "hub", None);
    let server_a = Server::start(&a, &[]);
    let server_b = Server::start(&b, &[]);
    let out = run_with_stdin(
        &a,
        &[
            "connect",
            "qwen",
            "--refresh-token-stdin",
            "--prefix",
            "qw",
            "--label",
            "shared",
        ],
        "rt-0\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        upstream.refreshes.load(Ordering::SeqCst),
        1,
        "the login's own exchange"
    );
    let key = a.json(&["key", "create", "--name", "both"])["key"]
        .as_str()
        .unwrap()
        .to_owned();
    for device in [&b, &hub] {
        wait_for(
            Duration::from_secs(5),
            "the account and key reaching the others",
            || {
                device
                    .json(&["provider", "list"])
                    .to_string()
                    .contains("\"qw\"")
                    && device.json(&["key", "list"]).to_string().contains("both")
            },
        );
    }
    rt.block_on(async {
        let http = switchyard_providers::tls::http_client().build().unwrap();
        let mut calls = Vec::new();
        for _ in 0..3 {
            for base in [&server_a.base, &server_b.base, &hub_server.base] {
                let (http, base, key) = (http.clone(), base.clone(), key.clone());
                calls.push(tokio::spawn(async move {
                    ask(&http, &base, &key, "qw/coder-model").await
                }));
            }
        }
        for call in calls {
            let (status, answer) = call.await.unwrap();
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
    });
    assert_eq!(
        upstream.refreshes.load(Ordering::SeqCst),
        2,
        "the token was refreshed exactly once across the three devices"
    );
    assert_eq!(
        upstream.reused.load(Ordering::SeqCst),
        0,
        "no refresh token was used twice"
    );
    let authorizations = upstream.authorizations.lock().unwrap().clone();
    assert!(
        authorizations.iter().all(|auth| auth == "Bearer at-2"),
        "{authorizations:?}"
    );
    println!(
        "9 requests through three devices (the hub linked to itself among them), one refresh: {} refreshes in all (login included), {} reused",
        upstream.refreshes.load(Ordering::SeqCst),
        upstream.reused.load(Ordering::SeqCst)
    );
}
