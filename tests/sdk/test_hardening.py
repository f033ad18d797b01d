"""Hardening of `switchyard serve` against hostile or broken peers, through the real binary.

Upstream side: a fault-injecting OpenAI-compatible mock (fault_upstream.py) sends endless
bodies, endless SSE lines, endless headers, silence and garbage; the gateway must answer
every client in bounded time, in the client's dialect, with bounded memory, and keep
provider secrets and client mistakes from leaking or tripping the circuit breaker.

Client side: slow clients, too many connections, oversized or mistyped bodies, foreign
Host and Origin headers (DNS rebinding, cross-site requests), SIGTERM with hung requests.

Requests go over raw sockets so that nothing (keep-alive, Host, Content-Type, reading of
the body) is decided by a client library."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import Switchyard, copy_gateway
from fault_upstream import (DIALECTS, GiB, MiB, SECRET, FaultUpstream, NoAnswer, RssMonitor, alive,
                            assert_error, build_request, chat_request, connect, dialect_of_path,
                            error_shape_problem, kill, new_gateway, read_answer, request, require, start,
                            stream_error_problem, wait_closed)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/PID/status and sends SIGTERM")

RSS_LIMIT_MB = 300
# Volume of the valid stream relayed to a reading client (a debug build relays ~30 MB/s).
RELAY_BYTES = int(os.environ.get("HARDENING_RELAY_MIB", "256")) * 1024 * 1024
# Above this the upstream is told to stop, so a gateway without limits cannot eat the machine.
RSS_ABORT_MB = 400
UPSTREAM_FAULT = (502, 504)
# The whole settings the spec introduces, with values valid for `config set`.
NEW_SETTINGS = {
    "max_upstream_body_bytes": str(8 * MiB),
    "max_stream_event_bytes": str(MiB),
    "upstream_body_timeout_secs": "7",
    "request_read_timeout_secs": "5",
    "max_connections": "64",
    "shutdown_grace_secs": "4",
    "allowed_hosts": "gw.internal,my.box",
    "cors_origins": "http://app.example,https://tool.example",
}
# Limits for the fault tests: small, so that each fault is cut within a second or two.
FAULT_SETTINGS = [
    ("max_upstream_body_bytes", 8 * MiB),
    ("max_stream_event_bytes", MiB),
    ("upstream_body_timeout_secs", 1),
    ("first_byte_timeout_secs", 1),
    # Faults are failures of the provider: keep its breaker out of the way.
    ("breaker_threshold", 1000000),
]


# -- gateways -------------------------------------------------------------------

@pytest.fixture
def upstream():
    server = FaultUpstream()
    yield server
    server.close()


@pytest.fixture
def make_gateway(tmp_path, upstream):
    made = []

    def make(settings=(), serve=True):
        gateway = new_gateway(tmp_path / f"data{len(made)}", upstream, settings, serve)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        kill(gateway)


@pytest.fixture(scope="module")
def fault_upstream():
    server = FaultUpstream()
    yield server
    server.close()


@pytest.fixture(scope="module")
def fault_template(tmp_path_factory, fault_upstream):
    """A data directory with small limits and timeouts, configured once."""
    return new_gateway(tmp_path_factory.mktemp("faults") / "data", fault_upstream, FAULT_SETTINGS,
                       serve=False, strict=False)


@pytest.fixture
def fault_gateway(fault_template, tmp_path):
    """A fresh gateway on a copy of the template: one test's memory cannot count against the next."""
    gateway = copy_gateway(fault_template, tmp_path / "data")
    gateway.key, gateway.refused = fault_template.key, fault_template.refused
    start(gateway)
    yield gateway
    kill(gateway)


@pytest.fixture(scope="module")
def plain_gateway(tmp_path_factory, fault_upstream):
    """A gateway with default settings (only the breaker kept out of the way)."""
    gateway = new_gateway(tmp_path_factory.mktemp("plain") / "data", fault_upstream, [("breaker_threshold", 1000000)])
    yield gateway
    kill(gateway)


@pytest.fixture(autouse=True)
def _fresh_module_upstream(request):
    """Module-scoped upstreams start each test with nothing in flight and nothing recorded."""
    if "fault_upstream" in request.fixturenames:
        request.getfixturevalue("fault_upstream").reset()
    yield
    if "fault_upstream" in request.fixturenames:
        request.getfixturevalue("fault_upstream").release()


def chat(gateway, dialect, model, stream=False, timeout=20.0, **kwargs):
    path, body = chat_request(dialect, model, stream)
    return request(gateway.port, "POST", path, body, key=gateway.key, timeout=timeout, **kwargs)


# -- settings -------------------------------------------------------------------

def test_new_settings_are_accepted_by_config_set(tmp_path, upstream):
    gateway = new_gateway(tmp_path / "data", upstream, serve=False)
    for name, value in NEW_SETTINGS.items():
        gateway.cli("config", "set", name, value)
    shown = gateway.cli_json("config", "list")
    for name, value in NEW_SETTINGS.items():
        assert str(shown.get(name)) == value, (name, shown.get(name))


# -- upstream faults ------------------------------------------------------------

SIZE_FAULTS = ["endless-json", "endless-error", "sse-no-newlines", "endless-stream-for-collect",
               "huge-headers", "garbage-sse"]
TIME_FAULTS = ["stall-after-headers", "stall-before-headers", "drip-json", "drip-error"]


# Timing faults take a second each: three dialects are enough for them.
FAULT_CASES = [(mode, dialect) for mode in SIZE_FAULTS for dialect in DIALECTS] + \
              [(mode, dialect) for mode in TIME_FAULTS for dialect in ("openai", "anthropic", "gemini")]


@pytest.mark.parametrize("mode,dialect", FAULT_CASES, ids=[f"{m}-{d}" for m, d in FAULT_CASES])
def test_upstream_fault_gets_a_bounded_error_in_the_clients_dialect(fault_gateway, fault_upstream, mode, dialect):
    """Non-stream clients: every fault ends in a 502/504 in the client's own error shape within a few
    seconds (limits 8 MiB / 1 MiB per event, body and first-byte timeouts 1 s), with RSS < 300 MB."""
    if mode in ("stall-after-headers", "drip-json", "drip-error"):
        require(fault_gateway, "upstream_body_timeout_secs")
    with RssMonitor(fault_gateway.process.pid, RSS_ABORT_MB, fault_upstream.release) as rss:
        try:
            answer = chat(fault_gateway, dialect, mode, timeout=15)
        except NoAnswer as error:
            pytest.fail(f"{mode}: no answer within 15 s ({error}); upstream sent {fault_upstream.sent(mode) // MiB} MiB")
    alive(fault_gateway)
    # An error body that never ends is cut; the provider's own status (500) is
    # kept with what arrived of its message.
    statuses = set(UPSTREAM_FAULT) | ({500} if mode in ("endless-error", "drip-error") else set())
    assert_error(answer, dialect, statuses)
    assert rss.max_mb < RSS_LIMIT_MB, f"{mode}: gateway RSS reached {rss.max_mb:.0f} MB"
    assert fault_upstream.requests_for(mode), "the request reached the upstream"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_endless_sse_line_to_a_stream_client_is_cut(fault_gateway, fault_upstream, dialect):
    """max_stream_event_bytes (1 MiB here): a streaming client gets a 502 or an error event, promptly."""
    with RssMonitor(fault_gateway.process.pid, RSS_ABORT_MB, fault_upstream.release) as rss:
        try:
            answer = chat(fault_gateway, dialect, "sse-no-newlines", stream=True, timeout=15)
        except NoAnswer as error:
            pytest.fail(f"no end of the answer within 15 s ({error}); upstream sent "
                        f"{fault_upstream.sent('sse-no-newlines') // MiB} MiB")
    alive(fault_gateway)
    if answer.status == 200:
        problem = stream_error_problem(dialect, answer.body)
        assert problem is None, problem
    else:
        assert_error(answer, dialect, UPSTREAM_FAULT)
    assert rss.max_mb < RSS_LIMIT_MB, f"gateway RSS reached {rss.max_mb:.0f} MB"
    assert fault_upstream.sent("sse-no-newlines") < 256 * MiB, "the line was cut near the 1 MiB event limit"


def test_stream_event_limit_is_a_limit_on_one_event(fault_gateway, fault_upstream):
    """Events under max_stream_event_bytes (1 MiB) pass; a 2 MiB event is refused, streamed or collected."""
    require(fault_gateway, "max_stream_event_bytes")
    small = chat(fault_gateway, "openai", f"big-event-{512 * 1024}", stream=True)
    assert small.status == 200 and small.body.count(b"a" * 1000) >= 500 and b"[DONE]" in small.body, small
    big = chat(fault_gateway, "openai", f"big-event-{2 * MiB}", stream=True)
    if big.status == 200:
        assert stream_error_problem("openai", big.body) is None, f"a 2 MiB event was relayed: {len(big.body)} bytes"
        assert b"a" * (2 * MiB) not in big.body
    else:
        assert_error(big, "openai", UPSTREAM_FAULT)
    collected = chat(fault_gateway, "anthropic", f"big-event-{2 * MiB}")
    assert_error(collected, "anthropic", UPSTREAM_FAULT)


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
def test_upstream_body_limit_is_a_limit_on_the_answer(fault_gateway, dialect):
    """max_upstream_body_bytes (8 MiB): a 7 MiB answer passes (passthrough and translated), 9 MiB is a 502."""
    require(fault_gateway, "max_upstream_body_bytes")
    under = chat(fault_gateway, dialect, f"big-json-{7 * MiB}", timeout=30)
    assert under.status == 200, under
    assert under.body.count(b"a" * 4096) >= (7 * MiB) // 4096 - 1
    over = chat(fault_gateway, dialect, f"big-json-{9 * MiB}", timeout=30)
    assert_error(over, dialect, UPSTREAM_FAULT)


def test_a_gigabyte_of_endless_answers_keeps_rss_bounded(make_gateway, upstream):
    """The upstream sends >= 1 GiB of endless JSON answers (1 MiB chunks) over concurrent requests;
    each is cut at 8 MiB with a 502, and the gateway never holds more than 300 MB."""
    gateway = make_gateway([("max_upstream_body_bytes", 8 * MiB), ("breaker_threshold", 1000000)])
    failures, answers = [], []
    deadline = time.monotonic() + 150

    with RssMonitor(gateway.process.pid, RSS_ABORT_MB, upstream.release) as rss:
        def worker():
            while upstream.sent("endless-json") < GiB and time.monotonic() < deadline and not rss.exceeded and not failures:
                try:
                    answer = chat(gateway, "openai", "endless-json", timeout=30)
                except NoAnswer as error:
                    failures.append(f"no answer: {error}")
                    return
                answers.append(answer.status)
                problem = error_shape_problem("openai", answer.status, answer.body)
                if answer.status not in UPSTREAM_FAULT or problem:
                    failures.append(f"{answer!r} {problem}")

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=200)
    alive(gateway)
    assert not failures, failures[:3]
    assert rss.max_mb < RSS_LIMIT_MB, (f"gateway RSS reached {rss.max_mb:.0f} MB after "
                                       f"{upstream.sent('endless-json') // MiB} MiB from the upstream")
    assert upstream.sent("endless-json") >= GiB, (f"only {upstream.sent('endless-json') // MiB} MiB sent in 150 s "
                                                  f"over {len(answers)} answers")


def test_default_upstream_body_limit_exists(make_gateway, upstream):
    """No limit configured: an endless JSON answer is still cut (default 64 MiB) with a 502, RSS < 300 MB."""
    gateway = make_gateway([("breaker_threshold", 1000000)])
    with RssMonitor(gateway.process.pid, RSS_ABORT_MB, upstream.release) as rss:
        answer = chat(gateway, "openai", "endless-json", timeout=60)
    assert rss.max_mb < RSS_LIMIT_MB, (f"gateway RSS reached {rss.max_mb:.0f} MB while the upstream sent "
                                       f"{upstream.sent() // MiB} MiB")
    assert_error(answer, "openai", UPSTREAM_FAULT)
    assert upstream.sent() < 512 * MiB


def test_default_upstream_body_limit_lets_large_answers_through(make_gateway):
    """The default limit is not small: a 40 MiB answer passes."""
    gateway = make_gateway()
    answer = chat(gateway, "openai", f"big-json-{40 * MiB}", timeout=60)
    assert answer.status == 200, answer
    assert len(answer.body) > 40 * MiB


def test_default_stream_event_limit_exists(make_gateway, upstream):
    """No limit configured: an SSE line that never ends is cut (default 16 MiB), RSS < 300 MB."""
    gateway = make_gateway([("breaker_threshold", 1000000)])
    with RssMonitor(gateway.process.pid, RSS_ABORT_MB, upstream.release) as rss:
        try:
            answer = chat(gateway, "openai", "sse-no-newlines", stream=True, timeout=60)
        except NoAnswer as error:
            pytest.fail(f"no end of the answer within 60 s: {error}")
    assert rss.max_mb < RSS_LIMIT_MB, (f"gateway RSS reached {rss.max_mb:.0f} MB while the upstream sent "
                                       f"{upstream.sent() // MiB} MiB")
    if answer.status == 200:
        assert stream_error_problem("openai", answer.body) is None, stream_error_problem("openai", answer.body)
    else:
        assert_error(answer, "openai", UPSTREAM_FAULT)
    assert upstream.sent() < 512 * MiB


def test_a_long_valid_stream_is_relayed_with_flat_memory(make_gateway, upstream):
    """A valid stream of HARDENING_RELAY_MIB (default 256) MiB in 64 KiB events relayed to a client
    that reads it: all of it arrives, the gateway's RSS stays under 300 MB (nothing relayed is kept)."""
    gateway = make_gateway()
    path, body = chat_request("openai", f"stream-bytes-{RELAY_BYTES}", stream=True)
    sock = connect(gateway.port)
    sock.sendall(build_request(gateway.port, "POST", path, json.dumps(body).encode(),
                               [("Authorization", f"Bearer {gateway.key}")]) + json.dumps(body).encode())
    received, tail, done = 0, b"", False
    deadline = time.monotonic() + 150
    with RssMonitor(gateway.process.pid, RSS_ABORT_MB, upstream.release) as rss:
        sock.settimeout(10)
        while time.monotonic() < deadline and not rss.exceeded:
            data = sock.recv(4 * MiB)
            if not data:
                break
            received += len(data)
            if b"[DONE]" in tail + data:
                done = True
                break
            tail = data[-64:]
    sock.close()
    assert rss.max_mb < RSS_LIMIT_MB, f"gateway RSS reached {rss.max_mb:.0f} MB after relaying {received // MiB} MiB"
    assert done and received >= RELAY_BYTES, f"received {received // MiB} MiB, [DONE] seen: {done}"


# -- secrets --------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("dialect", ["openai", "anthropic", "gemini"])
def test_provider_secret_echoed_in_a_successful_answer_is_redacted(plain_gateway, fault_upstream, dialect, stream):
    answer = chat(plain_gateway, dialect, "echo-secret", stream=stream)
    assert answer.status == 200, answer
    assert fault_upstream.requests_for("echo-secret")[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    assert SECRET.encode() not in answer.body, f"the provider key reached the client: {answer.body[:600]!r}"
    assert b"[redacted]" in answer.body, answer.body[:600]


# -- client mistakes and the circuit breaker ------------------------------------

@pytest.mark.parametrize("mode", ["status-400", "status-422", "status-500-invalid"])
def test_client_errors_never_open_the_circuit_breaker(make_gateway, upstream, mode):
    """breaker_threshold 2: five requests the provider refuses as malformed, then a good one succeeds."""
    gateway = make_gateway([("breaker_threshold", 2)])
    for attempt in range(5):
        answer = chat(gateway, "openai", mode)
        assert answer.status != 503 and b"circuit" not in answer.body.lower(), f"attempt {attempt}: {answer!r}"
        assert 400 <= answer.status < 600 and error_shape_problem("openai", answer.status, answer.body) is None, answer
    assert len(upstream.requests_for(mode)) == 5, "every malformed request reached the upstream"
    good = chat(gateway, "openai", "ok")
    assert good.status == 200, f"a good request after {mode} x5 failed: {good!r}"


# Only the members themselves are checked: checking each message of a
# passed-through request would mean scanning the whole body again (coding
# tools send 50-100 kB); a provider refuses `"messages": [42]` with a 400,
# which never counts against it.
MALFORMED = [
    ("openai", "/v1/chat/completions", {"model": "f/ok", "messages": "hi"}),
    ("openai", "/v1/chat/completions", {"model": "f/ok", "messages": {"role": "user", "content": "hi"}}),
    ("openai", "/v1/chat/completions", {"model": "f/ok"}),
    ("responses", "/v1/responses", {"model": "f/ok", "input": 42}),
    ("anthropic", "/v1/messages", {"model": "f/ok", "max_tokens": 5, "messages": "hi"}),
    ("gemini", "/v1beta/models/f/ok:generateContent", {"contents": "hi"}),
    ("ollama", "/api/chat", {"model": "f/ok", "messages": "hi", "stream": False}),
]


MALFORMED_IDS = ["openai-messages-string", "openai-messages-object", "openai-messages-missing",
                 "responses-input-number", "anthropic-messages-string",
                 "gemini-contents-string", "ollama-messages-string"]


@pytest.mark.parametrize("dialect,path,body", MALFORMED, ids=MALFORMED_IDS)
def test_request_malformed_for_its_dialect_is_refused_without_reaching_the_upstream(plain_gateway, fault_upstream,
                                                                                    dialect, path, body):
    answer = request(plain_gateway.port, "POST", path, body, key=plain_gateway.key)
    assert_error(answer, dialect, 400)
    assert fault_upstream.posts() == [], f"sent upstream: {fault_upstream.posts()[0]['body'][:300]!r}"


# -- request bodies: content type and size ----------------------------------------

JSON_ROUTES = [
    ("/v1/chat/completions", {"model": "f/ok", "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/messages", {"model": "f/ok", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/messages/count_tokens", {"model": "f/ok", "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/responses", {"model": "f/ok", "input": "hi"}),
    ("/v1/embeddings", {"model": "f/ok", "input": "hi"}),
    ("/v1beta/models/f/ok:generateContent", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
    ("/api/chat", {"model": "f/ok", "messages": [{"role": "user", "content": "hi"}], "stream": False}),
]
ROUTE_IDS = [path.split(":")[0].strip("/").replace("/", "_") for path, _ in JSON_ROUTES]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=xyz"], ids=["text", "form", "multipart"])
@pytest.mark.parametrize("path,body", JSON_ROUTES, ids=ROUTE_IDS)
def test_json_routes_refuse_other_content_types_with_415(plain_gateway, fault_upstream, path, body, content_type):
    answer = request(plain_gateway.port, "POST", path, body, key=plain_gateway.key, content_type=content_type)
    assert_error(answer, dialect_of_path(path), 415)
    assert fault_upstream.posts() == []


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON", False],
                         ids=["charset", "case", "missing"])
@pytest.mark.parametrize("path,body", JSON_ROUTES, ids=ROUTE_IDS)
def test_json_routes_accept_json_with_parameters_or_no_content_type(plain_gateway, path, body, content_type):
    answer = request(plain_gateway.port, "POST", path, body, key=plain_gateway.key, content_type=content_type)
    assert answer.status == 200, answer


@pytest.mark.parametrize("path,body", JSON_ROUTES, ids=ROUTE_IDS)
def test_request_body_over_32_mib_gets_413_in_the_callers_dialect(plain_gateway, fault_upstream, path, body):
    big = dict(body)
    big["padding"] = "x" * (33 * MiB)
    answer = request(plain_gateway.port, "POST", path, big, key=plain_gateway.key, timeout=30)
    assert_error(answer, dialect_of_path(path), 413)
    assert fault_upstream.posts() == []


def test_request_body_just_under_32_mib_is_accepted(plain_gateway):
    body = {"model": "f/ok", "messages": [{"role": "user", "content": "x" * (31 * MiB)}]}
    answer = request(plain_gateway.port, "POST", "/v1/chat/completions", body, key=plain_gateway.key, timeout=60)
    assert answer.status == 200, answer


@pytest.mark.parametrize("key", [None, "sk-sy-not-a-real-key"], ids=["missing-key", "bad-key"])
def test_401_before_the_body_is_read_closes_the_connection(plain_gateway, fault_upstream, key):
    """Headers announce 1 MB, 100 bytes follow: the 401 comes at once with Connection: close, and the
    gateway closes the connection rather than waiting for (or reading) the rest."""
    headers = [("Authorization", f"Bearer {key}")] if key else []
    sock = connect(plain_gateway.port)
    try:
        head = build_request(plain_gateway.port, "POST", "/v1/chat/completions", None, headers)
        head = head[:-2] + b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
        sock.sendall(head + b'{"model": "f/ok", "messages": [' + b" " * 68)
        answer = read_answer(sock, time.monotonic() + 10)
        assert_error(answer, "openai", 401)
        assert "close" in (answer.header("connection") or "").lower(), f"no Connection: close on {answer!r}"
        closed, _ = wait_closed(sock, 5)
        assert closed is not None, "the connection stayed open after the 401"
    finally:
        sock.close()
    assert fault_upstream.posts() == []


# -- slow clients, connection limits ----------------------------------------------

def slow_sender(sock, data, stop, every=1.0):
    """Sends `data` one byte per `every` seconds until done, stopped, or the peer is gone."""
    def run():
        for byte in data:
            if stop.is_set():
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return
            stop.wait(every)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def assert_cut(sock, within, what):
    closed, received = wait_closed(sock, within)
    assert closed is not None, f"{what}: still connected after {within} s (received {received[:200]!r})"
    if received:
        status = received.split(b"\r\n", 1)[0]
        assert status.startswith(b"HTTP/1.1 408"), f"{what}: answered {received[:300]!r} instead of 408 or nothing"
    return closed


def test_slowloris_headers_are_cut_after_request_read_timeout(make_gateway):
    gateway = make_gateway([("request_read_timeout_secs", 2)])
    stop = threading.Event()
    sock = connect(gateway.port)
    try:
        head = f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\nX-Slow: ".encode() + b"a" * 100
        slow_sender(sock, head, stop)
        assert_cut(sock, 2 + 4, "a client sending headers at 1 byte/s")
    finally:
        stop.set()
        sock.close()
    assert request(gateway.port, "GET", "/v1/models", key=gateway.key).status == 200


def test_idle_connection_is_closed_after_request_read_timeout(make_gateway):
    """A connection that sends nothing at all holds a slot like a slowloris one: closed too."""
    gateway = make_gateway([("request_read_timeout_secs", 2)])
    sock = connect(gateway.port)
    try:
        assert_cut(sock, 2 + 4, "a connection that sent nothing")
    finally:
        sock.close()


def test_slow_body_is_cut_after_request_read_timeout(make_gateway, upstream):
    gateway = make_gateway([("request_read_timeout_secs", 2)])
    stop = threading.Event()
    sock = connect(gateway.port)
    try:
        body = json.dumps({"model": "f/ok", "messages": [{"role": "user", "content": "h" * 100}]}).encode()
        sock.sendall(build_request(gateway.port, "POST", "/v1/chat/completions", body,
                                   [("Authorization", f"Bearer {gateway.key}")]))
        slow_sender(sock, body, stop)
        assert_cut(sock, 2 + 4, "a client sending its body at 1 byte/s")
    finally:
        stop.set()
        sock.close()
    assert upstream.posts() == []


def test_max_connections_refuses_extra_connections_with_503(make_gateway):
    """max_connections 20: 25 idle connections; the 21st to 25th get an immediate 503 with
    Connection: close and a JSON error (or are refused); once the idle ones time out
    (request_read_timeout_secs 2) a normal request succeeds."""
    gateway = make_gateway([("max_connections", 20), ("request_read_timeout_secs", 2)])
    time.sleep(0.3)
    sockets, refused = [], []
    try:
        for index in range(25):
            try:
                sockets.append(connect(gateway.port, timeout=3))
            except OSError as error:
                refused.append(index)
                sockets.append(error)
            time.sleep(0.02)
        opened = time.monotonic()
        extra = []
        for index in range(20, 25):
            sock = sockets[index]
            if isinstance(sock, OSError):
                continue
            try:
                answer = read_answer(sock, opened + 1.5)
            except NoAnswer as error:
                pytest.fail(f"connection {index + 1}: no immediate 503 ({error})")
            extra.append(answer)
        assert [i for i in refused if i < 20] == [], f"connections within the limit were refused: {refused}"
        for answer in extra:
            assert answer.status == 503, answer
            assert "close" in (answer.header("connection") or "").lower(), answer
            assert isinstance(answer.json().get("error"), (dict, str)), answer
        for index in range(20):
            sock = sockets[index]
            sock.setblocking(False)
            try:
                data = sock.recv(1024)
                pytest.fail(f"connection {index + 1}, within the limit, got {data[:200]!r}")
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
        for index in range(20):
            assert_cut(sockets[index], 2 + 4, f"idle connection {index + 1}")
    finally:
        for sock in sockets:
            if not isinstance(sock, OSError):
                sock.close()
    answer = request(gateway.port, "GET", "/v1/models", key=gateway.key)
    assert answer.status == 200, answer


def test_sigterm_with_a_slow_client_and_a_hung_stream_exits_within_grace(make_gateway, upstream):
    """shutdown_grace_secs 3: a request in flight that ends within the grace finishes, a hung stream
    and a slowloris client are cut, the process exits 0 within 3 + 5 s, and usage is written."""
    gateway = make_gateway([("shutdown_grace_secs", 3)])
    assert chat(gateway, "openai", "ok").status == 200
    stop = threading.Event()
    slow = connect(gateway.port)
    slow_sender(slow, f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\n".encode() * 10, stop)
    hung = connect(gateway.port)
    path, body = chat_request("openai", "hang-stream", stream=True)
    hung.sendall(build_request(gateway.port, "POST", path, json.dumps(body).encode(),
                               [("Authorization", f"Bearer {gateway.key}")]) + json.dumps(body).encode())
    hung.settimeout(10)
    first = b""
    while b"Hel" not in first:
        data = hung.recv(65536)
        assert data, f"the hung stream ended early: {first!r}"
        first += data
    finishing = {}

    def slow_request():
        try:
            finishing["answer"] = chat(gateway, "openai", "slow-ok", timeout=15)
        except NoAnswer as error:
            finishing["error"] = error

    slow_thread = threading.Thread(target=slow_request)
    slow_thread.start()
    deadline = time.monotonic() + 5
    while not upstream.requests_for("slow-ok") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert upstream.requests_for("slow-ok")
    try:
        started = time.monotonic()
        gateway.process.send_signal(signal.SIGTERM)
        try:
            code = gateway.process.wait(timeout=3 + 5 + 5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {time.monotonic() - started:.1f} s after SIGTERM (grace 3 s)")
        elapsed = time.monotonic() - started
        assert code == 0, f"exit code {code}:\n" + "".join(gateway.output)
        assert elapsed <= 3 + 5, f"exited {elapsed:.1f} s after SIGTERM (grace 3 s)"
    finally:
        stop.set()
        slow.close()
        hung.close()
    slow_thread.join(timeout=15)
    assert finishing.get("answer") is not None and finishing["answer"].status == 200, \
        f"a request ending within the grace was cut: {finishing}"
    totals = gateway.cli_json("usage")["totals"]
    assert totals["succeeded"] >= 2, f"usage after shutdown: {totals}"


# -- Host and Origin --------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "127.0.0.1", "localhost",
                                  "LOCALHOST:{port}"])
def test_loopback_host_names_are_allowed(plain_gateway, host):
    answer = request(plain_gateway.port, "GET", "/v1/models", key=plain_gateway.key,
                     host=host.format(port=plain_gateway.port))
    assert answer.status == 200, answer


FOREIGN_HOSTS = ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example:{port}", "localhost.evil.example",
                 "gw.internal:{port}"]
HOST_ROUTES = [("GET", "/v1/models", None), ("POST", "/v1/chat/completions", JSON_ROUTES[0][1]),
               ("GET", "/api/tags", None), ("GET", "/v1beta/models", None),
               ("POST", "/v1/messages", JSON_ROUTES[1][1]), ("GET", "/health", None)]


@pytest.mark.parametrize("method,path,body", HOST_ROUTES, ids=[p.strip("/").replace("/", "_") for _, p, _ in HOST_ROUTES])
@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_foreign_host_header_is_refused_with_403(plain_gateway, fault_upstream, host, method, path, body):
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host: evil.example."""
    answer = request(plain_gateway.port, method, path, body, key=plain_gateway.key,
                     host=host.format(port=plain_gateway.port))
    assert answer.status == 403, answer
    if path != "/health":
        assert_error(answer, dialect_of_path(path), 403)
    assert fault_upstream.posts() == []


def test_allowed_hosts_setting_adds_names(make_gateway):
    gateway = make_gateway([("allowed_hosts", "gw.internal,my.box")])
    for host in ["gw.internal", f"gw.internal:{gateway.port}", f"my.box:{gateway.port}", f"127.0.0.1:{gateway.port}"]:
        answer = request(gateway.port, "GET", "/v1/models", key=gateway.key, host=host)
        assert answer.status == 200, (host, answer)
    answer = request(gateway.port, "GET", "/v1/models", key=gateway.key, host=f"other.box:{gateway.port}")
    assert_error(answer, "openai", 403)


ORIGIN_ROUTES = [("GET", "/v1/models", None), ("POST", "/v1/chat/completions", JSON_ROUTES[0][1]),
                 ("POST", "/v1/messages", JSON_ROUTES[1][1]), ("GET", "/api/tags", None),
                 ("POST", "/v1beta/models/f/ok:generateContent", JSON_ROUTES[5][1])]


@pytest.mark.parametrize("method,path,body", ORIGIN_ROUTES, ids=[p.strip("/").split(":")[0].replace("/", "_")
                                                                 for _, p, _ in ORIGIN_ROUTES])
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1.evil.example"])
def test_unlisted_origin_is_refused_with_403_and_no_cors_header(plain_gateway, fault_upstream, origin, method, path, body):
    answer = request(plain_gateway.port, method, path, body, key=plain_gateway.key, headers=[("Origin", origin)])
    assert_error(answer, dialect_of_path(path), 403)
    assert answer.header("access-control-allow-origin") is None, answer
    assert fault_upstream.posts() == []


def test_listed_origins_are_served_with_their_cors_header(make_gateway, upstream):
    gateway = make_gateway([("cors_origins", "http://app.example,https://tool.example")])
    answer = request(gateway.port, "GET", "/v1/models", key=gateway.key, headers=[("Origin", "http://app.example")])
    assert answer.status == 200, answer
    assert answer.header("access-control-allow-origin") == "http://app.example", answer
    path, body = chat_request("openai", "ok")
    answer = request(gateway.port, "POST", path, body, key=gateway.key, headers=[("Origin", "https://tool.example")])
    assert answer.status == 200, answer
    assert answer.header("access-control-allow-origin") == "https://tool.example", answer
    for origin in ["http://evil.example", "http://app.example.evil.example", "https://app.example"]:
        answer = request(gateway.port, "GET", "/v1/models", key=gateway.key, headers=[("Origin", origin)])
        assert_error(answer, "openai", 403)
        assert answer.header("access-control-allow-origin") is None, (origin, answer)
    plain = request(gateway.port, "GET", "/v1/models", key=gateway.key)
    assert plain.status == 200 and plain.header("access-control-allow-origin") is None, plain
    assert len(upstream.requests_for("ok")) == 1


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=xyz"], ids=["text", "form", "multipart"])
@pytest.mark.parametrize("origin", ["http://evil.example", None], ids=["cross-site", "no-origin"])
def test_cross_site_simple_post_is_refused_even_without_a_key(make_gateway, upstream, origin, content_type):
    """allow_unauthenticated_loopback: a browser's 'simple' POST (no preflight) from any page must not
    reach a provider on the user's account."""
    gateway = make_gateway([("allow_unauthenticated_loopback", "true")])
    path, body = chat_request("openai", "ok")
    assert request(gateway.port, "POST", path, body).status == 200, "the loopback client needs no key"
    upstream.reset()
    headers = [("Origin", origin)] if origin else []
    answer = request(gateway.port, "POST", path, body, headers=headers, content_type=content_type)
    assert answer.status in (403, 415), answer
    assert_error(answer, "openai", answer.status)
    assert upstream.posts() == [], "the cross-site request reached the provider"
