"""Per-call problem statements and per-topic figures for the daily digest (see `assistant.digest.build`)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from assistant.calls.processor import states_need
from assistant.digest.cluster import clean_problem, keyword_label, phrase_label, shorten
from assistant.digest.model import Topic
from assistant.digest.need import asks_for_someone, caller_need

if TYPE_CHECKING:
    from assistant.digest.model import DigestOptions, Topic


@dataclass(frozen=True)
class Problem:
    """One problem statement of one call."""

    call: int
    text: str
    no_answer: bool = False
    not_helpful: bool = False
    article_id: str | None = None
    article_title: str | None = None
    key: str = ""
    untranslated: bool = False

    @property
    def group_text(self) -> str:
        """What is grouped: `key` (a language-independent form) when set, else the text."""
        return self.key or self.text


def escalated(call: Any) -> bool:
    """Whether the caller asked for a supervisor, a transfer or a human in this call."""

    return any(asks_for_someone(u.translation or u.text) for u in call.utterances)


def call_problems(call: Any, index: int) -> tuple[list[Problem], bool]:
    """A stored call's problem statements, reduced to the caller's need (`digest_need`), and
    whether the reason had to be derived here (the call has no summary, or its reason and
    searches hold no need): then a caller utterance that states a need stands in for it.
    Greetings, thanks, small talk and requests for a supervisor are not problems."""

    bad = {f.suggestion_id for f in call.feedback if f.kind == "not_helpful"}
    by_idx = {u.idx: u for u in call.utterances}
    found: dict[str, Problem] = {}
    for s in call.suggestions:
        text = s.query_text
        if not text and s.utterance_idx in by_idx:
            u = by_idx[s.utterance_idx]
            text = u.translation or u.text
        if not text or not text.strip():
            continue
        key = caller_need(text).text
        if not key:
            continue
        old = found.get(key)
        found[key] = Problem(
            index,
            key,
            no_answer=s.abstained or (old.no_answer if old else False),
            not_helpful=s.suggestion_id in bad or (old.not_helpful if old else False),
            article_id=s.article_id or (old.article_id if old else None),
            article_title=s.article_title or (old.article_title if old else None),
        )
    derived = False
    reason = caller_need(call.reason or "").text
    if not reason and not found:
        # No summary, or its reason is no need (small talk, asking for a supervisor): the first
        # caller turn that states one, else the first with a need of a few words once greetings,
        # small talk, thanks and escalations are cut ("Someone stole my food stamp card").
        needs = [
            caller_need(u.translation or u.text).text
            for u in call.utterances
            if u.speaker != "agent" and (u.translation or u.text)
        ]
        reason = next((t for t in needs if t and states_need(t)), None) or next(
            (t for t in needs if len(t.split()) >= 3), ""
        )
        derived = bool(reason)
    if reason and reason not in found:
        found[reason] = Problem(index, reason)
    return list(found.values()), derived


def translation_memory(calls: Sequence[Any]) -> list[tuple[int, str, str]]:
    """The day's translated caller turns as (call, need as said, need as translated): what an
    untranslated statement in the same language is matched with (`digest_cluster.memory_matches`)."""

    out: list[tuple[int, str, str]] = []
    for index, call in enumerate(calls):
        for u in call.utterances:
            if u.speaker == "agent" or not u.translation:
                continue
            said, translated = caller_need(u.text).text, caller_need(u.translation).text
            if said and translated:
                out.append((index, said, translated))
    return out


def _agent_readable(call: Any, agent_language: str) -> bool:
    """Whether a call's statements are in the agent's language (said so, or translated)."""
    return (call.language or agent_language) == agent_language or any(u.translation for u in call.utterances)


def topic_stats(
    tid: str,
    idx: list[int],
    problems: Sequence[Problem],
    calls: Sequence[Any],
    grouping: Any,
    background: Counter[str],
    options: DigestOptions,
    agent_language: str = "en",
) -> Topic:
    """A topic's figures from the problems (`idx`) assigned to it, labelled in the agent's
    language (the article's title, else the statements in or translated to that language)."""
    import math

    call_ids = sorted({problems[i].call for i in idx})
    n = len(call_ids)
    gap_calls = len({problems[i].call for i in idx if problems[i].no_answer or problems[i].not_helpful})
    # calls per article (a call counts once per article); one pass, not one per call
    articles = Counter(a for _, a in {(problems[i].call, problems[i].article_id) for i in idx} if a)
    titles: dict[str, str] = {}
    for i in idx:
        aid, title = problems[i].article_id, problems[i].article_title
        if aid and title:
            titles[aid] = title
    ranked = sorted(
        idx, key=lambda i: -(grouping.centrality[i] if not math.isnan(grouping.centrality[i]) else -2)
    )
    article_id = None
    if articles:
        top, count = articles.most_common(1)[0]
        if count / n > 0.5:
            article_id = top
    texts = [problems[i].text for i in idx]
    if article_id:
        label = titles.get(article_id, article_id)
    else:
        readable = [i for i in ranked if _agent_readable(calls[problems[i].call], agent_language)] or ranked
        central = [problems[i].text for i in readable[:5]]
        texts = [problems[i].text for i in readable]
        label = phrase_label(central) or keyword_label(texts, central[0], background, len(problems))
    # The most central statements of different calls, greetings dropped, no repeated wording.

    quotes: list[str] = []
    seen: set[str] = set()
    quoted_calls: set[int] = set()
    for i in ranked:
        text = clean_problem(problems[i].text)
        if problems[i].call in quoted_calls or text.lower() in seen:
            continue
        quotes.append(shorten(text, 200))
        seen.add(text.lower())
        quoted_calls.add(problems[i].call)
        if len(quotes) == 3:
            break
    chosen = [calls[c] for c in call_ids]
    sentiments = [c.sentiment_overall for c in chosen if c.sentiment_overall is not None]
    durations = [c.duration for c in chosen if c.duration is not None]
    langs = Counter(c.language or "unknown" for c in chosen)
    total = len(calls)
    return Topic(
        topic_id=tid,
        label=label,
        calls=n,
        share=round(n / total, 4),
        change=None,
        previous_mean=None,
        emerging=False,
        knowledge_gap=round(gap_calls / n, 4),
        gap_calls=gap_calls,
        sentiment=round(statistics.fmean(sentiments), 4) if sentiments else None,
        resolved_share=round(sum(c.outcome == "resolved" for c in chosen) / n, 4),
        median_handle_time=round(statistics.median(durations), 1) if durations else None,
        languages=dict(langs.most_common()),
        quotes=tuple(quotes),
        article_id=article_id,
        call_ids=tuple(calls[c].call_id for c in call_ids),
    )


def unique_labels(topics: Sequence[Topic]) -> list[Topic]:
    """The topics (biggest first) with labels unique within the day: a topic whose label an
    earlier one took (two topics under one article title, say) is named by its own callers'
    words instead: the first clause of its quotes (`phrase_label`), else its first quote, else
    its label numbered."""
    seen: set[str] = set()
    out: list[Topic] = []
    for t in topics:
        label = t.label
        if label.lower() in seen:
            options = [phrase_label(t.quotes), *(shorten(q, 60) for q in t.quotes)]
            label = next((o for o in options if o and o.lower() not in seen), "")
            n = 2
            while not label or label.lower() in seen:
                label, n = f"{t.label} ({n})", n + 1
        seen.add(label.lower())
        out.append(t if label == t.label else replace(t, label=label))
    return out
