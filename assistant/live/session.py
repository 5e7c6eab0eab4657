"""A live call: audio frames in, captions, suggestions and a stored call out.

Per call and speaker track an energy endpointer (`Endpointer`) cuts the stream into utterances.
While a person speaks, the growing utterance is re-decoded for a *partial* caption at most every
`partial_interval` seconds of audio; at an endpoint the whole utterance is decoded once more for
the *final*. Finals go through the `process-call` steps (language, translation, redaction,
sentiment, knowledge search); partials are redacted before they become events and are never
stored. The model work itself runs on the service's single worker (`service_hub.CallHub`), which
calls `run_partial`, `run_final` and `finish` here; this module decides *what* to do, the hub
decides *when*.

Why an energy endpointer and not Silero: Silero (shipped in faster-whisper) works on >= 30 ms
windows with its own state and costs ~1 ms a frame per track in Python; telephony audio after
mu-law has a clean floor, and an adaptive energy threshold with a hangover finds the same
endpoints on the sample calls at no cost. Whisper still drops non-speech (`keep_segment`).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from assistant import config
from assistant.calls import views
from assistant.calls.processor import CallProcessor, RawUtterance
from assistant.errors import InputError
from assistant.knowledge.articles import load_articles
from assistant.language.detect import CallLanguage
from assistant.live.alerts import AlertRules, AlertWatch
from assistant.live.steps import final_steps, finish_call
from assistant.privacy.gate import CaptureWindow, safe_id
from assistant.speech.audio import SAMPLE_RATE
from assistant.speech.transcription import TranscriptionOptions, load_transcriber, transcribe_many

FRAME = SAMPLE_RATE // 50  # 20 ms, the telephony frame


class StageClock:
    """Where the live model work's time goes: jobs and seconds per stage (`/health`, bench/live.py).

    Stages: `partial` (decode of a growing utterance), `partial_skipped` (finals behind),
    `partial_given_way` (finals queued or about to be cut: `CallHub._finals_first`), `final_decode`,
    `final_steps` (language, translation, redaction, sentiment, search, events), `store` and `end`
    (the summary and the stored call)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, list[float]] = {}

    def add(self, stage: str, seconds: float, jobs: int = 1) -> None:
        with self._lock:
            total = self._totals.setdefault(stage, [0, 0.0])
            total[0] += jobs
            total[1] += seconds

    def snapshot(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {k: {"jobs": int(n), "seconds": round(t, 3)} for k, (n, t) in sorted(self._totals.items())}


@dataclass
class LiveOptions:
    """How a live call is cut into utterances and decoded.

    Attributes:
        partial_interval: re-decode the growing utterance for a partial caption at most this often
            (seconds of audio).
        first_partial: the first partial of an utterance comes after this much audio, so a caption
            appears soon after a person starts speaking; until a partial has shown text, the next
            ones come at this pace too (the start of a word can decode to nothing).
        endpoint_silence: this much silence after speech ends an utterance (the hangover).
        min_speech: shorter bursts (clicks, breaths) are not utterances.
        max_utterance: an utterance is cut (and finalised) at this length.
        pre_roll: audio kept before the detected speech start (soft onsets).
        floor_db: frames quieter than this (dBFS) are never speech.
        noise_margin_db: a frame is speech when this far above the tracked noise floor.
        beam_size: Whisper beam for finals (partials are always greedy).
        max_partial_lag: skip partials while finals are this many seconds behind.
        partial_model: a smaller Whisper for partials of English speech (e.g. tiny.en); None: the
            finals' model.
        short_context: decode with an encoder window sized to the utterance instead of 30 s
            (`assistant/speech/whisper_short.py`): ~0.25 s instead of ~1.3 s for a 5 s utterance here.
    """

    partial_interval: float = 1.0
    first_partial: float = 0.7
    endpoint_silence: float = 0.6
    min_speech: float = 0.25
    max_utterance: float = 20.0
    pre_roll: float = 0.2
    floor_db: float = -45.0
    noise_margin_db: float = 12.0
    beam_size: int = 1
    max_partial_lag: float = 1.5
    partial_model: str | None = None
    short_context: bool = True

    @classmethod
    def from_config(cls, **overrides: Any) -> LiveOptions:
        cfg = config.get()
        base = cls(
            partial_interval=cfg.partial_interval,
            first_partial=cfg.first_partial,
            endpoint_silence=cfg.endpoint_silence,
            beam_size=cfg.live_beam_size,
            partial_model=cfg.partial_model or None,
            short_context=cfg.short_context,
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})


class Endpointer:
    """Speech / non-speech per 20 ms frame with an adaptive noise floor and a hangover."""

    def __init__(self, options: LiveOptions) -> None:
        self.options = options
        self.noise_db = -70.0
        self.in_speech = False
        self._run = 0  # consecutive speech frames while not in speech
        self.silent_frames = 0  # consecutive silent frames while in speech

    def step(self, frame: np.ndarray) -> str | None:
        """'start' when speech begins (3 speech frames), 'end' after the hangover, else None."""
        # a dot product, not np.mean(frame * frame): this runs on the event loop for every 20 ms
        # frame of every track (800 a second at 8 calls), and np.mean cost 4x as much
        db = 10.0 * math.log10(float(np.dot(frame, frame)) / len(frame) + 1e-12)
        speech = db > max(self.options.floor_db, self.noise_db + self.options.noise_margin_db)
        if not speech:  # the floor follows quiet frames quickly and loud ones not at all
            self.noise_db = 0.9 * self.noise_db + 0.1 * max(db, -90.0)
        if not self.in_speech:
            self._run = self._run + 1 if speech else 0
            if self._run >= 3:
                self.in_speech, self.silent_frames = True, 0
                return "start"
            return None
        self.silent_frames = 0 if speech else self.silent_frames + 1
        if self.silent_frames * FRAME >= self.options.endpoint_silence * SAMPLE_RATE:
            self.in_speech, self._run = False, 0
            return "end"
        return None


@dataclass
class Job:
    """Work for the model worker. `kind` is partial, final or end; finals carry their audio."""

    kind: str
    call: LiveCall
    speaker: str = ""
    audio: np.ndarray | None = None
    start: float = 0.0
    end: float = 0.0
    enqueued: float = field(default_factory=time.monotonic)


class TrackStream:
    """One speaker's audio: framing, endpointing and the current utterance."""

    def __init__(self, speaker: str, options: LiveOptions) -> None:
        self.speaker = speaker
        self.options = options
        self.endpointer = Endpointer(options)
        self.samples_seen = 0
        self._rest = np.zeros(0, dtype=np.float32)
        self._pre: deque[np.ndarray] = deque(maxlen=max(1, int(options.pre_roll * 50)))
        self._utt: list[np.ndarray] = []
        self._utt_start = 0
        self._last_speech = 0
        self._partial_at = 0  # utterance length (samples) at the last partial request
        self.partial_pending = False
        self.partial_shown = False  # this utterance has had a partial caption

    @property
    def speaking(self) -> bool:
        return bool(self._utt)

    def current_audio(self) -> np.ndarray:
        return np.concatenate(self._utt) if self._utt else np.zeros(0, dtype=np.float32)

    def feed(self, samples: np.ndarray) -> list[tuple[str, Any]]:
        """Add 16 kHz samples; returns ('partial', None) and ('final', (audio, start, end)) actions."""
        data = np.asarray(samples, dtype=np.float32)
        if len(self._rest):
            data = np.concatenate([self._rest, data])
        n = len(data) // FRAME
        self._rest = data[n * FRAME :]
        actions: list[tuple[str, Any]] = []
        for i in range(n):
            frame = data[i * FRAME : (i + 1) * FRAME]
            pos = self.samples_seen
            self.samples_seen += FRAME
            change = self.endpointer.step(frame)
            if change == "start":
                self._utt = [*self._pre, frame]
                self._utt_start = pos - FRAME * len(self._pre)
                self._last_speech = self.samples_seen
                self._partial_at = 0
                self.partial_shown = False
            elif self._utt:
                self._utt.append(frame)
                if self.endpointer.silent_frames == 0:
                    self._last_speech = self.samples_seen
                if change == "end":
                    actions.extend(self._final())
                elif len(self._utt) * FRAME >= self.options.max_utterance * SAMPLE_RATE:
                    actions.extend(self._final())
                    self.endpointer.in_speech = False
            self._pre.append(frame)
            length = len(self._utt) * FRAME
            # until a partial has shown text (a first word can decode to nothing), keep the
            # first-partial pace, so a caption appears soon after speech starts
            gap = self.options.partial_interval if self.partial_shown else self.options.first_partial
            due = length - self._partial_at >= gap * SAMPLE_RATE
            if self._utt and due and self.endpointer.silent_frames == 0:  # not during the hangover
                self._partial_at = length
                actions.append(("partial", None))
        return actions

    def final_due(self) -> float | None:
        """Seconds of audio until the utterance now in its hangover (speech followed by silence)
        is cut as a final; None when there is none."""
        silent = self.endpointer.silent_frames
        if not self._utt or not self.endpointer.in_speech or silent == 0:
            return None
        return max(0.0, self.options.endpoint_silence - silent * FRAME / SAMPLE_RATE)

    def flush(self) -> list[tuple[str, Any]]:
        """End the open utterance now (stop, disconnect, a pause): nothing heard is lost, and
        speech that goes on after it starts a new utterance."""
        if not self._utt:
            return []
        self.endpointer.in_speech, self.endpointer._run = False, 0
        return self._final()

    def _final(self) -> list[tuple[str, Any]]:
        audio = self.current_audio()
        # keep a short tail after the last speech frame, drop the rest of the hangover
        keep = min(len(audio), self._last_speech - self._utt_start + int(0.2 * SAMPLE_RATE))
        audio = audio[: max(keep, 0)]
        start = self._utt_start / SAMPLE_RATE
        self._utt, self._partial_at = [], 0
        speech = (self._last_speech - self._utt_start) / SAMPLE_RATE - self.options.pre_roll
        if speech < self.options.min_speech:
            return []
        return [("final", (audio, start, start + len(audio) / SAMPLE_RATE))]


class ArticleCatalog:
    """Published articles by id, and native translations by (original id, language)."""

    def __init__(self, articles: Any = ()) -> None:
        self.by_id = {a.id: a for a in articles if a.published}
        self.native = {
            (a.translation_of, a.language): a for a in self.by_id.values() if a.translation_of is not None
        }

    @classmethod
    def load(cls, kb_dir: str | None = None) -> ArticleCatalog:

        articles, _ = load_articles(kb_dir or config.get().kb_dir)
        return cls(articles)


def redact_partial(text: str, context: str, window: CaptureWindow | None = None) -> str:
    """A partial caption made safe to show (`CaptureWindow.partial`): redacted like a final, and
    any other number hidden, because a half-spoken card number is not yet recognisable as one.
    Inside an open capture window every number is masked as the requested data. The final decides."""

    return (window or CaptureWindow()).partial("caller", text, context=context)


class LiveCall:
    """State of one call in progress: tracks, finals (raw in memory, redacted for storage), events."""

    def __init__(
        self,
        call_id: str,
        processor: CallProcessor,
        catalog: ArticleCatalog,
        options: LiveOptions | None = None,
        *,
        started_at: datetime | None = None,
        source: str = "live",
        on_final: Callable[[LiveCall], None] | None = None,
        agent_id: str | None = None,
        queue: str | None = None,
        alert_rules: AlertRules | None = None,
        on_alert: Callable[[LiveCall, dict[str, Any]], None] | None = None,
        clock: StageClock | None = None,
    ) -> None:

        if not call_id or not str(call_id).strip():
            raise InputError("a live call needs a non-empty call id")
        self.call_id = safe_id(str(call_id))  # an id holding a phone number or e-mail is never kept
        self.processor = processor
        self.catalog = catalog
        self.options = options or LiveOptions()
        self.started_at = started_at or datetime.now(UTC)
        self.source = source
        self.agent_id = agent_id  # the agent who handles the call (who may read it besides supervisors)
        self.queue = queue  # where the telephony platform routed it (customParameters.queue)
        self.on_final = on_final
        self.on_alert = on_alert
        self.clock = clock or StageClock()
        self.watch = AlertWatch(alert_rules or AlertRules())
        self.alerts: list[dict[str, Any]] = []
        self.caller_scores: list[float] = []  # caller sentiment per final, for the floor's trend
        self.caller_label: str | None = None
        self.latest_need: str | None = None  # redacted English
        self.feedback: dict[str, str] = {}  # suggestion id -> the agent's latest feedback
        self.state = "live"
        self.outcome: str | None = None
        self.tracks: dict[str, TrackStream] = {}
        self.raw: list[RawUtterance] = []  # unredacted; memory only
        self.records: list[Any] = []
        self.suggestions: list[Any] = []
        self.language = CallLanguage()  # the caller's, which is the call's
        self.privacy = CaptureWindow()  # finals and partials both pass it (fail closed across turns)
        self.agent_language = CallLanguage()
        self._seen_articles: set[str] = set()
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.pending_finals: deque[float] = deque()  # wall time each queued final was cut
        self.latencies: list[float] = []
        self.partials_done = 0
        self.partials_skipped = 0
        self.rejected_frames = 0
        self.final_record: Any = None

    # -- events ------------------------------------------------------------------------------
    def emit(self, kind: str, data: Mapping[str, Any]) -> None:
        with self._lock:
            seq = len(self._events)
            self._events.append({"seq": seq, "type": kind, "call_id": self.call_id, "data": dict(data)})

    def raise_alerts(self, found: list[dict[str, Any]]) -> None:
        """Record alerts on the call (stored with it), emit each as an event, and hand it on."""
        for item in found:
            with self._lock:
                self.alerts.append(item)
            self.emit("alert", item)
            if self.on_alert is not None:
                self.on_alert(self, item)

    def events_since(self, cursor: int = 0) -> tuple[list[dict[str, Any]], int]:
        with self._lock:
            cursor = max(0, cursor)
            found = self._events[cursor:]
            return found, cursor + len(found)

    @property
    def lag(self) -> float:
        """Seconds the oldest queued final has waited (0 when the worker is keeping up)."""
        with self._lock:
            return round(time.monotonic() - self.pending_finals[0], 3) if self.pending_finals else 0.0

    @property
    def duration(self) -> float:
        return max((t.samples_seen for t in self.tracks.values()), default=0) / SAMPLE_RATE

    # -- audio in (event-loop side: cheap) -------------------------------------------------------
    def feed(self, speaker: str, samples: np.ndarray) -> list[Job]:
        """Add 16 kHz float32 audio of one track; returns the jobs to schedule."""
        track = self.tracks.get(speaker)
        if track is None:
            track = self.tracks[speaker] = TrackStream(speaker, self.options)
        jobs = self._jobs(track, track.feed(samples))
        if self.state == "live":
            self.raise_alerts(self.watch.audio(self.duration, self.quiet_for))
        return jobs

    def final_due(self) -> float | None:
        """Seconds until one of this call's tracks cuts a final (`TrackStream.final_due`); None
        when no track is in a hangover. Read by the model workers while the event loop feeds."""
        due = [d for t in list(self.tracks.values()) if (d := t.final_due()) is not None]
        return min(due) if due else None

    @property
    def quiet_for(self) -> float:
        """Seconds of call audio since anyone last spoke (0 while someone speaks)."""
        if any(t.speaking for t in self.tracks.values()):
            return 0.0
        last = max((t._last_speech for t in self.tracks.values()), default=0)
        return max(0.0, self.duration - last / SAMPLE_RATE)

    def flush(self) -> list[Job]:
        """Finals for every open utterance (stop, disconnect, shutdown)."""
        jobs: list[Job] = []
        for track in self.tracks.values():
            jobs.extend(self._jobs(track, track.flush()))
        return jobs

    def _jobs(self, track: TrackStream, actions: list[tuple[str, Any]]) -> list[Job]:
        jobs = []
        for kind, payload in actions:
            if kind == "final":
                audio, start, end = payload
                track.partial_pending = False
                with self._lock:
                    self.pending_finals.append(time.monotonic())
                jobs.append(Job("final", self, track.speaker, audio, start, end))
            elif not track.partial_pending:
                track.partial_pending = True
                jobs.append(Job("partial", self, track.speaker))
        return jobs

    # -- model work (worker thread) -----------------------------------------------------------
    def _lang_hint(self, speaker: str) -> str | None:
        """The language `speaker`'s next utterance is decoded in; None: Whisper detects it.

        A track whose language is settled or set by the agent is decoded in it. Until then the
        agent's speech is taken to be in `agent_language` (the language agents work in) while the
        caller's language is unknown or the same: Whisper's language ID on one short telephone
        greeting is a coin toss: the payment sample's "Thank you for calling state services",
        through mu-law, is Finnish to Whisper (p 0.69-0.86, English 0.21), the live greeting then
        came out as Finnish words, and with 8 such calls at once (`bench/live.py`) their first
        finals came 19 s late. Once the caller is heard in another language, a bilingual agent may
        answer in it, so the agent's speech is detected again."""
        lang = self.language if speaker != "agent" else self.agent_language
        if lang.overridden or lang.settled:
            return lang.decision.language if lang.decision else None
        if speaker == "agent":
            home = self.processor.options.agent_language
            caller = self.language.decision
            return home if caller is None or caller.language == home else None
        return None

    def decode_options(
        self, speaker: str, beam: int, task: str = "transcribe", partial: bool = False
    ) -> TranscriptionOptions:
        """How one utterance of `speaker` is decoded. Speech translation (`task="translate"`) keeps
        the short window's text even when Whisper is unsure of it, like a partial: on the Spanish
        samples the 30 s pass took 3.3-7.7 s instead of 0.4-1.0 s and its English was no better
        (bench/floor.py), and a final waiting for it holds up the caller's caption and any
        escalation alert."""
        hint = self._lang_hint(speaker)
        opts = TranscriptionOptions.from_config(language=hint, beam_size=beam, vad=False, task=task)
        # A partial the short window cannot decode cleanly (a digit string looping) is skipped,
        # never re-decoded the slow way: the final will be. A final that is re-decoded gets one
        # greedy 30 s pass, not Whisper's sampling fallback (up to 5 more passes, 9-14 s here).
        return replace(
            opts,
            short_context=self.options.short_context,
            short_fallback=not partial and task != "translate",
            temperature_fallback=False,
        )

    def _transcribe(self, audio: np.ndarray, speaker: str, beam: int, task: str = "transcribe") -> Any:
        """Decode one utterance of a final, or its speech translation (`decode_options`)."""
        opts = self.decode_options(speaker, beam, task)
        return self.processor.transcriber.transcribe(audio, opts, speaker=speaker)

    def _context(self) -> str:
        return " ".join(u.text for u in self.raw[-2:])

    def _partial_engine(self, speaker: str) -> tuple[Any, str]:
        """The Whisper for a partial of `speaker`, and its name for the stage clock."""
        if (
            self.options.partial_model and self._lang_hint(speaker) == "en"
        ):  # English-only models hear English
            return load_transcriber(
                model=self.options.partial_model
            ), f"partial ({self.options.partial_model})"
        return self.processor.transcriber, "partial"

    def _partial_audio(self, job: Job) -> tuple[np.ndarray, float] | None:
        """The growing utterance to decode for a partial and its start, or None: no partial now."""
        track = self.tracks[job.speaker]
        track.partial_pending = False
        if not track.speaking or self.state != "live":
            return None
        if self.lag > self.options.max_partial_lag:
            self.partials_skipped += 1  # finals first: the machine is behind
            self.clock.add("partial_skipped", 0.0)
            return None
        return track.current_audio(), track._utt_start / SAMPLE_RATE

    def run_partial(self, job: Job) -> None:
        """Decode the current utterance of a track, greedy, and emit a redacted partial caption."""
        found = self._partial_audio(job)
        if found is None:
            return
        audio, start = found
        engine, stage = self._partial_engine(job.speaker)
        began = time.perf_counter()
        result = engine.transcribe(audio, self.decode_options(job.speaker, 1, partial=True), job.speaker)
        self.clock.add(stage, time.perf_counter() - began)
        text = " ".join(s.text for s in result.segments).strip()
        self.partials_done += 1
        if text:
            self.tracks[job.speaker].partial_shown = True
            self.emit(
                "caption",
                views.caption(
                    job.speaker,
                    self.privacy.partial(
                        job.speaker, text, context=self._context(), language=self._lang_hint(job.speaker)
                    ),
                    round(start, 2),
                    round(start + len(audio) / SAMPLE_RATE, 2),
                    final=False,
                    language=result.info.language,
                ),
            )

    def run_final(self, job: Job, decoded: Any = None) -> None:
        """Transcribe an utterance and run it through language, translation, redaction, search.
        `decoded`: its transcript, when it was decoded in a batch with other calls' finals
        (`decode_finals`)."""

        text = ""
        try:
            if job.audio is None:
                return
            result = decoded
            if result is None:
                began = time.perf_counter()
                result = self._transcribe(job.audio, job.speaker, beam=self.options.beam_size)
                self.clock.add("final_decode", time.perf_counter() - began)
            text = " ".join(s.text for s in result.segments).strip()
            steps_began = time.perf_counter()
            if text:
                final_steps(self, job, result, text)
                self.clock.add("final_steps", time.perf_counter() - steps_began)
        finally:
            with self._lock:
                if self.pending_finals:
                    cut = self.pending_finals.popleft()
                    self.latencies.append(time.monotonic() - cut)
        if text:
            self.emit(
                "status",
                {"state": "live", "lag": round(self.latencies[-1], 3), "rejected": self.rejected_frames},
            )
            if self.on_final is not None:
                self.on_final(self)

    @staticmethod
    def decode_finals(jobs: list[Job]) -> list[Any]:
        """The transcripts of finals of several calls (one job each, all with the same processor),
        decoded as one batch: with 8 calls in step on 2 cores, 0.49-0.60 s of worker time per
        final in batches of 4 against 0.82-0.87 s one by one (`bench/live.py`'s stage times)."""
        calls = [job.call for job in jobs]
        opts = [
            c.decode_options(j.speaker, beam=c.options.beam_size) for c, j in zip(calls, jobs, strict=True)
        ]
        clips = [j.audio if j.audio is not None else np.zeros(0, np.float32) for j in jobs]
        began = time.perf_counter()
        out = transcribe_many(calls[0].processor.transcriber, clips, opts, [j.speaker for j in jobs])
        calls[0].clock.add("final_decode", time.perf_counter() - began, jobs=len(jobs))
        return out

    def finish(self, status: str = "complete") -> Any:
        """The whole call through `process_utterances` (summary included), with the live
        suggestions kept (their ids are what agents gave feedback on)."""

        return finish_call(self, status)
