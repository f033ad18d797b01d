//! Setting tools up in a temporary home: every tool round-trips to its
//! original bytes, unrelated settings and comments survive, malformed files
//! are refused untouched, and missing tools are reported.

use std::fs;
use std::path::{Path, PathBuf};

use switchyard_tools::{SetupOptions, ToolError, ToolId, ToolSetupKind, apply, restore, status};

const ROOT: &str = "http://127.0.0.1:20128";

struct Home {
    home: tempfile::TempDir,
    data: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            data: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.home.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }

    fn read(&self, relative: &str) -> String {
        fs::read_to_string(self.path(relative)).unwrap()
    }

    fn backups(&self) -> PathBuf {
        self.data.path().join("tool-backups")
    }

    fn apply(
        &self,
        tool: ToolId,
        model: Option<&str>,
    ) -> Result<switchyard_tools::ToolApplied, ToolError> {
        apply(self.home.path(), &self.backups(), tool, &options(model))
    }

    fn status(&self, tool: ToolId) -> switchyard_tools::ToolStatus {
        status(self.home.path(), &self.backups(), tool, &options(None))
    }

    fn restore(&self, tool: ToolId) -> switchyard_tools::ToolRestored {
        restore(self.home.path(), &self.backups(), tool).unwrap()
    }
}

fn options(model: Option<&str>) -> SetupOptions {
    SetupOptions {
        base_url: ROOT.to_owned(),
        api_key: Some("sy-test-key".to_owned()),
        model: model.map(str::to_owned),
    }
}

/// One tool's original file and what must survive in it.
struct Case {
    tool: ToolId,
    file: &'static str,
    original: &'static str,
    kept: &'static [&'static str],
    base_url: &'static str,
}

const V1: &str = "http://127.0.0.1:20128/v1";

fn cases() -> Vec<Case> {
    vec![
        Case {
            tool: ToolId::ClaudeCode,
            file: ".claude/settings.json",
            original: "{\n  \"permissions\": {\n    \"allow\": [\"Bash(ls)\"]\n  },\n  \"env\": {\n    \"DISABLE_TELEMETRY\": \"1\"\n  }\n}\n",
            kept: &["\"allow\": [\"Bash(ls)\"]", "\"DISABLE_TELEMETRY\": \"1\""],
            base_url: ROOT,
        },
        Case {
            tool: ToolId::Codex,
            file: ".codex/config.toml",
            original: "# my Codex settings\nmodel = \"gpt-5\" # the usual\napproval_policy = \"on-request\"\n\n[profiles.fast]\nmodel = \"o4-mini\"\n\n# providers I use\n[model_providers.ollama]\nname = \"Ollama\"\nbase_url = \"http://localhost:11434/v1\"\n",
            kept: &[
                "# my Codex settings\n",
                "# the usual",
                "approval_policy = \"on-request\"",
                "[profiles.fast]\nmodel = \"o4-mini\"",
                "# providers I use\n[model_providers.ollama]",
            ],
            base_url: V1,
        },
        Case {
            tool: ToolId::GeminiCli,
            file: ".gemini/.env",
            original: "# mine\nHTTPS_PROXY=http://proxy:3128\nGEMINI_MODEL=gemini-2.5-pro\n",
            kept: &["# mine\nHTTPS_PROXY=http://proxy:3128\n"],
            base_url: ROOT,
        },
        Case {
            tool: ToolId::Opencode,
            file: ".config/opencode/opencode.json",
            original: "{\n  \"$schema\": \"https://opencode.ai/config.json\",\n  // my theme\n  \"theme\": \"tokyonight\",\n  \"provider\": {\n    \"ollama\": { \"npm\": \"@ai-sdk/openai-compatible\" }\n  }\n}\n",
            kept: &[
                "// my theme\n  \"theme\": \"tokyonight\"",
                "\"ollama\": { \"npm\": \"@ai-sdk/openai-compatible\" }",
            ],
            base_url: V1,
        },
        Case {
            tool: ToolId::Continue,
            file: ".continue/config.yaml",
            original: "name: Local\nversion: 1.0.0\nschema: v1\nmodels:\n  # autocomplete\n  - name: Qwen\n    provider: ollama\n    model: qwen2.5-coder\n    roles: [autocomplete]\n",
            kept: &["  # autocomplete\n  - name: Qwen\n    provider: ollama\n"],
            base_url: V1,
        },
        Case {
            tool: ToolId::Openclaw,
            file: ".openclaw/openclaw.json",
            original: "{\n  // JSON5, as OpenClaw allows\n  gateway: { port: 18789 },\n  agents: {\n    defaults: {\n      model: { primary: 'anthropic/claude-sonnet-4-5', fallbacks: [] },\n      models: { 'anthropic/claude-sonnet-4-5': {} },\n    },\n  },\n}\n",
            kept: &[
                "// JSON5, as OpenClaw allows",
                "gateway: { port: 18789 }",
                "fallbacks: []",
            ],
            base_url: V1,
        },
        Case {
            tool: ToolId::Droid,
            file: ".factory/settings.json",
            original: "{\n  \"model\": \"claude-sonnet-4-5\",\n  \"customModels\": [\n    {\n      \"model\": \"llama3\",\n      \"displayName\": \"Local\",\n      \"baseUrl\": \"http://localhost:11434/v1\",\n      \"apiKey\": \"x\",\n      \"provider\": \"generic-chat-completion-api\"\n    }\n  ]\n}\n",
            kept: &[
                "\"displayName\": \"Local\"",
                "\"model\": \"claude-sonnet-4-5\"",
            ],
            base_url: V1,
        },
    ]
}

#[test]
fn every_file_tool_round_trips_to_the_byte_identical_original() {
    for case in cases() {
        let home = Home::new();
        let path = home.write(case.file, case.original);
        let before = home.status(case.tool);
        assert!(before.installed, "{:?}", case.tool);
        assert_eq!(
            before.configured_for_switchyard,
            Some(false),
            "{:?}",
            case.tool
        );
        assert!(!before.has_backup);

        let applied = home.apply(case.tool, Some("fast")).unwrap();
        assert!(applied.backup_created, "{:?}", case.tool);
        assert!(!applied.files_written.is_empty());
        let text = fs::read_to_string(&path).unwrap();
        for kept in case.kept {
            assert!(
                text.contains(kept),
                "{:?} lost {kept:?}:\n{text}",
                case.tool
            );
        }

        let after = home.status(case.tool);
        assert_eq!(after.problem, None, "{:?}", case.tool);
        assert_eq!(
            after.configured_for_switchyard,
            Some(true),
            "{:?}:\n{text}",
            case.tool
        );
        assert_eq!(
            after.current_base_url.as_deref(),
            Some(case.base_url),
            "{:?}",
            case.tool
        );
        assert_eq!(
            after.current_model.as_deref(),
            Some("fast"),
            "{:?}",
            case.tool
        );
        assert!(after.has_api_key, "{:?}", case.tool);
        assert!(after.has_backup);

        // A second setup changes the model but keeps the first backup.
        let again = home.apply(case.tool, Some("slow")).unwrap();
        assert!(!again.backup_created);
        assert_eq!(
            home.status(case.tool).current_model.as_deref(),
            Some("slow")
        );

        let restored = home.restore(case.tool);
        assert!(restored.saved_copies.is_empty(), "{:?}", case.tool);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            case.original,
            "{:?}",
            case.tool
        );
        let status = home.status(case.tool);
        assert!(!status.has_backup);
        assert_eq!(status.configured_for_switchyard, Some(false));
    }
}

#[test]
fn codex_gets_its_own_provider_with_root_keys_before_tables() {
    let home = Home::new();
    home.write(
        ".codex/config.toml",
        "# top\nmodel = \"gpt-5\"\n\n[tui]\nnotifications = true\n",
    );
    home.apply(ToolId::Codex, Some("openai/gpt-5")).unwrap();
    let text = home.read(".codex/config.toml");
    let document: toml_edit::DocumentMut = text.parse().unwrap();
    assert_eq!(document["model_provider"].as_str(), Some("switchyard"));
    assert_eq!(document["model"].as_str(), Some("openai/gpt-5"));
    let provider = &document["model_providers"]["switchyard"];
    assert_eq!(provider["base_url"].as_str(), Some(V1));
    assert_eq!(provider["wire_api"].as_str(), Some("responses"));
    assert_eq!(
        provider["experimental_bearer_token"].as_str(),
        Some("sy-test-key")
    );
    assert!(document["tui"]["notifications"].as_bool().unwrap());
    // Root keys stay in the root section, above the first table.
    let first_table = text.find('[').unwrap();
    assert!(
        text.find("model_provider =").unwrap() < first_table,
        "{text}"
    );
    assert!(text.starts_with("# top\n"), "{text}");
}

#[test]
fn without_a_key_codex_and_droid_read_an_environment_variable() {
    let home = Home::new();
    fs::create_dir_all(home.path(".codex")).unwrap();
    fs::create_dir_all(home.path(".factory")).unwrap();
    let no_key = SetupOptions {
        api_key: None,
        ..options(Some("m"))
    };
    let codex = apply(home.home.path(), &home.backups(), ToolId::Codex, &no_key).unwrap();
    assert!(
        home.read(".codex/config.toml")
            .contains("env_key = \"SWITCHYARD_API_KEY\"")
    );
    assert!(
        codex
            .notes
            .iter()
            .any(|note| note.contains("SWITCHYARD_API_KEY"))
    );
    apply(home.home.path(), &home.backups(), ToolId::Droid, &no_key).unwrap();
    assert!(
        home.read(".factory/settings.json")
            .contains("\"apiKey\": \"${SWITCHYARD_API_KEY}\"")
    );
}

#[test]
fn a_tool_without_a_file_gets_one_and_restore_removes_it() {
    let home = Home::new();
    fs::create_dir_all(home.path(".gemini")).unwrap();
    let applied = home
        .apply(ToolId::GeminiCli, Some("gemini-2.5-pro"))
        .unwrap();
    assert_eq!(applied.files_written.len(), 2);
    let env = home.read(".gemini/.env");
    assert!(
        env.contains("GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:20128\n"),
        "{env}"
    );
    assert!(env.contains("GEMINI_API_KEY=sy-test-key\n"));
    let settings: serde_json::Value =
        serde_json::from_str(&home.read(".gemini/settings.json")).unwrap();
    assert_eq!(
        settings["security"]["auth"]["selectedType"],
        "gemini-api-key"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(home.path(".gemini/.env"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "a new file holding a key is private");
    }

    let restored = home.restore(ToolId::GeminiCli);
    assert_eq!(restored.removed.len(), 2);
    assert!(!home.path(".gemini/.env").exists());
    assert!(!home.path(".gemini/settings.json").exists());
    assert!(home.path(".gemini").is_dir());
}

#[test]
fn a_malformed_file_is_refused_and_left_untouched() {
    let home = Home::new();
    let broken = "{\n  \"env\": {\n    \"A\": \"1\",\n";
    let path = home.write(".claude/settings.json", broken);
    let error = home.apply(ToolId::ClaudeCode, Some("m")).unwrap_err();
    assert!(matches!(error, ToolError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("settings.json"), "{error}");
    assert_eq!(fs::read_to_string(&path).unwrap(), broken);
    assert!(!home.backups().join("claude-code").exists());
    let status = home.status(ToolId::ClaudeCode);
    assert!(status.problem.is_some());
    assert!(!status.has_backup);

    let codex = home.write(".codex/config.toml", "model = \"unterminated\n");
    assert!(matches!(
        home.apply(ToolId::Codex, Some("m")),
        Err(ToolError::Malformed { .. })
    ));
    assert_eq!(
        fs::read_to_string(codex).unwrap(),
        "model = \"unterminated\n"
    );

    // Claude Code reads plain JSON: comments there are refused too.
    home.write(".claude/settings.json", "{ // no\n}\n");
    assert!(home.apply(ToolId::ClaudeCode, None).is_err());
}

#[test]
fn a_tool_that_is_not_installed_is_reported_and_not_created() {
    let home = Home::new();
    let status = home.status(ToolId::Droid);
    assert!(!status.installed);
    assert!(!status.config_exists);
    assert_eq!(status.configured_for_switchyard, Some(false));
    let error = home.apply(ToolId::Droid, Some("m")).unwrap_err();
    assert!(matches!(error, ToolError::NotInstalled { .. }), "{error}");
    assert!(error.to_string().contains("~/.factory"), "{error}");
    assert!(!home.path(".factory").exists());
    assert!(matches!(
        restore(home.home.path(), &home.backups(), ToolId::Droid),
        Err(ToolError::NoBackup(ToolId::Droid))
    ));
}

#[test]
fn tools_that_need_a_model_say_so() {
    let home = Home::new();
    fs::create_dir_all(home.path(".codex")).unwrap();
    assert!(matches!(
        home.apply(ToolId::Codex, None),
        Err(ToolError::ModelRequired(_))
    ));
    assert!(!home.path(".codex/config.toml").exists());
    // Claude Code can keep the model names it sends.
    fs::create_dir_all(home.path(".claude")).unwrap();
    home.apply(ToolId::ClaudeCode, None).unwrap();
    // Once set up, a tool keeps its model when none is given.
    home.apply(ToolId::Codex, Some("kept")).unwrap();
    home.apply(ToolId::Codex, None).unwrap();
    assert_eq!(
        home.status(ToolId::Codex).current_model.as_deref(),
        Some("kept")
    );
}

#[test]
fn changes_made_after_setup_are_saved_before_a_restore() {
    let home = Home::new();
    let original = "{\n  \"env\": {}\n}\n";
    let path = home.write(".claude/settings.json", original);
    home.apply(ToolId::ClaudeCode, Some("m")).unwrap();
    let edited = fs::read_to_string(&path)
        .unwrap()
        .replace("{\n", "{\n  \"theme\": \"dark\",\n");
    fs::write(&path, &edited).unwrap();
    let restored = home.restore(ToolId::ClaudeCode);
    assert_eq!(fs::read_to_string(&path).unwrap(), original);
    assert_eq!(restored.saved_copies.len(), 1);
    let copy = restored.saved_copies[0].replace('~', &home.home.path().display().to_string());
    let copy = Path::new(&copy);
    assert_eq!(fs::read_to_string(copy).unwrap(), edited);
}

#[test]
fn manual_tools_give_values_to_paste_and_write_nothing() {
    let home = Home::new();
    fs::create_dir_all(home.path(".vscode/extensions/rooveterinaryinc.roo-cline-3.1.0")).unwrap();
    let status = home.status(ToolId::RooCode);
    assert!(status.installed);
    assert_eq!(status.setup, ToolSetupKind::Manual);
    assert_eq!(status.configured_for_switchyard, None);
    assert!(status.config_path.unwrap().contains("roo-cline"));
    let applied = home.apply(ToolId::RooCode, Some("fast")).unwrap();
    assert!(applied.is_manual);
    assert!(applied.files_written.is_empty());
    let manual = applied.manual.unwrap();
    let value = |label: &str| {
        manual
            .values
            .iter()
            .find(|value| value.label == label)
            .map(|value| value.value.clone())
    };
    assert_eq!(value("Base URL").as_deref(), Some(V1));
    assert_eq!(value("API Key").as_deref(), Some("sy-test-key"));
    assert_eq!(value("Model ID").as_deref(), Some("fast"));
    assert!(!home.backups().exists());

    let cursor = apply(
        home.home.path(),
        &home.backups(),
        ToolId::Cursor,
        &options(None),
    )
    .unwrap();
    assert!(cursor.manual.unwrap().caveat.unwrap().contains("tunnel"));
}

#[test]
fn the_catalogue_lists_every_tool_once() {
    let catalogue = switchyard_tools::catalogue();
    assert_eq!(catalogue.len(), ToolId::ALL.len());
    let manual: Vec<_> = catalogue
        .iter()
        .filter(|info| info.setup == ToolSetupKind::Manual)
        .map(|info| info.id)
        .collect();
    assert_eq!(manual, vec![ToolId::Cline, ToolId::RooCode, ToolId::Cursor]);
    for tool in ToolId::ALL {
        assert_eq!(ToolId::parse(tool.as_str()), Some(tool));
    }
}

#[test]
fn a_bad_gateway_url_is_refused() {
    let home = Home::new();
    fs::create_dir_all(home.path(".claude")).unwrap();
    let bad = SetupOptions {
        base_url: "127.0.0.1:20128".to_owned(),
        ..options(None)
    };
    assert!(matches!(
        apply(home.home.path(), &home.backups(), ToolId::ClaudeCode, &bad),
        Err(ToolError::InvalidOptions(_))
    ));
    // A `/v1` on the URL is accepted: each tool gets the form it needs.
    let with_v1 = SetupOptions {
        base_url: format!("{V1}/"),
        ..options(None)
    };
    apply(
        home.home.path(),
        &home.backups(),
        ToolId::ClaudeCode,
        &with_v1,
    )
    .unwrap();
    assert_eq!(
        home.status(ToolId::ClaudeCode).current_base_url.as_deref(),
        Some(ROOT)
    );
}
