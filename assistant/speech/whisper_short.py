"""Whisper on a short clip with an encoder window sized to the clip (faster-whisper models).

Whisper was trained on 30 s windows, and faster-whisper pads every clip to 30 s before the
encoder, so a 3 s live utterance costs as much as 30 s of audio: ~0.6 s for `base` on this
machine's 2 cores, and twice that when the language is unknown (detection encodes again). The
CTranslate2 encoder accepts shorter inputs, and its cost falls with the window: 10 s encodes in
~0.08 s. This module encodes the clip plus `PAD_SECONDS` of trailing silence (Whisper's own zero
padding, so the log-mel normalisation is the one the model knows), detects the language on that
one encoding when it is not given, and decodes greedily or with a beam, without timestamps.

Quality guard: the result is refused (the caller falls back to the 30 s path, which has Whisper's
temperature fallback) when the text loops (compression ratio), reaches the token budget, or has a
low mean log-probability over audio that is not silence. On the sample calls the text matched the
30 s path on 18 of 19 English turns (the other one looped and fell back); see
`tests/test_whisper_short.py` and `bench/live.py` for the figures.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.errors import InputError
from assistant.speech.audio import SAMPLE_RATE

if TYPE_CHECKING:
    from assistant.speech.transcription import TranscriptionOptions

PAD_SECONDS = 2.0  # trailing silence in the window; 0.5-5 s gave the same text on the samples
MAX_SECONDS = 28.0  # longer clips use the normal 30 s path
TOKENS_PER_SECOND = 12  # generous: a fast reader of digits makes ~8 tokens a second
DETECT_SECONDS = 10.0  # speech a track's language is identified on (Whisper's own detection: 30 s)


def language_filter(spec: str) -> tuple[frozenset[str], frozenset[str]]:
    """Parse `speech_languages` ("en,es" keeps those; "-la" drops Latin) into (keep, drop)."""

    keep: set[str] = set()
    drop: set[str] = set()
    for item in (x.strip().lower() for x in spec.split(",")):
        if not item:
            continue
        code = item.lstrip("-")
        if not code.isalpha() or not 2 <= len(code) <= 3:
            raise InputError(f"speech_languages: {item!r} is not a language code; use e.g. 'en,es' or '-la'")
        (drop if item.startswith("-") else keep).add(code)
    return frozenset(keep - drop), frozenset(drop)


def pick_language(probabilities: list[tuple[str, float]], spec: str) -> tuple[str, float]:
    """The most probable allowed language, its probability renormalised over the allowed ones.

    `probabilities` are Whisper's (code, p) pairs (codes bare or as `<|xx|>` tokens). When nothing
    allowed has any probability the overall best is kept: a filter must not silence a caller.
    """
    keep, drop = language_filter(spec)
    pairs = [(c[2:-2] if c.startswith("<|") else c, float(p)) for c, p in probabilities]
    allowed = [(c, p) for c, p in pairs if c not in drop and (not keep or c in keep)]
    total = sum(p for _, p in allowed)
    if not allowed or total <= 0:
        code, p = max(pairs, key=lambda x: x[1])
        return code, p
    code, p = max(allowed, key=lambda x: x[1])
    return code, p / total


def spoken_tokens(sequence: list[int], eot: int, timestamp_begin: int, duration: float) -> list[int]:
    """Text tokens of the segments that start inside the audio.

    Whisper marks segments with timestamp tokens (0.02 s steps). Text in a segment that starts in
    the trailing padding is Whisper continuing into silence, usually repeating itself ("Thank
    you. Thank you. Thank you."), so it is dropped.
    """
    kept: list[int] = []
    start: float | None = None
    for token in sequence:
        if token >= timestamp_begin:
            # a segment's start, or (when one is open) its end: the next timestamp opens another
            start = (token - timestamp_begin) * 0.02 if start is None else None
        elif token < eot and (start is None or start < duration - 0.1):
            kept.append(token)
    return kept


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def fits(audio: np.ndarray, options: TranscriptionOptions) -> bool:
    """Whether a clip can take the short path at all."""
    return 0 < len(audio) <= MAX_SECONDS * SAMPLE_RATE and not options.word_timestamps


@dataclass(frozen=True)
class ShortDecode:
    """What the short window heard.

    Attributes:
        ok: False when the text fails the quality guard (use the 30 s path, or for a partial
            caption, show nothing).
        reason: `loop` or `unsure` when not ok, else None.
        text, language, language_probability, avg_logprob, no_speech_prob, compression_ratio:
            as in `transcription.Segment` and `TranscriptionInfo`.
    """

    ok: bool
    reason: str | None
    text: str
    language: str
    language_probability: float
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float


def encode(model: Any, audio: np.ndarray | list[np.ndarray]) -> Any:
    """The encoder output of `audio` plus `PAD_SECONDS` of silence (a CTranslate2 StorageView).

    A list of clips is encoded as one batch: each is padded with silence to the longest first, so
    all share one window (Whisper's log-mel floor is set per clip by its loudest frame, so the
    extra silence leaves the speech's features as they were)."""
    import ctranslate2

    clips = [audio] if isinstance(audio, np.ndarray) else list(audio)
    longest = max(len(c) for c in clips) + int(PAD_SECONDS * SAMPLE_RATE)
    batch = []
    for clip in clips:
        padded = np.zeros(longest, np.float32)
        padded[: len(clip)] = clip
        features = model.feature_extractor(padded)
        frames = min(features.shape[-1] - features.shape[-1] % 2, 3000)
        batch.append(features[:, :frames])
    window = np.ascontiguousarray(np.stack(batch), dtype=np.float32)
    return model.model.encode(ctranslate2.StorageView.from_array(window), to_cpu=False)


def detect(model: Any, speech: np.ndarray, spec: str) -> tuple[str, float]:
    """Spoken-language ID on the first `DETECT_SECONDS` of `speech` (VAD output, 16 kHz).

    Whisper's own detection encodes a 30 s window whatever the length of the speech. On the 135
    tracks of the samples, real-dev and jfk.flac this took 40 s against 276 s for Whisper's
    detection (one run, machine loaded), named the same language on 131, and scored the same on
    the 120 real-dev prompts (117 right each: Whisper's missed two Spanish prompts, this two
    Russian ones, heard as Ukrainian).
    """
    if not model.model.is_multilingual:
        return "en", 1.0
    encoded = encode(model, speech[: int(DETECT_SECONDS * SAMPLE_RATE)])
    return pick_language(model.model.detect_language(encoded)[0], spec)


def decode(model: Any, audio: np.ndarray, options: TranscriptionOptions) -> ShortDecode:
    """Decode `audio` (16 kHz float32) with a faster-whisper `WhisperModel`."""
    return decode_many(model, [audio], [options])[0]


def decode_many(
    model: Any, clips: list[np.ndarray], options: list[TranscriptionOptions]
) -> list[ShortDecode]:
    """Decode several clips (16 kHz float32, each with its own options) in one batch: one encoder
    pass over all, one language detection for those without a language, and one `generate` per
    group of clips whose prompts have the same length and beam (CTranslate2 needs both equal
    within a batch). Several calls' finals decoded together cost much less than one by one: the
    matrix products of a batch use the cores that one clip's single-token decoder steps leave idle
    (`bench/live.py`)."""
    from faster_whisper.tokenizer import Tokenizer

    if len(clips) != len(options) or not clips:
        raise ValueError("decode_many needs one options per clip, and at least one clip")
    encoded = encode(model, clips)
    multilingual = bool(model.model.is_multilingual)
    heard: list[tuple[str, float] | None] = [None] * len(clips)
    if multilingual and any(o.language is None for o in options):
        found = model.model.detect_language(encoded)
        heard = [pick_language(found[i], o.languages) for i, o in enumerate(options)]
    languages: list[tuple[str, float]] = []
    prompts: list[list[int]] = []
    tokenizers = []
    for i, opts in enumerate(options):
        if not multilingual:
            language, probability = "en", 1.0
        elif opts.language is None:
            language, probability = heard[i] or ("en", 0.0)
        else:
            language, probability = opts.language, 1.0
        tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task=opts.task, language=language)
        prompt = list(tokenizer.sot_sequence)  # with timestamps: they show where speech ends
        if opts.initial_prompt:
            prompt = [
                tokenizer.sot_prev,
                *tokenizer.encode(" " + opts.initial_prompt.strip())[-100:],
                *prompt,
            ]
        languages.append((language, probability))
        prompts.append(prompt)
        tokenizers.append(tokenizer)
    budgets = [int(10 + TOKENS_PER_SECOND * len(clip) / SAMPLE_RATE) for clip in clips]

    groups: dict[tuple[int, int], list[int]] = {}
    for i, opts in enumerate(options):
        groups.setdefault((len(prompts[i]), opts.beam_size), []).append(i)
    results: list[Any] = [None] * len(clips)
    for (_, beam), members in groups.items():
        # the encoder output of just this group's clips (the whole batch when there is one group)
        features = encoded if len(members) == len(clips) else _select(encoded, members)
        out = model.model.generate(
            features,
            [prompts[i] for i in members],
            beam_size=beam,
            # CTranslate2 4.8 stops a prompted Whisper decode at about max_length / 2 new tokens
            # (measured): ask for twice the budget so a runaway reaches it and is caught below.
            max_length=2 * max(len(prompts[i]) + budgets[i] for i in members),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )
        for i, result in zip(members, out, strict=True):
            results[i] = result
    return [
        _judge(results[i], tokenizers[i], options[i], len(clips[i]) / SAMPLE_RATE, budgets[i], *languages[i])
        for i in range(len(clips))
    ]


def _select(encoded: Any, members: list[int]) -> Any:
    """Rows `members` of a batch's encoder output, as a new StorageView."""
    import ctranslate2

    rows = np.asarray(encoded)  # CPU storage: a view, no copy
    return ctranslate2.StorageView.from_array(np.ascontiguousarray(rows[members]))


def _judge(
    result: Any,
    tokenizer: Any,
    options: TranscriptionOptions,
    duration: float,
    budget: int,
    language: str,
    probability: float,
) -> ShortDecode:
    """One clip's text and the quality guard's verdict on it."""
    sequence = result.sequences_ids[0]
    tokens = [t for t in sequence if t < tokenizer.eot]
    kept = spoken_tokens(sequence, tokenizer.eot, tokenizer.timestamp_begin, duration)
    text = tokenizer.decode(kept).strip()
    avg_logprob = float(result.scores[0]) * len(tokens) / (len(tokens) + 1) if tokens else 0.0
    ratio = compression_ratio(text)
    no_speech = float(result.no_speech_prob)
    looped = len(sequence) >= budget or ratio > options.compression_ratio_threshold
    # unsure over what may be speech: the 30 s path with its temperature fallback decides
    unsure = avg_logprob < options.log_prob_threshold and no_speech <= options.no_speech_threshold
    return ShortDecode(
        ok=not (looped or unsure),
        reason="loop" if looped else "unsure" if unsure else None,
        text=text,
        language=language,
        language_probability=probability,
        avg_logprob=avg_logprob,
        no_speech_prob=no_speech,
        compression_ratio=ratio,
    )
