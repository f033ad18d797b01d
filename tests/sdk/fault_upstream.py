"""A fault-injecting OpenAI-compatible upstream, and raw-socket tools to talk to the gateway.

The upstream is a plain socket server (not http.server) so it can misbehave in
ways a well-behaved HTTP library would not let it: endless bodies, endless
header blocks, SSE lines that never end, silence after the headers. The model
named in the request (the part after the provider prefix) chooses the
behaviour:

  ok                          a normal Chat Completions answer (JSON, or SSE when "stream": true)
  slow-ok                     the same after 1.5 s
  echo-secret                 a normal answer whose text (and system_fingerprint) repeats the
                              bearer token the gateway sent, i.e. the provider's own key
  big-json-<N>                a valid JSON answer whose text is N bytes long
  big-event-<N>               a valid SSE answer with one content event of N bytes of text
  stream-bytes-<N>            a valid SSE answer of about N bytes in 64 KiB events, then [DONE]
  endless-json                200 application/json, chunked, a JSON prefix then 1 MiB chunks forever
  endless-error               500 application/json, close-delimited, an error prefix then 1 MiB forever
  sse-no-newlines             200 text/event-stream, "data: {..." then 1 MiB chunks with no newline ever
  endless-stream-for-collect  200 text/event-stream, valid 64 KiB chunk events forever (whatever "stream" says)
  stall-after-headers         200 application/json, Content-Length: 1000, then silence
  stall-before-headers        reads the request, then silence
  drip-json                   200 application/json, chunked, one byte every 0.3 s (never idle, never done)
  drip-error                  500 application/json, Content-Length: 100000, one byte every 0.3 s
  hang-stream                 200 text/event-stream, one chunk event, then silence
  huge-headers                "HTTP/1.1 200 OK" then header lines forever
  garbage-sse                 200 text/event-stream with invalid JSON, invalid UTF-8 and random bytes
  status-400 / status-422     the provider refuses the request as malformed
  status-500-invalid          500 whose body says the request is invalid

"Forever" means until the gateway closes the connection, `release()` is
called, or `cap_bytes` were sent. Every byte sent is counted.
"""

import collections
import json
import random
import re
import select
import socket
import subprocess
import threading
import time

SECRET = "sk-fault-upstream-secret-77"
MiB = 1024 * 1024
GiB = 1024 * MiB

_FILLER = b"a" * MiB
_CHUNKED_FILLER = b"%x\r\n" % len(_FILLER) + _FILLER + b"\r\n"


def _chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n" if data else b""


def _completion(model, text, **extra):
    return {"id": "chatcmpl-fault", "object": "chat.completion", "created": 1700000000, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}, **extra}


def _chunk_event(model, delta, finish=None, **extra):
    body = {"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _sse_answer(model, pieces, **extra):
    events = [_chunk_event(model, {"role": "assistant", "content": ""}, **extra)]
    events += [_chunk_event(model, {"content": piece}, **extra) for piece in pieces]
    events.append(_chunk_event(model, {}, "stop", **extra))
    usage = {"id": "chatcmpl-fault", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
             "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
    events.append(b"data: " + json.dumps(usage).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return b"".join(events)


class Stopped(Exception):
    """The test released the connection, or the upstream is closing."""


class FaultUpstream:
    """The fault-injecting upstream; `url` is the base URL to register as an OpenAI provider."""

    def __init__(self, cap_bytes=1 * GiB):
        self.cap_bytes = cap_bytes
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(512)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.lock = threading.Lock()
        self.generation = 0
        self.closed = False
        self.received = []  # dicts: method, path, headers, body, json, mode
        self.sent_bytes = 0
        self.sent_by_mode = {}
        self.connections = set()
        self._local = threading.local()
        threading.Thread(target=self._accept_loop, daemon=True, name="fault-accept").start()

    # -- control ------------------------------------------------------------
    def release(self):
        """Ends every answer in progress: endless senders stop, stalled connections close."""
        with self.lock:
            self.generation += 1

    def reset(self):
        self.release()
        with self.lock:
            self.received = []
            self.sent_bytes = 0
            self.sent_by_mode = {}

    def close(self):
        self.closed = True
        self.release()
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            connections = list(self.connections)
        for conn in connections:
            try:
                conn.close()
            except OSError:
                pass

    def requests_for(self, mode=None):
        with self.lock:
            return [r for r in self.received if mode is None or r["mode"] == mode]

    def posts(self):
        """The POST requests received (what a chat, count or embeddings call sends)."""
        with self.lock:
            return [r for r in self.received if r["method"] == "POST"]

    def sent(self, mode=None):
        with self.lock:
            return self.sent_bytes if mode is None else self.sent_by_mode.get(mode, 0)

    # -- plumbing -----------------------------------------------------------
    def _accept_loop(self):
        while not self.closed:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _live(self, generation):
        return not self.closed and self.generation == generation

    def _send(self, conn, data, generation, mode):
        """Sends all of `data` unless released; counts what went out."""
        view = memoryview(data)
        while view:
            if not self._live(generation):
                raise Stopped()
            _, writable, _ = select.select([], [conn], [], 0.2)
            if not writable:
                continue
            sent = conn.send(view[:4 * MiB])
            view = view[sent:]
            with self.lock:
                self.sent_bytes += sent
                self.sent_by_mode[mode] = self.sent_by_mode.get(mode, 0) + sent

    def _hold(self, conn, generation, limit=300.0):
        """Says nothing until released, the peer closes, or `limit` seconds."""
        deadline = time.monotonic() + limit
        while self._live(generation) and time.monotonic() < deadline:
            readable, _, _ = select.select([conn], [], [], 0.2)
            if readable:
                try:
                    if not conn.recv(65536):
                        return
                except OSError:
                    return

    def _sleep(self, seconds, generation):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self._live(generation):
                raise Stopped()
            time.sleep(0.05)

    def _recv_until(self, conn, buffer, marker, limit):
        while marker not in buffer:
            if len(buffer) > limit:
                raise ValueError("request head too large")
            readable, _, _ = select.select([conn], [], [], 0.5)
            if self.closed:
                return None
            if not readable:
                continue
            data = conn.recv(1 << 20)
            if not data:
                return None
            buffer += data
        return buffer

    def _recv_exactly(self, conn, buffer, size):
        while len(buffer) < size:
            data = conn.recv(1 << 20)
            if not data:
                raise ConnectionError("peer closed mid-body")
            buffer += data
        return buffer

    def _read_request(self, conn, buffer):
        buffer = self._recv_until(conn, buffer, b"\r\n\r\n", 1 << 20)
        if buffer is None:
            return None
        head, _, rest = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                rest = self._recv_until(conn, rest, b"\r\n", 1 << 16)
                if rest is None:
                    raise ConnectionError("peer closed mid-body")
                size_line, _, rest = rest.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                rest = self._recv_exactly(conn, rest, size + 2)
                body += rest[:size]
                rest = rest[size + 2:]
                if size == 0:
                    break
        else:
            length = int(headers.get("content-length", "0") or 0)
            rest = self._recv_exactly(conn, rest, length)
            body, rest = rest[:length], rest[length:]
        return method, path, headers, body, rest

    def _serve(self, conn):
        buffer = b""
        try:
            while not self.closed:
                request = self._read_request(conn, buffer)
                if request is None:
                    return
                method, path, headers, body, buffer = request
                generation = self.generation
                try:
                    keep_alive = self._answer(conn, method, path, headers, body, generation)
                except Stopped:
                    return
                if not keep_alive:
                    return
        except (OSError, ValueError, ConnectionError):
            return
        finally:
            with self.lock:
                self.connections.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    # -- answers ------------------------------------------------------------
    def _head(self, status, content_type, length=None, chunked=False, close=False, extra=()):
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 422: "Unprocessable Entity",
                  500: "Internal Server Error"}.get(status, "Status")
        lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}"]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        if close:
            lines.append("Connection: close")
        lines += list(extra)
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _whole(self, conn, status, payload, generation, mode, content_type="application/json"):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self._send(conn, self._head(status, content_type, length=len(data)) + data, generation, mode)
        return True

    def _answer(self, conn, method, path, headers, body, generation):
        try:
            parsed = json.loads(body) if body else None
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
            parsed = None
        model = parsed.get("model") if isinstance(parsed, dict) else None
        mode = model if isinstance(model, str) else ""
        with self.lock:
            self.received.append({"method": method, "path": path, "headers": headers, "body": body,
                                  "json": parsed, "mode": mode})
        if method == "GET" and path.endswith("/models"):
            return self._whole(conn, 200, {"object": "list", "data": [{"id": "ok", "object": "model"}]}, generation, mode)
        if body and not isinstance(parsed, dict):
            return self._whole(conn, 400, {"error": {"message": "Invalid request: the body is not a JSON object",
                                                     "type": "invalid_request_error"}}, generation, mode)
        if path.endswith("/embeddings"):
            return self._whole(conn, 200, {"object": "list", "model": mode,
                                           "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
                                           "usage": {"prompt_tokens": 1, "total_tokens": 1}}, generation, mode)
        stream = parsed.get("stream") is True if isinstance(parsed, dict) else False
        self._local.headers = headers
        sized = re.fullmatch(r"(big-json|big-event|stream-bytes)-(\d+)", mode)
        if sized:
            handler = getattr(self, "_mode_" + sized.group(1).replace("-", "_"))
            return handler(conn, mode, stream, generation, int(sized.group(2)))
        handler = getattr(self, "_mode_" + mode.replace("-", "_"), None) if re.fullmatch(r"[a-z0-9-]+", mode) else None
        if handler is None:
            return self._ok(conn, mode, stream, generation, mode)
        return handler(conn, mode, stream, generation)

    def _ok(self, conn, model, stream, generation, mode, pieces=("Hello", ",", " world"), **extra):
        if stream:
            return self._whole(conn, 200, _sse_answer(model, list(pieces), **extra), generation, mode, "text/event-stream")
        return self._whole(conn, 200, _completion(model, "".join(pieces), **extra), generation, mode)

    def _mode_slow_ok(self, conn, mode, stream, generation):
        self._sleep(1.5, generation)
        return self._ok(conn, mode, stream, generation, mode)

    def _mode_echo_secret(self, conn, mode, stream, generation):
        token = self._local.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return self._ok(conn, mode, stream, generation, mode, pieces=("your key is ", token, " indeed"),
                        system_fingerprint=token)

    def _mode_big_json(self, conn, mode, stream, generation, size):
        return self._whole(conn, 200, _completion(mode, "a" * size), generation, mode)

    def _mode_big_event(self, conn, mode, stream, generation, size):
        return self._whole(conn, 200, _sse_answer(mode, ["a" * size]), generation, mode, "text/event-stream")

    def _mode_stream_bytes(self, conn, mode, stream, generation, size):
        self._send(conn, self._head(200, "text/event-stream", chunked=True, close=True), generation, mode)
        event = _chunk_event(mode, {"content": "a" * (64 * 1024)})
        batch = _chunk(event * 16)
        sent = 0
        self._send(conn, _chunk(_chunk_event(mode, {"role": "assistant", "content": ""})), generation, mode)
        while sent < size:
            self._send(conn, batch, generation, mode)
            sent += len(batch)
        self._send(conn, _chunk(_chunk_event(mode, {}, "stop") + b"data: [DONE]\n\n") + b"0\r\n\r\n", generation, mode)
        return False

    def _endless(self, conn, generation, mode, head, prefix, unit):
        self._send(conn, head + prefix, generation, mode)
        sent = 0
        while sent < self.cap_bytes:
            self._send(conn, unit, generation, mode)
            sent += len(unit)
        return False

    def _mode_endless_json(self, conn, mode, stream, generation):
        head = self._head(200, "application/json", chunked=True, close=True)
        prefix = _chunk(b'{"id":"chatcmpl-fault","object":"chat.completion","created":1700000000,"model":"endless-json",'
                        b'"choices":[{"index":0,"message":{"role":"assistant","content":"')
        return self._endless(conn, generation, mode, head, prefix, _CHUNKED_FILLER)

    def _mode_endless_error(self, conn, mode, stream, generation):
        head = self._head(500, "application/json", close=True)  # close-delimited body
        return self._endless(conn, generation, mode, head, b'{"error":{"type":"server_error","message":"', _FILLER)

    def _mode_sse_no_newlines(self, conn, mode, stream, generation):
        head = self._head(200, "text/event-stream", chunked=True, close=True)
        prefix = _chunk(b'data: {"id":"chatcmpl-fault","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"')
        return self._endless(conn, generation, mode, head, prefix, _CHUNKED_FILLER)

    def _mode_endless_stream_for_collect(self, conn, mode, stream, generation):
        head = self._head(200, "text/event-stream", chunked=True, close=True)
        prefix = _chunk(_chunk_event(mode, {"role": "assistant", "content": ""}))
        unit = _chunk(_chunk_event(mode, {"content": "a" * (64 * 1024)}) * 16)
        return self._endless(conn, generation, mode, head, prefix, unit)

    def _mode_stall_after_headers(self, conn, mode, stream, generation):
        self._send(conn, self._head(200, "application/json", length=1000, close=True), generation, mode)
        self._hold(conn, generation)
        return False

    def _drip(self, conn, generation, mode, head, prefix, unit, every=0.3, limit=300.0):
        self._send(conn, head + prefix, generation, mode)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            self._sleep(every, generation)
            self._send(conn, unit, generation, mode)
        return False

    def _mode_drip_json(self, conn, mode, stream, generation):
        head = self._head(200, "application/json", chunked=True, close=True)
        prefix = _chunk(b'{"id":"chatcmpl-fault","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"')
        return self._drip(conn, generation, mode, head, prefix, _chunk(b"a"))

    def _mode_drip_error(self, conn, mode, stream, generation):
        head = self._head(500, "application/json", length=100000, close=True)
        return self._drip(conn, generation, mode, head, b'{"error":{"type":"server_error","message":"', b"a")

    def _mode_stall_before_headers(self, conn, mode, stream, generation):
        self._hold(conn, generation)
        return False

    def _mode_hang_stream(self, conn, mode, stream, generation):
        head = self._head(200, "text/event-stream", chunked=True, close=True)
        self._send(conn, head + _chunk(_chunk_event(mode, {"role": "assistant", "content": "Hel"})), generation, mode)
        self._hold(conn, generation)
        return False

    def _mode_huge_headers(self, conn, mode, stream, generation):
        line = b"X-Filler: " + b"h" * 1000 + b"\r\n"
        unit = line * (MiB // len(line))
        return self._endless(conn, generation, mode, b"HTTP/1.1 200 OK\r\n", b"Content-Type: application/json\r\n", unit)

    def _mode_garbage_sse(self, conn, mode, stream, generation):
        rng = random.Random(1234)
        junk = bytes(rng.randrange(256) for _ in range(16384))
        body = (_chunk_event(mode, {"role": "assistant", "content": ""})
                + b"data: {\"choices\": [{\"delta\": {\"content\": \xff\xfe\x00 not json {{{\n\n"
                + b"event: \x00\x01\x02\ndata: \xc3\x28\xa0\xa1\n\n"
                + b"data: {\"choices\": \"not a list\"}\n\n"
                + b"retry: banana\n: comment\n" + junk + b"\n\n")
        head = self._head(200, "text/event-stream", chunked=True, close=True)
        self._send(conn, head + _chunk(body) + b"0\r\n\r\n", generation, mode)
        return False

    def _mode_status_400(self, conn, mode, stream, generation):
        return self._whole(conn, 400, {"error": {"message": "Invalid request: 'messages[0].content' is malformed",
                                                 "type": "invalid_request_error", "code": "invalid_request"}}, generation, mode)

    def _mode_status_422(self, conn, mode, stream, generation):
        return self._whole(conn, 422, {"detail": [{"loc": ["body", "messages"], "msg": "field required",
                                                   "type": "value_error.missing"}]}, generation, mode)

    def _mode_status_500_invalid(self, conn, mode, stream, generation):
        return self._whole(conn, 500, {"error": {"message": "Invalid request: the request body is malformed "
                                                            "(messages[0].content must be a string)",
                                                 "type": "invalid_request_error", "code": "invalid_request_error"}},
                           generation, mode)


# ---------------------------------------------------------------------------
# Raw-socket HTTP/1.1 client: full control over what is sent, nothing hidden
# on the way back.

class Answer:
    def __init__(self, status, reason, headers, body, closed, elapsed):
        self.status = status
        self.reason = reason
        self.headers = headers  # [(lower-case name, value)]
        self.body = body
        self.closed = closed  # the server closed the connection after the answer
        self.elapsed = elapsed

    def header(self, name):
        values = [value for key, value in self.headers if key == name.lower()]
        return ", ".join(values) if values else None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Answer {self.status} {self.headers!r} {self.body[:300]!r}>"


class NoAnswer(AssertionError):
    pass


def _recv(sock, deadline):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise NoAnswer("timed out")
    sock.settimeout(remaining)
    try:
        return sock.recv(1 << 20)
    except socket.timeout:
        raise NoAnswer("timed out") from None
    except ConnectionResetError:
        return b""


def read_answer(sock, deadline, started=None, max_body=256 * MiB):
    """Reads one HTTP answer from `sock` before `deadline` (monotonic)."""
    started = started or time.monotonic()
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = _recv(sock, deadline)
        if not data:
            raise NoAnswer(f"connection closed before an answer (got {buffer[:200]!r})")
        buffer += data
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    assert parts[0].startswith("HTTP/1."), f"not an HTTP answer: {lines[0]!r}"
    status, reason = int(parts[1]), (parts[2] if len(parts) > 2 else "")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    names = dict(headers)
    closed = False
    if names.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            while b"\r\n" not in rest:
                data = _recv(sock, deadline)
                if not data:
                    raise NoAnswer(f"connection closed inside a chunked body after {len(body)} bytes: {bytes(body[-300:])!r}")
                rest += data
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                data = _recv(sock, deadline)
                if not data:
                    raise NoAnswer(f"connection closed inside a chunk after {len(body)} bytes: {bytes(body[-300:])!r}")
                rest += data
            body += rest[:size]
            rest = rest[size + 2:]
            if len(body) > max_body:
                raise NoAnswer(f"answer body above {max_body} bytes")
            if size == 0:
                break
        body = bytes(body)
    elif "content-length" in names:
        length = int(names["content-length"])
        while len(rest) < length:
            data = _recv(sock, deadline)
            if not data:
                raise NoAnswer(f"connection closed after {len(rest)} of {length} body bytes")
            rest += data
        body = rest[:length]
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = rest
        while True:
            data = _recv(sock, deadline)
            if not data:
                closed = True
                break
            body += data
            if len(body) > max_body:
                raise NoAnswer(f"answer body above {max_body} bytes")
    return Answer(status, reason, headers, body, closed, time.monotonic() - started)


def connect(port, timeout=10):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def build_request(port, method, path, body=None, headers=(), host=True, content_type=True):
    """Request bytes. host=True sends Host: 127.0.0.1:port, a string sends that, False none.
    content_type=True sends application/json when there is a body, a string sends that, False none."""
    lines = [f"{method} {path} HTTP/1.1"]
    if host is True:
        lines.append(f"Host: 127.0.0.1:{port}")
    elif host:
        lines.append(f"Host: {host}")
    if body is not None:
        if content_type is True:
            lines.append("Content-Type: application/json")
        elif content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def request(port, method, path, body=None, headers=(), host=True, content_type=True, timeout=20.0, key=None):
    """One request on a fresh connection; the answer, read within `timeout` seconds.
    Large bodies are sent from a thread so an early answer (413, 401) is read at once."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    headers = list(headers)
    if key:
        headers.append(("Authorization", f"Bearer {key}"))
    data = build_request(port, method, path, body, headers, host, content_type) + (body or b"")
    started = time.monotonic()
    sock = connect(port, timeout)
    try:
        if len(data) > MiB:
            def send():
                try:
                    sock.sendall(data)
                except OSError:
                    pass
            sender = threading.Thread(target=send, daemon=True)
            sender.start()
        else:
            sock.sendall(data)
        return read_answer(sock, started + timeout, started)
    finally:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


def wait_closed(sock, timeout):
    """Seconds until the peer closed `sock` (EOF or reset), reading and keeping what it sent;
    None if still open after `timeout`."""
    started = time.monotonic()
    received = b""
    while time.monotonic() - started < timeout:
        sock.settimeout(max(0.01, timeout - (time.monotonic() - started)))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - started, received
        if not data:
            return time.monotonic() - started, received
        received += data
    return None, received


# ---------------------------------------------------------------------------
# The gateway process's memory.

def rss_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class RssMonitor:
    """Samples a process's RSS every 20 ms; calls `on_excess` (at most every 0.25 s) while it is above
    `abort_above_mb`, to stop a runaway upstream before the machine suffers."""

    def __init__(self, pid, abort_above_mb=400, on_excess=None):
        self.pid = pid
        self.abort_above_mb = abort_above_mb
        self.on_excess = on_excess
        self.max_mb = 0.0
        self.exceeded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        last_call = 0.0
        while not self._stop.is_set():
            try:
                current = rss_mb(self.pid)
            except OSError:
                return
            self.max_mb = max(self.max_mb, current)
            if current > self.abort_above_mb:
                self.exceeded = True
                now = time.monotonic()
                if self.on_excess and now - last_call > 0.25:
                    last_call = now
                    self.on_excess()
            self._stop.wait(0.02)

    def __enter__(self):
        self.max_mb = rss_mb(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2)
        try:
            self.max_mb = max(self.max_mb, rss_mb(self.pid))
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Client dialects: a valid chat request in each, and the error shapes.

DIALECTS = ["openai", "responses", "anthropic", "gemini", "ollama"]


def chat_request(dialect, model, stream=False, prefix="f", text="hi"):
    """(path, body) of a valid chat request for `prefix/model` in `dialect`."""
    target = f"{prefix}/{model}"
    messages = [{"role": "user", "content": text}]
    if dialect == "openai":
        return "/v1/chat/completions", {"model": target, "messages": messages, "stream": stream}
    if dialect == "responses":
        return "/v1/responses", {"model": target, "input": text, "stream": stream}
    if dialect == "anthropic":
        return "/v1/messages", {"model": target, "max_tokens": 64, "messages": messages, "stream": stream}
    if dialect == "gemini":
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"/v1beta/models/{target}:{action}", {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    if dialect == "ollama":
        return "/api/chat", {"model": target, "messages": messages, "stream": stream}
    raise ValueError(dialect)


def dialect_of_path(path):
    """The dialect the gateway should answer errors in on `path` (as crates/gateway/src/dialect.rs)."""
    path = path.split("?", 1)[0]
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1/responses") or path.startswith("/codex/"):
        return "responses"
    if path.startswith("/v1beta/") or (path.startswith("/v1/models/") and ":" in path):
        return "gemini"
    if path.startswith("/api/") or path.startswith("/v1/api/"):
        return "ollama"
    return "openai"


def error_shape_problem(dialect, status, body):
    """Why `body` is not an error in `dialect`'s shape for `status`; None when it is."""
    try:
        data = json.loads(body)
    except ValueError:
        return f"error body is not JSON: {body[:300]!r}"
    if not isinstance(data, dict):
        return f"error body is not an object: {body[:300]!r}"
    error = data.get("error")
    if dialect in ("openai", "responses"):
        if not (isinstance(error, dict) and isinstance(error.get("message"), str) and "type" in error):
            return f"not an OpenAI error object: {body[:300]!r}"
    elif dialect == "anthropic":
        if not (data.get("type") == "error" and isinstance(error, dict) and isinstance(error.get("type"), str)
                and isinstance(error.get("message"), str)):
            return f"not an Anthropic error object: {body[:300]!r}"
    elif dialect == "gemini":
        if not (isinstance(error, dict) and error.get("code") == status and isinstance(error.get("status"), str)
                and isinstance(error.get("message"), str)):
            return f"not a Gemini error object for {status}: {body[:300]!r}"
    elif dialect == "ollama":
        if not isinstance(error, str):
            return f"not an Ollama error object: {body[:300]!r}"
    return None


def assert_error(answer, dialect, statuses):
    statuses = {statuses} if isinstance(statuses, int) else set(statuses)
    assert answer.status in statuses, f"expected status in {sorted(statuses)}, got {answer!r}"
    problem = error_shape_problem(dialect, answer.status, answer.body)
    assert problem is None, problem


def stream_error_problem(dialect, body):
    """Why a streamed answer `body` does not end in an error event of `dialect`; None when it does."""
    text = body.decode("utf-8", "replace")
    if dialect in ("anthropic", "responses"):
        return None if re.search(r"^event: ?error", text, re.M) else f"no 'event: error' in stream: ...{text[-400:]!r}"
    lines = [line.removeprefix("data:").strip() for line in text.splitlines()
             if line.strip() and (dialect == "ollama" or line.startswith("data:"))]
    for line in lines:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("error"):
            return None
    return f"no error event in {dialect} stream: ...{text[-400:]!r}"


# ---------------------------------------------------------------------------
# Gateways: the real binary, through conftest's Switchyard helper.

def new_gateway(data_dir, upstream, settings=(), serve=True, strict=True):
    """A gateway with one OpenAI-compatible provider `f` on `upstream`, an API key, and `settings`.
    strict: a setting `config set` refuses fails the test at once; otherwise it is noted in
    `gateway.refused` and the tests that need it fail (see `require`)."""
    from conftest import Switchyard

    gateway = Switchyard(data_dir)
    gateway.cli("provider", "add", "--name", "Fault", "--prefix", "f", "--base-url", upstream.url,
                "--api-key-stdin", "--model", "ok", stdin=SECRET + "\n")
    gateway.key = gateway.cli_json("key", "create", "--name", "hardening")["key"]
    gateway.refused = {}
    for name, value in settings:
        if strict:
            gateway.cli("config", "set", name, str(value))
            continue
        result = subprocess.run([gateway.binary, "--data-dir", gateway.data_dir, "config", "set", name, str(value)],
                                capture_output=True, text=True, timeout=60,
                                env={**__import__("os").environ, **gateway.env})
        if result.returncode != 0:
            gateway.refused[name] = result.stderr.strip()
    if serve:
        start(gateway)
    return gateway


def require(gateway, *names):
    """Fails at once when the gateway refused a setting this test depends on (it would otherwise
    wait for a default timeout of minutes)."""
    refused = {name: gateway.refused[name] for name in names if name in gateway.refused}
    if refused:
        import pytest

        pytest.fail(f"`config set` refused settings this test needs: {refused}")


def start(gateway):
    """`serve`, with its output drained (a full pipe would block the gateway's logging)."""
    gateway.serve(env={"SWITCHYARD_LOG": "warn"})
    gateway.output = collections.deque(maxlen=300)

    def drain(stream=gateway.process.stdout, sink=gateway.output):
        for line in iter(stream.readline, ""):
            sink.append(line)

    gateway.drainer = threading.Thread(target=drain, daemon=True)
    gateway.drainer.start()


def kill(gateway):
    if gateway.process and gateway.process.poll() is None:
        gateway.process.kill()
        gateway.process.wait()
    drainer = getattr(gateway, "drainer", None)
    if drainer:
        drainer.join(timeout=5)
        if not drainer.is_alive():
            gateway.process.stdout.close()


def alive(gateway):
    assert gateway.process.poll() is None, "the gateway died:\n" + "".join(getattr(gateway, "output", []))
