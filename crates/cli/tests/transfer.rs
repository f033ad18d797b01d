//! `switchyard config export|import` and `switchyard import-9router`, run as
//! a user would.

mod common;

use std::path::{Path, PathBuf};

use common::Cli;
use serde_json::Value;

fn nine_router_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/tests/fixtures/9router/db.json")
}

#[test]
fn a_configuration_moves_to_another_data_directory() {
    let source = Cli::new();
    source.json(&[
        "provider",
        "add",
        "--name",
        "Mock",
        "--prefix",
        "mock",
        "--base-url",
        "https://mock.example/v1",
        "--api-key",
        "sk-move-me-first",
        "--model",
        "m1",
    ]);
    let added = source.run(&[
        "account",
        "add",
        "mock",
        "--label",
        "work",
        "--priority",
        "2",
        "--api-key",
        "sk-move-me-second",
    ]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    source.json(&[
        "combo",
        "add",
        "duo",
        "mock/m1",
        "mock/m2=3",
        "--strategy",
        "weighted",
    ]);
    source.json(&["alias", "add", "one", "mock/m1"]);
    source.json(&["config", "set", "sticky_limit", "4"]);
    source.json(&["key", "create", "--name", "client"]);

    // Without secrets, on standard output: no key anywhere.
    let plain = source.ok(&["config", "export"]);
    let plain_text = String::from_utf8(plain.stdout).unwrap();
    assert!(!plain_text.contains("sk-move-me"), "{plain_text}");
    assert!(plain.stderr.is_empty());
    let plain_document: Value = serde_json::from_str(&plain_text).unwrap();
    assert_eq!(plain_document["format"], "switchyard-config");
    assert_eq!(plain_document["version"], 1);

    // With secrets, to a private file, with a warning.
    let file = source.home.path().join("switchyard-config.json");
    let file_arg = file.to_str().unwrap();
    std::fs::write(&file, "stale").unwrap();
    let written = source.ok(&["config", "export", "--with-secrets", "--output", file_arg]);
    assert!(String::from_utf8_lossy(&written.stderr).contains("plain text"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let exported: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(exported.to_string().contains("sk-move-me-second"));
    assert!(!exported.to_string().contains("key_hash"));

    let target = Cli::new();
    let dry = target.json(&["config", "import", file_arg, "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert!(
        dry["added"]
            .as_array()
            .unwrap()
            .contains(&"provider mock".into())
    );
    assert!(
        target
            .json(&["provider", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );

    let report = target.json(&["config", "import", file_arg]);
    assert_eq!(report["dry_run"], false);
    assert!(report["skipped"].as_array().unwrap().is_empty(), "{report}");
    let again: Value =
        serde_json::from_slice(&target.ok(&["config", "export", "--with-secrets"]).stdout).unwrap();
    assert_eq!(again, exported);
    assert!(target.json(&["key", "list"]).as_array().unwrap().is_empty());
    let text = String::from_utf8(target.ok(&["config", "import", file_arg]).stdout).unwrap();
    assert!(
        text.contains("updated (") && text.contains("  account mock/work"),
        "{text}"
    );

    // Another file is refused whole, with a clear reason.
    std::fs::write(&file, r#"{"format": "switchyard-config", "version": 9}"#).unwrap();
    assert!(
        target
            .fails(&["config", "import", file_arg])
            .contains("newer Switchyard")
    );
    assert!(
        target
            .fails(&["config", "import", nine_router_fixture().to_str().unwrap()])
            .contains("import-9router")
    );
}

#[test]
fn a_9router_installation_is_imported_from_its_default_place() {
    let cli = Cli::new();
    let error = cli.fails(&["import-9router"]);
    assert!(
        error.contains("no 9router installation found") && error.contains(".9router"),
        "{error}"
    );

    let installation = cli.home.path().join(".9router");
    std::fs::create_dir_all(&installation).unwrap();
    std::fs::copy(nine_router_fixture(), installation.join("db.json")).unwrap();
    let dry = cli.json(&["import-9router", "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert!(
        cli.json(&["provider", "list"])
            .as_array()
            .unwrap()
            .is_empty()
    );

    let text = String::from_utf8(cli.ok(&["import-9router"]).stdout).unwrap();
    assert!(text.contains("account cc/me@example.com"), "{text}");
    assert!(
        text.contains("9router connection iflow/me@example.com: iFlow"),
        "{text}"
    );
    assert!(!text.contains("FAKE"), "{text}");

    let providers = cli.json(&["provider", "list"]);
    let prefixes: Vec<_> = providers
        .as_array()
        .unwrap()
        .iter()
        .map(|provider| provider["prefix"].as_str().unwrap())
        .collect();
    for prefix in [
        "cc", "cx", "gh", "gc", "kr", "qw", "openai", "ds", "glm", "myllm",
    ] {
        assert!(
            prefixes.contains(&prefix),
            "{prefix} missing from {prefixes:?}"
        );
    }
    let combos = cli.json(&["combo", "list"]);
    assert!(combos.to_string().contains("ds/deepseek-chat"), "{combos}");

    // An explicit path works too, and a second import changes nothing new.
    let again = cli.json(&["import-9router", nine_router_fixture().to_str().unwrap()]);
    assert!(again["added"].as_array().unwrap().is_empty(), "{again}");
}
