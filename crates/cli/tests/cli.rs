//! The `switchyard` binary's management commands, run as a user would.

mod common;

use common::Cli;
use serde_json::Value;

#[test]
fn providers_can_be_added_listed_toggled_and_removed() {
    let cli = Cli::new();
    let added = cli.json(&[
        "provider",
        "add",
        "--name",
        "OpenAI",
        "--prefix",
        "oa",
        "--base-url",
        "https://api.example.com/v1/",
        "--api-key",
        "sk-cli-secret",
        "--model",
        "gpt-x",
    ]);
    assert_eq!(added["base_url"], "https://api.example.com/v1");
    assert!(!added.to_string().contains("sk-cli-secret"));

    let listed = cli.json(&["provider", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["models"][0], "gpt-x");
    assert!(!listed.to_string().contains("sk-cli-secret"));

    assert_eq!(cli.json(&["provider", "disable", "oa"])["enabled"], false);
    assert_eq!(cli.json(&["provider", "enable", "OpenAI"])["enabled"], true);
    assert!(
        cli.fails(&[
            "provider",
            "add",
            "--name",
            "Other",
            "--prefix",
            "oa",
            "--base-url",
            "http://x.test",
            "--api-key",
            "k"
        ])
        .contains("already exists")
    );
    cli.json(&["provider", "remove", "oa"]);
    assert_eq!(cli.json(&["provider", "list"]), Value::Array(vec![]));
    assert!(
        cli.fails(&["provider", "remove", "oa"])
            .contains("not found")
    );
}

#[test]
fn bad_provider_input_is_refused_with_a_reason() {
    let cli = Cli::new();
    let base = ["provider", "add", "--name", "X", "--prefix"];
    assert!(
        cli.fails(
            &[
                &base[..],
                &["a/b", "--base-url", "http://x.test", "--api-key", "k"]
            ]
            .concat()
        )
        .contains("prefix")
    );
    assert!(
        cli.fails(&[&base[..], &["x", "--base-url", "ftp://x", "--api-key", "k"]].concat())
            .contains("http://")
    );
    assert!(
        cli.fails(&[&base[..], &["x", "--base-url", "http://x.test"]].concat())
            .contains("API key is missing")
    );
}

#[test]
fn keys_are_shown_once_and_listed_by_hint() {
    let cli = Cli::new();
    let created = cli.json(&["key", "create", "--name", "laptop"]);
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("sy-"));
    let listed = cli.json(&["key", "list"]);
    assert_eq!(listed[0]["name"], "laptop");
    assert!(!listed.to_string().contains(key));
    cli.json(&["key", "revoke", &created["id"].to_string()]);
    assert_eq!(cli.json(&["key", "list"])[0]["revoked"], true);

    let text = cli.run(&["key", "create"]);
    let printed = String::from_utf8_lossy(&text.stdout);
    assert!(
        printed.lines().next().unwrap().starts_with("sy-"),
        "{printed}"
    );
}

#[test]
fn settings_are_validated_and_used_by_config_list() {
    let cli = Cli::new();
    assert_eq!(cli.json(&["config", "list"])["port"], 20128);
    cli.json(&["config", "set", "port", "3999"]);
    assert_eq!(cli.json(&["config", "list"])["port"], 3999);
    assert!(
        cli.fails(&["config", "set", "port", "99999"])
            .contains("port")
    );
    assert!(
        cli.fails(&["config", "set", "colour", "red"])
            .contains("known settings")
    );
    cli.json(&["config", "unset", "port"]);
    assert_eq!(cli.json(&["config", "get", "port"])["port"], Value::Null);
}

#[test]
fn usage_starts_at_zero() {
    let cli = Cli::new();
    let usage = cli.json(&["usage"]);
    assert_eq!(usage["totals"]["requests"], 0);
    assert_eq!(usage["by_account"], Value::Array(vec![]));
}

#[test]
fn serve_explains_a_taken_port() {
    let cli = Cli::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let stderr = cli.fails(&["serve", "--port", &port]);
    assert!(stderr.contains("already in use"), "{stderr}");
}

#[test]
fn combos_can_be_added_listed_and_removed() {
    let cli = Cli::new();
    let combo = cli.json(&[
        "combo",
        "add",
        "fast",
        "a/x",
        "b/y=3",
        "--strategy",
        "weighted",
    ]);
    assert_eq!(combo["strategy"], "weighted");
    assert_eq!(
        combo["targets"],
        serde_json::json!([
            {"target": "a/x", "weight": 1, "enabled": true},
            {"target": "b/y", "weight": 3, "enabled": true}
        ])
    );
    // Nested combos and aliases, but no cycles.
    cli.json(&["alias", "add", "quick", "fast"]);
    cli.json(&["combo", "add", "outer", "quick", "c/z"]);
    assert!(
        cli.fails(&["alias", "add", "loop", "loop"])
            .contains("cycle")
    );
    assert!(
        cli.fails(&["combo", "add", "fast2", "missing"])
            .contains("neither")
    );
    let disabled = cli.json(&["combo", "disable", "fast", "a/x"]);
    assert_eq!(disabled["targets"][0]["enabled"], false);
    assert_eq!(cli.json(&["combo", "list"])[0]["name"], "fast");
    assert!(
        cli.fails(&["combo", "add", "bad/name", "a/x"])
            .contains("no '/'")
    );
    assert!(
        cli.fails(&["combo", "add", "other", "nomodel"])
            .contains("<prefix>/<model>")
    );
    assert!(
        cli.fails(&["combo", "add", "fast", "a/x"])
            .contains("already exists")
    );
    cli.json(&["combo", "remove", "outer"]);
    cli.json(&["alias", "remove", "quick"]);
    cli.json(&["combo", "remove", "fast"]);
    assert_eq!(cli.json(&["combo", "list"]), Value::Array(vec![]));
}
