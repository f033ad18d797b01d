"""Accounts, combos, fallback, cost and graceful shutdown through the real
`switchyard` binary, driven by the official `openai` SDK against a mock
OpenAI-compatible upstream whose answers depend on the API key (the account)."""

import http.server
import json
import sys
import threading
import time

import openai
import pytest

from conftest import Switchyard

needs_sigterm = pytest.mark.skipif(sys.platform == "win32", reason="Windows has no SIGTERM to stop the gateway gracefully")

USAGE = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}


class KeyedUpstream(http.server.BaseHTTPRequestHandler):
    """sk-limited: 429 with Retry-After; sk-broke: quota exhausted; else an answer.
    The model `slow` answers after half a second."""

    protocol_version = "HTTP/1.1"
    seen = []

    def log_message(self, *args):
        pass

    def _send(self, status, body, content_type="application/json", headers=()):
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        key = self.headers.get("authorization", "").removeprefix("Bearer ")
        KeyedUpstream.seen.append((key, body["model"]))
        if key == "sk-limited":
            error = {"error": {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}}
            return self._send(429, json.dumps(error), headers=[("retry-after", "600")])
        if key == "sk-broke":
            error = {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}
            return self._send(429, json.dumps(error))
        if body["model"] == "slow":
            time.sleep(0.5)
        base = {"id": "chatcmpl-keyed", "created": 1, "model": body["model"]}
        if body.get("stream"):
            chunks = [
                {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}, "finish_reason": None}]},
                {**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            ]
            if (body.get("stream_options") or {}).get("include_usage"):
                chunks.append({**base, "object": "chat.completion.chunk", "choices": [], "usage": USAGE})
            text = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + "data: [DONE]\n\n"
            return self._send(200, text, "text/event-stream")
        answer = {**base, "object": "chat.completion", "usage": USAGE,
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}
        return self._send(200, json.dumps(answer))


@pytest.fixture
def keyed_upstream():
    KeyedUpstream.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeyedUpstream)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def gateway_with(tmp_path, upstream, accounts):
    """A gateway with one provider per (name, prefix, [(label, key)...])."""
    gateway = Switchyard(tmp_path / "data")
    for name, prefix, keys in accounts:
        (_, first), *rest = keys
        gateway.cli("provider", "add", "--name", name, "--prefix", prefix, "--base-url", upstream,
                    "--api-key-stdin", "--model", "model-a", stdin=first)
        for priority, (label, key) in enumerate(rest, start=1):
            gateway.cli("account", "add", prefix, "--label", label, "--priority", str(priority),
                        "--api-key-stdin", stdin=key)
    gateway.key = gateway.cli_json("key", "create")["key"]
    return gateway


@needs_sigterm
def test_usage_shows_cost_per_account_and_combo_after_a_fallback(tmp_path, keyed_upstream):
    gateway = gateway_with(tmp_path, keyed_upstream, [
        ("Personal", "home", [("default", "sk-broke")]),
        ("Work", "work", [("default", "sk-limited"), ("spare", "sk-good")]),
    ])
    gateway.cli("combo", "add", "coding", "home/model-a", "work/model-a")
    gateway.cli("price", "set", "model-a", "--input", "3", "--output", "15")
    gateway.serve()
    api = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    for _ in range(2):
        answer = api.chat.completions.create(model="coding", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content == "ok"
    chunks = list(api.chat.completions.create(model="coding", messages=[{"role": "user", "content": "hi"}],
                                              stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "ok"
    # The broke and the rate-limited accounts were tried once, then skipped while cooling down.
    assert [key for key, _ in KeyedUpstream.seen] == ["sk-broke", "sk-limited", "sk-good", "sk-good", "sk-good"]
    accounts = gateway.cli_json("account", "list")
    status = {f'{a["provider"]}/{a["label"]}': a["status"] for a in accounts}
    assert status["Work/spare"] == "active"
    assert status["Work/default"].startswith("cooling down until")
    assert "quota exhausted" in status["Personal/default"]
    gateway.stop()

    usage = gateway.cli_json("usage")
    one = (1000 * 3 + 500 * 15) / 1e6
    assert usage["totals"]["requests"] == 3
    assert usage["totals"]["cost_usd"] == pytest.approx(3 * one)
    [coding] = usage["by_combo"]
    assert (coding["key"], coding["requests"], coding["fallbacks"]) == ("coding", 3, 2)
    assert coding["cost_usd"] == pytest.approx(3 * one)
    by_account = {row["key"]: row for row in usage["by_account"]}
    assert by_account["Work/spare"]["requests"] == 3
    assert by_account["Work/spare"]["cost_usd"] == pytest.approx(3 * one)
    assert by_account["Work/default"]["failed_attempts"] == 1
    assert by_account["Personal/default"]["failed_attempts"] == 1

    by_account_json = gateway.cli_json("usage", "--by", "account", "--since", "1h")
    assert {row["key"] for row in by_account_json["account"]} >= {"Work/spare"}
    text = gateway.cli("usage")
    assert "COMBO" in text and "coding" in text and "Work/spare" in text
    log = gateway.cli("log", "--limit", "3")
    assert "skipped home/model-a Personal/default 429" in log, log
    assert "work/model-a Work/spare 200" in log, log


@needs_sigterm
def test_sigterm_under_concurrent_load_loses_no_request(tmp_path, keyed_upstream):
    gateway = gateway_with(tmp_path, keyed_upstream, [("Work", "work", [("default", "sk-good")])])
    gateway.serve()
    count = 40
    results = []

    def one(index):
        api = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0, timeout=30)
        try:
            if index % 2:
                chunks = list(api.chat.completions.create(model="work/slow", stream=True,
                                                          messages=[{"role": "user", "content": str(index)}]))
                results.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
            else:
                answer = api.chat.completions.create(model="work/slow", messages=[{"role": "user", "content": str(index)}])
                results.append(answer.choices[0].message.content)
        except Exception as error:  # noqa: BLE001 - the assertion below shows it
            results.append(repr(error))

    threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(KeyedUpstream.seen) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(KeyedUpstream.seen) == count, "every request reached the upstream"
    gateway.stop()  # SIGTERM while all of them are in flight
    for thread in threads:
        thread.join(timeout=30)
    assert results == ["ok"] * count
    totals = gateway.cli_json("usage")["totals"]
    assert (totals["requests"], totals["succeeded"]) == (count, count)
