"""Webhooks through the real binary: budget events set off by the official
OpenAI SDK, signed with HMAC-SHA256 (checked here as a receiver would,
with a replay window), retried with back-off, recorded, turned off after
repeated failures; Slack's format; a paused key; bad addresses refused."""

import hashlib
import hmac
import http.server
import json
import subprocess
import threading
import time

import openai
import pytest

BACKOFF = {"SWITCHYARD_WEBHOOK_BACKOFF_MS": "50"}


class Receiver:
    """A webhook endpoint: answers the scripted statuses in turn, then 200."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.received = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, event, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for headers, body in self.received:
                if headers.get("x-switchyard-event") == event:
                    return headers, body
            time.sleep(0.05)
        raise AssertionError(f"no {event} arrived; got {[h.get('x-switchyard-event') for h, _ in self.received]}")


def verify(secret, headers, body, window=300):
    """What a receiver does: the signature matches and is recent."""
    parts = dict(part.split("=", 1) for part in headers["x-switchyard-signature"].split(","))
    timestamp = int(parts["t"])
    assert abs(time.time() - timestamp) <= window, "replayed or stale"
    expected = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])


def cli(switchyard, *args):
    result = subprocess.run([switchyard.binary, "--data-dir", switchyard.data_dir, "--json", *args],
                            capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, **switchyard.env, **BACKOFF})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def hooked(tmp_path, mock_upstream):
    from conftest import UPSTREAM_KEY, Switchyard

    gateway = Switchyard(tmp_path / "data")
    gateway.cli("provider", "add", "--name", "Mock", "--prefix", "mock", "--base-url", mock_upstream,
                "--api-key-stdin", "--model", "gpt-mock", stdin=UPSTREAM_KEY + "\n")
    gateway.key = gateway.cli_json("key", "create", "--name", "hooked")["key"]
    gateway.key_id = gateway.cli_json("key", "list")[0]["id"]
    gateway.serve(env=BACKOFF)
    yield gateway
    gateway.process.kill()
    gateway.process.wait()


def test_budget_events_are_signed_and_delivered(hooked):
    receiver = Receiver()
    created = cli(hooked, "webhook", "add", receiver.url, "--event", "budget_warning", "--event", "budget_exhausted")
    secret = created["secret"]
    # 9 + 3 tokens at $100 per million: $0.0012 a request; warn at 50% of $0.002.
    hooked.cli("price", "set", "mock/gpt-mock", "--input", "100", "--output", "100")
    hooked.cli("key", "limits", str(hooked.key_id), "--day", "0.002", "--warn", "50")
    client = openai.OpenAI(base_url=hooked.base_url, api_key=hooked.key, max_retries=0)
    client.chat.completions.create(model="mock/gpt-mock", messages=[{"role": "user", "content": "hi"}])
    headers, body = receiver.wait_for("budget_warning")
    verify(secret, headers, body)
    client.chat.completions.create(model="mock/gpt-mock", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="mock/gpt-mock", messages=[{"role": "user", "content": "hi"}])
    headers, body = receiver.wait_for("budget_exhausted")
    verify(secret, headers, body)
    event = json.loads(body)
    assert event["event"] == "budget_exhausted"
    assert event["data"]["key_id"] == hooked.key_id and event["data"]["budget_usd"] == 0.002
    # A forged or stale signature is what a receiver refuses.
    with pytest.raises(AssertionError):
        verify("whsec_other", headers, body)
    # Once per window: more refusals send no more events.
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="mock/gpt-mock", messages=[{"role": "user", "content": "hi"}])
    time.sleep(0.5)
    assert [h["x-switchyard-event"] for h, _ in receiver.received].count("budget_exhausted") == 1
    deliveries = cli(hooked, "webhook", "log")
    assert {d["event"] for d in deliveries if d["outcome"] == "delivered"} >= {"budget_warning", "budget_exhausted"}


def test_failures_are_retried_recorded_and_turn_the_webhook_off(hooked):
    receiver = Receiver(statuses=[500, 503, 200])
    hook = cli(hooked, "webhook", "add", receiver.url, "--format", "slack")["webhook"]
    delivered = cli(hooked, "webhook", "test", str(hook["id"]))
    assert delivered["outcome"] == "delivered" and delivered["attempts"] == 3
    assert json.loads(receiver.received[-1][1])["text"].startswith("*Switchyard*")
    receiver.statuses = [500] * 100
    for _ in range(5):
        failed = cli(hooked, "webhook", "test", str(hook["id"]))
    assert failed["outcome"] == "failed" and failed["status"] == 500 and failed["attempts"] == 4
    listed = cli(hooked, "webhook", "list")
    assert listed[0]["enabled"] is False
    # Off: a test sends nothing.
    before = len(receiver.received)
    assert cli(hooked, "webhook", "test", str(hook["id"]))["outcome"] == "failed"
    assert len(receiver.received) == before
    cli(hooked, "webhook", "enable", str(hook["id"]))
    assert cli(hooked, "webhook", "list")[0]["consecutive_failures"] == 0


def test_a_paused_key_is_announced_and_bad_addresses_are_refused(hooked):
    receiver = Receiver()
    secret = cli(hooked, "webhook", "add", receiver.url, "--format", "discord", "--event", "key_paused")["secret"]
    hooked.cli("key", "pause", str(hooked.key_id))
    headers, body = receiver.wait_for("key_paused", timeout=5)
    verify(secret, headers, body)
    assert "was paused" in json.loads(body)["content"]
    for bad in (["webhook", "add", "ftp://example.com/x"], ["webhook", "add", "http://h/x", "--format", "teams"],
                ["webhook", "add", "http://h/x", "--event", "everything"]):
        result = subprocess.run([hooked.binary, "--data-dir", hooked.data_dir, *bad], capture_output=True, text=True,
                                env={**__import__("os").environ, **hooked.env})
        assert result.returncode != 0 and "error" in result.stderr, result.stderr
