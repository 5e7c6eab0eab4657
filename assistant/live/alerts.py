"""Alerts on a live call, for the supervisor floor: rules (from the settings), the watch that applies
them as a call runs, the caller's sentiment trend, and the optional webhook.

Rules, each raised at most once per call (silence once per quiet stretch):

- `escalation`: a caller final whose English text (the translation when the caller speaks another
  language, so every supported language counts) asks for a supervisor or to complain; or a request to
  speak to someone (in English, Spanish, French, Portuguese...) whose object sounds like one of the
  escalation words as the recognizer may garble it ("a superminer", "un superlisor": `misheard_request`);
- `negative_sentiment`: `negative_turns` caller finals in a row scored negative;
- `no_answer`: `no_answer_needs` needs in the call for which search abstained;
- `silence`: no one has spoken for `silence_seconds` of call audio (silence or hold);
- `long_call`: the call's audio passes `long_call_minutes`.

An alert is `{"kind", "at", "detail"}`; `detail` is built only from redacted text and numbers.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from assistant import config
from assistant.errors import ConfigError
from assistant.vocab import AlertKind, SentimentTrend

log = logging.getLogger("assistant.live.alerts")
DETAIL_CHARS = 160
TREND_STEP = 0.15  # a change of sentiment score smaller than this is "steady"


@dataclass(frozen=True)
class AlertRules:
    """When a live call raises an alert.

    Attributes:
        escalation_words: lower-case words or phrases; a caller's English final containing one at the
            start of a word asks to escalate. Empty: off.
        negative_turns: caller finals in a row with negative sentiment (0: off).
        no_answer_needs: needs without an approved answer in one call (0: off).
        silence_seconds: seconds of call audio with no speech (0: off).
        long_call_minutes: minutes of call audio (0: off).
    """

    escalation_words: tuple[str, ...] = ("supervisor", "your manager", "complain")
    negative_turns: int = 3
    no_answer_needs: int = 2
    silence_seconds: float = 30.0
    long_call_minutes: float = 15.0

    @classmethod
    def from_config(cls) -> AlertRules:
        cfg = config.get()
        words = tuple(w.strip().lower() for w in cfg.alert_escalation_words.split(",") if w.strip())
        for name in (
            "alert_negative_turns",
            "alert_no_answer_needs",
            "alert_silence_seconds",
            "alert_long_call_minutes",
        ):
            if getattr(cfg, name) < 0:
                raise ConfigError(f"setting {name} must be 0 (off) or more, got {getattr(cfg, name)}")
        return cls(
            escalation_words=words,
            negative_turns=cfg.alert_negative_turns,
            no_answer_needs=cfg.alert_no_answer_needs,
            silence_seconds=cfg.alert_silence_seconds,
            long_call_minutes=cfg.alert_long_call_minutes,
        )


def escalation_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regular expression for the escalation words (None: the rule is off)."""
    if not words:
        return None
    alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in words)
    return re.compile(rf"\b(?:{alternatives})", re.IGNORECASE)


# A request to speak to someone, in the languages the assistant hears; what follows it is compared
# with the escalation words, allowing for the recognizer's mishearings.
REQUEST = re.compile(
    r"\b(?:speak|talk|talking|speaking|put me through|transfer me|get me|let me have)\b(?:\s+\w+){0,3}?\s+(?:to|with)?\s*"
    r"|\b(?:hablar|hable|comunicar|pasar|p[aá]seme|parler|falar|sprechen|parlare|n[oó]i chuy[eệ]n)\b(?:\s+\w+){0,2}?\s+"
    r"(?:con|al|a|avec|au|com|mit|con)\s+",
    re.IGNORECASE,
)
# Escalation words as spoken in other languages (the original text is checked too, not only its
# translation): supervisor is the same word in Spanish and Portuguese.
OTHER_LANGUAGE_WORDS = (
    "supervisor",
    "supervisora",
    "gerente",
    "jefe",
    "encargado",
    "responsable",
    "superviseur",
)
MIN_WORD = 7  # shorter words are not compared loosely (too many near neighbours)
LIKENESS = 0.7  # share of letters that must line up (1 - edit distance / length)


def likeness(a: str, b: str) -> float:
    """1 - Levenshtein distance / the longer length (1.0: the same word)."""
    if a == b:
        return 1.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b))


def misheard_request(text: str, words: tuple[str, ...]) -> str | None:
    """The word a request to speak to someone ends on when it sounds like an escalation word (a single
    long word of `words` or of `OTHER_LANGUAGE_WORDS`, letters lined up at least `LIKENESS`), else None.
    "I want to speak to a superminer" -> "superminer"; "I want to speak to someone about my bill" -> None."""
    targets = {w for w in (*words, *OTHER_LANGUAGE_WORDS) if " " not in w and len(w) >= MIN_WORD}
    for m in REQUEST.finditer(text):
        after = re.findall(r"[^\W\d_]+", text[m.end() :].lower())[:3]
        for word in after:
            if len(word) >= MIN_WORD and any(likeness(word, t) >= LIKENESS for t in targets):
                return word
    return None


def alert(kind: AlertKind, detail: str, at: datetime | None = None) -> dict[str, Any]:
    """An alert as events, the floor, storage and the webhook carry it."""
    when = (at or datetime.now(UTC)).astimezone(UTC)
    return {"kind": kind, "at": when.isoformat(timespec="seconds"), "detail": detail[:DETAIL_CHARS]}


def quote(text: str) -> str:
    text = " ".join(text.split())
    return f'"{text if len(text) <= 120 else text[:117] + "..."}"'


def sentiment_trend(scores: list[float]) -> SentimentTrend | None:
    """How the caller's sentiment moves: the latest score against the mean of up to three before it."""
    if len(scores) < 2:
        return None
    before = scores[-4:-1]
    change = scores[-1] - sum(before) / len(before)
    return "improving" if change >= TREND_STEP else "worsening" if change <= -TREND_STEP else "steady"


@dataclass
class AlertWatch:
    """Applies `AlertRules` to one call as its finals, needs and audio arrive; each method returns
    the alerts raised now (most calls: none)."""

    rules: AlertRules = field(default_factory=AlertRules)
    raised: set[str] = field(default_factory=set)
    negative_run: int = 0
    unanswered: int = 0
    quiet_alerted: bool = False

    def __post_init__(self) -> None:
        self._escalation = escalation_pattern(self.rules.escalation_words)

    def _once(self, kind: AlertKind, detail: str) -> list[dict[str, Any]]:
        if kind in self.raised:
            return []
        self.raised.add(kind)
        return [alert(kind, detail)]

    def caller_final(
        self, english: str, sentiment_label: str | None, original: str | None = None
    ) -> list[dict[str, Any]]:
        """A caller's final: `english` is its redacted English text (translation or original);
        `original` the redacted text as said, when the caller spoke another language."""
        found: list[dict[str, Any]] = []
        if self._escalation is not None:
            texts = [english, *([original] if original and original != english else [])]
            if any(self._escalation.search(t) for t in texts):
                found += self._once("escalation", f"caller asked to escalate: {quote(english)}")
            elif any(misheard_request(t, self.rules.escalation_words) for t in texts):
                found += self._once(
                    "escalation", f"caller asked to escalate (a word heard unclearly): {quote(english)}"
                )
        self.negative_run = self.negative_run + 1 if sentiment_label == "negative" else 0
        turns = self.rules.negative_turns
        if turns and self.negative_run >= turns:
            found += self._once(
                "negative_sentiment", f"caller negative for {self.negative_run} turns in a row"
            )
        return found

    def need(self, english: str, answered: bool) -> list[dict[str, Any]]:
        """A need the caller stated; `answered`: an approved article was found for it."""
        if answered:
            return []
        self.unanswered += 1
        needs = self.rules.no_answer_needs
        if needs and self.unanswered >= needs:
            return self._once(
                "no_answer", f"{self.unanswered} needs without an approved answer; latest: {quote(english)}"
            )
        return []

    def audio(self, duration: float, quiet_for: float) -> list[dict[str, Any]]:
        """The call's audio so far (`duration` s), of which the last `quiet_for` s held no speech."""
        found: list[dict[str, Any]] = []
        limit = self.rules.silence_seconds
        if limit and quiet_for >= limit:
            if not self.quiet_alerted:
                self.quiet_alerted = True
                found.append(alert("silence", f"no one has spoken for {quiet_for:.0f} s (silence or hold)"))
        elif quiet_for < 1.0:
            self.quiet_alerted = False  # someone spoke: the next quiet stretch may alert again
        minutes = self.rules.long_call_minutes
        if minutes and duration >= minutes * 60:
            found += self._once("long_call", f"call longer than {minutes:g} min ({duration / 60:.0f} min)")
        return found


def check_webhook_url(url: str) -> str:
    """The webhook URL when it is an http(s) address; ConfigError otherwise."""
    if not re.match(r"https?://[^\s/]+", url):
        raise ConfigError(f"alert_webhook_url must be an http:// or https:// URL, got {url!r}")
    return url


def post_alert(url: str, body: dict[str, Any], timeout: float = 5.0) -> bool:
    """POST one alert as JSON; False (logged) when the receiver fails or cannot be reached."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked
            ok = 200 <= response.status < 300
    except OSError as exc:
        log.warning("alert webhook %s failed: %s", url, exc)
        return False
    if not ok:
        log.warning("alert webhook %s answered HTTP %s", url, response.status)
    return ok
