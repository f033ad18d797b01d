//! Team mode: several `switchyard serve` replicas of the real binary on one
//! throwaway PostgreSQL (`initdb` into a temporary folder), each with its
//! own data directory and the shared sealing key: a change through one
//! reaches the others within a second, a 429 learned by one is honoured by
//! another, an expiring OAuth token is refreshed exactly once among three,
//! usage stays exact when a replica is killed, replicas serve through a
//! database outage and catch up, and `db copy` moves an installation from
//! SQLite to PostgreSQL and back.

mod common;

#[path = "../../../tests/support/throwaway_postgres.rs"]
mod throwaway_postgres;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::upstream::{add_provider, ask, runtime, start_upstream};
use common::{Cli, Server};
use serde_json::{Value, json};
use throwaway_postgres::ThrowawayPostgres;

/// The shared database's variables: its URL and one sealing key.
fn shared_env(url: &str) -> Vec<(String, String)> {
    use base64::Engine;
    let key: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    vec![
        ("SWITCHYARD_DATABASE_URL".into(), url.into()),
        (
            "SWITCHYARD_SECRET_KEY".into(),
            base64::engine::general_purpose::STANDARD.encode(key),
        ),
    ]
}

/// A machine (data directory) of one replica on the shared database.
fn machine(env: &[(String, String)]) -> Cli {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    Cli::with_env(&pairs)
}

async fn health(http: &reqwest::Client, base: &str) -> Value {
    http.get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn count_requests(pg: &ThrowawayPostgres, url: &str, filter: &str) -> u64 {
    pg.psql(
        url,
        &format!("SELECT COUNT(*) FROM requests WHERE {filter}"),
    )
    .parse()
    .unwrap()
}

#[test]
fn three_replicas_share_configuration_cooldowns_and_one_refresh() {
    let mut pg = ThrowawayPostgres::start();
    let url = pg.new_database();
    let env = shared_env(&url);
    let rt = runtime();
    let (upstream_url, upstream) = rt.block_on(start_upstream());
    let machines: Vec<Cli> = (0..3).map(|_| machine(&env)).collect();
    let [a, b, c] = [&machines[0], &machines[1], &machines[2]];
    for cli in [a, b, c] {
        std::fs::write(
            cli.data_dir.path().join("endpoints.json"),
            json!({"qwen": {"token_url": format!("{upstream_url}/oauth/token"), "api_base": format!("{upstream_url}/v1")}}).to_string(),
        )
        .unwrap();
    }
    add_provider(
        a,
        "first",
        &format!("{upstream_url}/v1"),
        "sk-upstream",
        "m",
    );
    add_provider(
        a,
        "lim",
        &format!("{upstream_url}/v1"),
        "sk-upstream",
        "limited",
    );
    let key = a.json(&["key", "create", "--name", "team"])["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = a.json(&["dashboard", "token", "create", "ops"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let servers: Vec<Server> = [a, b, c]
        .iter()
        .map(|cli| Server::start(cli, &[]))
        .collect();
    let bases: Vec<String> = servers.iter().map(|server| server.base.clone()).collect();
    rt.block_on(async {
        let http = switchyard_providers::tls::http_client().build().unwrap();
        // Requests spread across the three.
        for base in &bases {
            let (status, answer) = ask(&http, base, &key, "first/m").await;
            assert_eq!(status, StatusCode::OK, "{base}: {answer}");
            let health = health(&http, base).await;
            assert_eq!(health["database"]["engine"], "postgresql", "{health}");
            assert_eq!(health["database"]["reachable"], true, "{health}");
            assert!(!health.to_string().contains("password"), "{health}");
        }

        // A provider added through A's management API serves through C within a second.
        let added = http
            .post(format!("{}/dashboard/api/call", bases[0]))
            .bearer_auth(&token)
            .json(&json!({"op": "add_provider", "args": {"input": {
                "name": "Late", "prefix": "late", "kind": "openai",
                "base_url": format!("{upstream_url}/v1"), "api_key": "sk-late",
                "models": ["m"], "skip_check": true}}}))
            .send()
            .await
            .unwrap();
        assert!(added.status().is_success(), "{:?}", added.text().await);
        let added_at = Instant::now();
        loop {
            let (status, _) = ask(&http, &bases[2], &key, "late/m").await;
            if status == StatusCode::OK {
                break;
            }
            assert!(
                added_at.elapsed() < Duration::from_secs(1),
                "replica C did not serve the provider added through A within a second"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!(
            "provider added through A served through C after {:?}",
            added_at.elapsed()
        );

        // A 429 with Retry-After learned through A is honoured by B.
        let (status, _) = ask(&http, &bases[0], &key, "lim/limited").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let hits = || {
            upstream
                .chats
                .lock()
                .unwrap()
                .iter()
                .filter(|m| *m == "limited")
                .count()
        };
        assert_eq!(hits(), 1);
        tokio::time::sleep(Duration::from_millis(800)).await;
        let (status, answer) = ask(&http, &bases[1], &key, "lim/limited").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
        assert_eq!(
            hits(),
            1,
            "replica B called the provider A learned is cooling down"
        );
    });

    // An OAuth account whose token is due, hit through all three at once.
    let mut connect = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"));
    connect
        .args(["--data-dir"])
        .arg(a.data_dir.path())
        .args([
            "connect",
            "qwen",
            "--refresh-token-stdin",
            "--prefix",
            "qw",
            "--label",
            "shared",
        ])
        .envs(env.iter().map(|(n, v)| (n, v)))
        .env("HOME", a.home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = connect.spawn().unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"rt-0\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
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
    rt.block_on(async {
        let http = switchyard_providers::tls::http_client().build().unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut calls = Vec::new();
        for round in 0..3 {
            for base in &bases {
                let (http, base, key) = (http.clone(), base.clone(), key.clone());
                calls.push(tokio::spawn(async move {
                    let _ = round;
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
        upstream.reused.load(Ordering::SeqCst),
        0,
        "a refresh token was used twice"
    );
    assert_eq!(
        upstream.refreshes.load(Ordering::SeqCst),
        2,
        "three replicas refreshed the expiring token more than once"
    );
    drop(servers);
    drop(pg);
}

#[test]
fn usage_stays_exact_through_a_crash_and_a_database_outage() {
    let mut pg = ThrowawayPostgres::start();
    let url = pg.new_database();
    let env = shared_env(&url);
    let rt = runtime();
    let (upstream_url, _upstream) = rt.block_on(start_upstream());
    let machines: Vec<Cli> = (0..3).map(|_| machine(&env)).collect();
    add_provider(
        &machines[0],
        "first",
        &format!("{upstream_url}/v1"),
        "sk-upstream",
        "m",
    );
    let key = machines[0].json(&["key", "create", "--name", "load"])["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut servers: Vec<Server> = machines.iter().map(|cli| Server::start(cli, &[])).collect();
    let bases: Vec<String> = servers.iter().map(|server| server.base.clone()).collect();
    let succeeded = Arc::new(AtomicU64::new(0));

    // kill -9 one replica under load: the others keep answering.
    rt.block_on(async {
        let http = switchyard_providers::tls::http_client().build().unwrap();
        let (status, _) = ask(&http, &bases[1], &key, "first/m").await;
        assert_eq!(status, StatusCode::OK);
        succeeded.fetch_add(1, Ordering::SeqCst);
        // B's record is written within the writer's gathering window.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut workers = Vec::new();
        for worker in 0..8 {
            let base = bases[if worker % 2 == 0 { 0 } else { 2 }].clone();
            let (http, key, stop, succeeded) = (
                http.clone(),
                key.clone(),
                Arc::clone(&stop),
                Arc::clone(&succeeded),
            );
            workers.push(tokio::spawn(async move {
                let mut failures = 0;
                while !stop.load(Ordering::Relaxed) {
                    match ask(&http, &base, &key, "first/m").await {
                        (StatusCode::OK, _) => {
                            succeeded.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => failures += 1,
                    }
                }
                failures
            }));
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        servers[1].kill();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            assert_eq!(
                worker.await.unwrap(),
                0,
                "a request through a live replica failed"
            );
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while count_requests(&pg, &url, "status = 200") != succeeded.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "usage totals differ from what clients saw"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "after kill -9: {} successful requests seen by clients, {} recorded",
        succeeded.load(Ordering::SeqCst),
        count_requests(&pg, &url, "status = 200")
    );

    // The database stopped for ten seconds: A and C keep serving; usage
    // arrives after it returns.
    pg.stop();
    let during = rt.block_on(async {
        let http = switchyard_providers::tls::http_client().build().unwrap();
        let started = Instant::now();
        let mut served = 0u64;
        while started.elapsed() < Duration::from_secs(10) {
            for base in [&bases[0], &bases[2]] {
                let (status, answer) = ask(&http, base, &key, "first/m").await;
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "a replica without its database refused: {answer}"
                );
                served += 1;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let health = health(&http, &bases[0]).await;
        assert_eq!(health["database"]["reachable"], false, "{health}");
        assert!(
            health["database"]["usage_waiting"].as_u64().unwrap() > 0,
            "{health}"
        );
        served
    });
    succeeded.fetch_add(during, Ordering::SeqCst);
    pg.resume();
    let deadline = Instant::now() + Duration::from_secs(15);
    while count_requests(&pg, &url, "status = 200") != succeeded.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "usage did not catch up: {} recorded, {} seen",
            count_requests(&pg, &url, "status = 200"),
            succeeded.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("database outage: {during} requests served while it was down, all recorded after");
    rt.block_on(async {
        let http = switchyard_providers::tls::http_client().build().unwrap();
        let health = health(&http, &bases[0]).await;
        assert_eq!(health["database"]["reachable"], true, "{health}");
        assert_eq!(health["database"]["usage_waiting"], 0, "{health}");
    });
}

#[test]
fn db_copy_moves_an_installation_to_postgresql_and_back() {
    let mut pg = ThrowawayPostgres::start();
    let url = pg.new_database();
    let env = shared_env(&url);
    let key_only = [("SWITCHYARD_SECRET_KEY", env[1].1.as_str())];
    let rt = runtime();
    let (upstream_url, _upstream) = rt.block_on(start_upstream());
    let original = Cli::with_env(&key_only);
    add_provider(
        &original,
        "first",
        &format!("{upstream_url}/v1"),
        "sk-upstream",
        "m",
    );
    original.ok(&["alias", "add", "quick", "first/m"]);
    let key = original.json(&["key", "create", "--name", "moved"])["key"]
        .as_str()
        .unwrap()
        .to_owned();
    {
        let server = Server::start(&original, &[]);
        rt.block_on(async {
            let (status, answer) = ask(
                &switchyard_providers::tls::http_client().build().unwrap(),
                &server.base,
                &key,
                "quick",
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        });
        // The record is written within the writer's gathering window.
        std::thread::sleep(Duration::from_millis(600));
    }
    let copied = original.run(&["db", "copy", "--to", &url]);
    let said = String::from_utf8_lossy(&copied.stdout);
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
    );
    assert!(
        said.contains("compared every field") && said.contains("requests: 1"),
        "{said}"
    );
    assert!(
        !said.contains("@127.0.0.1") || !said.contains(":@"),
        "{said}"
    );
    let on_postgres = machine(&env);
    let back = Cli::with_env(&key_only);
    back.ok(&["db", "copy", "--from", &url, "--to", "sqlite"]);
    for args in [
        &["provider", "list"][..],
        &["key", "list"],
        &["alias", "list"],
        &["usage", "--by", "model"],
        &["log"],
    ] {
        let first = original.json(args);
        assert_eq!(first, on_postgres.json(args), "{args:?} on PostgreSQL");
        assert_eq!(first, back.json(args), "{args:?} back in SQLite");
    }
    assert_eq!(on_postgres.json(&["db", "status"])["engine"], "postgresql");
    // The copies serve with the original key and the provider's (resealed) key.
    let server = Server::start(&back, &[]);
    rt.block_on(async {
        let (status, answer) = ask(
            &switchyard_providers::tls::http_client().build().unwrap(),
            &server.base,
            &key,
            "first/m",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    });
    // A database that holds data is not overwritten.
    let refused = original.fails(&["db", "copy", "--to", &url]);
    assert!(refused.contains("empty database"), "{refused}");
}

#[test]
fn key_rate_limits_and_budgets_hold_across_replicas() {
    let mut pg = ThrowawayPostgres::start();
    let url = pg.new_database();
    let env = shared_env(&url);
    let rt = runtime();
    let (upstream_url, upstream) = rt.block_on(start_upstream());
    let machines: Vec<Cli> = (0..2).map(|_| machine(&env)).collect();
    add_provider(
        &machines[0],
        "first",
        &format!("{upstream_url}/v1"),
        "sk-upstream",
        "m",
    );
    // $1 per million tokens each way: a request (3 + 1 tokens) costs $0.000004.
    machines[0].ok(&["price", "set", "first/m", "--input", "1", "--output", "1"]);
    let limited = machines[0].json(&["key", "create", "--name", "rpm"]);
    let rpm_key = limited["key"].as_str().unwrap().to_owned();
    let rpm_id = limited["id"].to_string();
    machines[0].ok(&["key", "limits", &rpm_id, "--rpm", "4"]);
    let budgeted = machines[0].json(&["key", "create", "--name", "budget"]);
    let budget_key = budgeted["key"].as_str().unwrap().to_owned();
    let budget_id = budgeted["id"].to_string();
    machines[0].ok(&["key", "limits", &budget_id, "--day", "0.00001"]);
    let servers: Vec<Server> = machines.iter().map(|cli| Server::start(cli, &[])).collect();
    rt.block_on(async {
        let http = switchyard_providers::tls::http_client().build().unwrap();
        let ok = |status: StatusCode| status == StatusCode::OK;
        // Four requests a minute in all: two through A, then B may make two more.
        for _ in 0..2 {
            assert!(ok(ask(&http, &servers[0].base, &rpm_key, "first/m")
                .await
                .0));
        }
        tokio::time::sleep(Duration::from_millis(1300)).await;
        for _ in 0..2 {
            assert!(ok(ask(&http, &servers[1].base, &rpm_key, "first/m")
                .await
                .0));
        }
        let (status, answer) = ask(&http, &servers[1].base, &rpm_key, "first/m").await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "B admitted a fifth request: {answer}"
        );
        // A budget of $0.00001 spent through A ($0.000012 in three requests) stops B too.
        for _ in 0..3 {
            assert!(ok(ask(&http, &servers[0].base, &budget_key, "first/m")
                .await
                .0));
        }
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let before = upstream.chats.lock().unwrap().len();
        let (status, answer) = ask(&http, &servers[1].base, &budget_key, "first/m").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{answer}");
        assert_eq!(answer["error"]["type"], "insufficient_quota", "{answer}");
        assert_eq!(upstream.chats.lock().unwrap().len(), before);
    });
}

/// Signs in to the dashboard at `base` as team user `user`; answers the
/// session cookie and CSRF token.
async fn sign_in_as(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> Option<(String, String)> {
    let response = http
        .post(format!("{base}/dashboard/api/login"))
        .header("origin", base)
        .json(&json!({ "user": user, "password": password }))
        .send()
        .await
        .unwrap();
    if response.status() != StatusCode::OK {
        return None;
    }
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = response.json::<Value>().await.unwrap()["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    Some((cookie, csrf))
}

async fn call_as(
    http: &reqwest::Client,
    base: &str,
    session: &(String, String),
    call: Value,
) -> (StatusCode, Value) {
    let response = http
        .post(format!("{base}/dashboard/api/call"))
        .header("origin", base)
        .header("cookie", &session.0)
        .header("x-csrf-token", &session.1)
        .json(&call)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[test]
fn team_members_see_and_manage_only_their_own_keys_and_usage() {
    let mut pg = ThrowawayPostgres::start();
    let url = pg.new_database();
    let env = shared_env(&url);
    let rt = runtime();
    let (upstream_url, _upstream) = rt.block_on(start_upstream());
    let admin = machine(&env);
    add_provider(
        &admin,
        "first",
        &format!("{upstream_url}/v1"),
        "sk-upstream",
        "m",
    );
    admin.ok(&[
        "call",
        "set_dashboard_user",
        r#"{"name": "alice", "password": "alice's long password", "role": "member"}"#,
    ]);
    admin.ok(&[
        "call",
        "set_dashboard_user",
        r#"{"name": "root", "password": "root's long password", "role": "admin"}"#,
    ]);
    let users = admin.json(&["dashboard", "user", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 2, "{users}");
    assert!(!users.to_string().contains("argon2"), "{users}");
    let bob_key = admin.json(&["key", "create", "--name", "bob's"]);
    admin.ok(&[
        "key",
        "policy",
        &bob_key["id"].to_string(),
        "--owner",
        "bob",
    ]);
    let server = Server::start(&admin, &[]);
    let base = server.base.clone();
    rt.block_on(async {
        let http = switchyard_providers::tls::http_client().build().unwrap();
        assert!(
            sign_in_as(&http, &base, "alice", "not alice's password")
                .await
                .is_none()
        );
        assert!(
            sign_in_as(&http, &base, "mallory", "alice's long password")
                .await
                .is_none()
        );
        let alice = sign_in_as(&http, &base, "alice", "alice's long password")
            .await
            .expect("alice signs in");
        let session: Value = http
            .get(format!("{base}/dashboard/api/session"))
            .header("cookie", &alice.0)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(session["member"], "alice", "{session}");
        // Her list is hers alone; a key she makes is hers.
        let (status, keys) = call_as(
            &http,
            &base,
            &alice,
            json!({"op": "list_api_keys", "args": {}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{keys}");
        assert_eq!(keys.as_array().unwrap().len(), 0, "{keys}");
        let (status, made) = call_as(
            &http,
            &base,
            &alice,
            json!({"op": "create_api_key", "args": {"name": "alice laptop"}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{made}");
        let (_, keys) = call_as(
            &http,
            &base,
            &alice,
            json!({"op": "list_api_keys", "args": {}}),
        )
        .await;
        assert_eq!(keys[0]["owner"], "alice", "{keys}");
        // Someone else's key and everything else are refused.
        let (status, refused) = call_as(
            &http,
            &base,
            &alice,
            json!({"op": "revoke_api_key", "args": {"id": bob_key["id"]}}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
        for call in [
            json!({"op": "list_providers", "args": {}}),
            json!({"op": "set_api_key_limits", "args": {"id": made["id"], "limits": {}}}),
            json!({"op": "list_dashboard_users", "args": {}}),
            json!({"op": "reveal_api_key", "args": {"id": null}}),
        ] {
            let (status, refused) = call_as(&http, &base, &alice, call.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{call}: {refused}");
            assert_eq!(refused["kind"], "forbidden", "{refused}");
        }
        // Her usage counts her key's requests only.
        let alice_key = made["key"].as_str().unwrap();
        for key in [alice_key, alice_key, bob_key["key"].as_str().unwrap()] {
            assert_eq!(ask(&http, &base, key, "first/m").await.0, StatusCode::OK);
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
        let (status, usage) = call_as(
            &http,
            &base,
            &alice,
            json!({"op": "usage_report", "args": {"query": {}}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{usage}");
        assert_eq!(usage[0]["requests"], 2, "{usage}");
        let (_, requests) = call_as(
            &http,
            &base,
            &alice,
            json!({"op": "recent_requests", "args": {"limit": 50}}),
        )
        .await;
        assert_eq!(requests.as_array().unwrap().len(), 2, "{requests}");
        // An admin user manages everything.
        let root = sign_in_as(&http, &base, "root", "root's long password")
            .await
            .expect("root signs in");
        let (status, providers) = call_as(
            &http,
            &base,
            &root,
            json!({"op": "list_providers", "args": {}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{providers}");
        let (_, usage) = call_as(
            &http,
            &base,
            &root,
            json!({"op": "usage_report", "args": {"query": {}}}),
        )
        .await;
        assert_eq!(usage[0]["requests"], 3, "{usage}");
        // A change made elsewhere (the CLI here) reaches a signed-in browser's
        // event stream on this replica.
        let mut events = http
            .get(format!("{base}/dashboard/api/events"))
            .header("cookie", &root.0)
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), StatusCode::OK);
        let cli = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .arg("--data-dir")
            .arg(admin.data_dir.path())
            .args(["alias", "add", "elsewhere", "first/m"])
            .envs(env.iter().map(|(n, v)| (n, v)))
            .output()
            .unwrap();
        assert!(
            cli.status.success(),
            "{}",
            String::from_utf8_lossy(&cli.stderr)
        );
        let heard = tokio::time::timeout(Duration::from_secs(3), async {
            let mut seen = String::new();
            while let Ok(Some(chunk)) = events.chunk().await {
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if seen.contains("event: state-changed") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(
            heard,
            Ok(true),
            "no state-changed event for a change made through the CLI"
        );
        // Removing alice ends her session.
        let (status, _) = call_as(
            &http,
            &base,
            &root,
            json!({"op": "remove_dashboard_user", "args": {"name": "alice"}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call_as(
            &http,
            &base,
            &alice,
            json!({"op": "list_api_keys", "args": {}}),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    });
    // Usage by member, for the administrators.
    let by_owner = admin.json(&["usage", "--by", "owner"]);
    let rows = by_owner["owner"].as_array().unwrap();
    let requests_of = |owner: &str| {
        rows.iter()
            .find(|row| row["key"] == owner)
            .map(|row| row["requests"].clone())
    };
    assert_eq!(requests_of("alice"), Some(json!(2)), "{by_owner}");
    assert_eq!(requests_of("bob"), Some(json!(1)), "{by_owner}");
}

#[test]
fn the_database_connection_is_encrypted_and_its_certificate_checked() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let certificate = certified.cert.pem();
    let mut pg =
        ThrowawayPostgres::start_with_tls(&certificate, &certified.signing_key.serialize_pem());
    let url = format!("{}?sslmode=require", pg.new_database());
    let env = shared_env(&url);
    // A certificate nobody vouches for is refused, with the reason.
    let untrusting = machine(&env);
    let refused = untrusting.fails(&["db", "status"]);
    assert!(
        refused.contains("certificate") || refused.contains("TLS"),
        "{refused}"
    );
    // With its authority named, the connection works, encrypted.
    let mut trusting = machine(&env);
    let ca = trusting.write("ca.pem", &certificate);
    trusting.env.push((
        "SWITCHYARD_DATABASE_CA_FILE".into(),
        ca.display().to_string(),
    ));
    assert_eq!(trusting.json(&["db", "status"])["engine"], "postgresql");
    let server = Server::start(&trusting, &[]);
    let encrypted = pg.psql(
        &url.replace("?sslmode=require", ""),
        "SELECT COUNT(*), bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name = 'switchyard'",
    );
    let (connections, all_ssl) = encrypted.split_once('|').unwrap();
    assert!(connections.parse::<u32>().unwrap() >= 2, "{encrypted}");
    assert_eq!(
        all_ssl, "t",
        "a connection to the database is not encrypted: {encrypted}"
    );
    drop(server);
}
