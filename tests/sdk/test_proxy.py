"""Chat requests honour the proxy configured in the environment (HTTP_PROXY, NO_PROXY), as
every other request to providers does: the gateway sends them through reqwest where a proxy
applies, and straight through hyper's pool where none does."""

import http.server
import threading
import urllib.request

import openai

from conftest import UPSTREAM_KEY, Switchyard


def start_forward_proxy(target_root):
    """A forward proxy on loopback that records the absolute-form request lines it gets and
    relays them to `target_root` (the mock provider)."""

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        seen = []

        def log_message(self, *args):
            pass

        def do_POST(self):
            Proxy.seen.append(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            path = "/" + self.path.split("://", 1)[1].split("/", 1)[1]
            forwarded = urllib.request.Request(target_root + path, data=body, method="POST", headers={
                "Authorization": self.headers["Authorization"], "Content-Type": "application/json"})
            with urllib.request.urlopen(forwarded, timeout=10) as answer:
                data = answer.read()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.headers["Content-Type"])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, Proxy.seen


def test_chat_requests_go_through_the_configured_proxy(tmp_path, mock_upstream):
    mock_root = mock_upstream.removesuffix("/v1")
    proxy, seen = start_forward_proxy(mock_root)
    gateway = Switchyard(tmp_path / "data")
    # A host name that does not resolve: only the proxy can reach it.
    gateway.cli("provider", "add", "--name", "Behind", "--prefix", "behind", "--base-url",
                "http://provider.invalid/v1", "--api-key-stdin", "--model", "gpt-mock", stdin=UPSTREAM_KEY + "\n")
    gateway.cli("provider", "add", "--name", "Local", "--prefix", "local", "--base-url", mock_upstream,
                "--api-key-stdin", "--model", "gpt-mock", stdin=UPSTREAM_KEY + "\n")
    key = gateway.cli_json("key", "create", "--name", "proxy")["key"]
    proxy_url = f"http://127.0.0.1:{proxy.server_address[1]}"
    gateway.serve(env={"HTTP_PROXY": proxy_url, "http_proxy": proxy_url, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"})
    try:
        client = openai.OpenAI(base_url=gateway.base_url, api_key=key, max_retries=0)
        answer = client.chat.completions.create(model="behind/gpt-mock", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content == "Hello, world"
        streamed = client.chat.completions.create(model="behind/gpt-mock", stream=True,
                                                  messages=[{"role": "user", "content": "hi"}])
        assert "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices) == "Hello, world"
        assert seen == ["http://provider.invalid/v1/chat/completions"] * 2
        # NO_PROXY: the provider on 127.0.0.1 is reached directly.
        local = client.chat.completions.create(model="local/gpt-mock", messages=[{"role": "user", "content": "hi"}])
        assert local.choices[0].message.content == "Hello, world"
        assert len(seen) == 2
    finally:
        gateway.stop()
        proxy.shutdown()
