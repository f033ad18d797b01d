"""Mock upstream providers speaking each real wire format: OpenAI Chat
Completions, Anthropic Messages and Gemini generateContent, JSON and streams.

Every mock answers the same way, so a test can compare what different
clients get through different upstreams:
- a request declaring a get_weather tool whose last turn is not a tool
  result gets a call get_weather({"city": "Paris"}), its arguments streamed
  in pieces;
- a request whose text holds PROBE_WORD and that declares one of the tools
  real coding CLIs have (PROBE_TOOLS: a glob, a directory listing or a
  shell) gets a call of that tool listing the work folder, in the
  arguments shape that CLI's tool takes;
- a request whose last turn is a tool result gets "It is 18C in Paris.";
- a request for a model whose name ends in UNKNOWN_MODEL gets the
  provider's own 404;
- anything else gets "Hello, world".
Requests the real services refuse get their 400, in the vendor's error shape
(see `problem_*`): unknown roles, a missing max_tokens or messages, content
blocks of unknown types, a Responses request without model or input.
Usage is always 10 input and 5 output tokens. Requests are kept per dialect.

Kiro (CodeWhisperer's generateAssistantResponse, answered as an AWS event
stream) takes KIRO_ACCESS_TOKEN, refreshed from KIRO_REFRESH_TOKEN through
Kiro's social refresh endpoint; any other token gets CodeWhisperer's 403.
It refuses what CodeWhisperer refuses with "Improperly formed request":
a history that does not alternate user and assistant turns from a user
turn, empty contents, tool results that answer no call of the turn
before, tools without a name, description or object schema; an unknown
model gets its 400 INVALID_MODEL_ID.
"""

import http.server
import json
import re
import struct
import threading
import zlib

UPSTREAM_KEY = "sk-mock-upstream-secret-42"
TOOL_ARGUMENT_PIECES = ['{"ci', 'ty": "Pa', 'ris"}']
TOOL_RESULT_TEXT = "It is 18C in Paris."
PLAIN_TEXT_PIECES = ["Hello", ",", " world"]
PROBE_WORD = "SWITCHYARD-PROBE"
UNKNOWN_MODEL = "no-such-model"
KIRO_ACCESS_TOKEN = "kiro-mock-access-token-42"
KIRO_REFRESH_TOKEN = "kiro-mock-refresh-token-42"
KIRO_PROFILE_ARN = "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK"
KIRO_TARGET = "AmazonCodeWhispererStreamingService.GenerateAssistantResponse"

# Tools the coding CLIs really have that list the work folder (a shell
# first: some CLIs' glob needs ripgrep), each with the
# arguments its schema takes, in order of preference (names compared without
# case). The first one the request declares is called.
PROBE_TOOLS = [
    ("exec_command", {"cmd": "ls"}),
    ("shell_command", {"command": "ls"}),
    ("shell", {"command": ["ls"]}),
    ("bash", {"command": "ls", "description": "List the files"}),
    # "sleep": Qwen Code's shell now and then loses the output of a command that ends at once.
    ("run_shell_command", {"command": "ls; sleep 1", "description": "List the files"}),
    ("execute_command", {"command": "ls", "requires_approval": False}),
    ("run_terminal_command", {"command": "ls"}),
    ("run_commands", {"commands": ["ls"]}),
    ("exec", {"command": "ls"}),
    ("execute", {"command": "ls", "riskLevelReason": "It only lists files.", "riskLevel": "low"}),
    ("glob", {"pattern": "*.txt"}),
    ("list_files", {"path": ".", "recursive": False}),
    ("list_directory", {"path": "."}),
    ("ls", {"path": "."}),
    ("list", {"path": "."}),
]

ANTHROPIC_BLOCK_TYPES = {
    "text", "image", "document", "search_result", "tool_use", "tool_result", "thinking", "redacted_thinking",
    "server_tool_use", "web_search_tool_result", "web_fetch_tool_result", "code_execution_tool_result",
    "bash_code_execution_tool_result", "text_editor_code_execution_tool_result", "mcp_tool_use",
    "mcp_tool_result", "container_upload", "tool_search_tool_result",
}
OPENAI_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}


def probe_call(declared, text):
    """The (name, arguments) of the probe tool to call, if `text` asks for one."""
    if PROBE_WORD not in text:
        return None
    by_lower = {name.lower(): name for name in declared}
    for name, arguments in PROBE_TOOLS:
        if name in by_lower:
            return by_lower[name], arguments
    return None


def answer_kind(declared, last_is_tool_result, text="", any_tool_result=False):
    """("tool_result" | "tool_call" | "text", the call to make or None).

    The probe is called once: a request that already carries a tool result
    gets the closing text even when the client added a turn after it."""
    if last_is_tool_result:
        return "tool_result", None
    if "get_weather" in declared:
        return "tool_call", ("get_weather", {"city": "Paris"})
    if PROBE_WORD in text and any_tool_result:
        return "tool_result", None
    probe = probe_call(declared, text)
    if probe:
        return "tool_call", probe
    return "text", None


def argument_pieces(arguments):
    """A call's JSON arguments cut in three, as the providers stream them."""
    if arguments == {"city": "Paris"}:
        return TOOL_ARGUMENT_PIECES
    whole = json.dumps(arguments)
    third = max(1, len(whole) // 3)
    return [whole[:third], whole[third:2 * third], whole[2 * third:]]


# -- what the real services refuse (400) -------------------------------------

def problem_openai(body):
    if not body.get("model"):
        return "Missing required parameter: 'model'."
    if not isinstance(body.get("messages"), list):
        return "Missing required parameter: 'messages'."
    for index, message in enumerate(body["messages"]):
        if not isinstance(message, dict) or message.get("role") not in OPENAI_ROLES:
            role = message.get("role") if isinstance(message, dict) else None
            return (f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', "
                    f"'tool', and 'developer'. (messages[{index}].role)")
    return None


def problem_anthropic(body):
    if not body.get("model"):
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    if not isinstance(body.get("messages"), list):
        return "messages: Field required"
    for index, message in enumerate(body["messages"]):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            return f"messages.{index}.content: Input should be a valid list"
        for block_index, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") not in ANTHROPIC_BLOCK_TYPES:
                kind = block.get("type") if isinstance(block, dict) else None
                return f"messages.{index}.content.{block_index}.type: Input tag '{kind}' found using 'type' does not match any of the expected tags"
    if isinstance(body.get("system"), list):
        for index, block in enumerate(body["system"]):
            if not isinstance(block, dict) or block.get("type") != "text":
                return f"system.{index}.type: Input should be 'text'"
    return None


def problem_gemini(body):
    if not isinstance(body.get("contents"), list) or not body["contents"]:
        return "* GenerateContentRequest.contents: contents is not specified"
    for content in body["contents"]:
        if not isinstance(content, dict) or content.get("role", "user") not in ("user", "model"):
            return "Please use a valid role: user, model."
    return None


def problem_responses(body):
    if not body.get("model"):
        return "Missing required parameter: 'model'."
    if "input" not in body or body["input"] in (None, "", []):
        return "Missing required parameter: 'input'."
    return None


def problem_kiro(body):
    """Why CodeWhisperer would answer "Improperly formed request", if it would."""
    state = body.get("conversationState")
    if not isinstance(state, dict) or state.get("chatTriggerType") != "MANUAL" or not state.get("conversationId"):
        return "conversationState needs chatTriggerType MANUAL and a conversationId"
    if not str(body.get("profileArn", "")).startswith("arn:aws:codewhisperer:"):
        return "profileArn is missing"
    history = state.get("history") or []
    current = (state.get("currentMessage") or {}).get("userInputMessage")
    if not isinstance(history, list) or not isinstance(current, dict):
        return "currentMessage.userInputMessage is missing"
    turns = history + [{"userInputMessage": current}]
    previous_calls = set()
    for index, turn in enumerate(turns):
        expected = "userInputMessage" if index % 2 == 0 else "assistantResponseMessage"
        if not isinstance(turn, dict) or list(turn) != [expected]:
            return f"history[{index}] must be one {expected}"
        message = turn[expected]
        if not isinstance(message.get("content"), str) or not message["content"].strip():
            return f"history[{index}] has empty content"
        if expected == "assistantResponseMessage":
            previous_calls = {use.get("toolUseId") for use in message.get("toolUses") or []}
            continue
        if not message.get("modelId") or message.get("origin") != "AI_EDITOR":
            return f"history[{index}] needs modelId and origin"
        context = message.get("userInputMessageContext") or {}
        for result in context.get("toolResults") or []:
            if result.get("toolUseId") not in previous_calls or result.get("status") not in ("success", "error") \
                    or not isinstance(result.get("content"), list):
                return f"history[{index}] has a tool result answering no call of the turn before"
        for tool in context.get("tools") or []:
            spec = tool.get("toolSpecification") or {}
            if not spec.get("name") or not str(spec.get("description", "")).strip() \
                    or not isinstance((spec.get("inputSchema") or {}).get("json"), dict):
                return "a tool needs a name, a description and inputSchema.json"
        previous_calls = set()
    return None


def event_stream_frame(headers, payload):
    """One AWS event-stream message: prelude (total and header lengths, CRC32),
    string headers, payload, CRC32 of everything before it."""
    encoded = b"".join(bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value.encode())) + value.encode()
                       for name, value in headers.items())
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def kiro_event(kind, payload):
    return event_stream_frame({":event-type": kind, ":content-type": "application/json", ":message-type": "event"},
                              json.dumps(payload).encode())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received = {"openai": [], "anthropic": [], "gemini": [], "responses": [], "kiro": []}

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
        if self.path.startswith("/kiro/api/getUsageLimits?"):
            if self.headers.get("Authorization") != f"Bearer {KIRO_ACCESS_TOKEN}":
                return self._json(403, {"message": "The bearer token included in the request is invalid."})
            return self._json(200, {"limits": [], "usageBreakdownList": [{
                "resourceType": "CREDIT", "currentUsageWithPrecision": 1.0, "usageLimitWithPrecision": 50.0,
                "nextDateReset": 1893456000.0}]})
        self._json(401, {"error": {"message": "bad key or path"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        if self.path == "/openai/v1/chat/completions":
            return self.openai(body)
        if self.path.split("?")[0] == "/anthropic/v1/messages":  # Claude Code adds ?beta=true
            return self.anthropic(body)
        if self.path == "/responses/v1/responses":
            return self.openai_responses(body)
        if self.path == "/kiro/api/generateAssistantResponse":
            return self.kiro(body)
        if self.path == "/kiro/auth/refreshToken":
            if body.get("refreshToken") != KIRO_REFRESH_TOKEN:
                return self._json(401, {"message": "Invalid refresh token"})
            return self._json(200, {"accessToken": KIRO_ACCESS_TOKEN, "refreshToken": KIRO_REFRESH_TOKEN,
                                    "expiresIn": 3600, "profileArn": KIRO_PROFILE_ARN})
        match = re.fullmatch(r"/gemini/v1beta/models/(.+):(generateContent|streamGenerateContent)(\?alt=sse)?", self.path)
        if match:
            return self.gemini(body, match.group(1), match.group(2) == "streamGenerateContent")
        self._json(404, {"error": {"message": f"no route {self.path}"}})

    # -- OpenAI ---------------------------------------------------------
    def openai(self, body):
        Handler.received["openai"].append(body)
        if self.headers.get("Authorization") != f"Bearer {UPSTREAM_KEY}":
            return self._json(401, {"error": {"message": "bad key", "type": "invalid_request_error", "code": "invalid_api_key"}})
        problem = problem_openai(body)
        if problem:
            return self._json(400, {"error": {"message": problem, "type": "invalid_request_error", "param": None, "code": "invalid_value"}})
        if body["model"].endswith(UNKNOWN_MODEL):
            return self._json(404, {"error": {"message": f"The model `{body['model']}` does not exist or you do not have access to it.",
                                              "type": "invalid_request_error", "param": None, "code": "model_not_found"}})
        messages = body["messages"]
        declared = [tool.get("function", {}).get("name") or tool.get("name") for tool in body.get("tools") or []]
        user_text = json.dumps([message for message in messages if message.get("role") == "user"])
        kind, call = answer_kind(declared, messages[-1]["role"] == "tool", user_text,
                                 any(message.get("role") == "tool" for message in messages))
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        base = {"id": "chatcmpl-mock", "created": 1700000000, "model": body["model"]}
        if not body.get("stream"):
            message = {"role": "assistant", "content": None}
            if kind == "tool_call":
                message["tool_calls"] = [{"id": "call_abc", "type": "function", "function": {"name": call[0], "arguments": json.dumps(call[1])}}]
            else:
                message["content"] = TOOL_RESULT_TEXT if kind == "tool_result" else "".join(PLAIN_TEXT_PIECES)
            return self._json(200, {**base, "object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if kind == "tool_call" else "stop"}], "usage": usage})
        self._start_stream()

        def chunk(delta, finish=None):
            self._send("data: " + json.dumps({**base, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + "\n\n")

        chunk({"role": "assistant", "content": ""})
        if kind == "tool_call":
            chunk({"tool_calls": [{"index": 0, "id": "call_abc", "type": "function", "function": {"name": call[0], "arguments": ""}}]})
            for piece in argument_pieces(call[1]):
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
        problem = problem_anthropic(body)
        if problem:
            return self._json(400, {"type": "error", "error": {"type": "invalid_request_error", "message": problem}})
        if body["model"].endswith(UNKNOWN_MODEL):
            return self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": f"model: {body['model']}"}})
        last = body["messages"][-1]
        last_is_result = isinstance(last["content"], list) and any(block.get("type") == "tool_result" for block in last["content"])
        declared = [tool.get("name") for tool in body.get("tools") or []]
        user_text = json.dumps([message for message in body["messages"] if message["role"] == "user"])
        any_result = any(isinstance(message["content"], list) and any(block.get("type") == "tool_result" for block in message["content"])
                         for message in body["messages"])
        kind, call = answer_kind(declared, last_is_result, user_text, any_result)
        stop = "tool_use" if kind == "tool_call" else "end_turn"
        if not body.get("stream"):
            if kind == "tool_call":
                content = [{"type": "tool_use", "id": "toolu_abc", "name": call[0], "input": call[1]}]
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
            event("content_block_start", {"index": 0, "content_block": {"type": "tool_use", "id": "toolu_abc", "name": call[0], "input": {}}})
            for piece in argument_pieces(call[1]):
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
        problem = problem_responses(body)
        if problem:
            return self._json(400, {"error": {"message": problem, "type": "invalid_request_error", "param": None, "code": "missing_required_parameter"}})
        if body["model"].endswith(UNKNOWN_MODEL):
            return self._json(404, {"error": {"message": f"The model `{body['model']}` does not exist or you do not have access to it.",
                                              "type": "invalid_request_error", "param": None, "code": "model_not_found"}})
        items = body["input"] if isinstance(body["input"], list) else [{"role": "user", "content": body["input"]}]
        declared = [tool.get("name") or tool.get("type") for tool in body.get("tools") or []]
        user_text = json.dumps([item for item in items if item.get("role") == "user"])
        kind, call = answer_kind(declared, items[-1].get("type") == "function_call_output", user_text,
                                 any(item.get("type") == "function_call_output" for item in items))
        usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}
        text = TOOL_RESULT_TEXT if kind == "tool_result" else "".join(PLAIN_TEXT_PIECES)
        if kind == "tool_call":
            item = {"type": "function_call", "id": "fc_1", "call_id": "call_abc", "name": call[0],
                    "arguments": "".join(argument_pieces(call[1])), "status": "completed"}
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
            for piece in argument_pieces(call[1]):
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
        problem = problem_gemini(body)
        if problem:
            return self._json(400, {"error": {"code": 400, "message": problem, "status": "INVALID_ARGUMENT"}})
        if model.endswith(UNKNOWN_MODEL):
            return self._json(404, {"error": {"code": 404, "message": f"models/{model} is not found for API version v1beta, or is not supported for generateContent.",
                                              "status": "NOT_FOUND"}})
        last_parts = body["contents"][-1]["parts"]
        last_is_result = any("functionResponse" in part for part in last_parts)
        declared = [declaration.get("name") for tool in body.get("tools") or []
                    for declaration in tool.get("functionDeclarations") or tool.get("function_declarations") or []]
        user_text = json.dumps([content for content in body["contents"] if content.get("role", "user") == "user"])
        any_result = any("functionResponse" in part for content in body["contents"] for part in content.get("parts") or [])
        kind, call = answer_kind(declared, last_is_result, user_text, any_result)
        usage = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}

        def response(parts, finish=None, with_usage=False):
            candidate = {"content": {"role": "model", "parts": parts}, "index": 0}
            if finish:
                candidate["finishReason"] = finish
            out = {"candidates": [candidate], "modelVersion": model, "responseId": "gem-mock"}
            if with_usage:
                out["usageMetadata"] = usage
            return out

        call = {"functionCall": {"name": call[0], "args": call[1]}} if call else None
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


    # -- Kiro (CodeWhisperer) --------------------------------------------
    def kiro(self, body):
        Handler.received["kiro"].append(body)
        if self.headers.get("Authorization") != f"Bearer {KIRO_ACCESS_TOKEN}":
            return self._json(403, {"message": "The bearer token included in the request is invalid.", "reason": None})
        if self.headers.get("X-Amz-Target") != KIRO_TARGET:
            return self._json(400, {"message": "Improperly formed request.", "reason": None})
        problem = problem_kiro(body)
        if problem:
            return self._json(400, {"message": "Improperly formed request.", "reason": None, "__why": problem})
        state = body["conversationState"]
        current = state["currentMessage"]["userInputMessage"]
        if current["modelId"].endswith(UNKNOWN_MODEL):
            return self._json(400, {"message": "Invalid model ID. Please select a different model to continue.",
                                    "reason": "INVALID_MODEL_ID"})
        turns = [turn.get("userInputMessage") for turn in state["history"]] + [current]
        users = [turn for turn in turns if turn]
        context = current.get("userInputMessageContext") or {}
        declared = [tool["toolSpecification"]["name"] for tool in context.get("tools") or []]
        any_result = any((turn.get("userInputMessageContext") or {}).get("toolResults") for turn in users)
        kind, call = answer_kind(declared, bool(context.get("toolResults")), json.dumps(users), any_result)
        frames = [kiro_event("messageMetadataEvent", {"conversationId": state["conversationId"]})]
        if kind == "tool_call":
            frames += [kiro_event("toolUseEvent", {"toolUseId": "tooluse_abc", "name": call[0], "input": piece})
                       for piece in argument_pieces(call[1])]
            frames.append(kiro_event("toolUseEvent", {"toolUseId": "tooluse_abc", "name": call[0], "stop": True}))
        else:
            for piece in ([TOOL_RESULT_TEXT] if kind == "tool_result" else PLAIN_TEXT_PIECES):
                frames.append(kiro_event("assistantResponseEvent", {"content": piece}))
        frames.append(kiro_event("meteringEvent", {"unit": "credit", "unitPlural": "credits", "usage": 0.02}))
        frames.append(kiro_event("contextUsageEvent", {"contextUsagePercentage": 0.5}))
        data = b"".join(frames)
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for start in range(0, len(data), 41):  # frames split across pieces
            piece = data[start:start + 41]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def start():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
