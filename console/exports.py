"""Downloads the console builds itself: captions as WebVTT and text, and a topic's trend in words.

Built from the JSON the service returns, so a download never needs a second request. Digest files
are not here: the service renders them (`assistant.digest.render`), the same as the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _vtt_time(seconds: float | None) -> str:
    ms = round((seconds or 0.0) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _speaker(c: dict[str, Any]) -> str:
    return "Caller" if c.get("speaker") == "caller" else "Agent"


def webvtt(captions: Sequence[dict[str, Any]]) -> str:
    """Final captions as WebVTT, with the speaker as a voice tag and any translation on a second line."""
    out = ["WEBVTT", ""]
    for i, c in enumerate(x for x in captions if x.get("final", True)):
        start = c.get("start") or 0.0
        end = c.get("end") if c.get("end") is not None else start + 2.0
        # A cue's text must not contain "-->" nor a blank line.
        text = " ".join(str(c.get("text") or "").replace("-->", "->").split())
        out += [
            str(i + 1),
            f"{_vtt_time(start)} --> {_vtt_time(max(end, start))}",
            f"<v {_speaker(c)}>{text}",
        ]
        if c.get("translation"):
            label = "machine translation" if c.get("machine_translated", True) else "translation"
            out.append(f"({label}) " + " ".join(str(c["translation"]).replace("-->", "->").split()))
        out.append("")
    return "\n".join(out)


def transcript_text(captions: Sequence[dict[str, Any]]) -> str:
    """Plain text, one line per final caption, translations labelled on the line below."""
    lines = []
    for c in captions:
        if not c.get("final", True):
            continue
        start = c.get("start") or 0.0
        lines.append(f"[{int(start) // 60:02d}:{int(start) % 60:02d}] {_speaker(c)}: {c.get('text') or ''}")
        if c.get("translation"):
            label = "machine translation" if c.get("machine_translated", True) else "translation"
            lines.append(f"        ({label}) {c['translation']}")
    return "\n".join(lines) + ("\n" if lines else "")


def trend_words(t: dict[str, Any]) -> str:
    """A topic's trend in words (the chart's text equivalent)."""
    prev = t.get("previous_mean")
    if prev is None:
        return "no earlier days to compare"
    if not prev:
        return "new today"
    ratio = t["calls"] / prev
    if ratio >= 1.5:
        return f"up, {ratio:.1f} times the 7-day mean ({prev:.0f})"
    if ratio <= 0.67:
        return f"down, {ratio:.1f} times the 7-day mean ({prev:.0f})"
    return f"steady (7-day mean {prev:.0f})"
