"""OpenAI's endpoints besides chat through the real gateway with the official
SDK: legacy completions, moderations, image generation, speech and rerank,
each through a combo whose first target is down, so every request falls back,
with its usage, cost and path in the request log.

The mock validates each request as OpenAI's API reference describes it
(required fields and their types) and answers in the documented shapes."""

import http.server
import json
import threading
import time
import urllib.request

import openai
import pytest

from conftest import MockProvider, Switchyard

UP_KEY = "sk-endpoints-up"
DOWN_KEY = "sk-endpoints-down"
SPEECH = b"ID3\x04\x00fake-mp3-frames" + bytes(range(256)) * 64


class Endpoints(MockProvider):
    """An OpenAI-compatible provider for everything but chat."""

    seen = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        Endpoints.seen.append((key, self.path, body))
        if key == DOWN_KEY:
            return self._send(503, {"error": {"message": "overloaded", "type": "server_error"}})
        if key != UP_KEY:
            return self._send(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
        if not isinstance(body.get("model"), str):
            return self._refuse("model is required")
        model = body["model"]
        if self.path == "/v1/completions":
            if not isinstance(body.get("prompt"), (str, list)):
                return self._refuse("prompt is required")
            if body.get("stream"):
                # Server-sent events, as the API reference shows them.
                events = [{"id": "cmpl-1", "object": "text_completion", "created": 1700000000, "model": model,
                           "choices": [{"text": piece, "index": 0, "logprobs": None, "finish_reason": None}]}
                          for piece in ("Hi", " there")]
                events[-1]["choices"][0]["finish_reason"] = "stop"
                if (body.get("stream_options") or {}).get("include_usage"):
                    events.append({"id": "cmpl-1", "object": "text_completion", "created": 1700000000,
                                   "model": model, "choices": [],
                                   "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}})
                data = b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events)
                data += b"data: [DONE]\n\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return None
            return self._send(200, {
                "id": "cmpl-1", "object": "text_completion", "created": 1700000000, "model": model,
                "choices": [{"text": "Hi there", "index": 0, "logprobs": None, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}})
        if self.path == "/v1/moderations":
            if not isinstance(body.get("input"), (str, list)):
                return self._refuse("input is required")
            categories = {"harassment": False, "hate": False, "self-harm": False, "sexual": False, "violence": True}
            return self._send(200, {"id": "modr-1", "model": model, "results": [{
                "flagged": True, "categories": categories,
                "category_scores": {name: (0.9 if flagged else 0.01) for name, flagged in categories.items()}}]})
        if self.path == "/v1/images/generations":
            if not isinstance(body.get("prompt"), str):
                return self._refuse("prompt is required")
            return self._send(200, {"created": 1700000000, "data": [{"b64_json": "aW1hZ2U=", "revised_prompt": body["prompt"]}],
                                    "usage": {"input_tokens": 4, "output_tokens": 10, "total_tokens": 14}})
        if self.path == "/v1/audio/speech":
            if not all(isinstance(body.get(field), str) for field in ("input", "voice")):
                return self._refuse("input and voice are required")
            return self._send(200, SPEECH, "audio/mpeg")
        if self.path == "/v1/rerank":
            if not isinstance(body.get("query"), str) or not isinstance(body.get("documents"), list):
                return self._refuse("query and documents are required")
            ranked = sorted(range(len(body["documents"])),
                            key=lambda i: -sum(word in body["documents"][i] for word in body["query"].split()))
            return self._send(200, {"model": model, "results": [
                {"index": i, "relevance_score": round(1.0 - rank * 0.1, 2)} for rank, i in enumerate(ranked)],
                "usage": {"total_tokens": 12}})
        return self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})


@pytest.fixture(scope="module")
def endpoints_upstream():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoints)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, endpoints_upstream):
    gateway = Switchyard(tmp_path_factory.mktemp("endpoints") / "data")
    for prefix, key in (("down", DOWN_KEY), ("up", UP_KEY)):
        gateway.cli("provider", "add", "--name", prefix, "--prefix", prefix, "--base-url", endpoints_upstream,
                    "--api-key-stdin", "--model", "m", stdin=key + "\n")
    gateway.cli("combo", "add", "multi", "down/m", "up/m")
    # Every test sees the down provider tried first: its breaker stays shut.
    gateway.cli("config", "set", "breaker_threshold", "1000")
    gateway.cli("price", "set", "up/m", "--input", "1000", "--output", "1000", "--per-image", "0.04")
    gateway.key = gateway.cli_json("key", "create", "--name", "endpoints")["key"]
    gateway.serve()
    yield gateway
    gateway.stop()


@pytest.fixture
def client(gateway):
    Endpoints.seen.clear()
    return openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)


def fell_back(path):
    """The down provider was tried first, then the up one answered."""
    calls = [(key, seen_path) for key, seen_path, _ in Endpoints.seen if seen_path == path]
    assert calls == [(DOWN_KEY, path), (UP_KEY, path)], Endpoints.seen
    assert all(body["model"] == "m" for _, seen_path, body in Endpoints.seen if seen_path == path)


def test_legacy_completions(client):
    answer = client.completions.create(model="multi", prompt="Say hi", max_tokens=5)
    assert answer.choices[0].text == "Hi there"
    assert answer.usage.total_tokens == 7
    fell_back("/v1/completions")
    Endpoints.seen.clear()
    stream = client.completions.create(model="multi", prompt="Say hi", stream=True,
                                       stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(chunk.choices[0].text for chunk in chunks if chunk.choices) == "Hi there"
    assert chunks[-1].usage.total_tokens == 7
    fell_back("/v1/completions")


def test_moderations(client):
    answer = client.moderations.create(model="multi", input="something violent")
    assert answer.results[0].flagged and answer.results[0].categories.violence
    fell_back("/v1/moderations")


def test_image_generation(client):
    answer = client.images.generate(model="multi", prompt="a switchyard at dawn", response_format="b64_json")
    assert answer.data[0].b64_json == "aW1hZ2U="
    fell_back("/v1/images/generations")


def test_speech_comes_back_as_audio(client):
    with client.audio.speech.with_streaming_response.create(model="multi", voice="alloy", input="hello") as speech:
        assert speech.headers["content-type"] == "audio/mpeg"
        assert speech.read() == SPEECH
    fell_back("/v1/audio/speech")


def test_rerank(gateway):
    Endpoints.seen.clear()
    request = urllib.request.Request(
        f"{gateway.base_url}/rerank", method="POST",
        data=json.dumps({"model": "multi", "query": "freight trains",
                         "documents": ["cooking pasta", "freight trains at night", "trains"]}).encode(),
        headers={"Authorization": f"Bearer {gateway.key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        ranked = json.load(response)
    assert [result["index"] for result in ranked["results"]][0] == 1
    fell_back("/v1/rerank")


def test_a_model_is_required_and_errors_are_openai_shaped(client):
    with pytest.raises(openai.BadRequestError):
        client.moderations.create(input="no model named")
    with pytest.raises(openai.NotFoundError):
        client.images.generate(model="nowhere/m", prompt="x")


def test_each_is_logged_with_its_path_usage_and_cost(gateway, client):
    client.completions.create(model="multi", prompt="Say hi")
    wanted = {"/v1/completions", "/v1/moderations", "/v1/images/generations", "/v1/audio/speech", "/v1/rerank"}
    # Records are written off the request path, within about 100 ms.
    deadline = time.monotonic() + 10
    while True:
        records = gateway.cli_json("log", "--limit", "50")
        endpoints = {record["endpoint"] for record in records}
        if wanted <= endpoints or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert wanted <= endpoints, endpoints
    completion = next(record for record in records if record["endpoint"] == "/v1/completions" and record["status"] == 200)
    assert completion["combo"] == "multi" and completion["target"] == "up/m"
    assert [attempt["status"] for attempt in completion["attempts"]] == [503, 200]
    assert (completion["prompt_tokens"], completion["completion_tokens"]) == (5, 2)
    assert completion["cost_usd"] == pytest.approx(7 * 1000 / 1_000_000)
    # An image: its tokens, and the price per image made.
    image = next(record for record in records
                 if record["endpoint"] == "/v1/images/generations" and record["status"] == 200)
    assert (image["prompt_tokens"], image["completion_tokens"]) == (4, 10)
    assert image["cost_usd"] == pytest.approx(14 * 1000 / 1_000_000 + 0.04)
