"""The digest in words: the short plain-language text, Markdown and CSV exports.

`export` is the one entry point for a digest file: the CLI, the service (and through it the
console) all call it, so a supervisor gets the same file whichever way they download it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.errors import InputError

if TYPE_CHECKING:
    from assistant.digest.model import Digest, Topic


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{round(100 * x)}%"


def _langs(languages: dict[str, int]) -> str:
    return ", ".join(f"{code} {n}" for code, n in languages.items()) or "none"


def _n(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _trend(t: Topic) -> str:
    if t.previous_mean is None:
        return "no earlier days to compare"
    if not t.previous_mean:
        return "new"
    return f"{t.calls / t.previous_mean:.1f}x the 7-day mean ({t.previous_mean:.0f})"


def digest_text(d: Digest, top_n: int = 10) -> str:
    """A few plain sentences a supervisor can read in a minute."""
    day = f"{d.date:%A %d %B %Y}"
    if not d.total_calls:
        return f"No calls were recorded on {day}."
    lines = [f"{day}: {d.total_calls} calls ({_langs(d.languages)})."]
    lines.append(
        f"{_pct(d.no_answer_share)} of calls had a question the knowledge base had no approved answer for."
    )
    if d.topics:
        top = "; ".join(f"{t.label} ({_n(t.calls, 'call')}, {_pct(t.share)})" for t in d.topics[:top_n])
        lines.append(f"Top problems: {top}.")
    else:
        lines.append("No problem came up often enough to form a topic.")
    if d.emerging:
        lines.append(
            "New or growing: "
            + "; ".join(f"{t.label} ({_n(t.calls, 'call')}, {_trend(t)})" for t in d.emerging)
            + "."
        )
    if d.knowledge_gaps:
        lines.append(
            "Knowledge gaps: "
            + "; ".join(
                f"{t.label} ({_n(t.gap_calls, 'call')} without a helpful answer)" for t in d.knowledge_gaps
            )
            + "."
        )
    if d.escalated_calls:
        worst = max(d.topics, key=lambda t: (t.escalations, -t.rank), default=None)
        where = f", most in {worst.label} ({worst.escalations})" if worst and worst.escalations else ""
        lines.append(
            f"{_n(d.escalated_calls, 'call')} asked for a supervisor or a transfer{where}; "
            "such requests are counted, not reported as problems."
        )
    for row in d.language_equity:
        if row["language"] not in ("en", "unknown") and row["calls"] >= 3:
            lines.append(
                f"Callers in '{row['language']}': {_n(row['calls'], 'call')}, {_pct(row['no_answer_share'])} "
                f"without an approved answer, {_pct(row['resolved_share'])} resolved."
            )
    missing = [m for m in d.missing_native_articles if m["calls"] >= 2][:3]
    if missing:
        lines.append(
            "Needed without a version in the caller's language: "
            + "; ".join(f"{m['title']} ('{m['language']}', {_n(m['calls'], 'call')})" for m in missing)
            + "."
        )
    # Languages other than English with a few calls at least (one misdetected call is noise).
    minority = [code for code, n in d.languages.items() if code not in ("en", "unknown") and n >= 3]
    for code in minority:
        hit = sorted(((t.languages.get(code, 0), t.label) for t in d.topics), reverse=True)
        if hit and hit[0][0]:
            lines.append(f"Callers in '{code}' mostly asked about: {hit[0][1]} ({_n(hit[0][0], 'call')}).")
    notes = []
    if d.skipped_calls:
        notes.append(f"{_n(d.skipped_calls, 'call')} had no stated problem and were skipped")
    if d.unassigned_calls:
        notes.append(f"{_n(d.unassigned_calls, 'call')} raised problems too rare to form a topic")
    if notes:
        lines.append("Note: " + "; ".join(notes) + ".")
    return " ".join(lines)


def markdown(d: Digest) -> str:
    """The digest as a Markdown document."""
    out = [f"# Daily digest {d.date.isoformat()}", "", d.text or digest_text(d), ""]
    if not d.topics:
        return "\n".join(out)
    out += [
        "| # | topic | calls | share | trend | emerging | knowledge gap | sentiment | resolved | median handle s | languages |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in d.topics:
        out.append(
            f"| {t.rank} | {t.label} | {t.calls} | {_pct(t.share)} | {_trend(t)} | {'yes' if t.emerging else ''} | "
            f"{_pct(t.knowledge_gap)} | {'' if t.sentiment is None else f'{t.sentiment:+.2f}'} | "
            f"{_pct(t.resolved_share)} | {'' if t.median_handle_time is None else f'{t.median_handle_time:.0f}'} | "
            f"{_langs(t.languages)} |"
        )
    out.append("")
    if d.language_equity:
        out += ["| language | calls | without an approved answer | resolved |", "|---|---|---|---|"]
        out += [
            f"| {r['language']} | {r['calls']} | {_pct(r['no_answer_share'])} | {_pct(r['resolved_share'])} |"
            for r in d.language_equity
        ]
        out.append("")
    for t in d.topics[:10]:
        out.append(f"## {t.label}")
        out += [f"> {q}" + "\n" for q in t.quotes]
    return "\n".join(out)


CSV_COLUMNS = (
    "date",
    "rank",
    "topic_id",
    "label",
    "calls",
    "share",
    "change",
    "emerging",
    "knowledge_gap",
    "sentiment",
    "resolved_share",
    "median_handle_time",
    "languages",
    "quotes",
)


def to_csv(d: Digest) -> str:
    """One row per topic; languages as `en:12;es:3`, quotes joined by ` | `."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for t in d.topics:
        writer.writerow(
            [
                d.date.isoformat(),
                t.rank,
                t.topic_id,
                t.label,
                t.calls,
                t.share,
                t.change,
                t.emerging,
                t.knowledge_gap,
                t.sentiment,
                t.resolved_share,
                t.median_handle_time,
                ";".join(f"{k}:{v}" for k, v in t.languages.items()),
                " | ".join(t.quotes),
            ]
        )
    return buf.getvalue()


# format -> (file extension, media type)
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "markdown": ("md", "text/markdown"),
    "csv": ("csv", "text/csv"),
}


@dataclass(frozen=True)
class DigestExport:
    """A rendered digest file.

    Attributes:
        text: the file's content; ends with exactly one newline.
        media_type: its MIME type, without charset (the text is UTF-8).
        file_name: the suggested name, `digest-YYYY-MM-DD.<ext>`.
    """

    text: str
    media_type: str
    file_name: str


def check_format(fmt: str) -> None:
    """InputError unless `fmt` is an export format."""
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown digest export format {fmt!r}; use one of: {', '.join(EXPORT_FORMATS)}")


def export(d: Digest, fmt: str) -> DigestExport:
    """The digest as a file in `fmt` ("markdown" or "csv"); InputError for any other format."""
    check_format(fmt)
    ext, media_type = EXPORT_FORMATS[fmt]
    text = markdown(d) if fmt == "markdown" else to_csv(d)
    # One trailing newline, so the CLI's printed output and a downloaded file are byte for byte equal.
    return DigestExport(text.rstrip("\n") + "\n", media_type, f"digest-{d.date.isoformat()}.{ext}")
