"""The translation matrix: every official client SDK (openai, anthropic,
google-genai, ollama) x every upstream format (OpenAI, Anthropic, Gemini) x
streaming or not x plain text, a tool call, and a tool-result turn.

Each case checks what the client got (text, tool name and JSON arguments,
stop reason, usage) and what the mock upstream received (system prompt
placement, tool schema, the tool result in the upstream's own shape)."""

import json
from dataclasses import dataclass, field

import anthropic
import ollama
import openai
import pytest
from google import genai
from google.genai import types

import mock_upstreams
from conftest import Switchyard

SYSTEM = "Be brief."
QUESTION = "What is the weather in Paris?"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
DESCRIPTION = "Current weather in a city"

UPSTREAMS = {"oa": "openai", "an": "anthropic", "ge": "gemini", "rs": "responses"}
CLIENTS = ["openai", "responses", "anthropic", "gemini", "ollama"]
SCENARIOS = ["text", "tool_call", "tool_result"]


@dataclass
class Outcome:
    text: str = ""
    calls: list = field(default_factory=list)
    stop: str = ""
    usage: tuple = None


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    server = mock_upstreams.start()
    root = f"http://127.0.0.1:{server.server_address[1]}"
    gw = Switchyard(tmp_path_factory.mktemp("matrix") / "data")
    for prefix, kind in UPSTREAMS.items():
        base = {"openai": f"{root}/openai/v1", "anthropic": f"{root}/anthropic/v1", "gemini": f"{root}/gemini/v1beta",
                "responses": f"{root}/responses/v1"}[kind]
        gw.cli("provider", "add", "--name", kind, "--prefix", prefix, "--kind", kind, "--base-url", base,
               "--api-key-stdin", "--model", "m1", stdin=mock_upstreams.UPSTREAM_KEY)
    gw.key = gw.cli_json("key", "create")["key"]
    gw.serve()
    yield gw
    gw.stop()
    server.shutdown()


# -- clients ------------------------------------------------------------------

def run_openai(gw, model, scenario, stream):
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    kwargs = {}
    if scenario != "text":
        kwargs["tools"] = [{"type": "function", "function": {"name": "get_weather", "description": DESCRIPTION, "parameters": SCHEMA}}]
    if scenario == "tool_result":
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        ]
    if not stream:
        response = client.chat.completions.create(model=model, messages=messages, **kwargs)
        message = response.choices[0].message
        calls = [(call.function.name, json.loads(call.function.arguments)) for call in message.tool_calls or []]
        return Outcome(message.content or "", calls, response.choices[0].finish_reason,
                       (response.usage.prompt_tokens, response.usage.completion_tokens))
    outcome, pending = Outcome(), {}
    for chunk in client.chat.completions.create(model=model, messages=messages, stream=True,
                                                stream_options={"include_usage": True}, **kwargs):
        if chunk.usage:
            outcome.usage = (chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        for choice in chunk.choices:
            outcome.text += choice.delta.content or ""
            for call in choice.delta.tool_calls or []:
                entry = pending.setdefault(call.index, {"name": "", "arguments": ""})
                entry["name"] += (call.function.name or "") if call.function else ""
                entry["arguments"] += (call.function.arguments or "") if call.function else ""
            outcome.stop = choice.finish_reason or outcome.stop
    outcome.calls = [(entry["name"], json.loads(entry["arguments"])) for _, entry in sorted(pending.items())]
    return outcome


def run_responses(gw, model, scenario, stream):
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    items = [{"role": "user", "content": QUESTION}]
    kwargs = {}
    if scenario != "text":
        kwargs["tools"] = [{"type": "function", "name": "get_weather", "description": DESCRIPTION, "parameters": SCHEMA, "strict": False}]
    if scenario == "tool_result":
        items += [
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        ]
    if stream:
        with client.responses.stream(model=model, instructions=SYSTEM, input=items, **kwargs) as events:
            for _ in events:
                pass
            response = events.get_final_response()
    else:
        response = client.responses.create(model=model, instructions=SYSTEM, input=items, **kwargs)
    return Outcome(
        response.output_text,
        [(item.name, json.loads(item.arguments)) for item in response.output if item.type == "function_call"],
        response.status,
        (response.usage.input_tokens, response.usage.output_tokens),
    )


def run_anthropic(gw, model, scenario, stream):
    client = anthropic.Anthropic(base_url=gw.root_url, api_key=gw.key, max_retries=0)
    messages = [{"role": "user", "content": QUESTION}]
    kwargs = {}
    if scenario != "text":
        kwargs["tools"] = [{"name": "get_weather", "description": DESCRIPTION, "input_schema": SCHEMA}]
    if scenario == "tool_result":
        messages += [
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}]},
        ]
    if stream:
        with client.messages.stream(model=model, max_tokens=256, system=SYSTEM, messages=messages, **kwargs) as events:
            for _ in events:
                pass
            message = events.get_final_message()
    else:
        message = client.messages.create(model=model, max_tokens=256, system=SYSTEM, messages=messages, **kwargs)
    return Outcome(
        "".join(block.text for block in message.content if block.type == "text"),
        [(block.name, block.input) for block in message.content if block.type == "tool_use"],
        message.stop_reason,
        (message.usage.input_tokens, message.usage.output_tokens),
    )


def run_gemini(gw, model, scenario, stream):
    client = genai.Client(api_key=gw.key, http_options=types.HttpOptions(base_url=gw.root_url))
    contents = [types.Content(role="user", parts=[types.Part(text=QUESTION)])]
    if scenario == "tool_result":
        contents += [
            types.Content(role="model", parts=[types.Part(function_call=types.FunctionCall(name="get_weather", args={"city": "Paris"}))]),
            types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(name="get_weather", response={"result": "18C"}))]),
        ]
    tools = None
    if scenario != "text":
        tools = [types.Tool(function_declarations=[types.FunctionDeclaration(name="get_weather", description=DESCRIPTION, parameters_json_schema=SCHEMA)])]
    config = types.GenerateContentConfig(system_instruction=SYSTEM, tools=tools,
                                         automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    responses = (client.models.generate_content_stream(model=model, contents=contents, config=config) if stream
                 else [client.models.generate_content(model=model, contents=contents, config=config)])
    outcome = Outcome()
    for response in responses:
        candidate = response.candidates[0]
        for part in (candidate.content.parts if candidate.content and candidate.content.parts else []):
            if part.function_call:
                outcome.calls.append((part.function_call.name, dict(part.function_call.args)))
            elif part.text:
                outcome.text += part.text
        if candidate.finish_reason:
            outcome.stop = candidate.finish_reason.name
        if response.usage_metadata and response.usage_metadata.prompt_token_count is not None:
            outcome.usage = (response.usage_metadata.prompt_token_count, response.usage_metadata.candidates_token_count)
    return outcome


def run_ollama(gw, model, scenario, stream):
    client = ollama.Client(host=gw.root_url, headers={"Authorization": f"Bearer {gw.key}"})
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    tools = None
    if scenario != "text":
        tools = [{"type": "function", "function": {"name": "get_weather", "description": DESCRIPTION, "parameters": SCHEMA}}]
    if scenario == "tool_result":
        messages += [
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
            {"role": "tool", "content": "18C", "tool_name": "get_weather"},
        ]
    parts = client.chat(model=model, messages=messages, tools=tools, stream=True) if stream else [
        client.chat(model=model, messages=messages, tools=tools, stream=False)]
    outcome = Outcome()
    for part in parts:
        outcome.text += part.message.content or ""
        for call in part.message.tool_calls or []:
            outcome.calls.append((call.function.name, dict(call.function.arguments)))
        if part.done:
            outcome.stop = part.done_reason
            outcome.usage = (part.prompt_eval_count, part.eval_count)
    return outcome


RUNNERS = {"openai": run_openai, "responses": run_responses, "anthropic": run_anthropic, "gemini": run_gemini,
           "ollama": run_ollama}

EXPECTED_STOP = {
    "openai": {"text": "stop", "tool_call": "tool_calls", "tool_result": "stop"},
    "responses": {"text": "completed", "tool_call": "completed", "tool_result": "completed"},
    "anthropic": {"text": "end_turn", "tool_call": "tool_use", "tool_result": "end_turn"},
    "gemini": {"text": "STOP", "tool_call": "STOP", "tool_result": "STOP"},
    "ollama": {"text": "stop", "tool_call": "stop", "tool_result": "stop"},
}


# -- what the upstream received --------------------------------------------------

def check_upstream(kind, scenario, request):
    if kind == "openai":
        assert request["messages"][0] == {"role": "system", "content": SYSTEM}
        if scenario != "text":
            assert request["tools"][0]["function"]["name"] == "get_weather"
            assert request["tools"][0]["function"]["parameters"]["properties"]["city"]["type"] == "string"
        if scenario == "tool_result":
            call_id = request["messages"][-2]["tool_calls"][0]["id"]
            assert request["messages"][-2]["tool_calls"][0]["function"]["name"] == "get_weather"
            assert request["messages"][-1]["role"] == "tool"
            assert request["messages"][-1]["tool_call_id"] == call_id
            assert "18C" in json.dumps(request["messages"][-1]["content"])
    elif kind == "responses":
        assert request["instructions"] == SYSTEM
        if scenario != "text":
            assert request["tools"][0]["name"] == "get_weather"
            assert request["tools"][0]["parameters"]["properties"]["city"]["type"] == "string"
        if scenario == "tool_result":
            call, output = request["input"][-2], request["input"][-1]
            assert call["type"] == "function_call" and call["name"] == "get_weather"
            assert output["type"] == "function_call_output" and output["call_id"] == call["call_id"]
            assert "18C" in json.dumps(output["output"])
    elif kind == "anthropic":
        assert request["system"] in (SYSTEM, [{"type": "text", "text": SYSTEM}])
        assert all(message["role"] in ("user", "assistant") for message in request["messages"])
        roles = [message["role"] for message in request["messages"]]
        assert all(a != b for a, b in zip(roles, roles[1:])), roles
        if scenario != "text":
            assert request["tools"][0]["name"] == "get_weather"
            assert request["tools"][0]["input_schema"]["properties"]["city"]["type"] == "string"
        if scenario == "tool_result":
            tool_use = request["messages"][-2]["content"][0]
            assert tool_use["type"] == "tool_use" and tool_use["input"] == {"city": "Paris"}
            result = request["messages"][-1]["content"][0]
            assert result["type"] == "tool_result" and result["tool_use_id"] == tool_use["id"]
            assert "18C" in json.dumps(result["content"])
    else:
        assert request["systemInstruction"]["parts"][0]["text"] == SYSTEM
        assert request["__model"] == "m1"
        if scenario != "text":
            declaration = request["tools"][0]["functionDeclarations"][0]
            assert declaration["name"] == "get_weather"
            # The API takes camelCase or snake_case; passthrough keeps the client's spelling.
            schema = (declaration.get("parametersJsonSchema") or declaration.get("parameters_json_schema")
                      or declaration.get("parameters"))
            assert schema["properties"]["city"]["type"].lower() == "string"
        if scenario == "tool_result":
            assert request["contents"][-2]["parts"][0]["functionCall"]["name"] == "get_weather"
            response = request["contents"][-1]["parts"][0]["functionResponse"]
            assert response["name"] == "get_weather"
            assert "18C" in json.dumps(response["response"])


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("prefix", list(UPSTREAMS), ids=[f"to-{kind}" for kind in UPSTREAMS.values()])
@pytest.mark.parametrize("client", CLIENTS, ids=[f"{name}-sdk" for name in CLIENTS])
def test_matrix(gateway, client, prefix, stream, scenario):
    kind = UPSTREAMS[prefix]
    outcome = RUNNERS[client](gateway, f"{prefix}/m1", scenario, stream)

    if scenario == "tool_call":
        assert outcome.calls == [("get_weather", {"city": "Paris"})]
        assert outcome.text == ""
    else:
        assert outcome.calls == []
        expected = mock_upstreams.TOOL_RESULT_TEXT if scenario == "tool_result" else "Hello, world"
        assert outcome.text == expected
    assert outcome.stop == EXPECTED_STOP[client][scenario]
    assert outcome.usage == (10, 5)

    request = mock_upstreams.Handler.received[kind][-1]
    check_upstream(kind, scenario, request)
    streamed_upstream = request.get("__stream") if kind == "gemini" else request.get("stream", False)
    assert bool(streamed_upstream) == stream
