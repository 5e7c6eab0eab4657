"""End-of-call summary: structured and extractive, from redacted utterances only.

No language model is needed. The reason for the call is the caller's first stated need (the first
utterance that drew a knowledge-base search), the outcome comes from what was said near the end,
and key details are the kinds of information the caller gave (never the values: those were
redacted before this runs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from assistant.privacy.gate import ensure_gated, gate

OUTCOMES = ("resolved", "follow-up", "transferred", "unknown")

_TRANSFERRED = re.compile(r"\b(transfer(ring|red)? you|put you through|connect(ing)? you (to|with))\b", re.I)
_FOLLOW_UP = re.compile(
    r"\b(call you back|follow(ing)? up|we will (send|mail|contact)|we'll (send|mail|contact|call)|"
    r"(expect|receive) a (letter|call)|get back to you|open(ed)? a (ticket|case|request))\b",
    re.I,
)
_RESOLVED = re.compile(
    r"\b(went through|that (fixed|solved|helps|helped|answers)|(that|this) helps|all set|resolved|"
    r"problem solved|you('re| are) all done|thank you so much|perfect,? thank)\b",
    re.I,
)
_PLACEHOLDER = re.compile(r"\[([A-Z]+)\]")
_DETAIL_NAMES = {
    "CARD": "a payment card number",
    "CVV": "a card security code",
    "EXPIRY": "a card expiry date",
    "SSN": "a Social Security number",
    "ACCOUNT": "a bank account number",
    "ROUTING": "a routing number",
    "PHONE": "a phone number",
    "EMAIL": "an e-mail address",
    "DOB": "a date of birth",
}


@dataclass(frozen=True)
class SuggestedArticle:
    article_id: str
    title: str
    score: float
    used: bool = False


@dataclass(frozen=True)
class CallSummary:
    """What a contact center keeps about a call, with everything sensitive already redacted.

    Attributes:
        reason: the caller's main stated problem.
        key_details: what kinds of information the caller gave (e.g. "a payment card number (redacted)").
        articles: the approved articles suggested, and whether the agent marked them used.
        outcome: resolved, follow-up, transferred or unknown.
        language: the call's language.
        sentiment_start, sentiment_end: caller sentiment labels at the start and end.
        duration: seconds.
        agent_talk_share: the agent's share of talk time (0..1), None when unknown.
        text: a short plain-language summary.
    """

    reason: str
    key_details: tuple[str, ...]
    articles: tuple[SuggestedArticle, ...]
    outcome: str
    language: str
    sentiment_start: str
    sentiment_end: str
    duration: float
    agent_talk_share: float | None
    text: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["key_details"] = list(self.key_details)
        data["articles"] = [asdict(a) for a in self.articles]
        return data


def detect_outcome(lines: Sequence[str]) -> str:
    """Outcome from what was said, the latest statement winning; `unknown` when nothing says."""
    for text in reversed(lines):
        if _TRANSFERRED.search(text):
            return "transferred"
        if _FOLLOW_UP.search(text):
            return "follow-up"
        if _RESOLVED.search(text):
            return "resolved"
    return "unknown"


def key_details(texts: Sequence[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for text in texts:
        for kind in _PLACEHOLDER.findall(text):
            name = _DETAIL_NAMES.get(kind)
            if name and name not in seen:
                seen.append(name)
    return tuple(f"caller gave {name} (redacted)" for name in seen)


def talk_share(spans: Sequence[tuple[str, float, float]]) -> float | None:
    agent = sum(max(0.0, end - start) for speaker, start, end in spans if speaker == "agent")
    caller = sum(max(0.0, end - start) for speaker, start, end in spans if speaker == "caller")
    total = agent + caller
    return round(agent / total, 3) if total > 0 else None


def summarise(
    *,
    reason: str,
    caller_texts: Sequence[str],
    all_texts: Sequence[str],
    articles: Sequence[SuggestedArticle],
    language: str,
    sentiment_start: str,
    sentiment_end: str,
    duration: float,
    spans: Sequence[tuple[str, float, float]],
) -> CallSummary:
    """Build the summary from the call's redacted pieces."""
    outcome = detect_outcome(all_texts)
    details = key_details(caller_texts)
    share = talk_share(spans)
    parts = [f"Caller's reason: {reason}" if reason else "No clear reason was stated."]
    if articles:
        parts.append("Suggested: " + "; ".join(f"{a.title} ({a.article_id})" for a in articles) + ".")
    else:
        parts.append("No approved article was suggested.")
    if details:
        parts.append("Details: " + ", ".join(details) + ".")
    parts.append(
        f"Outcome: {outcome}. Language: {language}. Caller sentiment {sentiment_start} -> {sentiment_end}."
    )
    return CallSummary(
        reason=reason,
        key_details=details,
        articles=tuple(articles),
        outcome=outcome,
        language=language,
        sentiment_start=sentiment_start,
        sentiment_end=sentiment_end,
        duration=round(duration, 2),
        agent_talk_share=share,
        text=" ".join(parts),
    )


_OUTCOME_SENTENCE = re.compile(r"Outcome: [a-z-]+\.")


def restate_outcome(text: str, outcome: str) -> str:
    """A summary text whose "Outcome: ..." sentence says `outcome` (added when missing)."""
    sentence = f"Outcome: {outcome}."
    text, found = _OUTCOME_SENTENCE.subn(sentence, text, count=1)
    return text if found else f"{text.rstrip()} {sentence}".lstrip()


def with_outcome(record: Any, outcome: str) -> Any:
    """`record` (a CallRecord) with `outcome`, and its stored summary (text and JSON) saying the same:
    an agent's correction must not leave "Outcome: resolved" in the summary."""
    from dataclasses import replace

    text = restate_outcome(record.summary_text, outcome) if record.summary_text else record.summary_text
    summary_json = dict(record.summary_json) if record.summary_json else record.summary_json
    if summary_json:
        summary_json["outcome"] = outcome
        if summary_json.get("text"):
            summary_json["text"] = restate_outcome(summary_json["text"], outcome)
    return replace(record, outcome=outcome, summary_text=text, summary_json=summary_json)


LLM_PROMPT = (
    "You summarise contact-center calls for a public service line. Write at most three short, plain "
    "sentences: what the caller needed, what the agent did, and what happens next. Placeholders such "
    "as [CARD] or [SSN] stand for removed personal data; never guess what they were."
)


def llm_summary(
    transcript: Sequence[tuple[str, str]],
    *,
    url: str,
    model: str,
    api_key: str = "",
    timeout: float = 30.0,
    transport: Any = None,
    language: str | None = None,
) -> str | None:
    """An extra abstractive summary from any OpenAI-compatible chat endpoint (a local server).

    `transcript` is (speaker, redacted text) pairs: only text that passed the privacy gate is
    sent (text not marked `Redacted` is gated here first), and the reply passes the gate again,
    with number words of every supported language (`language` is the call's, a hint). Returns
    None when the endpoint fails; the extractive summary always stands on its own.
    """
    import httpx

    lines = "\n".join(
        f"{speaker}: {ensure_gated(text)}" for speaker, text in transcript if text and text.strip()
    )
    if not lines:
        return None
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {
        "model": model,
        "temperature": 0,
        "messages": [{"role": "system", "content": LLM_PROMPT}, {"role": "user", "content": lines}],
    }
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(url.rstrip("/") + "/chat/completions", json=body, headers=headers)
            response.raise_for_status()
            text = response.json()["choices"][0]["message"]["content"]
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError):
        return None
    # The model only saw placeholders, but its output is checked like any other text we keep.
    return gate(str(text).strip(), language=language) or None
