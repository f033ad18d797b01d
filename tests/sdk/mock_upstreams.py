"""Mock upstream providers speaking each real wire format: OpenAI Chat
Completions, Anthropic Messages and Gemini generateContent, JSON and streams.

Every mock answers the same way, so a test can compare what different
clients get through different upstreams:
- a request with tools whose last turn is not a tool result gets a call
  get_weather({"city": "Paris"}), its arguments streamed in pieces;
- a request whose last turn is a tool result gets "It is 18C in Paris.";
- anything else gets "Hello, world".
Usage is always 10 input and 5 output tokens. Requests are kept per dialect.
"""

import http.server
import json
import re
import threading

UPSTREAM_KEY = "sk-mock-upstream-secret-42"
TOOL_ARGUMENT_PIECES = ['{"ci', 'ty": "Pa', 'ris"}']
TOOL_RESULT_TEXT = "It is 18C in Paris."
PLAIN_TEXT_PIECES = ["Hello", ",", " world"]


def answer_kind(has_tools, last_is_tool_result):
    if last_is_tool_result:
        return "tool_result"
    if has_tools:
        return "tool_call"
    return "text"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received = {"openai": [], "anthropic": [], "gemini": [], "responses": []}

    def log_message(self, *args):
        pass

    # -- plumbing -------------------------------------------------------
    def _json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _send(self, text):
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def do_GET(self):
        """Model lists, in each provider's own shape."""
        if self.path == "/openai/v1/models" and self.headers.get("Authorization") == f"Bearer {UPSTREAM_KEY}":
            return self._json(200, {"object": "list", "data": [{"id": "gpt-b", "object": "model"}, {"id": "gpt-a", "object": "model"}]})
        if self.path == "/anthropic/v1/models" and self.headers.get("x-api-key") == UPSTREAM_KEY:
            return self._json(200, {"data": [{"id": "claude-x", "type": "model"}], "has_more": False})
        if self.path == "/gemini/v1beta/models" and self.headers.get("x-goog-api-key") == UPSTREAM_KEY:
            return self._json(200, {"models": [{"name": "models/gemini-x"}]})
        self._json(401, {"error": {"message": "bad key or path"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        if self.path == "/openai/v1/chat/completions":
            return self.openai(body)
        if self.path == "/anthropic/v1/messages":
            return self.anthropic(body)
        if self.path == "/responses/v1/responses":
            return self.openai_responses(body)
        match = re.fullmatch(r"/gemini/v1beta/models/(.+):(generateContent|streamGenerateContent)(\?alt=sse)?", self.path)
        if match:
            return self.gemini(body, match.group(1), match.group(2) == "streamGenerateContent")
        self._json(404, {"error": {"message": f"no route {self.path}"}})

    # -- OpenAI ---------------------------------------------------------
    def openai(self, body):
        Handler.received["openai"].append(body)
        if self.headers.get("Authorization") != f"Bearer {UPSTREAM_KEY}":
            return self._json(401, {"error": {"message": "bad key", "type": "invalid_request_error", "code": "invalid_api_key"}})
        messages = body["messages"]
        kind = answer_kind(bool(body.get("tools")), messages[-1]["role"] == "tool")
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        base = {"id": "chatcmpl-mock", "created": 1700000000, "model": body["model"]}
        if not body.get("stream"):
            message = {"role": "assistant", "content": None}
            if kind == "tool_call":
                message["tool_calls"] = [{"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": "".join(TOOL_ARGUMENT_PIECES)}}]
            else:
                message["content"] = TOOL_RESULT_TEXT if kind == "tool_result" else "".join(PLAIN_TEXT_PIECES)
            return self._json(200, {**base, "object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if kind == "tool_call" else "stop"}], "usage": usage})
        self._start_stream()

        def chunk(delta, finish=None):
            self._send("data: " + json.dumps({**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n")

        chunk({"role": "assistant", "content": ""})
        if kind == "tool_call":
            chunk({"tool_calls": [{"index": 0, "id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]})
            for piece in TOOL_ARGUMENT_PIECES:
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            chunk({}, "tool_calls")
        else:
            for piece in ([TOOL_RESULT_TEXT] if kind == "tool_result" else PLAIN_TEXT_PIECES):
                chunk({"content": piece})
            chunk({}, "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            self._send("data: " + json.dumps({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}) + "\n\n")
        self._send("data: [DONE]\n\n")
        self._end_stream()

    # -- Anthropic ------------------------------------------------------
    def anthropic(self, body):
        Handler.received["anthropic"].append(body)
        if self.headers.get("x-api-key") != UPSTREAM_KEY or not self.headers.get("anthropic-version"):
            return self._json(401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
        last = body["messages"][-1]
        last_is_result = isinstance(last["content"], list) and any(block.get("type") == "tool_result" for block in last["content"])
        kind = answer_kind(bool(body.get("tools")), last_is_result)
        stop = "tool_use" if kind == "tool_call" else "end_turn"
        if not body.get("stream"):
            if kind == "tool_call":
                content = [{"type": "tool_use", "id": "toolu_abc", "name": "get_weather", "input": {"city": "Paris"}}]
            else:
                content = [{"type": "text", "text": TOOL_RESULT_TEXT if kind == "tool_result" else "".join(PLAIN_TEXT_PIECES)}]
            return self._json(200, {"id": "msg_mock", "type": "message", "role": "assistant", "model": body["model"], "content": content,
                                    "stop_reason": stop, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5}})
        self._start_stream()

        def event(name, payload):
            self._send(f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n")

        event("message_start", {"message": {"id": "msg_mock", "type": "message", "role": "assistant", "model": body["model"], "content": [],
                                            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}})
        event("ping", {})
        if kind == "tool_call":
            event("content_block_start", {"index": 0, "content_block": {"type": "tool_use", "id": "toolu_abc", "name": "get_weather", "input": {}}})
            for piece in TOOL_ARGUMENT_PIECES:
                event("content_block_delta", {"index": 0, "delta": {"type": "input_json_delta", "partial_json": piece}})
        else:
            event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
            for piece in ([TOOL_RESULT_TEXT] if kind == "tool_result" else PLAIN_TEXT_PIECES):
                event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
        event("content_block_stop", {"index": 0})
        event("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 5}})
        event("message_stop", {})
        self._end_stream()

    # -- OpenAI Responses -------------------------------------------------
    def openai_responses(self, body):
        Handler.received["responses"].append(body)
        if self.headers.get("Authorization") != f"Bearer {UPSTREAM_KEY}":
            return self._json(401, {"error": {"message": "bad key", "type": "invalid_request_error", "code": "invalid_api_key"}})
        items = body["input"] if isinstance(body["input"], list) else [{"role": "user", "content": body["input"]}]
        kind = answer_kind(bool(body.get("tools")), items[-1].get("type") == "function_call_output")
        usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}
        text = TOOL_RESULT_TEXT if kind == "tool_result" else "".join(PLAIN_TEXT_PIECES)
        if kind == "tool_call":
            item = {"type": "function_call", "id": "fc_1", "call_id": "call_abc", "name": "get_weather",
                    "arguments": "".join(TOOL_ARGUMENT_PIECES), "status": "completed"}
        else:
            item = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}

        def response(status, output, with_usage):
            out = {"id": "resp_mock", "object": "response", "created_at": 1700000000, "status": status, "model": body["model"],
                   "output": output, "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "error": None,
                   "incomplete_details": None, "instructions": None, "metadata": {}, "temperature": None, "top_p": None}
            if with_usage:
                out["usage"] = usage
            return out

        if not body.get("stream"):
            return self._json(200, response("completed", [item], True))
        self._start_stream()
        sequence = [0]

        def event(name, payload):
            payload = {"type": name, "sequence_number": sequence[0], **payload}
            sequence[0] += 1
            self._send(f"event: {name}\ndata: {json.dumps(payload)}\n\n")

        event("response.created", {"response": response("in_progress", [], False)})
        if kind == "tool_call":
            event("response.output_item.added", {"output_index": 0, "item": {**item, "arguments": "", "status": "in_progress"}})
            for piece in TOOL_ARGUMENT_PIECES:
                event("response.function_call_arguments.delta", {"item_id": "fc_1", "output_index": 0, "delta": piece})
            event("response.function_call_arguments.done", {"item_id": "fc_1", "output_index": 0, "arguments": item["arguments"]})
        else:
            event("response.output_item.added", {"output_index": 0, "item": {**item, "status": "in_progress", "content": []}})
            event("response.content_part.added", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                                  "part": {"type": "output_text", "text": "", "annotations": []}})
            for piece in ([TOOL_RESULT_TEXT] if kind == "tool_result" else PLAIN_TEXT_PIECES):
                event("response.output_text.delta", {"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": piece})
            event("response.output_text.done", {"item_id": "msg_1", "output_index": 0, "content_index": 0, "text": text})
            event("response.content_part.done", {"item_id": "msg_1", "output_index": 0, "content_index": 0,
                                                 "part": {"type": "output_text", "text": text, "annotations": []}})
        event("response.output_item.done", {"output_index": 0, "item": item})
        event("response.completed", {"response": response("completed", [item], True)})
        self._end_stream()

    # -- Gemini ---------------------------------------------------------
    def gemini(self, body, model, stream):
        Handler.received["gemini"].append({**body, "__model": model, "__stream": stream})
        if self.headers.get("x-goog-api-key") != UPSTREAM_KEY:
            return self._json(403, {"error": {"code": 403, "message": "API key not valid.", "status": "PERMISSION_DENIED"}})
        last_parts = body["contents"][-1]["parts"]
        last_is_result = any("functionResponse" in part for part in last_parts)
        kind = answer_kind(bool(body.get("tools")), last_is_result)
        usage = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}

        def response(parts, finish=None, with_usage=False):
            candidate = {"content": {"role": "model", "parts": parts}, "index": 0}
            if finish:
                candidate["finishReason"] = finish
            out = {"candidates": [candidate], "modelVersion": model, "responseId": "gem-mock"}
            if with_usage:
                out["usageMetadata"] = usage
            return out

        call = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
        if not stream:
            if kind == "tool_call":
                parts = [call]
            else:
                parts = [{"text": TOOL_RESULT_TEXT if kind == "tool_result" else "".join(PLAIN_TEXT_PIECES)}]
            return self._json(200, response(parts, "STOP", True))
        self._start_stream()
        if kind == "tool_call":
            self._send("data: " + json.dumps(response([call], "STOP", True)) + "\r\n\r\n")
        else:
            pieces = [TOOL_RESULT_TEXT] if kind == "tool_result" else PLAIN_TEXT_PIECES
            for index, piece in enumerate(pieces):
                last = index == len(pieces) - 1
                self._send("data: " + json.dumps(response([{"text": piece}], "STOP" if last else None, last)) + "\r\n\r\n")
        self._end_stream()


def start():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
