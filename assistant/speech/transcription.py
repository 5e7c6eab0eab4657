"""Speech to timed text, behind one `Transcriber` protocol (see `assistant/protocols.py`).

Two engines: faster-whisper (CTranslate2, int8 on CPU; the default) and openai-whisper (PyTorch,
a `.pt` checkpoint). Both are fed the 16 kHz array decoded by `assistant.speech.audio`, so decoding is the
same whichever engine runs. Segments that look like Whisper's known inventions on silence, tones
or noise are dropped (see `keep_segment`).
"""

from __future__ import annotations

import bisect
import contextlib
import math
import os
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant import config
from assistant.errors import InputError, ModelNotAvailable
from assistant.models import files as models
from assistant.speech import whisper_short
from assistant.speech.audio import SAMPLE_RATE, AudioOptions, Track, load_tracks
from assistant.speech.diarization import assign_roles, diarize, role_cues

if TYPE_CHECKING:
    from assistant.protocols import Transcriber

ENGINES = ("faster-whisper", "openai-whisper")
_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # faster-whisper's default fallback
TASKS = ("transcribe", "translate")

# Phrases Whisper is known to produce on silence or noise (learned from subtitled video). Dropped
# only when the segment also looks unlike speech (no-speech probability above half the threshold).
_HALLUCINATIONS = re.compile(
    r"^\W*(thank you|thanks) (so much )?for watching|^\W*please subscribe|^\W*subtitles? by|"
    r"^\W*(thank you\.?|you\.?|bye\.?)\W*$|amara\.org|^\W*\[?(music|applause|silence)\]?\W*$",
    re.IGNORECASE,
)


@dataclass
class TranscriptionOptions:
    """How to transcribe.

    Attributes:
        language: ISO 639-1 code, or None to detect it.
        task: `transcribe` (same language) or `translate` (to English).
        beam_size: beam width; 1 is greedy.
        word_timestamps: also time each word.
        vad: skip non-speech with Silero VAD (faster-whisper) before decoding.
        no_speech_threshold: a segment above this no-speech probability and below
            `log_prob_threshold` is dropped.
        compression_ratio_threshold: a segment whose text compresses better than this is a
            repetition loop and is dropped.
        log_prob_threshold: see `no_speech_threshold`.
        initial_prompt: optional vocabulary hint (program names, form numbers).
        short_context: for clips up to ~28 s, size Whisper's encoder window to the clip instead of
            30 s (faster-whisper only; ~5x faster on a 5 s clip; no timestamps inside the clip). A
            result that fails the quality checks is decoded again the normal way, unless
            `short_fallback` is off (live partials: then no text). See `assistant/speech/whisper_short.py`.
        short_fallback: see `short_context`.
        temperature_fallback: when greedy text fails the checks, re-decode sampling at rising
            temperatures (Whisper's recovery; up to 5 more passes). Live finals turn it off to
            bound their latency.
        languages: which languages detection may pick (`speech_languages` setting syntax).
        max_new_tokens: tokens a 30 s window may decode to (faster-whisper only). Whisper's own
            decoder stops at 224; faster-whisper's default, 448, is what a beam search reaches
            when its other beams loop (a caller reading digits: 7.0 s against 3.4 s at 224 for
            the same 54 tokens). None: faster-whisper's default.
    """

    language: str | None = None
    task: str = "transcribe"
    beam_size: int = 5
    word_timestamps: bool = False
    vad: bool = True
    no_speech_threshold: float = 0.6
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    initial_prompt: str | None = None
    short_context: bool = False
    short_fallback: bool = True
    temperature_fallback: bool = True
    languages: str = "-la"
    max_new_tokens: int | None = 224

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InputError(f"unknown task {self.task!r}: use {' or '.join(TASKS)}")
        if self.beam_size < 1:
            raise InputError("beam_size must be at least 1")

    @classmethod
    def from_config(cls, **overrides: Any) -> TranscriptionOptions:
        cfg = config.get()
        base = cls(
            beam_size=cfg.beam_size,
            word_timestamps=cfg.word_timestamps,
            no_speech_threshold=cfg.no_speech_threshold,
            compression_ratio_threshold=cfg.compression_ratio_threshold,
            log_prob_threshold=cfg.log_prob_threshold,
            languages=cfg.speech_languages,
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class Segment:
    """A stretch of speech by one speaker.

    Attributes:
        start, end: seconds from the start of the recording.
        speaker: `agent`, `caller`, `unknown` (mono, not diarized), or `speaker 1`, `speaker 2`
            (a diarized mono voice whose role the words did not tell).
        text: what was said (stripped).
        avg_logprob: mean token log-probability (higher is more confident).
        no_speech_prob: Whisper's probability that the window held no speech.
        compression_ratio: gzip ratio of the text; high means a repetition loop.
        temperature: the decoding temperature Whisper ended on; above 0 means greedy decoding
            failed its checks and it fell back to sampling.
        words: word timings when asked for.
    """

    start: float
    end: float
    speaker: str
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0
    temperature: float = 0.0
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class TranscriptionInfo:
    """Attributes: language (detected or given), language_probability, duration (seconds)."""

    language: str
    language_probability: float
    duration: float


@dataclass(frozen=True)
class Transcript:
    """Segments in time order, with the detected language. For a stereo call `info` is the caller's
    channel (whose language matters for the answer) and `tracks` has one info per speaker."""

    segments: tuple[Segment, ...]
    info: TranscriptionInfo
    tracks: dict[str, TranscriptionInfo] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "language": self.info.language,
            "language_probability": round(self.info.language_probability, 4),
            "duration": round(self.info.duration, 3),
            "segments": [
                {"start": round(s.start, 2), "end": round(s.end, 2), "speaker": s.speaker, "text": s.text}
                for s in self.segments
            ],
        }


def keep_segment(seg: Segment, options: TranscriptionOptions) -> bool:
    """False for text Whisper is likely to have invented on silence, tones or noise."""
    if not seg.text.strip() or not re.search(r"\w", seg.text):
        return False
    if seg.compression_ratio > options.compression_ratio_threshold:
        return False
    if seg.no_speech_prob > options.no_speech_threshold and seg.avg_logprob < options.log_prob_threshold:
        return False
    # Sampled text (greedy decoding failed) over audio Whisper thinks holds no speech: noise.
    if seg.temperature > 0 and seg.no_speech_prob > options.no_speech_threshold:
        return False
    return not (_HALLUCINATIONS.search(seg.text) and seg.no_speech_prob > options.no_speech_threshold / 2)


def snap_to_speech(segments: list[Segment], chunks: list[dict[str, int]]) -> list[Segment]:
    """The segments, with each start (a segment's or a word's) that falls in a silence between the
    VAD's speech chunks (sample offsets) moved to where the next chunk starts. Whisper may time a first word a
    little before the speech: mapped back from the joined speech to the recording, that lands in
    the pause before it. In the payment sample, "One more thing..." (scripted at 37.35 s, its
    chunk from 36.94 s) started at 36.58 s on an AVX-512 CPU."""

    ends = [chunk["end"] for chunk in chunks]  # in order, as the VAD gives them

    def start(begin: float, end: float) -> float:
        i = bisect.bisect_right(ends, begin * SAMPLE_RATE)  # the first chunk ending after `begin`
        if i == len(chunks) or chunks[i]["start"] <= begin * SAMPLE_RATE:
            return begin  # inside speech, or after the last of it
        moved = chunks[i]["start"] / SAMPLE_RATE  # in the pause before chunk i
        return moved if moved < end else begin

    return [
        replace(
            seg,
            start=start(seg.start, seg.end),
            words=tuple(replace(w, start=start(w.start, w.end)) for w in seg.words),
        )
        for seg in segments
    ]


class FasterWhisperTranscriber:
    """faster-whisper on CPU; the model is loaded once and shared by every call."""

    name = "faster-whisper"

    def __init__(self, model: str, *, threads: int = 2, compute_type: str = "int8", workers: int = 1) -> None:
        from faster_whisper import WhisperModel

        self.model_path = model
        self.workers = max(1, workers)
        try:
            self._model = WhisperModel(
                model,
                device="cpu",
                compute_type=compute_type,
                cpu_threads=threads,
                # CTranslate2 replicas on one device share the weights: `workers` decodes at once
                # for about one model's memory (the live service's workers each run one).
                num_workers=self.workers,
                local_files_only=not config.get().allow_network,
            )
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelNotAvailable(
                f"cannot load Whisper model from {model}: {exc}".splitlines()[0],
                hint="run 'assistant models prepare' to rebuild the bundled models",
            ) from None
        # At most one decode per replica; more would only queue inside CTranslate2.
        self._lock = threading.BoundedSemaphore(self.workers)
        # Sampled decodes (the temperature fallback) one at a time: the seed is process-wide.
        self._sampling = threading.Lock()

    @property
    def multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

    def transcribe(
        self, audio: np.ndarray, options: TranscriptionOptions, speaker: str = "unknown"
    ) -> Transcript:
        return self._transcribe(audio, options, speaker)

    def transcribe_many(
        self, clips: list[np.ndarray], options: list[TranscriptionOptions], speakers: list[str]
    ) -> list[Transcript]:
        """Several clips (the finals of several live calls), their short windows decoded as one
        batch (`whisper_short.decode_many`); a clip the batch cannot take, or whose text the
        guard refuses, is decoded on its own as `transcribe` would."""
        if not (len(clips) == len(options) == len(speakers)):
            raise ValueError("transcribe_many needs one options and one speaker per clip")
        fitting = [i for i, (c, o) in enumerate(zip(clips, options, strict=True)) if self._short_fits(c, o)]
        decoded: dict[int, whisper_short.ShortDecode] = {}
        if len(fitting) > 1:
            with self._lock:
                outs = whisper_short.decode_many(
                    self._model,
                    [clips[i] for i in fitting],
                    [self._short_options(options[i]) for i in fitting],
                )
            decoded = dict(zip(fitting, outs, strict=True))
        return [
            self._transcribe(clip, opts, who, decoded.get(i))
            for i, (clip, opts, who) in enumerate(zip(clips, options, speakers, strict=True))
        ]

    def _short_fits(self, audio: np.ndarray, options: TranscriptionOptions) -> bool:
        return (
            options.short_context
            and whisper_short.fits(audio, options)
            and (self.multilingual or options.task != "translate")
        )

    def _short_options(self, options: TranscriptionOptions) -> TranscriptionOptions:
        return options if self.multilingual else replace(options, language=options.language or "en")

    def _transcribe(
        self,
        audio: np.ndarray,
        options: TranscriptionOptions,
        speaker: str,
        decoded: whisper_short.ShortDecode | None = None,
    ) -> Transcript:
        """`transcribe`; `decoded`: the clip's short window already decoded (in a batch)."""
        language = options.language
        probability: float | None = None
        if not self.multilingual:
            if options.task == "translate":
                raise InputError(
                    "this Whisper model is English-only and cannot translate; use the 'base' model"
                )
            language = language or "en"
        unsure: Segment | None = None
        if options.short_context and whisper_short.fits(audio, options):
            short, heard, reason, unsure = self._transcribe_short(
                audio, replace(options, language=language), speaker, decoded
            )
            if short is not None:
                return short
            # The fitted window heard the language well; 30 s of mostly padding may not (a short
            # Spanish turn came back as Thai), so the second pass decodes in the language heard.
            if language is None and reason in ("loop", "unsure"):
                language, probability = heard.language, heard.language_probability
        # The VAD runs once: language ID and decoding both take its speech (faster-whisper's
        # vad_filter would run it again, with the same options, inside transcribe).
        speech, chunks = self._speech(audio) if options.vad else (audio, [])
        if language is None and options.languages:
            language, probability = self._detect(audio, options.languages, speech if options.vad else None)
        sampling = self._sampling if options.temperature_fallback else contextlib.nullcontext()
        with self._lock, sampling:
            import ctranslate2
            from faster_whisper.transcribe import restore_speech_timestamps

            # Whisper's temperature fallback samples. The seed only fixes the first draws of each
            # CTranslate2 thread (it seeds a thread's generator once, on first use), so a process's
            # first sampled decodes repeat run to run and later ones may not: the same clip decoded
            # three times in one process gave "after two days", "after 2 days", "after 2 days".
            ctranslate2.set_random_seed(0)
            raw, info = self._model.transcribe(
                speech,
                language=language,
                task=options.task,
                beam_size=options.beam_size,
                word_timestamps=options.word_timestamps,
                vad_filter=False,
                no_speech_threshold=options.no_speech_threshold,
                compression_ratio_threshold=options.compression_ratio_threshold,
                log_prob_threshold=options.log_prob_threshold,
                initial_prompt=options.initial_prompt,
                condition_on_previous_text=False,
                temperature=_TEMPERATURES if options.temperature_fallback else 0.0,
                max_new_tokens=options.max_new_tokens,
            )
            if chunks:  # times in the speech back to times in the recording, as vad_filter does
                raw = restore_speech_timestamps(raw, chunks, SAMPLE_RATE)
            segments = [
                Segment(
                    start=float(s.start),
                    end=float(s.end),
                    speaker=speaker,
                    text=s.text.strip(),
                    avg_logprob=float(s.avg_logprob),
                    no_speech_prob=float(s.no_speech_prob),
                    compression_ratio=float(s.compression_ratio),
                    temperature=float(s.temperature or 0.0),
                    words=tuple(Word(w.start, w.end, w.word, w.probability) for w in (s.words or ())),
                )
                for s in raw
            ]
        if chunks:
            segments = snap_to_speech(segments, chunks)
        kept = tuple(s for s in segments if keep_segment(s, options))
        if not kept and unsure is not None and keep_segment(unsure, options):
            # The 30 s pass found no speech (its padding raises the no-speech probability) where
            # the fitted window heard some: keep the fitted window's text rather than lose a turn
            # whose partial captions the agent already saw.
            kept = (unsure,)
        duration = len(audio) / SAMPLE_RATE
        if probability is None:
            probability = float(info.language_probability)
        return Transcript(kept, TranscriptionInfo(info.language, probability, duration))

    def _transcribe_short(
        self,
        audio: np.ndarray,
        options: TranscriptionOptions,
        speaker: str,
        decoded: whisper_short.ShortDecode | None = None,
    ) -> tuple[Transcript | None, TranscriptionInfo, str | None, Segment | None]:
        """The short-window transcript (None: refused, decode the normal way), what it heard, why
        it was refused (loop or unsure), and for an unsure one its segment (the last resort)."""
        if decoded is not None:
            out = decoded
        else:
            with self._lock:
                out = whisper_short.decode(self._model, audio, options)
        duration = len(audio) / SAMPLE_RATE
        info = TranscriptionInfo(out.language, out.language_probability, duration)
        seg = Segment(
            start=0.0,
            end=duration,
            speaker=speaker,
            text=out.text,
            avg_logprob=out.avg_logprob,
            no_speech_prob=out.no_speech_prob,
            compression_ratio=out.compression_ratio,
        )
        if not out.ok and (options.short_fallback or out.reason == "loop"):
            # a final is decoded again the normal way; a partial that loops shows nothing, and
            # an unsure partial shows its text (the final decides)
            unsure = seg if out.reason == "unsure" else None
            return (None if options.short_fallback else Transcript((), info)), info, out.reason, unsure
        return Transcript((seg,) if keep_segment(seg, options) else (), info), info, None, None

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        """Whisper's spoken-language identification on (up to) the first 30 s of speech."""
        if not self.multilingual:
            return "en", 1.0
        return self._detect(audio, config.get().speech_languages)

    def _detect(
        self, audio: np.ndarray, languages: str, speech: np.ndarray | None = None
    ) -> tuple[str, float]:
        # On the speech only, in a window sized to it (not Whisper's 30 s): a seventh of the cost
        # on the samples and real-dev recordings, and the same accuracy (`whisper_short.detect`).
        if speech is None:
            speech, _ = self._speech(audio)
        with self._lock:
            return whisper_short.detect(self._model, speech if len(speech) else audio, languages)

    @staticmethod
    def _speech(audio: np.ndarray) -> tuple[np.ndarray, list[dict[str, int]]]:
        """Silero VAD with faster-whisper's default options: the speech joined (what its
        `vad_filter` decodes; empty when there is none) and where it was (sample offsets)."""
        from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

        chunks = get_speech_timestamps(audio, VadOptions())
        return np.concatenate(collect_chunks(audio, chunks)[0]), chunks


class OpenAIWhisperTranscriber:
    """The reference PyTorch implementation, from a `.pt` checkpoint (a path or a standard name)."""

    name = "openai-whisper"

    def __init__(self, model: str, *, threads: int = 2) -> None:
        import torch
        import whisper

        torch.set_num_threads(max(1, threads))
        path = Path(model).expanduser()
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"
        if path.is_file():
            source = str(path)
        elif (cache / f"{model}.pt").is_file() or config.get().allow_network:
            source = model
        else:
            raise ModelNotAvailable(
                f"openai-whisper checkpoint {model!r} is not installed locally and network downloads are off",
                hint=f"pass a .pt file with --model, put {model}.pt in {cache}, or set ASSISTANT_ALLOW_NETWORK=1",
            )
        try:
            self._model = whisper.load_model(source, device="cpu", download_root=str(cache))
        except (RuntimeError, OSError, KeyError, EOFError) as exc:
            raise ModelNotAvailable(
                f"cannot load openai-whisper checkpoint {model}: {exc}".splitlines()[0]
            ) from None
        self._lock = threading.Lock()

    def transcribe(
        self, audio: np.ndarray, options: TranscriptionOptions, speaker: str = "unknown"
    ) -> Transcript:
        import whisper

        with self._lock:
            language, probability = options.language, 1.0
            if language is None and self._model.is_multilingual:
                language, probability = self.detect_language(audio)
            elif language is None:
                language = "en"
            result = whisper.transcribe(
                self._model,
                audio.astype(np.float32),
                language=language,
                task=options.task,
                beam_size=options.beam_size if options.beam_size > 1 else None,
                temperature=0.0,
                word_timestamps=options.word_timestamps,
                no_speech_threshold=options.no_speech_threshold,
                compression_ratio_threshold=options.compression_ratio_threshold,
                logprob_threshold=options.log_prob_threshold,
                initial_prompt=options.initial_prompt,
                condition_on_previous_text=False,
                fp16=False,
                verbose=None,
            )
        segments = [
            Segment(
                start=float(s["start"]),
                end=float(s["end"]),
                speaker=speaker,
                text=str(s["text"]).strip(),
                avg_logprob=float(s.get("avg_logprob", 0.0)),
                no_speech_prob=float(s.get("no_speech_prob", 0.0)),
                compression_ratio=float(s.get("compression_ratio", 1.0)),
                temperature=float(s.get("temperature", 0.0)),
                words=tuple(
                    Word(float(w["start"]), float(w["end"]), str(w["word"]), float(w.get("probability", 0.0)))
                    for w in s.get("words", ())
                ),
            )
            for s in result.get("segments", [])
        ]
        kept = tuple(s for s in segments if keep_segment(s, options))
        return Transcript(kept, TranscriptionInfo(str(language), probability, len(audio) / SAMPLE_RATE))

    def detect_language(self, audio: np.ndarray) -> tuple[str, float]:
        import whisper

        if not self._model.is_multilingual:
            return "en", 1.0
        clip = whisper.pad_or_trim(audio.astype(np.float32))
        mel = whisper.log_mel_spectrogram(clip, self._model.dims.n_mels).to(self._model.device)
        _, probs = self._model.detect_language(mel)
        # A damaged or untrained checkpoint can yield NaN scores; those count as no evidence.
        finite = {k: v for k, v in probs.items() if math.isfinite(v)}
        if not finite:
            return "en", 0.0
        language = max(finite, key=finite.__getitem__)
        return str(language), float(finite[language])


_cache: dict[tuple[str, str, int, str, int], Transcriber] = {}
_cache_lock = threading.Lock()


def load_transcriber(engine: str | None = None, model: str | None = None) -> Transcriber:
    """The engine for a model name, loaded once per process."""

    cfg = config.get()
    engine = engine or cfg.whisper_engine
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}: use {' or '.join(ENGINES)}")
    model = model or cfg.whisper_model
    # The thread count and compute type change the numbers, and so now and then the words: a model
    # loaded under other settings is another model (Ray actors run with 1 thread, a local run with more).
    key = (engine, model, cfg.threads, cfg.compute_type, cfg.live_workers)
    with _cache_lock:
        if key not in _cache:
            if engine == "faster-whisper":
                _cache[key] = FasterWhisperTranscriber(
                    models.resolve_whisper(model),
                    threads=cfg.threads,
                    compute_type=cfg.compute_type,
                    workers=cfg.live_workers,
                )
            else:
                _cache[key] = OpenAIWhisperTranscriber(model, threads=cfg.threads)
        return _cache[key]


def transcribe_many(
    engine: Transcriber, clips: list[np.ndarray], options: list[TranscriptionOptions], speakers: list[str]
) -> list[Transcript]:
    """Clips decoded as one batch where the engine can (faster-whisper), else one by one."""
    batched = getattr(engine, "transcribe_many", None)
    if batched is not None and len(clips) > 1:
        return list(batched(clips, options, speakers))
    return [engine.transcribe(c, o, speaker=w) for c, o, w in zip(clips, options, speakers, strict=True)]


TURN_PAUSE_SECONDS = 2.0  # a pause this long ends an utterance even when nobody else speaks
TURN_MAX_SECONDS = 25.0  # a longer stretch of one speaker is cut at its longest pause


def speech_spans(samples: np.ndarray) -> list[tuple[float, float]]:
    """Where a track holds speech, in seconds, by the Silero VAD that faster-whisper ships.

    Pauses of 0.3 s or more separate spans and bursts under 0.25 s (clicks) are dropped; the
    turn split below decides which pauses end an utterance."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    vad = VadOptions(min_silence_duration_ms=300, speech_pad_ms=100, min_speech_duration_ms=250)
    return [
        (c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE)
        for c in get_speech_timestamps(samples, vad, sampling_rate=SAMPLE_RATE)
    ]


def split_turns(
    speech: dict[str, list[tuple[float, float]]],
    *,
    pause: float = TURN_PAUSE_SECONDS,
    longest: float = TURN_MAX_SECONDS,
) -> dict[str, list[tuple[float, float]]]:
    """Each speaker's speech spans grouped into utterances (start, end).

    A speaker's utterance ends where another speaker talks in the gap before their next span (a
    turn), or at a pause of `pause` seconds; an utterance longer than `longest` is cut at its
    longest inner pause. So a caller who reads a card, hears the agent ask for the SSN and reads
    it gives two utterances, each after the agent's question.
    """

    def others_talk(speaker: str, lo: float, hi: float) -> bool:
        return any(s < hi and e > lo for who, spans in speech.items() if who != speaker for s, e in spans)

    def cut_long(group: list[tuple[float, float]]) -> list[list[tuple[float, float]]]:
        if group[-1][1] - group[0][0] <= longest or len(group) < 2:
            return [group]
        gaps = [group[i + 1][0] - group[i][1] for i in range(len(group) - 1)]
        at = gaps.index(max(gaps)) + 1
        return cut_long(group[:at]) + cut_long(group[at:])

    out: dict[str, list[tuple[float, float]]] = {}
    for speaker, spans in speech.items():
        groups: list[list[tuple[float, float]]] = []
        for span in sorted(spans):
            last = groups[-1][-1] if groups else None
            if last and span[0] - last[1] < pause and not others_talk(speaker, last[1], span[0]):
                groups[-1].append(span)
            else:
                groups.append([span])
        out[speaker] = [(g[0][0], g[-1][1]) for group in groups for g in cut_long(group)]
    return out


def transcribe_tracks(
    tracks: list[Track], transcriber: Transcriber, options: TranscriptionOptions, *, diarize_mono: bool = True
) -> Transcript:
    """Transcribe each speaker track and merge the segments in time order.

    Each track detects its own language unless one is given (an agent may answer a Spanish caller
    in English); the transcript's `info` is the caller's, whose language decides the answer's.
    Separate agent and caller tracks are cut into utterances at each other's turns (see
    `split_turns`), so the segments alternate as spoken. A mono recording is diarized (unless
    `diarize_mono` is False): its voices' turns and roles come from `_transcribe_diarized`.
    """
    if len(tracks) == 1 and diarize_mono:
        diarized = _transcribe_diarized(tracks[0], transcriber, options)
        if diarized is not None:
            return diarized
    infos: dict[str, TranscriptionInfo] = {}
    segments: list[Segment] = []
    order = sorted(tracks, key=lambda t: t.speaker != "caller")  # caller first: its language leads
    turns = split_turns({t.speaker: speech_spans(t.samples) for t in tracks}) if len(tracks) > 1 else {}
    for track in order:
        if track.speaker in turns:
            info, said = _transcribe_turns(track, turns[track.speaker], transcriber, options)
        else:
            result = transcriber.transcribe(track.samples, options, speaker=track.speaker)
            info, said = result.info, list(result.segments)
        infos[track.speaker] = info
        segments.extend(said)
    segments.sort(key=lambda s: (s.start, s.speaker))
    lead = infos.get("caller") or infos.get("unknown") or next(iter(infos.values()))
    duration = max(i.duration for i in infos.values())
    return Transcript(tuple(segments), replace(lead, duration=duration), infos)


def _transcribe_diarized(
    track: Track, transcriber: Transcriber, options: TranscriptionOptions
) -> Transcript | None:
    """A mono track cut into its voices' turns (assistant/speech/diarization.py), transcribed whole
    with word times, its words given to the turns, and the voices named agent and caller when
    their words say which is which ("speaker 1", "speaker 2" otherwise). None when no speech."""
    voices: dict[str, list[tuple[float, float]]] = {}
    for turn in diarize(track.samples, speech_spans(track.samples)):
        voices.setdefault(turn.speaker, []).append((turn.start, turn.end))
    if not voices:
        return None
    grouped = sorted((lo, hi, v) for v, spans in split_turns(voices).items() for lo, hi in spans)
    info, said = _transcribe_turns(
        track, [(lo, hi) for lo, hi, _ in grouped], transcriber, options, voices=[v for _, _, v in grouped]
    )
    said = _stretch_to_turns(said, grouped)
    texts = {v: " ".join(s.text for s in said if s.speaker == v) for v in voices}
    roles = assign_roles(texts)
    if all(roles[v] == v for v in voices) and not any(role_cues(t)[0] for t in texts.values()):
        # Not one agent word in the recording: no agent-caller conversation to split (a message,
        # a prompt, a speech). The voice encoder cannot tell one speaker from two on its own (a
        # lone speaker's halves measured 0.78-0.91 alike, a synthetic agent and a real caller 0.58-0.76), so the
        # track stays one "unknown" speaker, as it was before diarization.
        roles = {v: "unknown" for v in voices}
    segments = sorted(
        (replace(s, speaker=roles.get(s.speaker, s.speaker)) for s in said), key=lambda s: s.start
    )
    return Transcript(tuple(segments), info, {roles[v]: info for v in voices})


def _stretch_to_turns(said: list[Segment], turns: list[tuple[float, float, str]]) -> list[Segment]:
    """The first and last words of each diarized turn reach the turn's edges: the turns come from
    the VAD, and Whisper's word times for a run of spoken digits can bunch at its end (measured
    on a real mono mix: a caller reading a card for 10 s got a 0.7 s utterance)."""
    out = sorted(said, key=lambda s: s.start)
    for lo, hi, voice in turns:
        inside = [i for i, s in enumerate(out) if s.speaker == voice and s.end > lo and s.start < hi]
        if inside:
            first, last = inside[0], inside[-1]
            out[first] = replace(out[first], start=min(out[first].start, lo))
            out[last] = replace(out[last], end=max(out[last].end, hi))
    return out


def _transcribe_turns(
    track: Track,
    turns: list[tuple[float, float]],
    transcriber: Transcriber,
    options: TranscriptionOptions,
    voices: list[str] | None = None,
) -> tuple[TranscriptionInfo, list[Segment]]:
    """One track transcribed whole, with word times, and its words cut into `turns`.

    The whole track keeps Whisper's context: transcribing each turn's clip on its own (the short
    window) cost 30% less CPU but tripled the word error rate on the English sample calls
    (0.04 -> 0.19 for the agent of call-en-benefits); word times cost ~2% over no word times.
    A segment without word times goes to the turn its middle falls in. With `voices` (one per
    turn, a diarized mono track) each piece is said by its turn's voice.
    """
    result = transcriber.transcribe(
        track.samples, replace(options, word_timestamps=True), speaker=track.speaker
    )

    def turn_of(start: float, end: float) -> int:
        mid = (start + end) / 2
        return min(range(len(turns)), key=lambda i: max(turns[i][0] - mid, mid - turns[i][1], 0.0))

    pieces: list[Segment] = []
    owners: list[int] = []  # the turn of each piece
    for seg in result.segments:
        if not turns or not seg.words:
            turn = turn_of(seg.start, seg.end) if turns else -1
            pieces.append(replace(seg, speaker=voices[turn]) if turns and voices else seg)
            owners.append(turn)
            continue
        groups: dict[int, list[Word]] = {}
        for w in seg.words:
            groups.setdefault(turn_of(w.start, w.end), []).append(w)
        for turn, words in groups.items():
            text = "".join(w.word for w in words).strip()
            if text:
                pieces.append(
                    replace(
                        seg,
                        speaker=voices[turn] if voices else seg.speaker,
                        start=words[0].start,
                        end=words[-1].end,
                        text=text,
                        words=tuple(words) if options.word_timestamps else (),
                    )
                )
                owners.append(turn)
    return result.info, _one_piece_per_turn(pieces, owners) if turns else pieces


def _one_piece_per_turn(pieces: list[Segment], owners: list[int]) -> list[Segment]:
    """Pieces of one turn that follow each other become one segment: Whisper may end a segment
    at a sentence inside a turn ("Thank you for calling state services." | "How can I help
    you?"), and where it does depends on the CPU's arithmetic. Confidence figures are averaged
    by text length; the loop and fallback signs keep their worst."""
    out: list[Segment] = []
    last = None
    for piece, turn in zip(pieces, owners, strict=True):
        if out and turn == last and turn >= 0:
            prev = out[-1]
            a, b = len(prev.text), len(piece.text)
            out[-1] = replace(
                prev,
                end=max(prev.end, piece.end),
                text=f"{prev.text} {piece.text}",
                avg_logprob=(prev.avg_logprob * a + piece.avg_logprob * b) / (a + b),
                no_speech_prob=(prev.no_speech_prob * a + piece.no_speech_prob * b) / (a + b),
                compression_ratio=max(prev.compression_ratio, piece.compression_ratio),
                temperature=max(prev.temperature, piece.temperature),
                words=prev.words + piece.words,
            )
        else:
            out.append(piece)
        last = turn
    return out


def transcribe_file(
    path: str | Path,
    options: TranscriptionOptions | None = None,
    *,
    engine: str | None = None,
    model: str | None = None,
    audio_options: AudioOptions | None = None,
    diarize_mono: bool = True,
) -> Transcript:
    """Decode a recording, split speakers (stereo channels, or mono diarized), transcribe. The main
    entry point for files."""
    options = options or TranscriptionOptions.from_config()
    audio_options = audio_options or AudioOptions(agent_channel=config.get().agent_channel)
    tracks = load_tracks(path, audio_options)
    transcriber = load_transcriber(engine, model)
    return transcribe_tracks(tracks, transcriber, options, diarize_mono=diarize_mono)


def format_timestamp(seconds: float) -> str:
    minutes, rest = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes):02d}:{rest:05.2f}"


def format_segment(seg: Segment) -> str:
    return f"[{format_timestamp(seg.start)}-{format_timestamp(seg.end)}] {seg.speaker}: {seg.text}"
