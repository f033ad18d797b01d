"""A seeded fuzzer against the real `switchyard serve`: random mutations of valid requests on
every route (JSON structure, wrong types, huge numbers, nesting up to 10k levels, invalid
UTF-8, odd headers, odd paths and methods), sent over raw sockets.

Every answer must be a well-formed HTTP answer, with a status below 500 or a 502/504 for an
upstream fault, error bodies JSON in the shape of the route's dialect; the process must never
die, and its RSS must stay under 300 MB.

FUZZ_SECONDS (default 20) bounds the run, FUZZ_SEED (default random) fixes the sequence;
the seed is printed at the start and in every failure."""

import json
import os
import random
import sys
import time

import pytest

from fault_upstream import (FaultUpstream, MiB, NoAnswer, RssMonitor, connect, dialect_of_path,
                            error_shape_problem, kill, new_gateway, read_answer)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/PID/status")

FUZZ_SECONDS = float(os.environ.get("FUZZ_SECONDS", "20"))
SEED = int(os.environ.get("FUZZ_SEED") or random.SystemRandom().randrange(2 ** 32))
RSS_LIMIT_MB = 300

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
          "systemInstruction": {"parts": [{"text": "Be brief."}]}, "generationConfig": {"maxOutputTokens": 16}}

# (method, path, a valid body or None). Models name the `f` provider; the upstream answers "ok".
ROUTES = [
    ("POST", "/v1/chat/completions", {"model": "f/ok", "messages": MESSAGES, "tools": TOOLS, "max_tokens": 16}),
    ("POST", "/v1/chat/completions", {"model": "f/ok", "messages": MESSAGES, "stream": True,
                                      "stream_options": {"include_usage": True}}),
    ("POST", "/v1/responses", {"model": "f/ok", "input": [{"role": "user", "content": "hi"}], "instructions": "Be brief."}),
    ("POST", "/v1/responses", {"model": "f/ok", "input": "hi", "stream": True}),
    ("POST", "/v1/messages", {"model": "f/ok", "max_tokens": 16, "system": "Be brief.",
                              "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}),
    ("POST", "/v1/messages", {"model": "f/ok", "max_tokens": 16, "stream": True,
                              "messages": [{"role": "user", "content": "hi"}]}),
    ("POST", "/v1/messages/count_tokens", {"model": "f/ok", "messages": [{"role": "user", "content": "hi"}]}),
    ("POST", "/v1/embeddings", {"model": "f/ok", "input": ["hi", "there"]}),
    ("POST", "/v1beta/models/f/ok:generateContent", GEMINI),
    ("POST", "/v1beta/models/f/ok:streamGenerateContent?alt=sse", GEMINI),
    ("POST", "/v1/models/f/ok:generateContent", GEMINI),
    ("POST", "/api/chat", {"model": "f/ok", "messages": MESSAGES, "stream": False, "options": {"temperature": 0.1}}),
    ("POST", "/api/chat", {"model": "f/ok", "messages": MESSAGES}),
    ("GET", "/v1/models", None),
    ("GET", "/v1beta/models", None),
    ("GET", "/api/tags", None),
    ("GET", "/api/version", None),
    ("GET", "/health", None),
]
KNOWN = {(method, path.split("?")[0]) for method, path, _ in ROUTES}
FIELDS = ["model", "messages", "stream", "tools", "tool_choice", "max_tokens", "temperature", "top_p", "n", "input",
          "contents", "system", "instructions", "stream_options", "response_format", "generationConfig", "options",
          "format", "role", "content", "parts", "text", "type", "function", "parameters", "tool_calls", "images",
          "metadata", "thinking", "reasoning", "safetySettings", "cache_control", "user", "seed", "stop"]
MODELS = ["f/ok"] * 40 + ["f/garbage-sse", "f/status-400", "f/huge-headers", "f/", "f", "", "nope/x", "f/ok/extra",
                          "f/\u00e9\u4e2d", "f/" + "m" * 5000]
WEIRD_STRINGS = ["", " ", "\u0000", "\ud800", "\uffff", "\u202e", "\U0001F600", "a" * 70000, "\\", "\"", "\n" * 50,
                 "{\"nested\": \"json\"}", "data: [DONE]\n\n", "%s%n", "../../etc/passwd"]
HUGE_NUMBERS = [2 ** 64, -(2 ** 63) - 1, 10 ** 400, -10 ** 400, 0, -1, 1.7976931348623157e308, 5e-324, -0.0, 2 ** 53 + 1]


def random_scalar(rng):
    roll = rng.random()
    if roll < 0.25:
        return rng.choice(HUGE_NUMBERS)
    if roll < 0.5:
        return rng.choice(WEIRD_STRINGS)
    if roll < 0.6:
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 40)))
    return rng.choice([None, True, False, 0, 1, -1, 3.14, "x", [], {}])


def mutate(rng, value, depth=0):
    """A copy of `value` with one random change somewhere inside."""
    if depth > 6 or rng.random() < 0.2:
        roll = rng.random()
        if roll < 0.6:
            return random_scalar(rng)
        if roll < 0.8:
            return [value] if rng.random() < 0.5 else {"x": value}
        return rng.choice([[], {}, [value, value]])
    if isinstance(value, dict):
        value = dict(value)
        roll = rng.random()
        if value and roll < 0.25:
            del value[rng.choice(list(value))]
        elif roll < 0.45:
            value[rng.choice(FIELDS)] = random_scalar(rng) if rng.random() < 0.7 else mutate(rng, {}, depth + 1)
        elif value:
            key = rng.choice(list(value))
            value[key] = mutate(rng, value[key], depth + 1)
        return value
    if isinstance(value, list):
        value = list(value)
        roll = rng.random()
        if value and roll < 0.2:
            del value[rng.randrange(len(value))]
        elif value and roll < 0.35:
            value.insert(rng.randrange(len(value) + 1), rng.choice(value))
        elif roll < 0.5:
            value.insert(rng.randrange(len(value) + 1), random_scalar(rng))
        elif value:
            index = rng.randrange(len(value))
            value[index] = mutate(rng, value[index], depth + 1)
        return value
    return random_scalar(rng)


def deep(rng):
    levels = rng.choice([10, 100, 127, 128, 129, 500, 1000, 5000, 10000])
    if rng.random() < 0.5:
        return b"[" * levels + b"1" + b"]" * levels
    return b'{"a":' * levels + b"1" + b"}" * levels


def body_bytes(rng, body):
    """The body of a fuzzed request, mostly a mutated valid one, sometimes broken as bytes."""
    body = json.loads(json.dumps(body))
    if "model" in body and rng.random() < 0.3:
        body["model"] = rng.choice(MODELS)
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        body = mutate(rng, body)
    try:
        data = json.dumps(body, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    except (ValueError, OverflowError):
        data = b"{}"
    roll = rng.random()
    if roll < 0.06:
        data = deep(rng)
    elif roll < 0.10:
        nested = deep(rng).decode()
        data = data[:-1] + f', "messages": {nested}, "contents": {nested}}}'.encode() if data.endswith(b"}") else data
    elif roll < 0.14 and data:
        data = data[:rng.randrange(len(data))]
    elif roll < 0.18 and data:
        data = bytearray(data)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = bytes(data)
    elif roll < 0.22 and data:
        at = rng.randrange(len(data))
        data = data[:at] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x00"]) + data[at:]
    elif roll < 0.25:
        data = rng.choice([b"", b" ", b"[]", b"null", b'"str"', b"123", b"\xef\xbb\xbf{}", b"NaN", b"{\"model\": NaN}",
                           b'{"model": "f/ok", "model": 5}', b'{"stream": Infinity}', b"{" * 3])
    elif roll < 0.27:
        data = data.replace(b'"hi"', b'"' + b"h" * rng.choice([MiB, 3 * MiB]) + b'"', 1)
    return data


def fuzz_headers(rng, key, port):
    headers, malformed = [], False
    roll = rng.random()
    if roll < 0.80:
        headers.append(("Authorization", f"Bearer {key}"))
    elif roll < 0.85:
        headers.append(("x-api-key", key))
    elif roll < 0.88:
        headers.append(("x-goog-api-key", key))
    elif roll < 0.92:
        headers.append(("Authorization", rng.choice(["Bearer", "Bearer ", "Basic abc", "Bearer sk-sy-bad", "bearer " + key])))
    host = f"127.0.0.1:{port}"
    if rng.random() < 0.05:
        host = rng.choice(["evil.example", "localhost", f"[::1]:{port}", "", "a" * 300, f"127.0.0.1:{port + 1}"])
    headers.insert(0, ("Host", host))
    if rng.random() < 0.04:
        headers.append(("Origin", rng.choice(["http://evil.example", "null", f"http://127.0.0.1:{port}"])))
    for _ in range(rng.choice([0, 0, 0, 1, 2, 5])):
        name = rng.choice(["X-Fuzz", "anthropic-version", "anthropic-beta", "Accept", "Accept-Encoding", "User-Agent",
                           "X-Stainless-Lang", "OpenAI-Beta", "x-goog-api-client", "Cookie", "X-Forwarded-For",
                           "Cache-Control", "Range", "If-None-Match"])
        value = rng.choice(["2023-06-01", "gzip, br", "text/event-stream", "*/*", "bytes=0-10", "a" * 4000,
                            "\u00e9".encode("utf-8").decode("latin-1"), "1.2.3.4", ""])
        headers.append((name, value))
    if rng.random() < 0.01:
        headers.append(("X-Bad\x01Name", "v"))
        malformed = True
    return headers, malformed


def content_type(rng):
    return rng.choice(["application/json"] * 12 + ["application/json; charset=utf-8", None, "text/plain",
                                                    "application/x-www-form-urlencoded", "application/jsonx",
                                                    "application/json; charset=latin-1", "*/*", ""])


def fuzz_path(rng, path):
    roll = rng.random()
    if roll < 0.03:
        return path + rng.choice(["/", "//", "/x", "?x=1", "?key=", "%00", "%ff", "?alt=sse&alt=json"]), False
    if roll < 0.05:
        return "/v1" + path, False
    if roll < 0.06:
        return path.replace("/", "//", 1), False
    if roll < 0.065:
        return path + "\u00e9".encode().decode("latin-1"), True  # raw non-ASCII bytes in the request line
    if roll < 0.07:
        return rng.choice(["*", "http://evil.example/v1/models", "/" + "a" * 9000]), True
    return path, False


def encode_request(method, path, headers, body, chunked, ctype):
    lines = [f"{method} {path} HTTP/1.1"] + [f"{name}: {value}" for name, value in headers]
    if body is not None:
        if ctype is not None:
            lines.append(f"Content-Type: {ctype}")
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        else:
            lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if body is None:
        return head
    if chunked:
        pieces, at = [], 0
        while at < len(body):
            size = min(len(body) - at, 1 + (len(body) // 3))
            pieces.append(b"%x\r\n" % size + body[at:at + size] + b"\r\n")
            at += size
        return head + b"".join(pieces) + b"0\r\n\r\n"
    return head + body


def check(answer, method, path, malformed):
    """Why `answer` breaks the rules; None when it does not."""
    if not (answer.status < 500 or answer.status in (502, 504)):
        return f"status {answer.status}"
    content_type = (answer.header("content-type") or "").lower()
    if answer.status >= 400:
        if malformed and not answer.body:
            return None  # refused by the HTTP parser itself
        if "json" not in content_type:
            return f"error {answer.status} without a JSON body: {content_type!r} {answer.body[:200]!r}"
        route = path.split("?")[0]
        if (method, route) in KNOWN:
            return error_shape_problem(dialect_of_path(route), answer.status, answer.body)
        shapes = [error_shape_problem(d, answer.status, answer.body) for d in ("openai", "anthropic", "gemini", "ollama")]
        return None if None in shapes else shapes[0]
    if "application/json" in content_type:
        try:
            json.loads(answer.body)
        except ValueError:
            return f"invalid JSON in a {answer.status} answer: {answer.body[:200]!r}"
    return None


@pytest.fixture
def fuzz_gateway(tmp_path):
    upstream = FaultUpstream(cap_bytes=64 * MiB)
    gateway = new_gateway(tmp_path / "data", upstream, [("breaker_threshold", 1000000), ("first_byte_timeout_secs", 5)])
    yield gateway, upstream
    kill(gateway)
    upstream.close()


def test_fuzz_every_route(fuzz_gateway):
    gateway, upstream = fuzz_gateway
    print(f"FUZZ_SEED={SEED} FUZZ_SECONDS={FUZZ_SECONDS}")
    rng = random.Random(SEED)
    deadline = time.monotonic() + FUZZ_SECONDS
    count, statuses = 0, {}

    def fail(message, repro):
        pytest.fail(f"FUZZ_SEED={SEED} request #{count}: {message}\nrequest: {repro}\n"
                    f"gateway output:\n{''.join(list(gateway.output)[-20:])}")

    with RssMonitor(gateway.process.pid, 10 * 1024) as rss:
        while time.monotonic() < deadline:
            method, path, body = rng.choice(ROUTES)
            path, malformed = fuzz_path(rng, path)
            if rng.random() < 0.03:
                method = rng.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "POST"])
            data = body_bytes(rng, body) if body is not None else None
            if data is None and method in ("POST", "PUT", "PATCH") and rng.random() < 0.5:
                data = b'{"model": "f/ok"}'
            headers, bad_header = fuzz_headers(rng, gateway.key, gateway.port)
            malformed = malformed or bad_header
            chunked = data is not None and rng.random() < 0.1
            raw = encode_request(method, path, headers, data, chunked, content_type(rng) if data is not None else None)
            repro = (f"{method} {path!r} headers={headers!r} chunked={chunked} "
                     f"body[{len(data) if data is not None else 0}]={(data or b'')[:300]!r}")
            count += 1
            started = time.monotonic()
            try:
                sock = connect(gateway.port)
                try:
                    sock.sendall(raw)
                except OSError:
                    pass  # the gateway may answer and close before reading a large body
                answer = read_answer(sock, started + 30)
                while 100 <= answer.status < 200:
                    answer = read_answer(sock, started + 30)
            except NoAnswer as error:
                fail(f"no well-formed answer within 30 s: {error}", repro)
            except (AssertionError, ValueError) as error:
                fail(f"malformed answer: {error}", repro)
            except ConnectionError as error:
                if gateway.process.poll() is not None:
                    fail(f"the gateway died (exit {gateway.process.returncode}): {error}", repro)
                if not malformed:
                    fail(f"connection error without an answer: {error!r}", repro)
                continue
            finally:
                try:
                    sock.close()
                except (OSError, UnboundLocalError):
                    pass
            if gateway.process.poll() is not None:
                fail(f"the gateway died (exit {gateway.process.returncode})", repro)
            problem = check(answer, method, path, malformed)
            if problem:
                fail(problem, repro + f"\nanswer: {answer!r}")
            if rss.max_mb >= RSS_LIMIT_MB:
                fail(f"gateway RSS reached {rss.max_mb:.0f} MB", repro)
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
            upstream.release()
    print(f"{count} requests, statuses {sorted(statuses.items())}, max RSS {rss.max_mb:.0f} MB")
    assert gateway.process.poll() is None
    assert rss.max_mb < RSS_LIMIT_MB, f"FUZZ_SEED={SEED}: gateway RSS reached {rss.max_mb:.0f} MB"
    assert count > 50, f"only {count} requests in {FUZZ_SECONDS} s"
    assert statuses.get(200, 0) > count // 10, f"too few successes to be a meaningful fuzz: {statuses}"
