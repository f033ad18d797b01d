"""Embeddings everywhere, through the real gateway with the official SDKs:
OpenAI's `embeddings.create`, google-genai's `models.embed_content` and
ollama's `embed`, each to an OpenAI-compatible provider and to a Gemini API
provider (translated both ways), through a combo whose first target is down,
with usage and cost recorded.

The mocks check requests as the vendors' API references describe them:
OpenAI's `POST /v1/embeddings` (`model`, `input` a string or an array of
strings) and Gemini's `POST /v1beta/models/{model}:batchEmbedContents`
(`requests[].model` = `models/{model}`, `requests[].content.parts[].text`,
the key in `x-goog-api-key`)."""

import http.server
import json
import threading
import time

import openai
import ollama
import pytest
from google import genai
from google.genai import types

from conftest import MockProvider, Switchyard

OPENAI_KEY = "sk-embed-openai"
GEMINI_KEY = "gm-embed-gemini"
DOWN_KEY = "sk-embed-down"


def vector(text):
    """A deterministic 4-number vector for a text."""
    return [round(len(text) / 10, 3), float(sum(map(ord, text)) % 7), 0.5, -1.0]


class Embedder(MockProvider):
    seen = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        Embedder.seen.append((self.path, body))
        if self.path == "/v1/embeddings":
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if key == DOWN_KEY:
                return self._send(503, {"error": {"message": "overloaded", "type": "server_error"}})
            if key != OPENAI_KEY:
                return self._send(401, {"error": {"message": "bad key"}})
            if not isinstance(body.get("model"), str):
                return self._refuse("model is required")
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else texts
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
                return self._refuse("input must be a string or an array of strings")
            return self._send(200, {
                "object": "list", "model": body["model"],
                "data": [{"object": "embedding", "index": i, "embedding": vector(t)} for i, t in enumerate(texts)],
                "usage": {"prompt_tokens": 3 * len(texts), "total_tokens": 3 * len(texts)}})
        if self.path.startswith("/v1beta/models/") and self.path.endswith(":batchEmbedContents"):
            if self.headers.get("x-goog-api-key") != GEMINI_KEY:
                return self._send(403, {"error": {"code": 403, "message": "API key not valid", "status": "PERMISSION_DENIED"}})
            model = self.path.removeprefix("/v1beta/models/").removesuffix(":batchEmbedContents")
            requests = body.get("requests")
            if not isinstance(requests, list) or not requests:
                return self._refuse("requests is required")
            texts = []
            for request in requests:
                if request.get("model") != f"models/{model}":
                    return self._refuse("each request's model must be the one in the URL")
                parts = (request.get("content") or {}).get("parts")
                if not isinstance(parts, list) or not all(isinstance(p.get("text"), str) for p in parts):
                    return self._refuse("content.parts[].text is required")
                texts.append("".join(p["text"] for p in parts))
            return self._send(200, {"embeddings": [{"values": vector(t)} for t in texts]})
        return self._send(404, {"error": {"message": f"no route {self.path}"}})


@pytest.fixture(scope="module")
def embedder():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Embedder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, embedder):
    gateway = Switchyard(tmp_path_factory.mktemp("embeddings") / "data")
    providers = (
        ("down", "openai", f"{embedder}/v1", DOWN_KEY),
        ("oa", "openai", f"{embedder}/v1", OPENAI_KEY),
        ("gm", "gemini", f"{embedder}/v1beta", GEMINI_KEY),
    )
    for prefix, kind, base_url, key in providers:
        gateway.cli("provider", "add", "--name", prefix, "--prefix", prefix, "--kind", kind, "--base-url", base_url,
                    "--api-key-stdin", "--model", "embed-1", stdin=key + "\n")
    gateway.cli("combo", "add", "via-openai", "down/embed-1", "oa/embed-1")
    gateway.cli("combo", "add", "via-google", "down/embed-1", "gm/embed-1")
    gateway.cli("price", "set", "gm/embed-1", "--input", "1000", "--output", "0")
    gateway.key = gateway.cli_json("key", "create", "--name", "embeddings")["key"]
    gateway.serve()
    yield gateway
    gateway.stop()


@pytest.fixture(autouse=True)
def clear():
    Embedder.seen.clear()


def paths():
    return [path for path, _ in Embedder.seen]


@pytest.mark.parametrize("combo", ["via-openai", "via-google"])
def test_openai_sdk_embeddings(gateway, combo):
    client = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    answer = client.embeddings.create(model=combo, input=["first text", "second"], encoding_format="float")
    assert [item.embedding for item in answer.data] == [vector("first text"), vector("second")]
    assert answer.usage.prompt_tokens > 0
    assert paths()[0] == "/v1/embeddings"  # the down target, tried first
    assert paths()[1] == ("/v1/embeddings" if combo == "via-openai" else "/v1beta/models/embed-1:batchEmbedContents")


@pytest.mark.parametrize("combo", ["via-openai", "via-google"])
def test_google_genai_embed_content(gateway, combo):
    # (google-genai sends the texts of a model named like "gemini…" as the
    # parts of one content, to be embedded as one: hence these combo names.)
    client = genai.Client(api_key=gateway.key, http_options=types.HttpOptions(base_url=gateway.root_url))
    answer = client.models.embed_content(model=combo, contents=["uno", "dos tres"])
    assert [embedding.values for embedding in answer.embeddings] == [vector("uno"), vector("dos tres")]
    one = client.models.embed_content(model=combo, contents="solo")
    assert one.embeddings[0].values == vector("solo")


@pytest.mark.parametrize("combo", ["via-openai", "via-google"])
def test_ollama_embed(gateway, combo):
    client = ollama.Client(host=gateway.root_url, headers={"Authorization": f"Bearer {gateway.key}"})
    answer = client.embed(model=combo, input=["alpha", "beta gamma"])
    assert [list(v) for v in answer.embeddings] == [vector("alpha"), vector("beta gamma")]
    legacy = client.embeddings(model=combo, prompt="old style")
    assert list(legacy.embedding) == vector("old style")


def test_a_provider_without_embeddings_is_a_clear_error(gateway):
    client = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model="oa/embed-1", input=[])
    assert "input" in str(refused.value)
    with pytest.raises(openai.APIStatusError) as refused:
        client.embeddings.create(model="down/embed-1", input="x")
    assert refused.value.status_code == 503


def test_usage_and_cost_are_recorded(gateway):
    client = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    client.embeddings.create(model="via-google", input=["a" * 40])
    deadline = time.monotonic() + 10
    while True:
        # Gemini does not count embedding tokens: about four characters a
        # token, so this request's record is the one with 10.
        records = [r for r in gateway.cli_json("log", "--limit", "50")
                   if r["endpoint"] == "/v1/embeddings" and r["status"] == 200 and r["target"] == "gm/embed-1"
                   and r["prompt_tokens"] == 10]
        if records or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert records, "no record of the request with its estimated tokens"
    record = records[0]
    assert record["combo"] == "via-google"
    assert [attempt["status"] for attempt in record["attempts"]] == [503, 200]
    assert record["cost_usd"] == pytest.approx(10 * 1000 / 1_000_000)



def test_models_say_what_they_do_and_other_requests_are_refused_clearly(gateway):
    client = openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)
    listed = {model.id: model.model_extra.get("capabilities") for model in client.models.list()}
    assert listed["oa/embed-1"] == ["embeddings"], listed
    Embedder.seen.clear()
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gm/embed-1", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.code == "model_not_supported"
    assert "not a model for chat" in str(refused.value)
    assert Embedder.seen == [], "the provider was not asked"
