"""Built-in provider presets and refreshing a model list from the provider's own models endpoint."""

import mock_upstreams
from conftest import Switchyard


def test_presets_fill_in_defaults(tmp_path):
    gateway = Switchyard(tmp_path / "data")
    presets = {preset["id"]: preset for preset in gateway.cli_json("provider", "presets")}
    assert {"openai", "anthropic", "gemini", "openrouter", "glm", "minimax", "kimi", "deepseek", "groq", "xai", "mistral"} <= set(presets)
    added = gateway.cli_json("provider", "add", "--preset", "glm", "--api-key-stdin", stdin="sk-glm")
    assert added["kind"] == "anthropic_compatible"
    assert added["prefix"] == "glm"
    assert added["base_url"] == presets["glm"]["base_url"]
    assert added["models"] == presets["glm"]["models"]
    custom = gateway.cli_json("provider", "add", "--preset", "openai", "--name", "Work OpenAI", "--prefix", "work",
                              "--model", "gpt-x", "--api-key-stdin", stdin="sk-work")
    assert (custom["prefix"], custom["models"]) == ("work", ["gpt-x"])


def test_model_lists_refresh_from_each_kind_of_provider(tmp_path):
    server = mock_upstreams.start()
    root = f"http://127.0.0.1:{server.server_address[1]}"
    gateway = Switchyard(tmp_path / "data")
    for prefix, kind, base in [("oa", "openai", f"{root}/openai/v1"), ("an", "anthropic", f"{root}/anthropic/v1"),
                               ("ge", "gemini", f"{root}/gemini/v1beta")]:
        gateway.cli("provider", "add", "--name", prefix, "--prefix", prefix, "--kind", kind, "--base-url", base,
                    "--api-key-stdin", stdin=mock_upstreams.UPSTREAM_KEY)
    assert gateway.cli_json("provider", "refresh-models", "oa")["models"] == ["gpt-a", "gpt-b"]
    assert gateway.cli_json("provider", "refresh-models", "an")["models"] == ["claude-x"]
    assert gateway.cli_json("provider", "refresh-models", "ge")["models"] == ["gemini-x"]
    server.shutdown()
