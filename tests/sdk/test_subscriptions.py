"""Subscription logins through the real `switchyard connect` and requests
through `switchyard serve`, against mock authorization, token, usage and API
servers that follow the real protocols (see mock_oauth.py)."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import anthropic
import openai
import pytest

import mock_oauth
from conftest import Switchyard, stored_bytes

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGTERM to stop the gateway")


@pytest.fixture
def oauth(tmp_path):
    server, state, base = mock_oauth.start()
    data = tmp_path / "data"
    data.mkdir()
    (data / "endpoints.json").write_text(json.dumps(mock_oauth.endpoints(base)))
    gateway = Switchyard(data)
    yield gateway, state, base
    if gateway.process and gateway.process.poll() is None:
        gateway.process.kill()
    server.shutdown()


def connect(gateway, *args, env=None):
    """Starts `switchyard connect`; returns the process and its first output line."""
    process = subprocess.Popen([gateway.binary, "--data-dir", gateway.data_dir, "connect", *args],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **gateway.env, **(env or {})})
    return process, process.stdout.readline().strip()


def finished(process):
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    return stdout


def browser_login(gateway):
    process, url = connect(gateway, "claude-code")
    assert "/authorize?" in url and "code_challenge_method=S256" in url, url
    # The "browser": the mock approves at once and redirects to the listener.
    with urllib.request.urlopen(url, timeout=10) as page:
        assert "Signed in" in page.read().decode()
    return finished(process)


def test_browser_login_refreshes_expired_tokens_once_and_marks_revoked_accounts(oauth):
    gateway, state, _ = oauth
    assert 'connected Claude Code account "dev@example.com"' in browser_login(gateway)
    [account] = gateway.cli_json("account", "list")
    assert (account["auth"], account["email"], account["label"]) == ("oauth", mock_oauth.EMAIL, mock_oauth.EMAIL)
    assert b"at-1" not in stored_bytes(gateway), "tokens are encrypted at rest"

    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    api = anthropic.Anthropic(base_url=gateway.root_url, api_key=gateway.key, max_retries=0)

    def ask():
        answer = api.messages.create(model="cc/claude-sonnet-4-5", max_tokens=50,
                                     messages=[{"role": "user", "content": "hi"}])
        return answer.content[0].text

    assert ask() == "hi from claude"
    assert state.refreshes == 0

    # The provider expires the token early: one 401, one refresh, one retry.
    state.expire_access_tokens()
    assert ask() == "hi from claude"
    assert state.refreshes == 1
    # The rotated refresh token was stored: the next refresh uses it.
    state.expire_access_tokens()
    assert ask() == "hi from claude"
    assert state.refreshes == 2

    # Concurrent requests share one refresh.
    state.expire_access_tokens()
    results = []
    threads = [threading.Thread(target=lambda: results.append(ask())) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == ["hi from claude"] * 5
    assert state.refreshes == 3

    quota = gateway.cli("quota", "list", "--refresh")
    assert "five_hour: 42% used, resets 2030-01-01 17:00:00Z" in quota, quota

    # A revoked refresh token: the client gets a clear 403 it does not retry
    # (a 401 would be about its own key), the account is marked, and routing
    # skips it until a new login.
    state.revoke_refresh_tokens()
    state.expire_access_tokens()
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        ask()
    assert "log in again" in str(refused.value) or "new login" in str(refused.value)
    [account] = gateway.cli_json("account", "list")
    assert account["status"].startswith("needs a new login")
    refreshes = state.refreshes
    with pytest.raises(anthropic.PermissionDeniedError):
        ask()
    assert state.refreshes == refreshes, "a marked account is not retried"

    # Logging in again updates the same account.
    browser_login(gateway)
    assert len(gateway.cli_json("account", "list")) == 1
    assert ask() == "hi from claude"


def test_device_code_login_and_copilot_token_exchange(oauth):
    gateway, state, _ = oauth
    process, user_code = connect(gateway, "github-copilot")
    assert user_code == "WDJB-MJHT"
    output = finished(process)
    assert "connected GitHub Copilot" in output
    # Pending, then slow_down (the client waited longer), then the tokens.
    assert state.device_polls == 3
    state.clock_offset = -7200
    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    api = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    answer = api.chat.completions.create(model="gh/gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "hi from copilot"
    # Clock skew: GitHub's clock is two hours behind ours, so its absolute
    # expires_at already looks past; the short-lived token is still reused
    # for its (relative) refresh_in instead of exchanged on every request.
    for _ in range(2):
        answer = api.chat.completions.create(model="gh/gpt-4.1", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content == "hi from copilot"
    assert state.copilot_exchanges == 1, "one exchange, then the token is reused"


def test_imported_cli_credentials_are_read_not_changed_and_refreshed_ahead_of_expiry(oauth, tmp_path):
    gateway, state, _ = oauth
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".claude").mkdir(parents=True)
    codex = state.issue()
    codex_file = home / ".codex" / "auth.json"
    codex_file.write_text(json.dumps({"OPENAI_API_KEY": None, "tokens": {
        "id_token": codex["id_token"], "access_token": codex["access_token"],
        "refresh_token": codex["refresh_token"], "account_id": mock_oauth.CODEX_ACCOUNT},
        "last_refresh": "2026-11-01T00:00:00Z"}))
    claude = state.issue()
    claude_file = home / ".claude" / ".credentials.json"
    claude_file.write_text(json.dumps({"claudeAiOauth": {
        "accessToken": claude["access_token"], "refreshToken": claude["refresh_token"],
        "expiresAt": int(time.time() * 1000) - 60_000, "scopes": ["user:inference"], "subscriptionType": "max"}}))
    before = (codex_file.read_bytes(), claude_file.read_bytes())

    for service in ("codex", "claude-code"):
        process, line = connect(gateway, service, "--import", env={"HOME": str(home)})
        assert "connected" in line + finished(process)
    assert (codex_file.read_bytes(), claude_file.read_bytes()) == before

    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    api = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    # Codex only streams and wants store:false; a JSON client still gets JSON.
    answer = api.responses.create(model="cx/gpt-5-codex", input="hi")
    assert answer.output_text == "hi from codex"
    # The imported Claude token had already expired: it is refreshed before
    # the request, so the API never sees it.
    claude_api = anthropic.Anthropic(base_url=gateway.root_url, api_key=gateway.key, max_retries=0)
    reply = claude_api.messages.create(model="cc/claude-haiku-4-5", max_tokens=20,
                                       messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "hi from claude"
    assert state.refreshes == 1
    sent = [headers.get("Authorization") for path, headers, _ in state.requests if path == "/claude/v1/messages"]
    assert sent and f"Bearer {claude['access_token']}" not in sent


def test_a_pasted_refresh_token_becomes_an_account(oauth):
    gateway, state, _ = oauth
    token = state.issue()["refresh_token"]
    result = subprocess.run([gateway.binary, "--data-dir", gateway.data_dir, "--json", "connect", "qwen",
                             "--refresh-token-stdin", "--label", "pasted"],
                            input=token, capture_output=True, text=True, timeout=60,
                            env={**os.environ, **gateway.env})
    assert result.returncode == 0, result.stderr
    connected = json.loads(result.stdout)
    assert connected["account"]["label"] == "pasted"
    assert connected["provider"]["prefix"] == "qw"
    assert state.refreshes == 1


def test_two_accounts_of_one_service_fall_back_when_one_must_log_in_again(oauth):
    gateway, state, _ = oauth
    browser_login(gateway)
    state.email = "second@example.com"
    assert 'account "second@example.com"' in browser_login(gateway)
    accounts = gateway.cli_json("account", "list")
    assert [a["label"] for a in accounts] == [mock_oauth.EMAIL, "second@example.com"]
    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    api = anthropic.Anthropic(base_url=gateway.root_url, api_key=gateway.key, max_retries=0)
    # The first account's grant is revoked while its token expires: its
    # refresh fails, it is marked, and the second account answers.
    state.revoke_refresh_tokens(mock_oauth.EMAIL)
    state.expire_access_tokens()
    answer = api.messages.create(model="cc/claude-sonnet-4-5", max_tokens=20,
                                 messages=[{"role": "user", "content": "hi"}])
    assert answer.content[0].text == "hi from claude"
    status = {a["label"]: a["status"] for a in gateway.cli_json("account", "list")}
    assert status[mock_oauth.EMAIL].startswith("needs a new login")
    assert status["second@example.com"] == "active"

    # An account whose tool use Anthropic bills as spent extra usage cools
    # down like a used-up quota, and the other account answers.
    state.email = mock_oauth.EMAIL
    browser_login(gateway)
    state.extra_usage = {mock_oauth.EMAIL}
    api.messages.create(model="cc/claude-sonnet-4-5", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    answer = api.messages.create(model="cc/claude-sonnet-4-5", max_tokens=20,
                                 messages=[{"role": "user", "content": "hi"}])
    assert answer.content[0].text == "hi from claude"
    status = {a["label"]: a["status"] for a in gateway.cli_json("account", "list")}
    assert "cooling down" in status[mock_oauth.EMAIL], status


def test_a_token_expiring_during_a_stream_neither_breaks_it_nor_the_next_request(oauth):
    gateway, state, _ = oauth
    browser_login(gateway)
    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    api = anthropic.Anthropic(base_url=gateway.root_url, api_key=gateway.key, max_retries=0)
    words = []
    with api.messages.stream(model="cc/claude-sonnet-4-5", max_tokens=20,
                             messages=[{"role": "user", "content": "count"}]) as stream:
        for index, text in enumerate(stream.text_stream):
            words.append(text)
            if index == 0:
                # Mid-stream, the token expires and another request refreshes it.
                state.expire_access_tokens()
                other = api.messages.create(model="cc/claude-sonnet-4-5", max_tokens=20,
                                            messages=[{"role": "user", "content": "hi"}])
                assert other.content[0].text == "hi from claude"
    assert "".join(words) == "one two three four"
    assert state.refreshes == 1


def gemini_login(gateway):
    process, url = connect(gateway, "gemini-cli")
    assert "/google/auth?" in url and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url, url
    assert "code_challenge_method=S256" in url and "access_type=offline" in url, url
    with urllib.request.urlopen(url, timeout=10) as page:
        assert "Signed in" in page.read().decode()
    return finished(process)


def code_assist_calls(state, method):
    return [body for path, _, body in state.requests if path == f"/codeassist/v1internal:{method}"]


def test_gemini_cli_login_onboards_and_code_assist_answers_every_dialect(oauth):
    gateway, state, _ = oauth
    assert 'connected Gemini CLI account "dev@example.com"' in gemini_login(gateway)
    # A first login onboards the account to the free tier and waits for the operation.
    assert len(code_assist_calls(state, "onboardUser")) == 1 and state.operation_polls == 1
    [account] = gateway.cli_json("account", "list")
    assert account["email"] == mock_oauth.EMAIL

    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    api = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)

    def ask():
        answer = api.chat.completions.create(model="gc/gemini-2.5-pro", messages=[{"role": "user", "content": "hi"}])
        return answer.choices[0].message.content

    assert ask() == "hi from gemini"
    [sent] = code_assist_calls(state, "generateContent")
    assert (sent["model"], sent["project"]) == ("gemini-2.5-pro", mock_oauth.GOOGLE_PROJECT)
    assert sent["request"]["contents"][0]["parts"][0]["text"] == "hi"

    stream = api.chat.completions.create(model="gc/gemini-2.5-pro", stream=True,
                                         messages=[{"role": "user", "content": "hi"}])
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == "hi from gemini"

    # A Gemini client's body passes through, only wrapped and unwrapped.
    from google import genai
    from google.genai import types
    client = genai.Client(api_key=gateway.key, http_options=types.HttpOptions(base_url=gateway.root_url))
    assert client.models.generate_content(model="gc/gemini-2.5-pro", contents="hi").text == "hi from gemini"
    streamed = client.models.generate_content_stream(model="gc/gemini-2.5-pro", contents="hi")
    assert "".join(chunk.text or "" for chunk in streamed) == "hi from gemini"

    # An expired token is refreshed once; Google keeps the same refresh token.
    state.expire_access_tokens()
    assert ask() == "hi from gemini"
    assert state.refreshes == 1
    state.expire_access_tokens()
    assert ask() == "hi from gemini"
    assert state.refreshes == 2

    quota = gateway.cli("quota", "list", "--refresh")
    assert "model:gemini-2.5-pro: 40% used, resets 2030-01-02 00:00:00Z" in quota, quota


def test_antigravity_login_envelope_models_and_quota(oauth):
    """Antigravity as its public clients describe it: a Google login with its
    own client and fixed redirect, Code Assist with Antigravity's envelope,
    and fetchAvailableModels as its model list and per-model quotas."""
    gateway, state, _ = oauth
    process, url = connect(gateway, "antigravity")
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A5112" in url and "client_id=1071006060591" in url, url
    with urllib.request.urlopen(url, timeout=10) as page:
        assert "Signed in" in page.read().decode()
    assert 'connected Antigravity account "dev@example.com"' in finished(process)
    [load] = code_assist_calls(state, "loadCodeAssist")[-1:]
    assert load["metadata"]["ideType"] == "ANTIGRAVITY"

    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    api = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    answer = api.chat.completions.create(model="ag/claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}],
                                         tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}])
    assert answer.choices[0].message.content == "hi from gemini"
    sent = code_assist_calls(state, "generateContent")[-1]
    assert (sent["model"], sent["project"], sent["userAgent"]) == ("claude-sonnet-4-5", mock_oauth.GOOGLE_PROJECT, "antigravity")
    assert sent["request"]["toolConfig"]["functionCallingConfig"]["mode"] == "VALIDATED"
    stream = api.chat.completions.create(model="ag/gemini-3-flash", stream=True, messages=[{"role": "user", "content": "hi"}])
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == "hi from gemini"

    quota = gateway.cli("quota", "list", "--refresh")
    assert "model:gemini-3-flash: 20% used" in quota and "model:claude-sonnet-4-5: 100% used" in quota, quota
    [provider] = [p for p in gateway.cli_json("provider", "list") if p["prefix"] == "ag"]
    assert provider["models"] == ["claude-sonnet-4-5", "gemini-3-flash"], provider


def test_gemini_cli_import_reads_the_cli_file_without_changing_it(oauth, tmp_path):
    gateway, state, _ = oauth
    issued = state.issue()
    home = tmp_path / "home"
    (home / ".gemini").mkdir(parents=True)
    creds = home / ".gemini" / "oauth_creds.json"
    # The Gemini CLI's own file, its access token already expired.
    creds.write_text(json.dumps({"access_token": issued["access_token"], "refresh_token": issued["refresh_token"],
                                 "scope": "https://www.googleapis.com/auth/cloud-platform", "token_type": "Bearer",
                                 "expiry_date": int(time.time() * 1000) - 60_000}))
    state.expire_access_tokens()
    before = creds.read_bytes()
    process, line = connect(gateway, "gemini-cli", "--import", env={"HOME": str(home)})
    assert "connected Gemini CLI" in line + finished(process)
    assert creds.read_bytes() == before
    assert state.refreshes == 1, "the expired access token was refreshed before onboarding"
    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    api = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    answer = api.chat.completions.create(model="gc/gemini-2.5-flash", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "hi from gemini"
    assert state.refreshes == 1


def test_kiro_builder_id_device_login_and_event_stream_answers(oauth):
    gateway, state, _ = oauth
    process, user_code = connect(gateway, "kiro", "--label", "builder")
    assert user_code == "KIRO-CODE"
    assert "connected Kiro" in finished(process)
    # Registered a client, then pending, slow_down, tokens.
    assert len(state.aws_clients) == 1 and state.device_polls == 3
    [secret] = state.aws_clients.values()
    assert secret.encode() not in stored_bytes(gateway), "the client secret is sealed"

    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    api = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)

    def ask():
        answer = api.chat.completions.create(model="kr/claude-sonnet-4.5", messages=[
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
        return answer

    answer = ask()
    assert answer.choices[0].message.content == "hi from kiro"
    assert answer.usage.prompt_tokens == 1000, "estimated from the context share Kiro reports"
    sent = state.kiro_requests[-1]
    current = sent["conversationState"]["currentMessage"]["userInputMessage"]
    assert (current["modelId"], current["content"]) == ("claude-sonnet-4.5", "Be brief.\n\nhi")
    assert sent["profileArn"].startswith("arn:aws:codewhisperer:us-east-1:")

    stream = api.chat.completions.create(model="kr/claude-sonnet-4.5", stream=True,
                                         messages=[{"role": "user", "content": "hi"}])
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == "hi from kiro"

    # Tool input arrives in pieces across toolUseEvents and becomes one call.
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    called = api.chat.completions.create(model="kr/claude-sonnet-4.5", tools=tools,
                                         messages=[{"role": "user", "content": "weather?"}])
    [call] = called.choices[0].message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})
    assert called.choices[0].finish_reason == "tool_calls"
    anthropic_api = anthropic.Anthropic(base_url=gateway.root_url, api_key=gateway.key, max_retries=0)
    with anthropic_api.messages.stream(model="kr/claude-sonnet-4.5", max_tokens=50,
                                       messages=[{"role": "user", "content": "hi"}]) as streamed:
        assert "".join(streamed.text_stream) == "hi from kiro"

    # CodeWhisperer refuses an expired token with 403: one refresh through
    # the registered client, one retry.
    state.expire_access_tokens()
    assert ask().choices[0].message.content == "hi from kiro"
    assert state.refreshes == 1
    refreshed = [body for path, _, body in state.requests if path == "/aws/oidc/token" and body.get("grantType") == "refresh_token"]
    assert refreshed and refreshed[0]["clientId"] in state.aws_clients

    # GetUsageLimits: plan credits used up, free-trial credits left, so the
    # account keeps answering (150 of 550 credits). Builder ID accounts share
    # a profile, which the query leaves out.
    quota = gateway.cli("quota", "list", "--refresh")
    assert "credit: 27% used, resets 2030-01-01 00:00:00Z" in quota, quota
    assert "profileArn" not in state.kiro_usage_queries[-1]
    assert ask().choices[0].message.content == "hi from kiro"
    # Once the trial credits are spent too, routing holds the account back.
    state.kiro_trial_used = 500.0
    assert "credit: 100% used" in gateway.cli("quota", "list", "--refresh")
    with pytest.raises(openai.RateLimitError) as held_back:
        ask()
    assert "credit window used up" in str(held_back.value), held_back.value


def test_kiro_import_of_a_social_login_refreshes_through_kiro(oauth, tmp_path):
    gateway, state, _ = oauth
    issued = state.issue()
    home = tmp_path / "home"
    cache = home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    token_file = cache / "kiro-auth-token.json"
    token_file.write_text(json.dumps({"accessToken": issued["access_token"], "refreshToken": issued["refresh_token"],
                                      "expiresAt": "2020-01-01T00:00:00.000Z", "authMethod": "social", "provider": "Google",
                                      "profileArn": "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK"}))
    before = token_file.read_bytes()
    process, line = connect(gateway, "kiro", "--import", env={"HOME": str(home)})
    assert "connected Kiro" in line + finished(process)
    assert token_file.read_bytes() == before
    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    api = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    answer = api.chat.completions.create(model="kr/claude-haiku-4.5", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "hi from kiro"
    # The imported token had run out: refreshed once, through Kiro's endpoint.
    assert state.refreshes == 1
    assert [path for path, _, _ in state.requests if path == "/kiro/auth/refreshToken"] == ["/kiro/auth/refreshToken"]
    assert token_file.read_bytes() == before
    # A social login's own profile goes along to GetUsageLimits.
    assert "credit: 27% used" in gateway.cli("quota", "list", "--refresh")
    assert state.kiro_usage_queries[-1]["profileArn"] == "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK"


def test_a_pasted_google_refresh_token_is_kept_as_google_does_not_rotate_it(oauth):
    gateway, state, _ = oauth
    token = state.issue()["refresh_token"]
    result = subprocess.run([gateway.binary, "--data-dir", gateway.data_dir, "--json", "connect", "gemini-cli",
                             "--refresh-token-stdin"], input=token, capture_output=True, text=True, timeout=60,
                            env={**os.environ, **gateway.env})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["provider"]["prefix"] == "gc"
    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    api = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    state.expire_access_tokens()
    answer = api.chat.completions.create(model="gc/gemini-2.5-pro", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "hi from gemini"
    assert state.refreshes == 2, "the pasted refresh token was stored and used again"


def test_codex_device_login_exchanges_the_servers_code_and_verifier(oauth):
    gateway, state, _ = oauth
    process, user_code = connect(gateway, "codex", "--device")
    assert user_code == "CODX-1234"
    assert "connected Codex account \"dev@example.com\"" in finished(process)
    assert state.device_polls == 2, "one pending 403, then the approval"
    [exchange] = [body for path, _, body in state.requests if path == "/token"]
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["redirect_uri"] == mock_oauth.OPENAI_DEVICE_REDIRECT and "state" not in exchange
    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    api = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    assert api.responses.create(model="cx/gpt-5-codex", input="hi").output_text == "hi from codex"


def hold(port):
    """Occupies a loopback port, as another program would; None if one already does."""
    sock = socket.socket()
    # Like the gateway's listener: a connection just closed on it (TIME_WAIT) does not count.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        return None
    sock.listen()
    return sock


def test_codex_browser_login_falls_back_to_port_1457_then_suggests_the_device_login(oauth):
    gateway, _, _ = oauth
    first = hold(1455)
    try:
        process, url = connect(gateway, "codex")
        assert "redirect_uri=http%3A%2F%2Flocalhost%3A1457%2Fauth%2Fcallback" in url, url
        with urllib.request.urlopen(url, timeout=10) as page:
            assert "Signed in" in page.read().decode()
        assert "connected Codex" in finished(process)
        second = hold(1457)
        try:
            result = subprocess.run([gateway.binary, "--data-dir", gateway.data_dir, "connect", "codex"],
                                    stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                                    env={**os.environ, **gateway.env})
        finally:
            if second:
                second.close()
    finally:
        if first:
            first.close()
    assert result.returncode != 0
    assert "port 1455" in result.stderr and "switchyard connect codex --device" in result.stderr, result.stderr


def test_claude_requests_carry_claude_codes_identification_or_claude_codes_own(oauth):
    gateway, state, _ = oauth
    browser_login(gateway)
    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    # Another tool (the Anthropic Python SDK): Claude Code's identification
    # is sent in its place, the client's own betas merged in.
    api = anthropic.Anthropic(base_url=gateway.root_url, api_key=gateway.key, max_retries=0)
    api.messages.create(model="cc/claude-sonnet-4-5", max_tokens=20, system="Be brief.",
                        messages=[{"role": "user", "content": "hi"}],
                        extra_headers={"anthropic-beta": "context-1m-2025-08-07"})
    query, headers, body = state.claude_calls[-1]
    assert query == "beta=true"
    assert headers["authorization"].startswith("Bearer at-")
    assert headers["user-agent"] == "claude-cli/2.1.220 (external, cli)"
    assert (headers["x-app"], headers["x-stainless-lang"], headers["x-stainless-runtime"]) == ("cli", "js", "node")
    assert headers["anthropic-dangerous-direct-browser-access"] == "true"
    betas = headers["anthropic-beta"].split(",")
    assert betas[:2] == ["oauth-2025-04-20", "claude-code-20250219"] and "context-1m-2025-08-07" in betas
    assert [block["text"] for block in body["system"]] == [
        "You are Claude Code, Anthropic's official CLI for Claude.", "Be brief."]
    assert "metadata" not in body, "no invented user or device ids"
    # An OpenAI client reaches the same account with the same identification.
    openai_api = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    openai_api.chat.completions.create(model="cc/claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}])
    assert state.claude_calls[-1][1]["user-agent"] == "claude-cli/2.1.220 (external, cli)"

    # Claude Code itself: its own identification and system blocks go through unchanged.
    own = {"user-agent": "claude-cli/2.1.300 (external, cli)", "x-app": "cli", "x-claude-code-session-id": "sess-42",
           "x-stainless-package-version": "0.99.0"}
    system = [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.300.abc; cc_entrypoint=cli;"},
              {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."}]
    api.messages.create(model="cc/claude-sonnet-4-5", max_tokens=20, system=system,
                        messages=[{"role": "user", "content": "hi"}], extra_headers=own)
    _, headers, body = state.claude_calls[-1]
    assert {name: headers[name] for name in own} == own
    assert body["system"] == system


def test_iflow_login_fetches_the_api_key_and_requests_are_signed(oauth):
    gateway, state, _ = oauth
    process, url = connect(gateway, "iflow")
    assert "/iflow/oauth?" in url and "redirect=http%3A%2F%2Flocalhost%3A" in url and "code_challenge" not in url, url
    with urllib.request.urlopen(url, timeout=10) as page:
        assert "Signed in" in page.read().decode()
    assert f'connected iFlow account "{mock_oauth.IFLOW_PHONE}"' in finished(process)
    [key] = state.iflow_keys
    assert key.encode() not in stored_bytes(gateway), "the API key is sealed"

    gateway.key = gateway.cli_json("key", "create")["key"]
    gateway.serve()
    api = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)

    def ask():
        answer = api.chat.completions.create(model="if/qwen3-coder-plus", messages=[{"role": "user", "content": "hi"}])
        return answer.choices[0].message.content

    assert ask() == "hi from iflow"
    stream = api.chat.completions.create(model="if/qwen3-coder-plus", stream=True,
                                         messages=[{"role": "user", "content": "hi"}])
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == "hi from iflow"
    assert state.iflow_calls[-1]["stream_options"] == {"include_usage": True}
    # An Anthropic client reaches it too (translated to OpenAI chat).
    claude_api = anthropic.Anthropic(base_url=gateway.root_url, api_key=gateway.key, max_retries=0)
    reply = claude_api.messages.create(model="if/kimi-k2", max_tokens=20, messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "hi from iflow"

    # The API key stops working: one refresh (Basic-authenticated), the new
    # key from the user info, one retry.
    state.iflow_keys.clear()
    assert ask() == "hi from iflow"
    assert state.refreshes == 1 and len(state.iflow_keys) == 1 and key not in state.iflow_keys
    assert ask() == "hi from iflow"
    assert state.refreshes == 1
