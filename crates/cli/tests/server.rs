//! `switchyard serve`'s dashboard and management API, through the real
//! binary: every operation reachable with a session and with a management
//! token, each refusal (wrong password, missing CSRF token, foreign
//! Origin or Host, forged, expired or signed-out cookie, oversized or
//! malformed calls) changing nothing, `/health`, TLS and `--remote`.

mod common;

use common::{Cli, Server};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Error kinds the transport gives before an operation runs.
const TRANSPORT_KINDS: &[&str] = &["unauthorized", "csrf", "forbidden_origin", "too_large"];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn client() -> reqwest::Client {
    switchyard_providers::tls::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A signed-in browser: its cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn sign_in_with_link(http: &reqwest::Client, link: &str) -> Browser {
    let response = http.get(link).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let base = link.split("/dashboard/").next().unwrap();
    let session: Value = http
        .get(format!("{base}/dashboard/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["signedIn"], true, "{session}");
    Browser {
        cookie,
        csrf: session["csrfToken"].as_str().unwrap().to_owned(),
    }
}

async fn call_as_browser(
    http: &reqwest::Client,
    base: &str,
    browser: &Browser,
    call: &Value,
) -> (StatusCode, Value) {
    let response = http
        .post(format!("{base}/dashboard/api/call"))
        .header("cookie", &browser.cookie)
        .header("x-csrf-token", &browser.csrf)
        .header("origin", base)
        .json(call)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn call_with_token(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    call: &Value,
) -> (StatusCode, Value) {
    let response = http
        .post(format!("{base}/dashboard/api/call"))
        .bearer_auth(token)
        .json(call)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Asserts the call reached the manager: it succeeded, or failed with the
/// operation's own error.
fn assert_reached(call: &Value, status: StatusCode, answer: &Value) {
    if status.is_success() {
        return;
    }
    let kind = answer["kind"].as_str().unwrap_or_default();
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        !kind.is_empty()
            && !TRANSPORT_KINDS.contains(&kind)
            && !message.starts_with("not a management call"),
        "{call} did not reach the manager: {status} {answer}"
    );
}

fn operations() -> Vec<Value> {
    serde_json::from_str(include_str!("../../../tests/operations.json")).unwrap()
}

#[test]
fn every_operation_is_reachable_with_a_session_and_with_a_token() {
    let cli = Cli::new();
    let token = cli.json(&["dashboard", "token", "create", "ops"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = Server::start(&cli, &[]);
    let link = server.signin_link.clone().expect("no sign-in link printed");
    let http = client();
    runtime().block_on(async {
        let browser = sign_in_with_link(&http, &link).await;
        for call in operations() {
            let (status, answer) = call_as_browser(&http, &server.base, &browser, &call).await;
            assert_reached(&call, status, &answer);
            let (status, answer) = call_with_token(&http, &server.base, &token, &call).await;
            assert_reached(&call, status, &answer);
        }
        // The last operation set a password: the browser was signed out.
        let (status, _) = call_as_browser(
            &http,
            &server.base,
            &browser,
            &json!({"op": "list_aliases", "args": {}}),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    });
    // Both transports are in the record, secrets taken out.
    let log = cli.json(&["dashboard", "log", "--limit", "500"]);
    let text = log.to_string();
    assert!(text.contains("browser 127.0.0.1"), "{text}");
    assert!(text.contains("token ops"), "{text}");
    assert!(!text.contains("sk-fixture-secret"), "{text}");
    assert!(!text.contains("fixture password 123"), "{text}");
}

#[test]
fn refusals_change_nothing_and_say_why() {
    let cli = Cli::new();
    let server = Server::start(&cli, &[]);
    let link = server.signin_link.clone().expect("no sign-in link printed");
    let base = server.base.clone();
    let http = client();
    let aliases = |cli: &Cli| cli.json(&["call", "list_aliases"]);
    runtime().block_on(async {
        let browser = sign_in_with_link(&http, &link).await;
        let add = json!({"op": "add_alias", "args": {"name": "a", "target": "p/m"}});
        // The link works once.
        let again = http.get(&link).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
        // No CSRF token.
        let response = http
            .post(format!("{base}/dashboard/api/call"))
            .header("cookie", &browser.cookie)
            .header("origin", &base)
            .json(&add)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.json::<Value>().await.unwrap()["kind"], "csrf");
        // A foreign Origin (a cross-site form or fetch).
        let response = http
            .post(format!("{base}/dashboard/api/call"))
            .header("cookie", &browser.cookie)
            .header("x-csrf-token", &browser.csrf)
            .header("origin", "https://evil.example")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("op=add_alias")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        // No Origin at all on a cookie call.
        let response = http
            .post(format!("{base}/dashboard/api/call"))
            .header("cookie", &browser.cookie)
            .header("x-csrf-token", &browser.csrf)
            .json(&add)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        // A rebinding Host.
        let response = http
            .post(format!("{base}/dashboard/api/call"))
            .header("host", "evil.example")
            .header("cookie", &browser.cookie)
            .header("x-csrf-token", &browser.csrf)
            .header("origin", "http://evil.example")
            .json(&add)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        // A forged cookie.
        let forged = Browser {
            cookie: "switchyard_session=00ff".into(),
            csrf: browser.csrf.clone(),
        };
        let (status, answer) = call_as_browser(&http, &base, &forged, &add).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        // Oversized and malformed calls.
        let huge = json!({"op": "import_config", "args": {"json": "x".repeat(9 * 1024 * 1024), "dryRun": true}});
        let (status, _) = call_as_browser(&http, &base, &browser, &huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        // The server stops reading at the limit and closes that connection.
        let http = client();
        let response = http
            .post(format!("{base}/dashboard/api/call"))
            .header("cookie", &browser.cookie)
            .header("x-csrf-token", &browser.csrf)
            .header("origin", &base)
            .header("content-type", "application/json")
            .body("{\"op\": \"add_alias\", \"args\": ")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let (status, answer) = call_as_browser(
            &http,
            &base,
            &browser,
            &json!({"op": "drop_everything", "args": {}}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(aliases(&cli), json!([]));
        // The real call works, then logout ends the cookie.
        let (status, answer) = call_as_browser(&http, &base, &browser, &add).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let response = http
            .post(format!("{base}/dashboard/api/logout"))
            .header("cookie", &browser.cookie)
            .header("x-csrf-token", &browser.csrf)
            .header("origin", &base)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let remove = json!({"op": "remove_alias", "args": {"name": "a"}});
        let (status, _) = call_as_browser(&http, &base, &browser, &remove).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(aliases(&cli).as_array().unwrap().len(), 1);
    });
    // Wrong passwords, then the right one; five wrong ones hold the address back.
    let password = "a long enough password";
    let mut set = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("--data-dir")
        .arg(cli.data_dir.path())
        .args(["dashboard", "password"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    set.stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    assert!(set.wait().unwrap().success());
    runtime().block_on(async {
        let login = |password: &str| {
            http.post(format!("{base}/dashboard/api/login"))
                .header("origin", &base)
                .json(&json!({ "password": password }))
                .send()
        };
        let wrong = login("not the password").await.unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let right = login(password).await.unwrap();
        assert_eq!(right.status(), StatusCode::OK);
        let cookie = right.headers()["set-cookie"].to_str().unwrap().to_owned();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        // The session expires: its end is moved into the past.
        let database = cli.data_dir.path().join("switchyard.db");
        let connection = rusqlite::Connection::open(&database).unwrap();
        connection
            .execute("UPDATE dashboard_sessions SET expires_at = 1", [])
            .unwrap();
        let session: Value = http
            .get(format!("{base}/dashboard/api/session"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(session["signedIn"], false, "{session}");
        for _ in 0..5 {
            let _ = login("still wrong").await.unwrap();
        }
        let held = login(password).await.unwrap();
        assert_eq!(held.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(held.headers().contains_key("retry-after"));
    });
    assert_eq!(aliases(&cli).as_array().unwrap().len(), 1);
}

#[test]
fn health_reports_version_uptime_and_providers() {
    let cli = Cli::new();
    cli.ok(&[
        "provider",
        "add",
        "--name",
        "Up",
        "--prefix",
        "up",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--api-key",
        "sk-x",
        "--model",
        "m",
    ]);
    let server = Server::start(&cli, &[]);
    runtime().block_on(async {
        let http = client();
        let health: Value = http
            .get(format!("{}/health", server.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "ok", "{health}");
        assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
        assert!(health["uptime_secs"].is_u64());
        assert_eq!(health["providers"][0]["prefix"], "up", "{health}");
        assert_eq!(health["providers"][0]["state"], "ok", "{health}");
        let live = http
            .get(format!("{}/health/live", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), StatusCode::OK);
        // The dashboard's pages are served with strict headers.
        let page = http
            .get(format!("{}/dashboard/", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let csp = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(page.headers()["x-frame-options"], "DENY");
    });
}

#[test]
fn a_remote_cli_manages_the_server_with_a_token() {
    let cli = Cli::new();
    let token = cli.json(&["dashboard", "token", "create", "laptop"])["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = Server::start(&cli, &[]);
    let elsewhere = Cli::new();
    let remote = |args: &[&str]| {
        let mut all = vec!["--remote", server.base.as_str(), "--token", token.as_str()];
        all.extend_from_slice(args);
        elsewhere.json(&all)
    };
    remote(&["call", "add_alias", r#"{"name": "fast", "target": "p/m"}"#]);
    assert_eq!(
        cli.json(&["call", "list_aliases"]),
        json!([{"name": "fast", "target": "p/m"}])
    );
    let log = remote(&["dashboard", "log"]);
    assert_eq!(log[0]["actor"], "token laptop", "{log}");
    assert_eq!(log[0]["operation"], "add_alias");
    let tokens = remote(&["dashboard", "token", "list"]);
    assert_eq!(tokens[0]["name"], "laptop");
    let refused = elsewhere.fails(&[
        "--remote",
        &server.base,
        "--token",
        "sym-wrong",
        "call",
        "list_aliases",
    ]);
    assert!(refused.contains("not valid"), "{refused}");
}

#[test]
fn tls_serves_the_dashboard_with_secure_cookies() {
    let cli = Cli::new();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = cli.write("tls/cert.pem", &certified.cert.pem());
    let key = cli.write("tls/key.pem", &certified.signing_key.serialize_pem());
    let server = Server::start(
        &cli,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let link = server.signin_link.clone().unwrap();
    // Its own roots: reqwest's rustls set-up, on ring.
    switchyard_providers::tls::install_ring_default();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    runtime().block_on(async {
        let health = http
            .get(format!("{}/health", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let signed_in = http.get(&link).send().await.unwrap();
        let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.contains("; Secure"), "{cookie}");
        let page = http
            .get(format!("{}/dashboard/", server.base))
            .send()
            .await
            .unwrap();
        assert!(page.headers().contains_key("strict-transport-security"));
        // Plain HTTP to the TLS port gets nothing served.
        let plain = client()
            .get(server.base.replacen("https", "http", 1) + "/health")
            .send()
            .await;
        assert!(plain.is_err() || !plain.unwrap().status().is_success());
    });
}

/// A provider behind TLS, its certificate from a private CA that the
/// gateway's machine trusts (`SSL_CERT_FILE`): reached with rustls and the
/// platform's roots, read on the first handshake. A machine that does not
/// trust it gets a 502 saying the provider could not be reached.
#[test]
fn providers_are_reached_over_tls_with_the_platform_roots() {
    use common::upstream::{add_provider, ask, start_upstream};
    let runtime = common::upstream::runtime();
    let (upstream, seen) = runtime.block_on(start_upstream());
    // The provider: a Switchyard server on TLS, the chat mock behind it.
    let provider = Cli::new();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = provider.write("tls/cert.pem", &certified.cert.pem());
    let key = provider.write("tls/key.pem", &certified.signing_key.serialize_pem());
    add_provider(&provider, "mock", &format!("{upstream}/v1"), "sk-up", "m");
    let provider_key = provider.json(&["key", "create", "--name", "front"])["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let tls_server = Server::start(
        &provider,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let http = client();
    for trusted in [true, false] {
        let front = if trusted {
            Cli::with_env(&[("SSL_CERT_FILE", cert.to_str().unwrap())])
        } else {
            Cli::new()
        };
        add_provider(
            &front,
            "tls",
            &format!("{}/v1", tls_server.base),
            &provider_key,
            "mock/m",
        );
        let front_key = front.json(&["key", "create", "--name", "me"])["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let gateway = Server::start(&front, &[]);
        let (status, answer) =
            runtime.block_on(ask(&http, &gateway.base, &front_key, "tls/mock/m"));
        if trusted {
            assert_eq!(status, StatusCode::OK, "{answer}");
            assert_eq!(answer["choices"][0]["message"]["content"], "hi");
            assert_eq!(seen.chats.lock().unwrap().as_slice(), ["m"]);
        } else {
            assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains("certificate is not trusted"), "{message}");
            assert_eq!(seen.chats.lock().unwrap().len(), 1, "nothing got through");
        }
    }
}

#[test]
fn forwarded_headers_count_only_from_trusted_proxies() {
    let http = client();
    for trusted in [true, false] {
        let cli = Cli::new();
        if trusted {
            cli.ok(&["config", "set", "trusted_proxies", "127.0.0.1"]);
        }
        let server = Server::start(&cli, &[]);
        let link = server.signin_link.clone().unwrap();
        runtime().block_on(async {
            let signed_in = http
                .get(&link)
                .header("x-forwarded-for", "198.51.100.7, 203.0.113.9")
                .header("x-forwarded-proto", "https")
                .send()
                .await
                .unwrap();
            let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
            assert_eq!(cookie.contains("; Secure"), trusted, "{cookie}");
            // Before the caller is known, no body is read: 20 MiB unsigned is a 401.
            let unsigned = http
                .post(format!("{}/dashboard/api/call", server.base))
                .header("content-type", "application/json")
                .body(vec![b' '; 20 * 1024 * 1024])
                .send()
                .await;
            if let Ok(unsigned) = unsigned {
                assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
            }
        });
        let log = cli.json(&["dashboard", "log"]);
        let expected = if trusted {
            "browser 203.0.113.9"
        } else {
            "browser 127.0.0.1"
        };
        assert_eq!(log[0]["actor"], expected, "{log}");
    }
}
