"""Keys as policies, through the official SDKs against the real binary: a
paused key, an expired key, a model outside a key's allowlist and the
filtered model lists, a budget crossed by a stream (which finishes; the
next request is refused in each dialect), and a rate limit with
Retry-After."""

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors


def key_id(switchyard):
    return next(k["id"] for k in switchyard.cli_json("key", "list") if k["name"] == "sdk-tests")


def clients(switchyard):
    return (
        openai.OpenAI(base_url=switchyard.base_url, api_key=switchyard.key, max_retries=0),
        anthropic.Anthropic(base_url=switchyard.root_url, api_key=switchyard.key, max_retries=0),
        genai.Client(api_key=switchyard.key, http_options={"base_url": switchyard.root_url}),
    )


def ask_each(switchyard, model):
    """One request in each dialect; the exceptions the SDKs raise (or None)."""
    oa, an, gm = clients(switchyard)
    failures = []
    for call in (
        lambda: oa.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}]),
        lambda: an.messages.create(model=model, max_tokens=16, messages=[{"role": "user", "content": "hi"}]),
        lambda: gm.models.generate_content(model=model, contents="hi"),
    ):
        try:
            call()
            failures.append(None)
        except (openai.APIStatusError, anthropic.APIStatusError, genai_errors.APIError) as error:
            failures.append(error)
    return failures


def status(error):
    return getattr(error, "status_code", None) or getattr(error, "code", None)


def test_a_paused_key_is_refused_as_paused_and_works_again_when_resumed(switchyard):
    switchyard.cli("key", "pause", str(key_id(switchyard)))
    failures = ask_each(switchyard, "mock/gpt-mock")
    assert [status(f) for f in failures] == [403, 403, 403]
    assert all("paused" in str(f) for f in failures)
    switchyard.cli("key", "resume", str(key_id(switchyard)))
    assert ask_each(switchyard, "mock/gpt-mock") == [None, None, None]


def test_an_expired_key_is_refused_as_expired(switchyard):
    switchyard.cli("key", "policy", str(key_id(switchyard)), "--expires", "2020-01-01")
    failures = ask_each(switchyard, "mock/gpt-mock")
    assert [status(f) for f in failures] == [401, 401, 401]
    assert isinstance(failures[0], openai.AuthenticationError)
    assert "expired" in str(failures[0])


def test_an_allowlist_filters_model_lists_and_refuses_other_models(switchyard):
    switchyard.cli("alias", "add", "fast", "mock/gpt-mock")
    switchyard.cli("key", "policy", str(key_id(switchyard)), "--model", "fast", "--owner", "ci")
    oa, an, gm = clients(switchyard)
    assert [m.id for m in oa.models.list()] == ["fast"]
    assert [m.name for m in gm.models.list()] == []
    refused = ask_each(switchyard, "mock/gpt-mock")
    assert [status(f) for f in refused] == [403, 403, 403]
    assert isinstance(refused[0], openai.PermissionDeniedError)
    assert "may not use" in str(refused[1])
    assert oa.chat.completions.create(model="fast", messages=[{"role": "user", "content": "hi"}]).choices


def test_a_budget_crossed_by_a_stream_lets_it_finish_and_refuses_the_next_request(switchyard):
    # 9 prompt and 3 completion tokens at $100 per million: $0.0012 a request.
    switchyard.cli("price", "set", "mock/gpt-mock", "--input", "100", "--output", "100")
    switchyard.cli("key", "limits", str(key_id(switchyard)), "--day", "0.001")
    oa, an, gm = clients(switchyard)
    stream = oa.chat.completions.create(
        model="mock/gpt-mock", messages=[{"role": "user", "content": "hi"}],
        stream=True, stream_options={"include_usage": True},
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Hello, world"
    failures = ask_each(switchyard, "mock/gpt-mock")
    assert [status(f) for f in failures] == [429, 429, 429]
    assert "daily budget" in str(failures[0])
    assert failures[0].response.headers["x-should-retry"] == "false"
    assert int(failures[0].response.headers["retry-after"]) > 0
    # The usage writer stores the request in the background.
    import time
    deadline = time.monotonic() + 10
    while True:
        listed = next(k for k in switchyard.cli_json("key", "list") if k["name"] == "sdk-tests")
        if listed["budgets"][0]["spent_usd"] > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert listed["budgets"][0]["spent_usd"] == pytest.approx(0.0012)


def test_a_rate_limit_answers_429_with_retry_after(switchyard):
    switchyard.cli("key", "limits", str(key_id(switchyard)), "--rpm", "2")
    oa, _, _ = clients(switchyard)
    for _ in range(2):
        oa.chat.completions.create(model="mock/gpt-mock", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.RateLimitError) as refused:
        oa.chat.completions.create(model="mock/gpt-mock", messages=[{"role": "user", "content": "hi"}])
    assert 1 <= int(refused.value.response.headers["retry-after"]) <= 60
    assert "2 requests per minute" in str(refused.value)


def test_metrics_are_off_until_a_token_is_made_and_move_with_requests(switchyard):
    import urllib.error
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    def scrape(token=None):
        request = urllib.request.Request(f"{switchyard.root_url}/metrics")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    assert scrape()[0] == 404
    token = switchyard.cli_json("metrics", "enable")
    assert scrape()[0] == 401
    assert scrape("sym-metrics-wrong")[0] == 401
    switchyard.cli("price", "set", "mock/gpt-mock", "--input", "100", "--output", "100")
    oa, _, _ = clients(switchyard)
    oa.chat.completions.create(model="mock/gpt-mock", messages=[{"role": "user", "content": "hi"}])
    status, text = scrape(token)
    assert status == 200
    families = {family.name: family for family in text_string_to_metric_families(text)}
    requests = [s for s in families["switchyard_requests"].samples if s.labels["model"] == "mock/gpt-mock"]
    assert requests and requests[0].value == 1 and requests[0].labels["status"] == "200"
    tokens = {s.labels["kind"]: s.value for s in families["switchyard_tokens"].samples}
    assert tokens == {"prompt": 9, "completion": 3}
    cost = families["switchyard_cost_usd"].samples[0].value
    assert cost == pytest.approx(0.0012)
    assert families["switchyard_request_duration_seconds"].type == "histogram"
    assert any(s.labels.get("provider") == "Mock" for s in families["switchyard_provider_breaker_open"].samples)
    switchyard.cli("metrics", "disable")
    assert scrape(token)[0] == 404
