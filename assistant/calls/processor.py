"""One call in, everything a contact center keeps about it out.

audio -> speaker segments -> utterances -> call language and translation -> redaction -> sentiment
-> knowledge-base suggestions for each caller utterance that states a need -> summary -> a
`CallRecord` ready for `storage.save_call`. Imported transcripts (JSONL, chat) enter at the
utterance step. Raw text lives only in memory inside `process_*`; everything returned is redacted.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant import config
from assistant.errors import InputError
from assistant.knowledge.index import ensure_index
from assistant.knowledge.search import Embedder, SearchOptions, search_caller
from assistant.language.detect import CallLanguage, detect
from assistant.language.translation import MissingLanguagePack, get_translator, translate
from assistant.privacy.gate import CaptureWindow, safe_id, safe_source
from assistant.speech.audio import SAMPLE_RATE, AudioOptions, Track, load_tracks
from assistant.speech.transcription import (
    TranscriptionOptions,
    load_transcriber,
    speech_spans,
    transcribe_tracks,
)
from assistant.storage import CallRecord, SuggestionRecord, UtteranceRecord
from assistant.text.sentiment import call_sentiment, utterance_sentiment
from assistant.text.summary import SuggestedArticle, llm_summary, summarise

if TYPE_CHECKING:
    from assistant.knowledge.search import Embedder, KnowledgeIndex, SearchResult
    from assistant.privacy.gate import CaptureWindow
    from assistant.speech.transcription import Segment, Transcript
    from assistant.storage import CallRecord, SuggestionRecord, UtteranceRecord

# Words that carry no request: greetings, thanks, acknowledgements.
_PLEASANTRY = re.compile(
    r"\b(hi|hello|hey|good (morning|afternoon|evening)|thanks?( you)?( so much| very much)?( for your help)?|"
    r"great|ok(ay)?|yes|yeah|no|sure|perfect|bye|goodbye|have a (nice|good) day|that helps( a lot)?|"
    r"alright|all right|of course|hola|gracias|muchas gracias|adi[oó]s|s[ií]|vale|claro|bueno)\b",
    re.IGNORECASE,
)
_NEED_CUE = re.compile(
    r"\?|\b(need|want|how|where|when|why|what|which|can|could|lost|didn't|did not|haven't|have not|hasn't|"
    r"not|never|problem|error|trying|apply|pay|renew|replace|change|update|register|check|status|help|"
    r"necesito|quiero|c[oó]mo|d[oó]nde|cu[aá]ndo|perd[ií]|problema|ayuda)\b",
    re.IGNORECASE,
)
MERGE_GAP_SECONDS = 1.0
CLIP_PAD_SECONDS = 0.3


@dataclass
class CallOptions:
    """How a call is processed.

    Attributes:
        agent_language: the language agents read; caller speech in another language is translated.
        language: force the call's language (the agent's override) instead of detecting it.
        k: articles considered per search.
        min_need_words: a caller utterance needs this many words (besides greetings) to be searched.
        max_utterance_chars: a longer utterance text is truncated to this many characters.
        max_call_chars: utterances beyond this many characters of text in a call are dropped.
            (Redaction and sentiment grow faster than linearly with a text's length: one 10 MB
            line must not hold a batch for minutes.) Either cut is noted in the call's `error`.
    """

    agent_language: str = "en"
    language: str | None = None
    k: int = 3
    min_need_words: int = 4
    max_utterance_chars: int = 20_000
    max_call_chars: int = 200_000

    @classmethod
    def from_config(cls, **overrides: Any) -> CallOptions:
        cfg = config.get()
        base = cls(
            agent_language=cfg.agent_language,
            k=cfg.search_k,
            max_utterance_chars=cfg.max_utterance_chars,
            max_call_chars=cfg.max_call_chars,
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class RawUtterance:
    """An utterance before redaction (never stored)."""

    speaker: str
    start: float | None
    end: float | None
    text: str
    translation: str | None = None
    translation_engine: str | None = None


def states_need(text: str, min_words: int = 4) -> bool:
    """True for an utterance that asks for something, False for greetings and small talk."""
    content = _PLEASANTRY.sub(" ", re.sub(r"\[[A-Z]+\]", " ", text))
    words = re.findall(r"\w+", content)
    return len(words) >= min_words and bool(_NEED_CUE.search(content))


def bound_utterances(
    utterances: Sequence[RawUtterance], max_chars: int, max_total: int
) -> tuple[list[RawUtterance], str | None]:
    """Utterances with each text cut to `max_chars` and the call cut at `max_total` characters,
    and a note saying what was cut (None when nothing was)."""
    out: list[RawUtterance] = []
    notes: list[str] = []
    total = 0
    for i, u in enumerate(utterances):
        if len(u.text) > max_chars:
            notes.append(f"utterance {i} had {len(u.text):,} characters; kept the first {max_chars:,}")
            u = replace(u, text=u.text[:max_chars])
        if total + len(u.text) > max_total:
            notes.append(
                f"the call's text is longer than {max_total:,} characters; "
                f"{len(utterances) - i} utterance(s) from utterance {i} on dropped"
            )
            break
        total += len(u.text)
        out.append(u)
    if not notes:
        return out, None
    more = f" (and {len(notes) - 3} more)" if len(notes) > 3 else ""
    return out, "text truncated: " + "; ".join(notes[:3]) + more


def merge_segments(segments: Sequence[Segment], gap: float = MERGE_GAP_SECONDS) -> list[RawUtterance]:
    """Consecutive segments of one speaker with short pauses become one utterance."""
    out: list[RawUtterance] = []
    for seg in segments:
        last = out[-1] if out else None
        if last and last.speaker == seg.speaker and last.end is not None and seg.start - last.end <= gap:
            out[-1] = replace(last, end=seg.end, text=f"{last.text} {seg.text}".strip())
        else:
            out.append(RawUtterance(seg.speaker, seg.start, seg.end, seg.text))
    return out


def suggestion_record(
    result: SearchResult, query: str, idx: int, seen: set[str], created_at: datetime | None = None
) -> SuggestionRecord | None:
    """The suggestion one search makes: an abstention, a new article (added to `seen`), or None
    when its article was already suggested in this call (an article is suggested once per call).
    Shared by batch calls and live calls so both record the same thing."""

    top = result.hits[0] if result.hits else None
    if result.abstained or top is None:
        return SuggestionRecord(
            query,
            None,
            score=top.score if top else None,
            abstained=True,
            utterance_idx=idx,
            created_at=created_at,
        )
    if top.article_id in seen:
        return None
    seen.add(top.article_id)
    return SuggestionRecord(
        query,
        top.article_id,
        article_title=top.title,
        article_version=top.effective.isoformat() if top.effective else None,
        score=round(top.score, 4),
        utterance_idx=idx,
        created_at=created_at,
    )


def redacted_utterance(
    u: RawUtterance, language: str, context: str, window: CaptureWindow | None = None
) -> tuple[UtteranceRecord, str]:
    """The stored form of an utterance: text and translation through the privacy gate with the
    turns before as context and the call's capture `window` (fed in call order; a fresh one when
    None), caller sentiment scored. Also returns the redacted agent-language text that search,
    sentiment and the summary use (the translation when there is one)."""

    window = window or CaptureWindow()
    text, translation = window.final(
        u.speaker, u.text, translation=u.translation or None, context=context, language=language
    )
    english = translation or text
    senti = utterance_sentiment(english) if u.speaker != "agent" else None
    record = UtteranceRecord(
        speaker=u.speaker,
        start=u.start,
        end=u.end,
        text=text,
        language=language,
        translation=translation,
        translation_engine=u.translation_engine if translation else None,
        machine_translated=bool(translation),
        sentiment=senti.score if senti else None,
        sentiment_label=senti.label if senti else None,
    )
    return record, english


class CallProcessor:
    """Holds the loaded engines (Whisper, embedder, index) and processes calls with them.

    Engines load on first use and are reused, so a batch or the live service pays once. Pass
    fakes (see `assistant/protocols.py`) in tests.
    """

    def __init__(
        self,
        options: CallOptions | None = None,
        *,
        transcriber: Any = None,
        embedder: Embedder | None = None,
        index: KnowledgeIndex | None = None,
        translator: Any = None,
    ) -> None:
        self.options = options or CallOptions.from_config()
        self._transcriber = transcriber
        self._embedder = embedder
        self._index = index
        self._translator = translator
        self._lock = threading.Lock()

    # -- engines ----------------------------------------------------------------------------
    @property
    def transcriber(self) -> Any:
        if self._transcriber is None:
            self._transcriber = load_transcriber()
        return self._transcriber

    def search_engine(self) -> tuple[Embedder, KnowledgeIndex]:
        with self._lock:
            if self._embedder is None:
                self._embedder = Embedder()
            if self._index is None:
                cfg = config.get()
                self._index, _ = ensure_index(cfg.kb_dir, cfg.index_dir, self._embedder)
            return self._embedder, self._index

    # -- entry points -----------------------------------------------------------------------
    def process_file(
        self, path: str | Path, call_id: str | None = None, started_at: datetime | None = None
    ) -> CallRecord:
        """Transcribe a recording (stereo: agent/caller channels; mono: diarized) and process it."""

        path = Path(path)
        tracks = load_tracks(path, AudioOptions(agent_channel=config.get().agent_channel))
        topts = TranscriptionOptions.from_config(language=self.options.language)
        transcript = transcribe_tracks(tracks, self.transcriber, topts)
        if len(tracks) == 1 and tracks[0].speaker not in transcript.tracks:
            # a diarized mono recording: each voice (agent, caller) is the one mixed track
            tracks = [Track(voice, tracks[0].samples) for voice in transcript.tracks]
        utterances = merge_segments(transcript.segments)
        utterances = self._whisper_translations(tracks, transcript, utterances, topts)
        started = started_at or datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        # Each channel's voice activity: the call metrics' timing (quality.after_call).
        speech = {t.speaker: speech_spans(t.samples) for t in tracks} if len(tracks) > 1 else None
        record = self.process_utterances(
            call_id or path.stem,
            started,
            utterances,
            channel="voice",
            source=str(path),
            speech=transcript,
        )
        return replace(record, speech=speech)

    def _whisper_translations(
        self, tracks: Sequence[Any], transcript: Transcript, utterances: list[RawUtterance], topts: Any
    ) -> list[RawUtterance]:
        """Speech in another language than the agent's, with no text pack installed, is translated
        to English by Whisper itself (task=translate) and matched to utterances by time."""
        target = self.options.agent_language
        if target != "en":
            return utterances
        out = list(utterances)
        for track in tracks:
            info = transcript.tracks.get(track.speaker)
            if info is None or info.language == target:
                continue
            if self._has_text_route(info.language, target):
                continue  # a text pack is preferred when installed; process_utterances uses it
            # Each utterance's own audio is translated: exact alignment, and Whisper translates a
            # short clip better than a long track full of pauses; and a short clip takes the
            # short encoder window (assistant/speech/whisper_short.py), about 5x cheaper than 30 s.
            # As in a live call (`LiveCall.decode_options`), the short window's text is kept when
            # Whisper is unsure of it, and a clip whose translation loops gets none; no 30 s pass.
            # On call-es-food.wav the 30 s pass turned an unsure but fair "In this case, we have
            # to make sure..." into "and you can see the link in the link in the description.",
            # and spent 2.0 s on a looping clip to give text the loop check then dropped: 2.6 of
            # the file's 7.5 s (bench/calls.py). Whisper's sampling fallback was worse still: 5
            # more passes, 25 s for a 5 s clip, ending on invented text at temperature 1.0.
            options = replace(
                topts,
                task="translate",
                language=info.language,
                vad=False,
                short_context=True,
                short_fallback=False,
                temperature_fallback=False,
            )
            for i, u in enumerate(out):
                if u.speaker != track.speaker or u.start is None or u.end is None:
                    continue
                lo = int(max(0.0, u.start - CLIP_PAD_SECONDS) * SAMPLE_RATE)
                hi = int((u.end + CLIP_PAD_SECONDS) * SAMPLE_RATE)
                translated = self.transcriber.transcribe(track.samples[lo:hi], options, speaker=track.speaker)
                text = " ".join(s.text for s in translated.segments).strip()
                if text:
                    out[i] = replace(u, translation=text, translation_engine="whisper")
        return out

    def process_utterances(
        self,
        call_id: str,
        started_at: datetime,
        utterances: Sequence[RawUtterance],
        *,
        channel: str = "voice",
        source: str = "jsonl",
        speech: Transcript | None = None,
        duration: float | None = None,
        suggestions: Sequence[SuggestionRecord] | None = None,
        llm: bool = True,
    ) -> CallRecord:
        """Language, translation, redaction, sentiment, suggestions and summary for one call.

        `suggestions`: the ones already made for these utterances (a live call's, in this order);
        the knowledge base is then not searched again. `llm=False` leaves out the optional LLM
        summary (the live service adds it off its model worker: `with_llm_summary`)."""

        if not call_id or not str(call_id).strip():
            raise InputError("a call needs a non-empty call_id")
        call_id = safe_id(call_id)  # an id holding a phone number or e-mail is never kept
        opts = self.options
        utterances, truncated = bound_utterances(utterances, opts.max_utterance_chars, opts.max_call_chars)
        language = CallLanguage()
        if opts.language:
            language.override(opts.language)
        if speech is not None:
            for speaker, info in speech.tracks.items():
                if speaker != "agent":
                    language.add_speech(info.language, info.language_probability, info.duration)
        for u in utterances:
            if u.speaker != "agent":
                language.add_text(u.text)
        decision = language.decision
        call_language = decision.language if decision else opts.agent_language
        probability = decision.probability if decision else 0.0

        # Translate, then redact the original and the translation with the turns before as context.
        records: list[UtteranceRecord] = []
        search_texts: list[str] = []
        context: list[str] = []
        window = CaptureWindow()  # one per call: fail closed across turns
        for u in utterances:
            u_lang = call_language if u.speaker != "agent" else self._agent_side_language(u, call_language)
            translation, engine = u.translation, u.translation_engine
            if translation is None and u_lang != opts.agent_language and u.text.strip():
                translation, engine = self._text_translation(u.text, u_lang)
            record, english = redacted_utterance(
                replace(u, translation=translation, translation_engine=engine),
                u_lang,
                " ".join(context[-2:]),
                window,
            )
            context.append(u.text)
            records.append(record)
            search_texts.append(english)

        # Suggestions for caller utterances that state a need; an article is suggested once per call.
        need_idx = [
            i
            for i, r in enumerate(records)
            if r.speaker != "agent" and states_need(search_texts[i], opts.min_need_words)
        ]
        made_here: list[SuggestionRecord] = []
        articles: list[SuggestedArticle] = []
        if suggestions is not None:
            made_here = list(suggestions)
            articles = [
                SuggestedArticle(m.article_id, m.article_title or "", m.score)
                for m in made_here
                if m.article_id is not None and m.score is not None
            ]
        elif need_idx:
            embedder, index = self.search_engine()
            # The caller's own words and the English translation are both searched (search_caller).
            by_idx = {
                i: search_caller(
                    records[i].text,
                    records[i].translation,
                    records[i].language or "",
                    SearchOptions(k=opts.k),
                    index=index,
                    embedder=embedder,
                )
                for i in need_idx
            }
            seen: set[str] = set()
            for i in need_idx:
                made = suggestion_record(by_idx[i], search_texts[i], i, seen)
                if made is None:
                    continue
                made_here.append(made)
                if made.article_id is not None and made.score is not None:
                    articles.append(SuggestedArticle(made.article_id, made.article_title or "", made.score))

        caller = [r for r in records if r.speaker != "agent"]
        caller_english = [search_texts[i] for i, r in enumerate(records) if r.speaker != "agent"]
        senti = call_sentiment(caller_english)
        reason = search_texts[need_idx[0]] if need_idx else (caller_english[0] if caller_english else "")
        spans = [(r.speaker, r.start or 0.0, r.end or 0.0) for r in records]
        total = duration
        if total is None:
            total = (
                speech.info.duration
                if speech is not None
                else max((r.end or 0.0 for r in records), default=0.0)
            )
        summary = summarise(
            reason=reason,
            caller_texts=[r.text for r in caller],
            all_texts=search_texts,
            articles=articles,
            language=call_language,
            sentiment_start=senti.start.label,
            sentiment_end=senti.end.label,
            duration=total,
            spans=spans,
        )
        summary_json = summary.to_json()
        caller_idx = [i for i, r in enumerate(records) if r.speaker != "agent"]
        # The caller utterances (redacted, agent language) that moved the call's sentiment most.
        summary_json["sentiment_drivers"] = [
            {"utterance_idx": caller_idx[d.index], "text": d.text, "score": round(d.score, 3)}
            for d in senti.drivers
        ]
        call_record = CallRecord(
            call_id=str(call_id),
            started_at=started_at,
            channel=channel,
            source=safe_source(source) or source,
            language=call_language,
            language_probability=probability,
            duration=total,
            outcome=summary.outcome,
            reason=summary.reason,
            summary_text=summary.text,
            summary_json=summary_json,
            sentiment_start=senti.start.score,
            sentiment_end=senti.end.score,
            sentiment_overall=senti.overall.score,
            agent_talk_share=summary.agent_talk_share,
            status="complete",
            error=truncated,
            utterances=tuple(records),
            suggestions=tuple(made_here),
        )
        return with_llm_summary(call_record) if llm else call_record

    def _agent_side_language(self, u: RawUtterance, call_language: str) -> str:
        if u.translation is not None:
            return call_language

        try:
            guess = detect(u.text)
        except InputError:
            return self.options.agent_language
        # Short agent turns are unreliable; they are taken as the agent's language unless clear.
        return (
            guess.language
            if guess.probability >= 0.9 and len(u.text.split()) >= 4
            else self.options.agent_language
        )

    def _has_text_route(self, source: str, target: str) -> bool:

        translator = self._translator or get_translator()
        route = getattr(translator, "route", None)
        if route is None:
            return True
        try:
            route(source, target)
        except (MissingLanguagePack, InputError):
            return False
        return True

    def _text_translation(self, text: str, source: str) -> tuple[str | None, str | None]:

        try:
            result = translate(text, self.options.agent_language, source=source, translator=self._translator)
        except (MissingLanguagePack, InputError):
            return None, None
        return (result.text, result.engine) if result.machine_translated else (None, None)


def with_llm_summary(record: CallRecord) -> CallRecord:
    """`record` with the optional LLM summary added to its summary (when the `llm_url` setting names
    an endpoint and it answers in time); else `record` itself. Only redacted text is sent."""
    cfg = config.get()
    if not cfg.llm_url:
        return record
    generated = llm_summary(
        [(u.speaker, u.translation or u.text) for u in record.utterances],
        url=cfg.llm_url,
        model=cfg.llm_model,
        api_key=cfg.llm_api_key,
        language=record.language,
    )
    if not generated:
        return record
    summary_json = dict(record.summary_json or {})
    summary_json["llm_summary"] = {"text": generated, "model": cfg.llm_model, "machine_generated": True}
    return replace(record, summary_json=summary_json)
