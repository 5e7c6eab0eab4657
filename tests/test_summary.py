"""The optional LLM summary: only redacted text is sent, failures fall back silently."""

from __future__ import annotations

import json

import httpx

from assistant.text.summary import key_details, llm_summary


def test_llm_summary_sends_only_given_redacted_text_and_redacts_the_answer():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"] = str(request.url)
        seen["auth"] = request.headers.get("authorization")
        seen["body"] = json.loads(request.content)
        reply = "Caller paid a property tax bill with card 4111 1111 1111 1111 and asked about voting."
        return httpx.Response(200, json={"choices": [{"message": {"content": reply}}]})

    text = llm_summary(
        [("caller", "My card is [CARD]."), ("agent", "The payment went through."), ("caller", " ")],
        url="http://llm.local/v1/",
        model="m",
        api_key="k",
        transport=httpx.MockTransport(handler),
    )
    assert seen["url"] == "http://llm.local/v1/chat/completions"
    assert seen["auth"] == "Bearer k"
    user = seen["body"]["messages"][1]["content"]
    assert user == "caller: My card is [CARD].\nagent: The payment went through."
    assert text is not None and "4111" not in text and "[CARD]" in text


def test_llm_summary_failures_return_none():
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"unexpected": True})

    for handler in (down, garbage, lambda r: httpx.Response(500)):
        assert (
            llm_summary(
                [("caller", "hi")], url="http://x/v1", model="m", transport=httpx.MockTransport(handler)
            )
            is None
        )
    assert llm_summary([], url="http://x/v1", model="m") is None


def test_key_details_name_kinds_not_values():
    assert key_details(["It is [CARD] and my social is [SSN]", "[CARD] again"]) == (
        "caller gave a payment card number (redacted)",
        "caller gave a Social Security number (redacted)",
    )
