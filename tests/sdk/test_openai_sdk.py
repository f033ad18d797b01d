"""The official `openai` Python SDK talking to the real `switchyard serve`."""

import sys

import openai
import pytest

from conftest import UPSTREAM_KEY


def client(gateway, key=None):
    return openai.OpenAI(base_url=gateway.base_url, api_key=key or gateway.key, max_retries=0)


def test_models_lists_provider_models(switchyard):
    ids = [model.id for model in client(switchyard).models.list()]
    assert ids == ["mock/gpt-mock"]


def test_non_streaming_completion(switchyard):
    completion = client(switchyard).chat.completions.create(
        model="mock/gpt-mock", messages=[{"role": "user", "content": "Say hello"}]
    )
    assert completion.choices[0].message.content == "Hello, world"
    assert completion.usage.prompt_tokens == 9


def test_streaming_completion_arrives_in_chunks(switchyard):
    stream = client(switchyard).chat.completions.create(
        model="mock/gpt-mock",
        messages=[{"role": "user", "content": "Say hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage
    assert pieces == ["Hello", ",", " world"]
    assert usage.completion_tokens == 3


def test_wrong_key_is_rejected(switchyard):
    with pytest.raises(openai.AuthenticationError) as error:
        client(switchyard, key="sy-not-a-real-key").chat.completions.create(
            model="mock/gpt-mock", messages=[{"role": "user", "content": "hi"}]
        )
    assert error.value.status_code == 401
    assert error.value.code == "invalid_api_key"


def test_unknown_model_is_not_found(switchyard):
    with pytest.raises(openai.NotFoundError) as error:
        client(switchyard).chat.completions.create(
            model="nobody/gpt", messages=[{"role": "user", "content": "hi"}]
        )
    assert error.value.code == "model_not_found"


needs_sigterm = pytest.mark.skipif(sys.platform == "win32", reason="Windows has no SIGTERM to stop the gateway gracefully")


@needs_sigterm
def test_requests_are_counted_and_survive_sigterm(switchyard):
    api = client(switchyard)
    api.chat.completions.create(model="mock/gpt-mock", messages=[{"role": "user", "content": "1"}])
    for _ in api.chat.completions.create(
        model="mock/gpt-mock", messages=[{"role": "user", "content": "2"}],
        stream=True, stream_options={"include_usage": True},
    ):
        pass
    switchyard.stop()
    totals = switchyard.cli_json("usage")["totals"]
    assert totals["requests"] == 2
    assert totals["succeeded"] == 2
    assert totals["prompt_tokens"] == 18
    assert totals["completion_tokens"] == 6


@needs_sigterm
def test_provider_key_never_reaches_the_client_or_the_log(switchyard):
    providers = switchyard.cli_json("provider", "list")
    assert UPSTREAM_KEY not in str(providers)
    client(switchyard).chat.completions.create(model="mock/gpt-mock", messages=[{"role": "user", "content": "x"}])
    assert UPSTREAM_KEY not in switchyard.stop()
