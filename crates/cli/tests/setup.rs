//! `switchyard setup` run as a user would, with the home directory, `PATH`
//! and the data directory all pointed at temporary folders.

mod common;

use std::fs;

use common::Cli;
use serde_json::Value;

fn tool<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|status| status["tool"] == id)
        .unwrap()
}

#[test]
fn the_list_shows_which_tools_are_installed_and_configured() {
    let cli = Cli::new();
    cli.install_program("codex");
    cli.write(".claude/settings.json", "{}\n");
    let list = cli.json(&["setup"]);
    assert_eq!(list.as_array().unwrap().len(), 10);
    let codex = tool(&list, "codex");
    assert_eq!(codex["installed"], true);
    assert_eq!(codex["detected"][0], "codex on PATH");
    assert_eq!(codex["config_exists"], false);
    let claude = tool(&list, "claude-code");
    assert_eq!(claude["installed"], true);
    assert_eq!(claude["configured_for_switchyard"], false);
    assert_eq!(tool(&list, "droid")["installed"], false);
    assert_eq!(tool(&list, "cursor")["setup"], "manual");
    assert_eq!(
        tool(&list, "cursor")["configured_for_switchyard"],
        Value::Null
    );

    let text = String::from_utf8_lossy(&cli.run(&["setup"]).stdout).into_owned();
    assert!(text.contains("codex"), "{text}");
    assert!(text.contains("http://127.0.0.1:20128/v1"), "{text}");
}

#[test]
fn a_tool_is_set_up_shown_and_restored_byte_for_byte() {
    let cli = Cli::new();
    let original = "{\n  \"permissions\": {\n    \"allow\": [\"Bash(git status)\"]\n  },\n  \"env\": {\n    \"DISABLE_TELEMETRY\": \"1\"\n  }\n}\n";
    let settings = cli.write(".claude/settings.json", original);
    // The base URL follows the gateway's own settings.
    cli.json(&["config", "set", "port", "3999"]);

    let applied = cli.json(&[
        "setup",
        "claude-code",
        "--model",
        "fast",
        "--key",
        "sy-given",
    ]);
    assert_eq!(applied["tool"], "claude-code");
    assert_eq!(applied["backup_created"], true);
    assert_eq!(applied["files_written"][0], "~/.claude/settings.json");
    assert!(applied.get("created_key").is_none());
    let written: Value = serde_json::from_str(&fs::read_to_string(&settings).unwrap()).unwrap();
    assert_eq!(
        written["env"]["ANTHROPIC_BASE_URL"],
        "http://127.0.0.1:3999"
    );
    assert_eq!(written["env"]["ANTHROPIC_AUTH_TOKEN"], "sy-given");
    assert_eq!(written["env"]["ANTHROPIC_MODEL"], "fast");
    assert_eq!(written["env"]["DISABLE_TELEMETRY"], "1");
    assert_eq!(written["permissions"]["allow"][0], "Bash(git status)");

    let shown = cli.json(&["setup", "claude-code", "--show"]);
    assert_eq!(shown["configured_for_switchyard"], true);
    assert_eq!(shown["current_base_url"], "http://127.0.0.1:3999");
    assert_eq!(shown["current_model"], "fast");
    assert_eq!(shown["has_api_key"], true);
    assert_eq!(shown["has_backup"], true);
    assert!(
        !shown.to_string().contains("sy-given"),
        "the key is never shown"
    );

    let restored = cli.json(&["setup", "claude-code", "--restore"]);
    assert_eq!(restored["restored"][0], "~/.claude/settings.json");
    assert_eq!(fs::read_to_string(&settings).unwrap(), original);
    assert_eq!(
        cli.json(&["setup", "claude-code", "--show"])["has_backup"],
        false
    );
    assert!(
        cli.fails(&["setup", "claude-code", "--restore"])
            .contains("no backup")
    );
}

#[test]
fn new_key_creates_a_gateway_key_and_writes_it() {
    let cli = Cli::new();
    cli.write(
        ".codex/config.toml",
        "# my settings\nmodel = \"gpt-5\"\n\n[tui]\nnotifications = true\n",
    );
    let applied = cli.json(&["setup", "codex", "--model", "openai/gpt-5", "--new-key"]);
    let key = applied["created_key"]["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sy-"));
    assert_eq!(applied["created_key"]["name"], "codex");
    let config = fs::read_to_string(cli.path(".codex/config.toml")).unwrap();
    assert!(config.starts_with("# my settings\n"), "{config}");
    assert!(
        config.contains(&format!("experimental_bearer_token = \"{key}\"")),
        "{config}"
    );
    assert!(config.contains("[tui]\nnotifications = true"), "{config}");
    let keys = cli.json(&["key", "list"]);
    assert_eq!(keys[0]["name"], "codex");

    // Text output prints the key once, first.
    let text = cli.run(&["setup", "opencode", "--model", "m", "--new-key"]);
    assert!(!text.status.success(), "OpenCode is not installed here");
    assert_eq!(cli.json(&["key", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn malformed_files_and_missing_tools_are_refused_without_changes() {
    let cli = Cli::new();
    let broken = "[model_providers.x\nname = 1\n";
    let config = cli.write(".codex/config.toml", broken);
    let stderr = cli.fails(&["setup", "codex", "--model", "m", "--new-key"]);
    assert!(stderr.contains("config.toml"), "{stderr}");
    assert_eq!(fs::read_to_string(&config).unwrap(), broken);
    assert_eq!(cli.json(&["key", "list"]), Value::Array(vec![]));
    assert!(!cli.data_dir.path().join("tool-backups/codex").exists());
    let shown = cli.json(&["setup", "codex", "--show"]);
    assert!(shown["problem"].as_str().unwrap().contains("config.toml"));

    let stderr = cli.fails(&["setup", "droid", "--model", "m"]);
    assert!(stderr.contains("not seem to be installed"), "{stderr}");
    assert!(!cli.path(".factory").exists());
    assert!(cli.fails(&["setup", "vim"]).contains("known tools"));
    assert!(
        cli.fails(&["setup", "codex", "--key", "k", "--new-key"])
            .contains("cannot be used with")
    );
}

#[test]
fn manual_tools_print_the_values_to_paste() {
    let cli = Cli::new();
    fs::create_dir_all(cli.path(".vscode/extensions/saoudrizwan.claude-dev-3.2.0")).unwrap();
    let applied = cli.json(&["setup", "cline", "--model", "fast", "--key", "sy-k"]);
    assert_eq!(applied["is_manual"], true);
    assert_eq!(applied["files_written"], Value::Array(vec![]));
    let values = applied["manual"]["values"].as_array().unwrap();
    assert!(
        values
            .iter()
            .any(|value| value["value"] == "http://127.0.0.1:20128/v1")
    );
    assert!(values.iter().any(|value| value["value"] == "fast"));

    let text = String::from_utf8_lossy(&cli.run(&["setup", "cline", "--model", "fast"]).stdout)
        .into_owned();
    assert!(text.contains("OpenAI Compatible"), "{text}");
    assert!(
        text.contains("Base URL: http://127.0.0.1:20128/v1"),
        "{text}"
    );
}
