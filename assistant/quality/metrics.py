"""Call metrics from when each side spoke.

Speech timing comes from each channel's voice activity (stereo recordings: `speech_spans` per
track, pauses of 0.3 s or more split it) when the batch run kept it, else from the utterance spans
(live calls, mono recordings, transcripts). All times in seconds from the recording's start.

- talk_s per speaker: time inside their speech.
- overtalk_s: time when two or more speakers speak at once.
- non_talk_s: time when nobody speaks, from the recording's start to its end.
- longest_silence_s: the longest stretch without speech between the first and the last speech.
- interruptions per speaker: turns that start while another side speaks and that side goes on
  for at least `INTERRUPT_SECONDS` more. A speaker's spans closer than `TURN_GAP_SECONDS` are one
  turn (a breath inside a sentence starts no new turn).
- words_per_minute per speaker: words of their utterances over their talk time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

INTERRUPT_SECONDS = 0.5
TURN_GAP_SECONDS = 0.5

Spans = list[tuple[float, float]]


def union(spans: Sequence[tuple[float, float]]) -> Spans:
    """Sorted, non-overlapping spans covering the same time."""
    out: Spans = []
    for s, e in sorted((float(a), float(b)) for a, b in spans if b > a):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _length(spans: Spans) -> float:
    return sum(e - s for s, e in spans)


def _turns(spans: Spans, gap: float) -> Spans:
    out: Spans = []
    for s, e in spans:
        if out and s - out[-1][1] < gap:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


@dataclass(frozen=True)
class CallMetrics:
    talk_s: dict[str, float]
    overtalk_s: float
    non_talk_s: float
    longest_silence_s: float
    interruptions: dict[str, int]
    words_per_minute: dict[str, float | None]
    source: str

    def to_json(self) -> dict[str, object]:
        return {
            "talk_s": self.talk_s,
            "overtalk_s": self.overtalk_s,
            "non_talk_s": self.non_talk_s,
            "longest_silence_s": self.longest_silence_s,
            "interruptions": self.interruptions,
            "words_per_minute": self.words_per_minute,
            "source": self.source,
        }


def call_metrics(
    speech: Mapping[str, Sequence[tuple[float, float]]],
    duration: float | None = None,
    words: Mapping[str, int] | None = None,
    source: str = "utterances",
) -> CallMetrics:
    """Metrics from each speaker's speech spans; `duration` defaults to the last speech's end."""
    spans = {who: union(s) for who, s in speech.items()}
    everyone = union([x for s in spans.values() for x in s])
    end = max([duration or 0.0, everyone[-1][1] if everyone else 0.0])
    talk = {who: round(_length(s), 2) for who, s in spans.items()}
    # overtalk: total talk minus the time anyone talks counts each overlapped second once per extra voice;
    # measured exactly as the length of time covered by two or more speakers.
    events = sorted(
        [(s, 1) for sp in spans.values() for s, _ in sp] + [(e, -1) for sp in spans.values() for _, e in sp]
    )
    overtalk, active, last = 0.0, 0, 0.0
    for t, step in events:
        if active >= 2:
            overtalk += t - last
        active += step
        last = t
    gaps = [b[0] - a[1] for a, b in zip(everyone, everyone[1:], strict=False)]
    interruptions = {}
    turns = {who: _turns(s, TURN_GAP_SECONDS) for who, s in spans.items()}
    for who, mine in turns.items():
        count = 0
        for start, _ in mine:
            others = [(s, e) for other, t in turns.items() if other != who for s, e in t]
            if any(s < start and e - start >= INTERRUPT_SECONDS for s, e in others):
                count += 1
        interruptions[who] = count
    wpm: dict[str, float | None] = {}
    for who in spans:
        n = (words or {}).get(who)
        wpm[who] = round(n / (talk[who] / 60.0), 1) if n and talk[who] > 0 else None
    return CallMetrics(
        talk_s=talk,
        overtalk_s=round(overtalk, 2),
        non_talk_s=round(max(0.0, end - _length(everyone)), 2),
        longest_silence_s=round(max(gaps, default=0.0), 2),
        interruptions=interruptions,
        words_per_minute=wpm,
        source=source,
    )
