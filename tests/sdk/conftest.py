"""Fixtures for the SDK tests: a mock OpenAI upstream and the real `switchyard serve`."""

import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

UPSTREAM_KEY = "sk-mock-upstream-secret-42"

# With SWITCHYARD_TEST_POSTGRES (a server's URL, `cargo xtask test` starts
# one), every gateway of these tests runs on a PostgreSQL database of its own.
POSTGRES = os.environ.get("SWITCHYARD_TEST_POSTGRES")
SHARED_KEY = "c3dpdGNoeWFyZC1zZGstdGVzdHMtc2VhbGluZy1rZXk="  # 32 bytes
_databases = iter(range(1, 1_000_000))


def new_database(template=None):
    """A new database on the test server (empty, or a copy of `template`'s); its URL."""
    name = f"sdk_{os.getpid()}_{next(_databases)}"
    copy = f" TEMPLATE {template.rsplit('/', 1)[1]}" if template else ""
    subprocess.run(["psql", f"{POSTGRES}/postgres", "-v", "ON_ERROR_STOP=1", "-qc",
                    f"CREATE DATABASE {name}{copy}"], check=True, capture_output=True)
    return f"{POSTGRES}/{name}"


def copy_gateway(template, data_dir):
    """A gateway on a copy of `template`'s data folder (and database)."""
    if not POSTGRES:
        __import__("shutil").copytree(template.data_dir, data_dir)
        return Switchyard(data_dir)
    gateway = Switchyard(data_dir, database=new_database(template.env["SWITCHYARD_DATABASE_URL"]))
    os.makedirs(data_dir, exist_ok=True)
    return gateway


def stored_bytes(gateway):
    """What the gateway stored, to search for secrets: its SQLite file, or
    every row of every table of its PostgreSQL database as text."""
    if not POSTGRES:
        return open(gateway.data_dir + "/switchyard.db", "rb").read()
    tables = subprocess.run(
        ["psql", gateway.env["SWITCHYARD_DATABASE_URL"], "-Atc",
         "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"],
        check=True, capture_output=True, text=True).stdout.split()
    dump = b""
    for table in tables:
        dump += subprocess.run(["psql", gateway.env["SWITCHYARD_DATABASE_URL"], "-Atc",
                                f"SELECT CAST(t AS TEXT) FROM {table} t"],
                               check=True, capture_output=True).stdout
    return dump


class MockProvider(http.server.BaseHTTPRequestHandler):
    """The base of the mock providers: HTTP/1.1 kept alive, no request log,
    answers of JSON (or given bytes), and OpenAI's shape of a refusal."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, message):
        return self._send(400, {"error": {"message": message, "type": "invalid_request_error", "code": 400}})


class MockOpenAI(http.server.BaseHTTPRequestHandler):
    """Speaks OpenAI's Chat Completions wire format: JSON, or SSE chunk by chunk."""

    protocol_version = "HTTP/1.1"
    received = []

    def log_message(self, *args):
        pass

    def _json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        MockOpenAI.received.append(body)
        if self.headers.get("Authorization") != f"Bearer {UPSTREAM_KEY}":
            return self._json(401, {"error": {"message": "bad upstream key", "type": "invalid_request_error", "code": "invalid_api_key"}})
        if self.path != "/v1/chat/completions":
            return self._json(404, {"error": {"message": "no such path", "type": "invalid_request_error"}})
        model = body["model"]
        words = ["Hello", ",", " world"]
        if not body.get("stream"):
            return self._json(200, {
                "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(words)}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
            })
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(payload):
            data = f"data: {payload}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def chunk(delta, finish=None, choices=True, usage=None):
            body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else []}
            if usage:
                body["usage"] = usage
            return json.dumps(body)

        send(chunk({"role": "assistant", "content": ""}))
        for word in words:
            send(chunk({"content": word}))
        send(chunk({}, finish="stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            send(chunk(None, choices=False, usage={"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}))
        send("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


@pytest.fixture
def mock_upstream():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MockOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Switchyard:
    """Runs the real `switchyard` binary against one data directory."""

    def __init__(self, data_dir, database=None):
        self.binary = os.environ["SWITCHYARD_BIN"]
        self.data_dir = str(data_dir)
        self.process = None
        self.port = None
        self.env = {}
        if POSTGRES:
            self.env = {"SWITCHYARD_DATABASE_URL": database or new_database(),
                        "SWITCHYARD_SECRET_KEY": SHARED_KEY}

    def cli(self, *args, stdin=None):
        result = subprocess.run(
            [self.binary, "--data-dir", self.data_dir, *args],
            input=stdin, capture_output=True, text=True, timeout=60,
            env={**os.environ, **self.env},
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def cli_json(self, *args, stdin=None):
        return json.loads(self.cli("--json", *args, stdin=stdin))

    def serve(self, env=None):
        self.port = free_port()
        self.process = subprocess.Popen(
            [self.binary, "--data-dir", self.data_dir, "serve", "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, **self.env, **(env or {})},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stdout.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("switchyard serve did not come up")

    @property
    def root_url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self):
        return f"{self.root_url}/v1"

    def stop(self):
        """SIGTERM, as a service manager would: the gateway writes its usage and exits 0."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            output, _ = self.process.communicate(timeout=30)
            assert self.process.returncode == 0, output
            return output
        return ""


@pytest.fixture
def switchyard(tmp_path, mock_upstream):
    gateway = Switchyard(tmp_path / "data")
    gateway.cli("provider", "add", "--name", "Mock", "--prefix", "mock", "--base-url", mock_upstream,
                "--api-key-stdin", "--model", "gpt-mock", stdin=UPSTREAM_KEY + "\n")
    gateway.key = gateway.cli_json("key", "create", "--name", "sdk-tests")["key"]
    gateway.serve()
    yield gateway
    if gateway.process and gateway.process.poll() is None:
        gateway.process.kill()
        gateway.process.wait()
