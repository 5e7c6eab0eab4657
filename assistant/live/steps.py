"""The steps a live call's final utterance goes through, and the call's end.

Kept apart from `live.py` (which cuts audio into utterances and schedules) so that the per-final
pipeline reads like `CallProcessor.process_utterances`, whose steps it repeats one utterance at a
time: language -> translation -> redaction -> sentiment -> knowledge search -> events -> storage.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assistant import vocab
from assistant.calls import views
from assistant.calls.processor import (
    RawUtterance,
    redacted_utterance,
    states_need,
    suggestion_record,
)
from assistant.errors import InputError
from assistant.knowledge.articles import say_line
from assistant.knowledge.search import SearchOptions, search_caller
from assistant.language.translation import MissingLanguagePack, translate
from assistant.storage import CallRecord, suggestion_id
from assistant.text.summary import with_outcome
from assistant.vocab import confidence_word

if TYPE_CHECKING:
    from assistant.live.session import Job, LiveCall


def _translation(
    call: LiveCall, text: str, source: str, audio: Any, speaker: str
) -> tuple[str | None, str | None]:
    """Text pack first; without one, Whisper's own speech translation into English."""

    target = call.processor.options.agent_language
    if source == target:
        return None, None
    try:
        result = translate(text, target, source=source, translator=call.processor._translator)
        if result.machine_translated:
            return result.text, result.engine
        return None, None
    except MissingLanguagePack:
        pass
    except InputError:
        return None, None
    if target != "en" or audio is None:
        return None, None
    spoken = call._transcribe(audio, speaker, beam=1, task="translate")
    english = " ".join(s.text for s in spoken.segments).strip()
    return (english, "whisper") if english else (None, None)


def answer_in_language(call: LiveCall, article: Any, language: str) -> dict[str, Any] | None:
    """The article's answer in the caller's language: a published native translation first, a
    machine translation (labelled) when a pack exists, else None."""

    if language == article.language:
        return None
    native = call.catalog.native.get((article.id, language))
    if native is not None:
        return {"text": native.body, "say": say_line(native), "language": language,
                "machine_translated": False, "engine": None}  # fmt: skip
    try:
        result = translate(
            article.body, language, source=article.language, translator=call.processor._translator
        )
    except (MissingLanguagePack, InputError):
        return None
    if not result.machine_translated:
        return None
    say = None
    if article.say:  # the written line, translated on its own; else the translation's first sentence
        try:
            said = translate(
                article.say, language, source=article.language, translator=call.processor._translator
            )
            say = said.text if said.machine_translated else None
        except (MissingLanguagePack, InputError):
            say = None
    return {"text": result.text, "say": say or say_line(body=result.text), "language": language,
            "machine_translated": True, "engine": result.engine}  # fmt: skip


def _confidence(result: Any) -> float | None:
    """Whisper's mean token probability over the utterance (exp of the mean log-probability)."""
    logprobs = [s.avg_logprob for s in result.segments if s.avg_logprob is not None]
    return round(math.exp(sum(logprobs) / len(logprobs)), 3) if logprobs else None


def final_steps(call: LiveCall, job: Job, result: Any, text: str) -> None:
    """One final utterance: record it (redacted), emit its events, suggest an article."""
    speaker = job.speaker
    evidence = call.language if speaker != "agent" else call.agent_language
    before = call.language.decision
    info = result.info
    if info.language:
        evidence.add_speech(info.language, min(max(info.language_probability, 0.0), 1.0), job.end - job.start)
    after = call.language.decision
    if speaker != "agent" and after is not None and (before is None or before.language != after.language):
        call.emit(
            "language",
            {
                "language": after.language,
                "probability": after.probability,
                "overridden": call.language.overridden,
            },
        )
    decided = evidence.decision
    u_lang = decided.language if decided else (info.language or call.processor.options.agent_language)

    translation, engine = _translation(call, text, u_lang, job.audio if speaker != "agent" else None, speaker)
    raw = RawUtterance(speaker, round(job.start, 2), round(job.end, 2), text, translation, engine)
    record, english = redacted_utterance(
        replace(raw, speaker=vocab.speaker(speaker)),
        u_lang,
        call._context(),
        call.privacy,
    )
    call.raw.append(raw)
    red_text, red_translation = record.text, record.translation
    call.records.append(record)
    call.emit(
        "caption",
        views.caption(
            speaker,
            red_text,
            record.start,
            record.end,
            final=True,
            language=u_lang,
            translation=red_translation,
            machine_translated=bool(red_translation),
            confidence=_confidence(result),
        ),
    )
    if speaker != "agent":  # the English text (a translation for other languages), redacted
        call.raise_alerts(call.watch.caller_final(english, record.sentiment_label, record.text))
    if record.sentiment_label is not None:
        call.caller_label = record.sentiment_label
        if record.sentiment is not None:
            call.caller_scores.append(float(record.sentiment))
        call.emit("sentiment", {"label": record.sentiment_label, "score": record.sentiment})
        if states_need(english, call.processor.options.min_need_words):
            call.latest_need = english
            _suggest(
                call, len(call.records) - 1, english, translated=red_translation is not None, lang=u_lang
            )


def _suggest(call: LiveCall, idx: int, english: str, *, translated: bool, lang: str) -> None:

    opts = call.processor.options
    embedder, index = call.processor.search_engine()
    own = call.records[idx]  # the caller's words and the English both searched (search_caller)
    found = search_caller(
        own.text, own.translation, lang, SearchOptions(k=opts.k), index=index, embedder=embedder
    )
    top = found.hits[0] if found.hits else None
    call.raise_alerts(call.watch.need(english, answered=not found.abstained))
    record = suggestion_record(found, english, idx, call._seen_articles, created_at=datetime.now(UTC))
    if record is None:
        return  # this article was already suggested in this call
    call.suggestions.append(record)
    details: dict[str, Any] = {}
    if not record.abstained and top is not None:
        article = call.catalog.by_id.get(top.article_id)
        caller_lang = call.language.decision.language if call.language.decision else lang
        details = {
            "confidence": confidence_word(top.score),
            "say": say_line(article) if article else say_line(body=top.passage),
            "answer": article.body if article else top.passage,
            "owner": top.owner,
            "effective": top.effective.isoformat() if top.effective else None,
            "answer_in_caller_language": answer_in_language(call, article, caller_lang) if article else None,
        }
    sid = suggestion_id(call.call_id, len(call.suggestions) - 1)
    call.emit(
        "suggestion",
        views.suggestion(
            sid, english, record.abstained, record.article_id, record.article_title, record.score, **details
        ),
    )


def live_record(call: LiveCall, status: str = "live") -> Any:
    """The call as stored while it runs: its finals so far and the suggestions made."""

    decision = call.language.decision
    return CallRecord(
        call_id=call.call_id,
        started_at=call.started_at,
        channel="voice",
        source=call.source,
        language=decision.language if decision else None,
        language_probability=decision.probability if decision else None,
        duration=round(call.duration, 2),
        outcome=call.outcome or "unknown",
        status=status,
        utterances=tuple(call.records),
        suggestions=tuple(call.suggestions),
        agent_id=call.agent_id,
        queue=call.queue,
        alerts=tuple(call.alerts),
    )


def finish_call(call: LiveCall, status: str = "complete") -> Any:
    """Summarise with `process_utterances` over the raw finals in time order; keep the live
    suggestions (remapped to the sorted order) since agents rated them by id."""
    order = sorted(range(len(call.raw)), key=lambda i: (call.raw[i].start or 0.0, call.raw[i].speaker))
    new_pos = {old: new for new, old in enumerate(order)}
    raw = [call.raw[i] for i in order]
    suggestions = tuple(
        replace(s, utterance_idx=new_pos.get(s.utterance_idx) if s.utterance_idx is not None else None)
        for s in call.suggestions
    )
    ended = datetime.now(UTC)
    if raw:
        record = call.processor.process_utterances(
            call.call_id,
            call.started_at,
            raw,
            channel="voice",
            source=call.source,
            duration=round(call.duration, 2),
            suggestions=suggestions,  # made live, rated by id: not searched again
            llm=False,  # the hub adds it off the model worker
        )
        record = replace(
            record,
            status=status,
            ended_at=ended,
            agent_id=call.agent_id,
            queue=call.queue,
            alerts=tuple(call.alerts),
        )
    else:
        record = replace(live_record(call, status), ended_at=ended)
    if call.outcome:
        record = with_outcome(record, call.outcome)
    if call.language.overridden and call.language.decision:
        record = replace(record, language=call.language.decision.language)
    call.final_record = record
    return record
