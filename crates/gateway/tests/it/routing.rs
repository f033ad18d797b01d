//! Multi-account routing against a scripted upstream: fallback across
//! accounts and targets, cooldowns (Retry-After, quota, restarts, reset),
//! timeouts, the circuit breaker, strategies, quota windows, accounting, and
//! cancellation when the client goes away.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_store::{
    AccountStrategy, ComboStrategy, ComboTarget, NewProvider, Price, ProviderKind, QuotaLimit,
    QuotaMetric, QuotaWindow, UsageDimension, UsageQuery, now_millis,
};

use crate::Harness;
use crate::scripted_upstream::{Reply, ScriptedUpstream};

/// A provider `multi` on the scripted upstream with the given accounts
/// (label, key); the first is stored as `default`'s replacement label.
fn add_multi(harness: &Harness, upstream: &ScriptedUpstream, accounts: &[(&str, &str)]) -> i64 {
    let mut store = harness.store();
    let provider = store
        .add_provider(&NewProvider {
            name: "Multi".into(),
            kind: ProviderKind::OpenaiCompatible,
            prefix: "multi".into(),
            base_url: upstream.base_url(),
            api_key: accounts[0].1.into(),
            models: vec!["m".into()],
            enabled: true,
        })
        .unwrap();
    for (priority, (label, key)) in accounts.iter().enumerate().skip(1) {
        store
            .add_account(provider.id, label, key, priority as i64)
            .unwrap();
    }
    provider.id
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

async fn ask(harness: &Harness, model: &str) -> (u16, Value) {
    let response = harness.post_chat(chat(model)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_rate_limited_account_falls_back_cools_down_for_retry_after_and_is_probed_after() {
    let mut harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_multi(
        &harness,
        &upstream,
        &[("default", "k-limited"), ("backup", "k-good")],
    );
    upstream.script(
        "k-limited",
        [Reply::Error(
            429,
            "Rate limit reached",
            vec![("retry-after", "2".into())],
        )],
    );
    harness
        .store()
        .set_price(&Price {
            model: "multi/m".into(),
            input_per_mtok: 1.0,
            output_per_mtok: 2.0,
            cache_read_per_mtok: None,
            cache_write_per_mtok: None,
            per_image: None,
            per_audio_second: None,
        })
        .unwrap();

    let (status, body) = ask(&harness, "multi/m").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(upstream.keys_seen(), ["k-limited", "k-good"]);
    // Cooldowns reach the database through the usage writer.
    harness.flush_usage().await;
    let cooldowns = harness.store().list_cooldowns().unwrap();
    assert_eq!(cooldowns.len(), 1);
    let left = cooldowns[0].until - now_millis();
    assert!(
        (1_000..=2_100).contains(&left),
        "cooldown ends in {left} ms"
    );

    // While it cools down, the account is not even tried.
    let (status, _) = ask(&harness, "multi/m").await;
    assert_eq!(status, 200);
    assert_eq!(upstream.keys_seen(), ["k-limited", "k-good", "k-good"]);

    // After Retry-After, it is probed; its success ends the cooldown.
    tokio::time::sleep(Duration::from_millis(left as u64 + 100)).await;
    let (status, _) = ask(&harness, "multi/m").await;
    assert_eq!(status, 200);
    assert_eq!(upstream.keys_seen().last().unwrap(), "k-limited");
    // Cooldowns reach the database through the usage writer.
    harness.flush_usage().await;
    assert!(harness.store().list_cooldowns().unwrap().is_empty());

    harness.stop().await;
    let records = harness.store().recent_requests(10).unwrap();
    assert_eq!(records.len(), 3, "one record per request");
    let first = &records[2];
    let path: Vec<_> = first
        .attempts
        .iter()
        .map(|a| (a.account.as_deref().unwrap(), a.status))
        .collect();
    assert_eq!(path, [("default", 429), ("backup", 200)]);
    assert_eq!(first.account.as_deref(), Some("backup"));
    assert_eq!(
        (first.prompt_tokens, first.completion_tokens),
        (Some(100), Some(50))
    );
    let cost = first.cost_usd.unwrap();
    assert!((cost - 0.0002).abs() < 1e-12, "{cost}");
    assert!(
        records[1].attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("cooling down")
    );
    assert_eq!(records[0].account.as_deref(), Some("default"));
    assert_eq!(records[0].dialect.as_deref(), Some("openai-chat"));
    assert!(records[0].ttfb_ms.is_some());

    let by_account = harness
        .store()
        .usage_report(&UsageQuery {
            by: Some(UsageDimension::Account),
            ..UsageQuery::default()
        })
        .unwrap();
    let backup = by_account
        .iter()
        .find(|row| row.key.as_deref() == Some("Multi/backup"))
        .unwrap();
    assert_eq!(backup.requests, 2);
    assert!((backup.cost_usd - 0.0004).abs() < 1e-12);
    let failures = harness.store().failures_by_account(None, None).unwrap();
    assert_eq!(failures[0].account, "Multi/default");
    assert_eq!(failures[0].failures, 1);
}

#[tokio::test]
async fn quota_and_auth_failures_fall_back_but_a_bad_request_does_not() {
    let harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_multi(
        &harness,
        &upstream,
        &[
            ("default", "k-broke"),
            ("second", "k-revoked"),
            ("third", "k-good"),
        ],
    );
    upstream.script(
        "k-broke",
        [
            Reply::Error(
                429,
                "You exceeded your current quota (insufficient_quota)",
                vec![],
            ),
            Reply::Error(400, "messages: field 'content' is invalid", vec![]),
        ],
    );
    upstream.script(
        "k-revoked",
        [Reply::Error(401, "Incorrect API key provided", vec![])],
    );
    let (status, _) = ask(&harness, "multi/m").await;
    assert_eq!(status, 200);
    assert_eq!(upstream.keys_seen(), ["k-broke", "k-revoked", "k-good"]);
    // Cooldowns reach the database through the usage writer.
    harness.flush_usage().await;
    let reasons: Vec<_> = harness
        .store()
        .list_cooldowns()
        .unwrap()
        .into_iter()
        .map(|c| (c.reason, (c.until - now_millis()) / 1000))
        .collect();
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0].0, "quota exhausted");
    assert!(reasons[0].1 >= 55, "{reasons:?}");
    assert_eq!(reasons[1].0, "credentials refused");
    assert!(reasons[1].1 >= 295, "{reasons:?}");

    // Reset the first account's cooldown: its next answer is a 400, which
    // is the request's fault and goes straight back to the client.
    let account = harness.store().find_account("multi/default").unwrap();
    harness.store().reset_cooldowns(account.id).unwrap();
    let (status, body) = ask(&harness, "multi/m").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(upstream.keys_seen().len(), 4, "no fallback after a 400");
}

#[tokio::test]
async fn a_cooldown_survives_a_restart_and_ends_with_a_reset() {
    let mut harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_multi(
        &harness,
        &upstream,
        &[("default", "k-one"), ("backup", "k-two")],
    );
    // The provider asks for a day; the cap (15 minutes) keeps it bounded.
    upstream.script(
        "k-one",
        [Reply::Error(
            429,
            "Rate limit reached",
            vec![("retry-after", "86400".into())],
        )],
    );
    assert_eq!(ask(&harness, "multi/m").await.0, 200);
    // Cooldowns reach the database through the usage writer.
    harness.flush_usage().await;
    let until = harness.store().list_cooldowns().unwrap()[0].until;
    let capped = until - now_millis();
    assert!((890_000..=900_000).contains(&capped), "{capped}");

    harness.restart().await;
    assert_eq!(ask(&harness, "multi/m").await.0, 200);
    assert_eq!(upstream.keys_seen(), ["k-one", "k-two", "k-two"]);

    // The reset (CLI, dashboard) is seen by the running gateway at once.
    let account = harness.store().find_account("multi/default").unwrap();
    assert_eq!(harness.store().reset_cooldowns(account.id).unwrap(), 1);
    assert_eq!(ask(&harness, "multi/m").await.0, 200);
    assert_eq!(upstream.keys_seen().last().unwrap(), "k-one");
}

#[tokio::test]
async fn every_account_cooling_down_answers_429_with_retry_after_in_the_callers_dialect() {
    let harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_multi(&harness, &upstream, &[("default", "k-one")]);
    upstream.script(
        "k-one",
        [Reply::Error(
            429,
            "Rate limit reached",
            vec![("retry-after", "30".into())],
        )],
    );
    assert_eq!(ask(&harness, "multi/m").await.0, 429);
    let response = harness
        .post_messages(json!({"model": "multi/m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((25..=30).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Multi/default")
    );
    assert_eq!(upstream.keys_seen().len(), 1);
}

#[tokio::test]
async fn a_slow_first_byte_times_out_and_falls_back() {
    let harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_multi(
        &harness,
        &upstream,
        &[("default", "k-slow"), ("backup", "k-good")],
    );
    harness
        .store()
        .set_setting("first_byte_timeout_secs", "1")
        .unwrap();
    upstream.script("k-slow", [Reply::SlowFirstByte(Duration::from_secs(5))]);
    let (status, _) = ask(&harness, "multi/m").await;
    assert_eq!(status, 200);
    assert_eq!(upstream.keys_seen(), ["k-slow", "k-good"]);
    harness.flush_usage().await;
    let record = &harness.store().recent_requests(1).unwrap()[0];
    assert_eq!(record.attempts[0].status, 504);
    assert_eq!(record.attempts[0].error.as_deref(), Some("timed out"));
}

#[tokio::test]
async fn a_circuit_breaker_opens_after_repeated_server_errors_and_probes_later() {
    let harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_multi(&harness, &upstream, &[("default", "k-flaky")]);
    let store = harness.store();
    store.set_setting("breaker_threshold", "2").unwrap();
    store.set_setting("breaker_open_secs", "1").unwrap();
    upstream.script(
        "k-flaky",
        [
            Reply::Error(500, "boom", vec![]),
            Reply::Error(502, "boom", vec![]),
        ],
    );
    assert_eq!(ask(&harness, "multi/m").await.0, 500);
    assert_eq!(ask(&harness, "multi/m").await.0, 502);
    let (status, body) = ask(&harness, "multi/m").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("circuit breaker open")
    );
    assert_eq!(
        upstream.keys_seen().len(),
        2,
        "an open breaker sends nothing"
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(ask(&harness, "multi/m").await.0, 200, "the probe succeeds");
    assert_eq!(
        ask(&harness, "multi/m").await.0,
        200,
        "and closes the breaker"
    );
}

#[tokio::test]
async fn account_strategies_spread_requests() {
    let harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_multi(&harness, &upstream, &[("a", "k-a"), ("b", "k-b")]);
    let store = harness.store();
    store
        .set_account_strategy("multi", Some(AccountStrategy::RoundRobin))
        .unwrap();
    for _ in 0..4 {
        assert_eq!(ask(&harness, "multi/m").await.0, 200);
    }
    assert_eq!(upstream.keys_seen(), ["k-a", "k-b", "k-a", "k-b"]);

    store
        .set_account_strategy("multi", Some(AccountStrategy::Sticky))
        .unwrap();
    store.set_setting("sticky_limit", "2").unwrap();
    upstream.seen.lock().unwrap().clear();
    for _ in 0..4 {
        assert_eq!(ask(&harness, "multi/m").await.0, 200);
    }
    let keys = upstream.keys_seen();
    assert_eq!(keys[0], keys[1]);
    assert_eq!(keys[2], keys[3]);
    assert_ne!(keys[1], keys[2]);

    // A disabled account is never used.
    let b = store.find_account("multi/b").unwrap();
    store.set_account_enabled(b.id, false).unwrap();
    upstream.seen.lock().unwrap().clear();
    for _ in 0..3 {
        assert_eq!(ask(&harness, "multi/m").await.0, 200);
    }
    assert_eq!(upstream.keys_seen(), ["k-a", "k-a", "k-a"]);
}

#[tokio::test]
async fn combo_strategies_nesting_aliases_and_disabled_targets() {
    let harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_multi(&harness, &upstream, &[("default", "k-a")]);
    let store = harness.store();
    let targets = |names: &[&str]| {
        names
            .iter()
            .map(|n| ComboTarget::new(*n))
            .collect::<Vec<_>>()
    };
    store
        .add_combo(
            "rr",
            ComboStrategy::RoundRobin,
            &targets(&["multi/one", "multi/two"]),
        )
        .unwrap();
    for _ in 0..3 {
        assert_eq!(ask(&harness, "rr").await.0, 200);
    }
    assert_eq!(upstream.models_seen(), ["one", "two", "one"]);

    let mut weighted = targets(&["multi/never", "multi/always"]);
    weighted[0].weight = 0;
    weighted[1].weight = 5;
    store
        .add_combo("weighted", ComboStrategy::Weighted, &weighted)
        .unwrap();
    // A disabled first target, then a nested combo through an alias.
    let mut outer = targets(&["multi/off", "w"]);
    outer[0].enabled = false;
    store.add_alias("w", "weighted").unwrap();
    store
        .add_combo("outer", ComboStrategy::Fallback, &outer)
        .unwrap();
    upstream.seen.lock().unwrap().clear();
    for _ in 0..3 {
        assert_eq!(ask(&harness, "outer").await.0, 200);
    }
    assert_eq!(upstream.models_seen(), ["always", "always", "always"]);

    let models: Value = harness.get_json("/v1/models").await;
    let ids: Vec<_> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        ids.contains(&"w".to_owned()) && ids.contains(&"outer".to_owned()),
        "{ids:?}"
    );
}

#[tokio::test]
async fn exhausted_quota_windows_and_provider_reports_skip_an_account() {
    let harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_multi(
        &harness,
        &upstream,
        &[("default", "k-a"), ("backup", "k-b")],
    );
    let store = harness.store();
    let a = store.find_account("multi/default").unwrap();
    store
        .set_quota_limit(&QuotaLimit {
            account_id: a.id,
            window: QuotaWindow::Day,
            metric: QuotaMetric::Requests,
            max: 1,
        })
        .unwrap();
    upstream.script(
        "k-b",
        [Reply::OkWithHeaders(vec![
            ("x-ratelimit-remaining-requests", "0".into()),
            ("x-ratelimit-limit-requests", "100".into()),
            ("x-ratelimit-reset-requests", "30s".into()),
        ])],
    );
    assert_eq!(ask(&harness, "multi/m").await.0, 200);
    harness.flush_usage().await;
    // The daily limit of one request is used up: the backup answers, and
    // reports that it has nothing left for 30 seconds.
    assert_eq!(ask(&harness, "multi/m").await.0, 200);
    let (status, body) = ask(&harness, "multi/m").await;
    assert_eq!(status, 429, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("day quota used up"), "{message}");
    assert!(
        message.contains("provider reports no requests left"),
        "{message}"
    );
    assert_eq!(upstream.keys_seen(), ["k-a", "k-b"]);
    harness.flush_usage().await;
    let reported = harness.store().list_reported_quotas().unwrap();
    assert_eq!(reported[0].remaining, 0);
    assert_eq!(reported[0].max, Some(100));
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_upstream_request() {
    let mut harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_multi(&harness, &upstream, &[("default", "k-hang")]);
    upstream.script("k-hang", [Reply::Hang]);
    let client = switchyard_providers::tls::http_client()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let sent = client
        .post(harness.url("/v1/chat/completions"))
        .bearer_auth(&harness.key)
        .json(&chat("multi/m"))
        .send()
        .await;
    assert!(sent.is_err(), "the client gave up");
    let mut waited = 0;
    while upstream.abandoned.load(Ordering::SeqCst) == 0 && waited < 100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    assert_eq!(
        upstream.abandoned.load(Ordering::SeqCst),
        1,
        "the upstream request was dropped"
    );
    harness.stop().await;
    let record = &harness.store().recent_requests(1).unwrap()[0];
    assert_eq!(record.status, 499);
}

#[tokio::test]
async fn a_stream_silent_for_longer_than_the_idle_timeout_ends_with_an_error_event() {
    let mut harness = Harness::start().await;
    harness
        .store()
        .set_setting("stream_idle_timeout_secs", "1")
        .unwrap();
    // `mock/gated` sends one chunk, then nothing until the test opens its gate.
    let response = harness
        .post_messages(
            json!({"model": "mock/gated", "max_tokens": 10, "stream": true,
                              "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("Hel"), "{text}");
    assert!(text.contains("event: error"), "{text}");
    assert!(text.contains("sent nothing for 1s"), "{text}");
    harness.upstream.gate.notify_one();
    harness.stop().await;
    assert_eq!(harness.store().recent_requests(1).unwrap()[0].status, 502);
}

#[tokio::test]
async fn bodies_are_logged_only_when_asked_and_without_secrets() {
    let mut harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_multi(
        &harness,
        &upstream,
        &[("default", "sk-scripted-secret-123")],
    );
    assert_eq!(ask(&harness, "multi/m").await.0, 200);
    harness.flush_usage().await;
    let first = harness.store().recent_requests(1).unwrap()[0].id;
    assert_eq!(harness.store().request_bodies(first).unwrap(), None);

    harness.store().set_setting("log_bodies", "true").unwrap();
    let local_key = harness.key.clone();
    let response = harness
        .post_chat(json!({
            "model": "multi/m",
            "messages": [{"role": "user", "content": format!("my key is {local_key}")}],
            "metadata": {"api_key": "hunter2-secret"},
        }))
        .await;
    assert_eq!(response.status(), 200);
    harness.stop().await;
    let record = &harness.store().recent_requests(1).unwrap()[0];
    let bodies = harness.store().request_bodies(record.id).unwrap().unwrap();
    let request = bodies.request.unwrap();
    assert!(request.contains("my key is [redacted]"), "{request}");
    assert!(
        !request.contains(&local_key) && !request.contains("hunter2"),
        "{request}"
    );
    assert!(bodies.response.unwrap().contains("scripted answer"));
}

#[tokio::test]
async fn an_error_about_one_model_locks_out_only_that_model() {
    let harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_multi(&harness, &upstream, &[("default", "k-a")]);
    upstream.script(
        "k-a",
        [Reply::Error(
            429,
            "Quota exceeded for metric requests per model: big-model",
            vec![],
        )],
    );
    assert_eq!(ask(&harness, "multi/big-model").await.0, 429);
    // Cooldowns reach the database through the usage writer.
    harness.flush_usage().await;
    let cooldown = &harness.store().list_cooldowns().unwrap()[0];
    assert_eq!(cooldown.model, "big-model");
    // The same account still serves its other models.
    assert_eq!(ask(&harness, "multi/small-model").await.0, 200);
    assert_eq!(ask(&harness, "multi/big-model").await.0, 429);
    assert_eq!(upstream.models_seen(), ["big-model", "small-model"]);
}

#[tokio::test]
async fn the_idle_timeout_counts_from_the_last_event_not_from_the_start() {
    // Four frames 600 ms apart with a 1 s idle timeout: 2.4 s in all, never
    // 1 s without an event, so the stream is whole and has no error.
    let harness = Harness::start().await;
    harness
        .store()
        .set_setting("stream_idle_timeout_secs", "1")
        .unwrap();
    let upstream = ScriptedUpstream::start().await;
    add_multi(&harness, &upstream, &[("default", "k-a")]);
    upstream.script("k-a", [Reply::SlowStream(Duration::from_millis(600))]);
    let mut request = chat("multi/m");
    request["stream"] = json!(true);
    let body = harness.post_chat(request).await.text().await.unwrap();
    assert!(
        body.contains("scripted ") && body.contains("answer"),
        "{body}"
    );
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    assert!(!body.contains("sent nothing"), "{body}");
}

#[tokio::test]
async fn a_stream_without_events_ends_cleanly_and_the_gateway_keeps_serving() {
    // The stream ends while its head waits for a first frame: the client gets
    // an empty 200 stream, not a broken connection.
    let harness = Harness::start().await;
    let upstream = ScriptedUpstream::start().await;
    add_multi(&harness, &upstream, &[("default", "k-a")]);
    upstream.script("k-a", [Reply::EmptyStream]);
    let mut request = chat("multi/m");
    request["stream"] = json!(true);
    let response = harness.post_chat(request.clone()).await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.expect("the stream ends cleanly");
    assert!(!body.contains("data:"), "{body}");
    // The next stream is served as usual.
    let next = harness.post_chat(request).await.text().await.unwrap();
    assert!(next.contains("scripted "), "{next}");
}
