//! A gateway between tools and services it does not control: a faulty or
//! hostile upstream (endless bodies, stalls, streams without event ends,
//! echoed secrets), early errors on the client's connection, web pages
//! (Host, Origin, content type) and the statuses real clients act on.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_store::{NewProvider, ProviderKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Harness;
use crate::scripted_upstream::{Reply, ScriptedUpstream};

/// What the raw upstream does with every request.
#[derive(Clone, Copy)]
enum Fault {
    /// `200 application/json` with a body that never ends.
    EndlessJson,
    /// `500` with an error body that never ends.
    EndlessError,
    /// `500` headers, then silence.
    StallAfterHeaders,
    /// `200 text/event-stream` whose data never contains a newline.
    SseWithoutNewlines,
    /// A normal JSON answer that contains the provider key.
    EchoSecret,
}

const SECRET: &str = "sk-raw-upstream-secret-123456";

/// A raw TCP upstream that answers every request with `fault`.
async fn raw_upstream(fault: Fault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = vec![0u8; 64 * 1024];
                let _ = stream.read(&mut request).await;
                let _ = answer(&mut stream, fault).await;
            });
        }
    });
    format!("http://{address}/v1")
}

async fn answer(stream: &mut TcpStream, fault: Fault) -> std::io::Result<()> {
    let chunk = vec![b'a'; 64 * 1024];
    match fault {
        Fault::EndlessJson | Fault::EndlessError | Fault::SseWithoutNewlines => {
            let head = match fault {
                Fault::EndlessJson => "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n",
                Fault::EndlessError => "HTTP/1.1 500 Oops\r\ncontent-type: application/json\r\n",
                _ => "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n",
            };
            stream
                .write_all(format!("{head}transfer-encoding: chunked\r\n\r\n").as_bytes())
                .await?;
            if matches!(fault, Fault::SseWithoutNewlines) {
                stream.write_all(b"6\r\ndata: \r\n").await?;
            }
            // Up to 4 GiB, far more than any limit allows.
            for _ in 0..65_536 {
                stream
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                stream.write_all(&chunk).await?;
                stream.write_all(b"\r\n").await?;
            }
            Ok(())
        }
        Fault::StallAfterHeaders => {
            stream
                .write_all(b"HTTP/1.1 500 Oops\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"error\":")
                .await?;
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        }
        Fault::EchoSecret => {
            let body = json!({
                "id": "c1", "object": "chat.completion", "created": 1, "model": "m",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": format!("your key is {SECRET}")}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            })
            .to_string();
            stream
                .write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await
        }
    }
}

/// Adds an OpenAI-compatible provider `prefix/m` with one key.
fn add_openai(harness: &Harness, name: &str, prefix: &str, base_url: String, key: &str) {
    harness
        .store()
        .add_provider(&NewProvider {
            name: name.into(),
            kind: ProviderKind::OpenaiCompatible,
            prefix: prefix.into(),
            base_url,
            api_key: key.into(),
            models: vec!["m".into()],
            enabled: true,
        })
        .unwrap();
}

fn add_raw(harness: &Harness, base_url: String) {
    add_openai(harness, "Raw", "raw", base_url, SECRET);
}

fn hi(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn an_endless_json_answer_is_cut_at_the_limit() {
    let harness = Harness::start().await;
    harness
        .store()
        .set_setting("max_upstream_body_bytes", "1048576")
        .unwrap();
    add_raw(&harness, raw_upstream(Fault::EndlessJson).await);
    let started = Instant::now();
    let response = harness.post_chat(hi("raw/m", false)).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("max_upstream_body_bytes"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn an_endless_stream_collected_for_a_json_client_is_cut_at_the_limit() {
    let harness = Harness::start().await;
    harness
        .store()
        .set_setting("max_upstream_body_bytes", "1048576")
        .unwrap();
    // Events end, so only the whole-body limit can stop it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = vec![0u8; 64 * 1024];
        let _ = stream.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        let _ = stream.write_all(head.as_bytes()).await;
        let event = format!(
            "data: {}\n\n",
            json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "choices": [{"index": 0, "delta": {"content": "x".repeat(4000)}, "finish_reason": null}]})
        );
        for _ in 0..1_000_000 {
            let frame = format!("{:x}\r\n{event}\r\n", event.len());
            if stream.write_all(frame.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    // Kiro-style providers force streaming; here the client asks for JSON
    // from a provider that streams anyway.
    add_raw(&harness, format!("http://{address}/v1"));
    let response = harness.post_chat(hi("raw/m", false)).await;
    assert_eq!(response.status(), 502, "{:?}", response.text().await);
}

#[tokio::test]
async fn a_stream_without_event_ends_is_cut_at_the_event_limit() {
    let harness = Harness::start().await;
    harness
        .store()
        .set_setting("max_stream_event_bytes", "1048576")
        .unwrap();
    add_raw(&harness, raw_upstream(Fault::SseWithoutNewlines).await);
    let response = harness.post_chat(hi("raw/m", true)).await;
    // The head went out with the stream; the error is the stream's last event.
    let text = tokio::time::timeout(Duration::from_secs(30), response.text())
        .await
        .expect("the stream must end")
        .unwrap();
    assert!(text.contains("max_stream_event_bytes"), "{text}");
}

#[tokio::test]
async fn endless_and_stalled_error_bodies_are_answered_in_time() {
    for fault in [Fault::EndlessError, Fault::StallAfterHeaders] {
        let harness = Harness::start().await;
        harness
            .store()
            .set_setting("first_byte_timeout_secs", "2")
            .unwrap();
        add_raw(&harness, raw_upstream(fault).await);
        let started = Instant::now();
        let response = tokio::time::timeout(
            Duration::from_secs(30),
            harness.post_chat(hi("raw/m", false)),
        )
        .await
        .expect("an answer in time");
        assert_eq!(response.status(), 500);
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}

#[tokio::test]
async fn a_key_echoed_in_a_successful_answer_is_redacted() {
    let harness = Harness::start().await;
    add_raw(&harness, raw_upstream(Fault::EchoSecret).await);
    let response = harness.post_chat(hi("raw/m", false)).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
}

/// Sends raw bytes to the gateway and reads what comes back until it closes
/// or two seconds pass.
async fn raw_exchange(harness: &Harness, request: &[u8]) -> String {
    let address = harness.gateway.as_ref().unwrap().local_addr();
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_refusal_before_the_body_is_read_closes_the_connection() {
    let harness = Harness::start().await;
    let answer = raw_exchange(
        &harness,
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n{\"model\":",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[tokio::test]
async fn hosts_and_origins_of_web_pages_are_refused() {
    let harness = Harness::start().await;
    let port = harness.gateway.as_ref().unwrap().local_addr().port();
    let get = |host: String, origin: Option<&'static str>| {
        let mut request = harness
            .http
            .get(harness.url("/v1/models"))
            .bearer_auth(&harness.key)
            .header("host", host);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        assert_eq!(
            get(host.clone(), None).await.unwrap().status(),
            200,
            "{host}"
        );
    }
    // DNS rebinding: a name the attacker controls, resolving to 127.0.0.1.
    let rebound = get(format!("evil.example:{port}"), None).await.unwrap();
    assert_eq!(rebound.status(), 403);
    // A cross-site page.
    let foreign = get(format!("127.0.0.1:{port}"), Some("http://evil.example"))
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    // Gemini and Ollama routes too, in their dialects.
    for path in ["/v1beta/models", "/api/tags", "/health"] {
        let response = harness
            .http
            .get(harness.url(path))
            .bearer_auth(&harness.key)
            .header("host", "evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }

    // Listed origins get CORS, and their preflights are answered.
    harness
        .store()
        .set_setting("cors_origins", "https://app.example")
        .unwrap();
    harness
        .store()
        .set_setting("allowed_hosts", "router.lan")
        .unwrap();
    let listed = get(format!("127.0.0.1:{port}"), Some("https://app.example"))
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    assert_eq!(
        listed.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(
        get(format!("router.lan:{port}"), None)
            .await
            .unwrap()
            .status(),
        200
    );
    let preflight = harness
        .http
        .request(
            reqwest::Method::OPTIONS,
            harness.url("/v1/chat/completions"),
        )
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
}

#[tokio::test]
async fn a_cross_site_form_post_never_reaches_the_provider() {
    let harness = Harness::start().await;
    harness
        .store()
        .set_setting("allow_unauthenticated_loopback", "true")
        .unwrap();
    let before = harness.upstream.received.lock().unwrap().len();
    let response = harness
        .http
        .post(harness.url("/v1/chat/completions"))
        .header("content-type", "text/plain")
        .body(hi("mock/echo", false).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(harness.upstream.received.lock().unwrap().len(), before);
}

#[tokio::test]
async fn oversized_bodies_are_413_on_every_json_route() {
    let harness = Harness::start().await;
    let big = vec![b' '; 33 * 1024 * 1024];
    for path in [
        "/v1/chat/completions",
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/embeddings",
        "/v1beta/models/mock/echo:generateContent",
        "/api/chat",
    ] {
        let response = harness
            .http
            .post(harness.url(path))
            .bearer_auth(&harness.key)
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await;
        // The gateway may close the connection before the whole body went out.
        if let Ok(response) = response {
            assert_eq!(response.status(), 413, "{path}");
        }
    }
}

#[tokio::test]
async fn a_rate_limit_keeps_retry_after_in_every_dialect() {
    let harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_openai(
        &harness,
        "Limited",
        "limited",
        upstream.base_url(),
        "k-limited",
    );
    upstream.script(
        "k-limited",
        [Reply::Error(
            429,
            "Rate limit reached",
            vec![("retry-after", "7".into())],
        )],
    );
    // Passed through: the provider's own error body, its wait as headers.
    let response = harness.post_chat(hi("limited/m", false)).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(response.headers()["retry-after-ms"], "7000");

    // The account now cools down: an Anthropic client is told when to retry.
    let response = harness
        .post_messages(json!({"model": "limited/m", "max_tokens": 5,
                              "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=7).contains(&wait));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
}

#[tokio::test]
async fn a_dead_key_with_no_other_account_is_not_a_rate_limit() {
    let harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_openai(&harness, "Dead", "dead", upstream.base_url(), "k-dead");
    upstream.script(
        "k-dead",
        [Reply::Error(401, "Incorrect API key provided", vec![])],
    );
    for attempt in 0..2 {
        // OpenAI-format clients stop at a 401, Anthropic clients at a 403.
        let response = harness.post_chat(hi("dead/m", false)).await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
        assert!(response.headers().get("retry-after").is_none());
        assert_eq!(response.headers()["x-should-retry"], "false");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "authentication_error", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("Dead"), "{message}");
        assert!(message.contains("switchyard"), "{message}");
        let response = harness
            .post_messages(json!({"model": "dead/m", "max_tokens": 5,
                                  "messages": [{"role": "user", "content": "hi"}]}))
            .await;
        assert_eq!(response.status(), 403, "attempt {attempt}");
        assert_eq!(response.headers()["x-should-retry"], "false");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "permission_error", "{body}");
    }
}

#[tokio::test]
async fn requests_blamed_on_the_client_never_open_the_breaker() {
    let harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_openai(&harness, "Picky", "picky", upstream.base_url(), "k-picky");
    harness
        .store()
        .set_setting("breaker_threshold", "2")
        .unwrap();
    upstream.script(
        "k-picky",
        (0..4).map(|_| {
            Reply::Error(
                500,
                "invalid_request_error: messages.0 is malformed",
                vec![],
            )
        }),
    );
    for _ in 0..4 {
        assert_eq!(harness.post_chat(hi("picky/m", false)).await.status(), 500);
    }
    // A request malformed for its dialect is refused before any provider sees it.
    let response = harness
        .post_chat(json!({"model": "picky/m", "messages": "not a list"}))
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(upstream.keys_seen().len(), 4);
    // The provider is still healthy.
    assert_eq!(harness.post_chat(hi("picky/m", false)).await.status(), 200);
}

#[tokio::test]
async fn claude_code_requests_reach_an_openai_upstream() {
    let harness = Harness::start().await;
    let response = harness
        .post_messages(json!({
            "model": "mock/echo",
            "max_tokens": 100,
            "system": [{"type": "text", "text": "You are Claude Code."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "system", "content": "Plan mode is on."},
                {"role": "user", "content": [{"type": "text", "text": "go on"}]}
            ],
            "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            "temperature": 1,
            "top_p": 0.9
        }))
        .await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let sent = harness.upstream.last_body();
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["role"].as_str().unwrap())
        .collect();
    // System instructions lead, in order; the conversation follows.
    let leading = roles.iter().take_while(|role| **role == "system").count();
    assert!(leading >= 1, "{roles:?}");
    assert!(
        roles[leading..].iter().all(|role| *role != "system"),
        "{roles:?}"
    );
    assert!(sent["messages"].to_string().contains("Plan mode is on."));
}

#[tokio::test]
async fn the_routes_real_clients_probe_exist() {
    let harness = Harness::start().await;
    let head = harness.http.head(harness.url("/")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let model = harness
        .http
        .get(harness.url("/v1/models/mock/echo"))
        .bearer_auth(&harness.key)
        .send()
        .await
        .unwrap();
    assert_eq!(model.status(), 200);
    let model: Value = model.json().await.unwrap();
    assert_eq!(model["id"], "mock/echo");
    assert_eq!(model["object"], "model");
    let anthropic: Value = harness
        .http
        .get(harness.url("/v1/models/mock/echo"))
        .bearer_auth(&harness.key)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anthropic["type"], "model");
    let missing = harness
        .http
        .get(harness.url("/v1/models/nobody/x"))
        .bearer_auth(&harness.key)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// Whether the gateway closed `stream` (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let mut harness = Harness::start().await;
    harness
        .store()
        .set_setting("request_read_timeout_secs", "1")
        .unwrap();
    harness.restart().await;
    let address = harness.gateway.as_ref().unwrap().local_addr();

    // A connection that never sends anything, and one kept alive after its request.
    let mut silent = TcpStream::connect(address).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(10)).await);
    let mut kept = TcpStream::connect(address).await.unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    assert!(closed_within(&mut kept, Duration::from_secs(10)).await);

    // Headers a byte at a time, never finished.
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        .await
        .unwrap();
    assert!(closed_within(&mut slow, Duration::from_secs(10)).await);

    // A body that never arrives whole, on an authorised request.
    let mut slow = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"model\"",
        harness.key
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn connections_past_the_cap_are_refused_with_503() {
    let mut harness = Harness::start().await;
    harness.store().set_setting("max_connections", "4").unwrap();
    harness.restart().await;
    let address = harness.gateway.as_ref().unwrap().local_addr();
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut refused = TcpStream::connect(address).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), refused.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("max_connections"), "{answer}");
    // Room again once they are gone.
    drop(idle);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let health = harness
        .http
        .get(harness.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn shutdown_ends_within_its_grace_period_and_keeps_usage() {
    let mut harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_openai(&harness, "Hung", "hung", upstream.base_url(), "k-hung");
    harness
        .store()
        .set_setting("shutdown_grace_secs", "1")
        .unwrap();
    harness.restart().await;
    upstream.script("k-hung", [Reply::Hang]);
    // One request done, one hanging, one slow client.
    assert_eq!(
        harness.post_chat(hi("mock/echo", false)).await.status(),
        200
    );
    let hanging = tokio::spawn({
        let request = harness
            .http
            .post(harness.url("/v1/chat/completions"))
            .bearer_auth(&harness.key)
            .json(&hi("hung/m", false));
        async move { request.send().await }
    });
    let address = harness.gateway.as_ref().unwrap().local_addr();
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    harness.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    let _ = hanging.await;
    let records = harness.store().recent_requests(10).unwrap();
    assert!(
        records.iter().any(|record| record.status == 200),
        "{records:?}"
    );
}

#[tokio::test]
async fn codex_remote_compaction_is_summarised_through_any_provider() {
    let harness = Harness::start().await;
    let response = harness
        .http
        .post(harness.url("/v1/responses/compact"))
        .bearer_auth(&harness.key)
        .json(&json!({
            "model": "mock/echo",
            "instructions": "You are Codex.",
            "input": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix the bug"}]},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done."}]}
            ]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let item = &answer["output"][0];
    assert_eq!(item["role"], "user", "{answer}");
    assert!(!item["content"][0]["text"].as_str().unwrap().is_empty());
    // The provider was asked for a summary of that history.
    let sent = harness.upstream.last_body().to_string();
    assert!(
        sent.contains("fix the bug") && sent.contains("Summarize"),
        "{sent}"
    );
}
