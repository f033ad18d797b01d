"""Uploads and media through the real gateway with the official SDK:
image edits, transcriptions and translations (multipart), speech streamed
back, and image generation by a Gemini image model, each through a combo
whose first target is down, so every request falls back, with usage and
cost recorded.

The mocks check requests as the vendors' API references describe them:
OpenAI's multipart endpoints need `model` and the file part (`file` for
audio, `image` or `image[]` for edits, with `prompt`); Gemini's image
models are asked `POST /v1beta/models/{model}:generateContent` with
`generationConfig.responseModalities` including `IMAGE`, Imagen models
`POST /v1beta/models/{model}:predict` with `instances[].prompt`. A large
upload checks that the gateway spools instead of buffering: its peak memory
stays far below the upload's size, though the upload is sent twice."""

import hashlib
import http.server
import json
import os
import threading
import time
import urllib.error
import urllib.request

import openai
import pytest

from conftest import MockProvider, Switchyard

UP_KEY = "sk-uploads-up"
DOWN_KEY = "sk-uploads-down"
GEMINI_KEY = "gm-uploads"
SPEECH = b"ID3\x04\x00" + os.urandom(3 * 1024 * 1024)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16


def parse_multipart(content_type, body):
    """The parts of a multipart/form-data body: name -> list of (filename, content type, bytes)."""
    assert content_type.startswith("multipart/form-data"), content_type
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    parts = {}
    chunks = body.split(b"--" + boundary)
    assert chunks[-1].strip() == b"--", "the body must end with the closing boundary"
    for chunk in chunks[1:-1]:
        head, _, content = chunk[2:].partition(b"\r\n\r\n")
        assert content.endswith(b"\r\n")
        headers = {}
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = dict(
            item.strip().split("=", 1) for item in headers["content-disposition"].split(";")[1:])
        name = disposition["name"].strip('"')
        filename = disposition.get("filename", "").strip('"') or None
        parts.setdefault(name, []).append((filename, headers.get("content-type"), content[:-2]))
    return parts


class Media(MockProvider):
    """An OpenAI-compatible provider for uploads and speech, and a Gemini one for images."""

    seen = []

    def do_POST(self):
        # Read whole before answering, as a real server drains what it refuses.
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.startswith("/v1beta/"):
            return self._gemini(json.loads(raw))
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            body = json.loads(raw)
            Media.seen.append((key, self.path, body.get("model"), len(raw), None))
        else:
            parts = parse_multipart(content_type, raw)
            model = parts.get("model", [(None, None, b"")])[0][2].decode()
            files = {name: value for name, value in parts.items() if value[0][0]}
            digest = {name: hashlib.sha256(value[0][2]).hexdigest() for name, value in files.items()}
            Media.seen.append((key, self.path, model, len(raw), digest))
        if key == DOWN_KEY:
            return self._send(503, {"error": {"message": "overloaded", "type": "server_error"}})
        if key != UP_KEY:
            return self._send(401, {"error": {"message": "bad key", "type": "invalid_request_error"}})
        if self.path == "/v1/images/generations":
            return self._refuse("this provider draws nothing")
        if self.path == "/v1/audio/speech":
            if not all(isinstance(body.get(field), str) for field in ("model", "input", "voice")):
                return self._refuse("model, input and voice are required")
            # Streamed in pieces, as a real TTS endpoint sends audio while it is made.
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(SPEECH), 256 * 1024):
                piece = SPEECH[start:start + 256 * 1024]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            return None
        if not model:
            return self._refuse("model is required")
        text = lambda name: parts.get(name, [(None, None, b"")])[0][2].decode()
        if self.path in ("/v1/audio/transcriptions", "/v1/audio/translations"):
            if "file" not in files:
                return self._refuse("file is required")
            if text("stream") == "true":
                events = [{"type": "transcript.text.delta", "delta": "hello "},
                          {"type": "transcript.text.delta", "delta": "yard"},
                          {"type": "transcript.text.done", "text": "hello yard",
                           "usage": {"type": "tokens", "input_tokens": 20, "output_tokens": 3, "total_tokens": 23}}]
                data = b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events)
                return self._send(200, data, "text/event-stream")
            said = "hello yard" if self.path.endswith("transcriptions") else "hello yard (in English)"
            if text("response_format") == "text":
                return self._send(200, (said + "\n").encode(), "text/plain; charset=utf-8")
            if text("response_format") == "verbose_json":
                return self._send(200, {"task": "transcribe", "language": "english", "duration": 7.5,
                                        "text": said, "segments": []})
            return self._send(200, {"text": said, "usage": {"type": "duration", "seconds": 12}})
        if self.path == "/v1/images/edits":
            if "image" not in files and "image[]" not in files:
                return self._refuse("image is required")
            if not text("prompt"):
                return self._refuse("prompt is required")
            images = files.get("image") or files.get("image[]")
            return self._send(200, {"created": 1700000000,
                                    "data": [{"b64_json": "ZWRpdGVk"} for _ in images],
                                    "usage": {"input_tokens": 50, "output_tokens": 100, "total_tokens": 150}})
        return self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

    def _gemini(self, body):
        Media.seen.append(("gemini", self.path, None, 0, body))
        if self.headers.get("x-goog-api-key") != GEMINI_KEY:
            return self._send(403, {"error": {"code": 403, "message": "API key not valid", "status": "PERMISSION_DENIED"}})
        if self.path.endswith(":predict"):
            instances = body.get("instances")
            if not isinstance(instances, list) or not isinstance(instances[0].get("prompt"), str):
                return self._refuse("instances[].prompt is required")
            count = (body.get("parameters") or {}).get("sampleCount", 1)
            return self._send(200, {"predictions": [
                {"bytesBase64Encoded": "aW1hZ2Vu", "mimeType": "image/png"} for _ in range(count)]})
        if self.path.endswith(":generateContent"):
            modalities = (body.get("generationConfig") or {}).get("responseModalities") or []
            if "IMAGE" not in modalities:
                return self._refuse("this model answers with images: ask responseModalities IMAGE")
            parts = body["contents"][0]["parts"]
            texts = [part["text"] for part in parts if isinstance(part.get("text"), str)]
            inline = [part["inlineData"] for part in parts if "inlineData" in part]
            if len(texts) != 1 or len(texts) + len(inline) != len(parts):
                return self._refuse("parts are text or inlineData")
            if not all(isinstance(data.get("mimeType"), str) and isinstance(data.get("data"), str) for data in inline):
                return self._refuse("inlineData needs mimeType and data")
            prompt = texts[0]
            return self._send(200, {
                "candidates": [{"content": {"role": "model", "parts": [
                    {"text": f"Drawn: {prompt}"},
                    {"inlineData": {"mimeType": "image/png", "data": "Z2VtaW5p"}}]}, "finishReason": "STOP"}],
                "usageMetadata": {"promptTokenCount": 8, "candidatesTokenCount": 1290, "totalTokenCount": 1298}})
        return self._send(404, {"error": {"code": 404, "message": f"no route {self.path}", "status": "NOT_FOUND"}})


@pytest.fixture(scope="module")
def media():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Media)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, media):
    gateway = Switchyard(tmp_path_factory.mktemp("uploads") / "data")
    for prefix, kind, base_url, key, models in (
        ("down", "openai", f"{media}/v1", DOWN_KEY, ["m"]),
        ("up", "openai", f"{media}/v1", UP_KEY, ["m"]),
        ("gm", "gemini", f"{media}/v1beta", GEMINI_KEY, ["gemini-2.5-flash-image", "imagen-4.0-generate-001"]),
    ):
        flags = [flag for model in models for flag in ("--model", model)]
        gateway.cli("provider", "add", "--name", prefix, "--prefix", prefix, "--kind", kind, "--base-url", base_url,
                    "--api-key-stdin", *flags, stdin=key + "\n")
    gateway.cli("combo", "add", "multi", "down/m", "up/m")
    gateway.cli("combo", "add", "draw", "down/m", "gm/gemini-2.5-flash-image")
    gateway.cli("combo", "add", "imagen", "down/m", "gm/imagen-4.0-generate-001")
    gateway.cli("combo", "add", "redraw", "down/m", "gm/imagen-4.0-generate-001", "gm/gemini-2.5-flash-image")
    gateway.cli("config", "set", "breaker_threshold", "1000")
    gateway.cli("config", "set", "max_upload_bytes", str(256 * 1024 * 1024))
    gateway.cli("price", "set", "up/m", "--input", "1000", "--output", "1000", "--per-image", "0.04",
                "--per-second", "0.0001")
    gateway.cli("price", "set", "gm/gemini-2.5-flash-image", "--input", "0.3", "--output", "30", "--per-image", "0.01")
    gateway.key = gateway.cli_json("key", "create", "--name", "uploads")["key"]
    gateway.serve()
    yield gateway
    gateway.stop()


@pytest.fixture
def client(gateway):
    Media.seen.clear()
    return openai.OpenAI(base_url=gateway.base_url, api_key=gateway.key, max_retries=0)


def fell_back(path):
    """The down provider was tried first, then the up one, each sent the same upload with model `m`."""
    calls = [seen for seen in Media.seen if seen[1] == path]
    assert [(key, model) for key, _, model, _, _ in calls] == [(DOWN_KEY, "m"), (UP_KEY, "m")], calls
    assert calls[0][4] == calls[1][4], "both attempts got the same files"
    return calls


def test_transcription_and_translation(client, tmp_path):
    audio = tmp_path / "speech.mp3"
    audio.write_bytes(b"ID3" + os.urandom(300_000))
    with audio.open("rb") as file:
        heard = client.audio.transcriptions.create(model="multi", file=file, language="en")
    assert heard.text == "hello yard"
    calls = fell_back("/v1/audio/transcriptions")
    assert calls[1][4]["file"] == hashlib.sha256(audio.read_bytes()).hexdigest()
    Media.seen.clear()
    with audio.open("rb") as file:
        plain = client.audio.transcriptions.create(model="multi", file=file, response_format="text")
    assert plain.strip() == "hello yard"
    Media.seen.clear()
    with audio.open("rb") as file:
        events = list(client.audio.transcriptions.create(model="multi", file=file, stream=True))
    assert [event.type for event in events] == ["transcript.text.delta", "transcript.text.delta", "transcript.text.done"]
    assert events[-1].text == "hello yard"
    fell_back("/v1/audio/transcriptions")
    Media.seen.clear()
    with audio.open("rb") as file:
        english = client.audio.translations.create(model="multi", file=file, response_format="verbose_json")
    assert english.text == "hello yard (in English)"
    fell_back("/v1/audio/translations")


def test_image_edit(client, tmp_path):
    image = tmp_path / "yard.png"
    image.write_bytes(PNG)
    with image.open("rb") as file:
        edited = client.images.edit(model="multi", image=file, prompt="add a signal box")
    assert edited.data[0].b64_json == "ZWRpdGVk"
    assert edited.usage.total_tokens == 150
    fell_back("/v1/images/edits")


def test_speech_is_streamed_back(client):
    with client.audio.speech.with_streaming_response.create(model="multi", voice="alloy", input="hello there") as speech:
        assert speech.headers["content-type"] == "audio/mpeg"
        received = b"".join(speech.iter_bytes(64 * 1024))
    assert received == SPEECH
    calls = [seen for seen in Media.seen if seen[1] == "/v1/audio/speech"]
    assert [(key, model) for key, _, model, _, _ in calls] == [(DOWN_KEY, "m"), (UP_KEY, "m")]


def test_images_from_gemini(client):
    drawn = client.images.generate(model="draw", prompt="a red train", size="1024x1024")
    assert drawn.data[0].b64_json == "Z2VtaW5p"
    assert drawn.data[0].revised_prompt == "Drawn: a red train"
    assert drawn.usage.total_tokens == 1298
    as_url = client.images.generate(model="draw", prompt="a red train", response_format="url")
    assert as_url.data[0].url == "data:image/png;base64,Z2VtaW5p"
    many = client.images.generate(model="imagen", prompt="two trains", n=2)
    assert [image.b64_json for image in many.data] == ["aW1hZ2Vu", "aW1hZ2Vu"]
    paths = [path for _, path, _, _, _ in Media.seen if path.startswith("/v1beta")]
    assert paths == ["/v1beta/models/gemini-2.5-flash-image:generateContent"] * 2 + \
        ["/v1beta/models/imagen-4.0-generate-001:predict"], Media.seen


def test_image_edit_by_gemini(client, tmp_path):
    image = tmp_path / "yard.png"
    image.write_bytes(PNG)
    with image.open("rb") as file:
        edited = client.images.edit(model="redraw", image=file, prompt="paint it green")
    assert edited.data[0].b64_json == "Z2VtaW5p"
    # Imagen does not edit: skipped without a call; the image went inline.
    sent = [body for who, path, _, _, body in Media.seen if who == "gemini"]
    assert [path for who, path, _, _, _ in Media.seen if who == "gemini"] == \
        ["/v1beta/models/gemini-2.5-flash-image:generateContent"]
    inline = sent[0]["contents"][0]["parts"][0]["inlineData"]
    assert inline["mimeType"] == "image/png"
    assert __import__("base64").b64decode(inline["data"]) == PNG


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def test_a_large_upload_is_spooled_not_buffered(client, gateway, tmp_path):
    # 160 MiB, sent to two providers: buffered, it would be 160 MiB of memory
    # at least (twice over for a copy per attempt).
    size = 160 * 1024 * 1024
    audio = tmp_path / "long.wav"
    with audio.open("wb") as file:
        block = os.urandom(1024 * 1024)
        for _ in range(size // len(block)):
            file.write(block)
    before = peak_rss_kib(gateway.process.pid)
    with audio.open("rb") as file:
        heard = client.audio.transcriptions.create(model="multi", file=file)
    assert heard.text == "hello yard"
    calls = fell_back("/v1/audio/transcriptions")
    assert all(length > size for _, _, _, length, _ in calls)
    after = peak_rss_kib(gateway.process.pid)
    print(f"peak RSS before {before} KiB, after a {size >> 20} MiB upload sent twice {after} KiB")
    assert after < max(before, 40 * 1024) + 48 * 1024, f"peak RSS grew from {before} KiB to {after} KiB"


def test_uploads_past_the_limit_or_malformed_are_refused(tmp_path, media):
    small = Switchyard(tmp_path / "data")
    small.cli("provider", "add", "--name", "up", "--prefix", "up", "--base-url", f"{media}/v1",
              "--api-key-stdin", "--model", "m", stdin=UP_KEY + "\n")
    small.cli("config", "set", "max_upload_bytes", "100000")
    small.key = small.cli_json("key", "create", "--name", "small")["key"]
    small.serve()
    try:
        client = openai.OpenAI(base_url=small.base_url, api_key=small.key, max_retries=0)
        with pytest.raises(openai.APIStatusError) as refused:
            client.audio.transcriptions.create(model="up/m", file=("big.mp3", b"x" * 200_000))
        assert refused.value.status_code == 413
        assert "max_upload_bytes" in refused.value.message
        # JSON where a form is expected: 415, in OpenAI's error shape.
        request = urllib.request.Request(
            f"{small.base_url}/audio/transcriptions", method="POST", data=b'{"model": "up/m"}',
            headers={"Authorization": f"Bearer {small.key}", "Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as wrong:
            urllib.request.urlopen(request, timeout=10)
        assert wrong.value.code == 415
        assert "multipart/form-data" in json.load(wrong.value)["error"]["message"]
        # No model field: 400, as for JSON.
        with pytest.raises(openai.BadRequestError):
            client.audio.transcriptions.create(model="", file=("a.mp3", b"ID3"))
        # A model not made for audio: a clear 400 before any upstream call.
        with pytest.raises(openai.BadRequestError) as unable:
            client.audio.transcriptions.create(model="up/text-embedding-3-small", file=("a.mp3", b"ID3"))
        assert "model_not_supported" in str(unable.value.body) or "cannot serve" in unable.value.message
    finally:
        small.stop()


def test_each_is_logged_with_its_usage_and_cost(gateway, client, tmp_path):
    logged = len(gateway.cli_json("log", "--limit", "1000"))
    audio = tmp_path / "a.mp3"
    audio.write_bytes(b"ID3" + b"\0" * 1000)
    with audio.open("rb") as file:
        client.audio.transcriptions.create(model="multi", file=file)
    image = tmp_path / "i.png"
    image.write_bytes(PNG)
    with image.open("rb") as file:
        client.images.edit(model="multi", image=file, prompt="more steam")
    client.images.generate(model="draw", prompt="a signal")
    with client.audio.speech.with_streaming_response.create(model="multi", voice="alloy", input="12345678") as speech:
        speech.read()
    wanted = {"/v1/audio/transcriptions", "/v1/images/edits", "/v1/images/generations", "/v1/audio/speech"}
    # Records are written off the request path, within about 100 ms.
    deadline = time.monotonic() + 10
    while True:
        records = gateway.cli_json("log", "--limit", "1000")
        if len(records) >= logged + 4 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    latest = {}
    for record in sorted(records, key=lambda record: record["id"]):
        if record["status"] == 200:
            latest[record["endpoint"]] = record
    assert wanted <= set(latest), latest.keys()
    heard = latest["/v1/audio/transcriptions"]
    assert heard["combo"] == "multi" and heard["target"] == "up/m"
    assert [attempt["status"] for attempt in heard["attempts"]] == [503, 200]
    assert heard["cost_usd"] == pytest.approx(12 * 0.0001)
    edit = latest["/v1/images/edits"]
    assert (edit["prompt_tokens"], edit["completion_tokens"]) == (50, 100)
    assert edit["cost_usd"] == pytest.approx(150 * 1000 / 1_000_000 + 0.04)
    drawn = latest["/v1/images/generations"]
    assert drawn["target"] == "gm/gemini-2.5-flash-image"
    assert drawn["cost_usd"] == pytest.approx(8 * 0.3 / 1e6 + 1290 * 30 / 1e6 + 0.01)
    speech = latest["/v1/audio/speech"]
    assert speech["prompt_tokens"] == 2 and speech["cost_usd"] == pytest.approx(2 * 1000 / 1_000_000)
