"""Which language is this text, and which language is this call?

Text detection uses langdetect with a fixed seed, so the same text always gets the same answer.
langdetect is confident even on three words, which it often gets wrong; `detect` therefore scales
its probability down for short texts. A call's language comes from `CallLanguage`, which weighs the
evidence of every utterance (text detection and Whisper's speech language ID) by length and
confidence and changes its decision only when another language has clearly more evidence.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import InputError

if TYPE_CHECKING:
    from langdetect.detector_factory import DetectorFactory

SEED = 0
# Letters after which langdetect's own probability is taken at face value; below it the
# probability shrinks in proportion (langdetect says 0.99 for "OK, yes" and is often wrong).
RELIABLE_LETTERS = 20
# One ideograph or Hangul syllable carries about as much as this many alphabetic letters.
DENSE_SCRIPT_WEIGHT = 3
# Text letters per second of speech, so text and speech evidence share one unit (seconds).
LETTERS_PER_SECOND = 12.0

# ISO 639-1 names (plus the few non-ISO codes Whisper and argos use: haw, yue, zt, pb).
LANGUAGE_NAMES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "as": "Assamese", "az": "Azerbaijani",
    "ba": "Bashkir", "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali", "bo": "Tibetan",
    "br": "Breton", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech", "cy": "Welsh", "da": "Danish",
    "de": "German", "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fo": "Faroese",
    "fr": "French", "ga": "Irish", "gl": "Galician", "gu": "Gujarati", "ha": "Hausa",
    "haw": "Hawaiian", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "ht": "Haitian Creole",
    "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "is": "Icelandic", "it": "Italian",
    "ja": "Japanese", "jw": "Javanese", "ka": "Georgian", "kk": "Kazakh", "km": "Khmer",
    "kn": "Kannada", "ko": "Korean", "ky": "Kyrgyz", "la": "Latin", "lb": "Luxembourgish",
    "ln": "Lingala", "lo": "Lao", "lt": "Lithuanian", "lv": "Latvian", "mg": "Malagasy",
    "mi": "Maori", "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi",
    "ms": "Malay", "mt": "Maltese", "my": "Burmese", "nb": "Norwegian Bokmal", "ne": "Nepali",
    "nl": "Dutch", "nn": "Norwegian Nynorsk", "no": "Norwegian", "oc": "Occitan", "pa": "Punjabi",
    "pb": "Portuguese (Brazil)", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sa": "Sanskrit", "sd": "Sindhi", "si": "Sinhala",
    "sk": "Slovak", "sl": "Slovenian", "sn": "Shona", "so": "Somali", "sq": "Albanian",
    "sr": "Serbian", "su": "Sundanese", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "te": "Telugu", "tg": "Tajik", "th": "Thai", "tk": "Turkmen", "tl": "Tagalog", "tr": "Turkish",
    "tt": "Tatar", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "vi": "Vietnamese",
    "yi": "Yiddish", "yo": "Yoruba", "yue": "Cantonese", "zh": "Chinese",
    "zt": "Chinese (traditional)",
}  # fmt: skip

# langdetect's regional codes folded to the codes Whisper and argos use.
_ALIASES = {"zh-cn": "zh", "zh-tw": "zh", "zh-hans": "zh", "zh-hant": "zt", "iw": "he", "jv": "jw"}


def normalize_code(code: str) -> str:
    """A known language code in canonical form (`ES` -> `es`, `zh-cn` -> `zh`, `pt-BR` -> `pt`).

    Raises InputError for a code no component knows.
    """
    raw = (code or "").strip().lower().replace("_", "-")
    if raw in _ALIASES:
        return _ALIASES[raw]
    if raw in LANGUAGE_NAMES:
        return raw
    base = raw.split("-", 1)[0]
    if "-" in raw and base in LANGUAGE_NAMES:
        return base
    raise InputError(f"unknown language code {code!r}: use an ISO 639-1 code such as en, es, fr, zh")


def language_name(code: str) -> str:
    """The English name of a language code, or the code itself."""
    return LANGUAGE_NAMES.get(code, code)


@dataclass(frozen=True)
class LanguageGuess:
    """A detected language.

    Attributes:
        language: normalised ISO 639-1 code (`zh`, not `zh-cn`).
        probability: 0..1; langdetect's probability, scaled down for short texts.
    """

    language: str
    probability: float


_factory: DetectorFactory | None = None
_factory_lock = threading.Lock()


def _get_factory() -> DetectorFactory:
    # A private factory (not langdetect's module-level one) so our seed does not change other users.
    global _factory
    with _factory_lock:
        if _factory is None:
            from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

            factory = DetectorFactory()
            factory.load_profile(PROFILES_DIRECTORY)
            factory.set_seed(SEED)
            _factory = factory
        return _factory


def text_languages() -> list[str]:
    """The languages text detection can return (normalised codes, sorted)."""
    return sorted({_normalize_detected(code) for code in _get_factory().get_lang_list()})


def _normalize_detected(code: str) -> str:
    return _ALIASES.get(code, code)


def letter_count(text: str) -> int:
    """Letters in `text`, counting ideographs, kana and Hangul as several (they carry more)."""
    count = 0
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        dense = name.startswith(("CJK", "HANGUL", "HIRAGANA", "KATAKANA"))
        count += DENSE_SCRIPT_WEIGHT if dense else 1
    return count


def reliability(text: str) -> float:
    """0..1: how far langdetect's probability can be trusted for a text of this length."""
    return min(1.0, letter_count(text) / RELIABLE_LETTERS)


def detect_all(text: str) -> list[LanguageGuess]:
    """Every candidate language for `text`, most likely first, probabilities scaled for length.

    Raises InputError for empty text or text without letters.
    """
    if not text or not text.strip():
        raise InputError("empty text: nothing to detect")
    if letter_count(text) == 0:
        raise InputError("text has no letters, so its language cannot be detected")
    from langdetect.lang_detect_exception import LangDetectException

    detector = _get_factory().create()
    detector.append(text)
    try:
        candidates = detector.get_probabilities()
    except LangDetectException as exc:
        raise InputError(f"cannot detect the language of this text: {exc}") from None
    scale = reliability(text)
    merged: dict[str, float] = {}
    for cand in candidates:
        code = _normalize_detected(cand.lang)
        merged[code] = merged.get(code, 0.0) + cand.prob
    guesses = [LanguageGuess(code, round(prob * scale, 4)) for code, prob in merged.items()]
    return sorted(guesses, key=lambda g: g.probability, reverse=True)


def detect(text: str) -> LanguageGuess:
    """The most likely language of `text` (deterministic). Mixed text names the dominant language
    with a lower probability; short text gets a lower probability too."""
    return detect_all(text)[0]


@dataclass(frozen=True)
class CallLanguageOptions:
    """How `CallLanguage` weighs evidence.

    Attributes:
        settle_evidence: until the leading language has this much evidence (seconds x
            probability) the decision simply follows the leader; after that it is settled.
        switch_ratio: once settled, another language must have this many times the current
            one's evidence ...
        switch_margin: ... and at least this much more to take over.
        min_probability: evidence below this probability is ignored (noise from tiny utterances).
        settle_utterances: and no call settles on fewer utterances than this: Whisper's language
            ID on one short telephone utterance can be confidently wrong (an English greeting
            over mu-law heard as Finnish, p = 0.67), and a settled language is then forced on
            every later utterance of that speaker.
    """

    settle_evidence: float = 1.5
    settle_utterances: int = 2
    switch_ratio: float = 1.5
    switch_margin: float = 2.0
    min_probability: float = 0.05


class CallLanguage:
    """The language of one call, decided from the accumulated evidence of its utterances.

    Evidence is measured in seconds of speech times probability; text counts
    `LETTERS_PER_SECOND` letters as one second. Until the leader has `settle_evidence` the decision
    is provisional and follows the leader; once settled it moves only when another language clearly
    has more evidence (hysteresis), so one "OK, yes" or a borrowed English phrase does not flip a
    Spanish call. `override` pins a language
    (the agent knows best) until `clear_override`.
    """

    def __init__(self, options: CallLanguageOptions | None = None) -> None:
        self.options = options or CallLanguageOptions()
        self._scores: dict[str, float] = {}
        self._current: str | None = None
        self._settled = False
        self._override: str | None = None
        self._utterances = 0

    def add(self, language: str, probability: float, weight: float) -> LanguageGuess | None:
        """Add one piece of evidence: `weight` is its length in seconds. Returns the decision."""
        if not 0.0 <= probability <= 1.0:
            raise InputError(f"probability must be between 0 and 1, not {probability}")
        if weight < 0:
            raise InputError(f"evidence weight must not be negative, not {weight}")
        if self._take(language, probability, weight):
            self._utterances += 1
            self._reconsider()
        return self.decision

    def _take(self, language: str, probability: float, weight: float) -> bool:
        code = normalize_code(language)
        if probability >= self.options.min_probability and weight > 0:
            self._scores[code] = self._scores.get(code, 0.0) + probability * weight
            return True
        return False

    def add_speech(self, language: str, probability: float, duration: float) -> LanguageGuess | None:
        """Evidence from Whisper's language ID for an utterance `duration` seconds long."""
        return self.add(language, probability, duration)

    def add_text(self, text: str) -> LanguageGuess | None:
        """Evidence from the text of an utterance (chat line, transcript segment).

        Text without letters adds nothing. Every candidate language gets its share, so an
        ambiguous short text spreads its small weight rather than backing one guess.
        """
        if not text or letter_count(text) == 0:
            return self.decision
        weight = letter_count(text) / LETTERS_PER_SECOND
        taken = [self._take(g.language, g.probability, weight) for g in detect_all(text)]
        if any(taken):
            self._utterances += 1
            self._reconsider()
        return self.decision

    def _reconsider(self) -> None:
        leader = max(self._scores, key=lambda c: self._scores[c])
        if not self._settled or self._current is None:
            self._current = leader
            self._settled = (
                self._scores[leader] >= self.options.settle_evidence
                and self._utterances >= self.options.settle_utterances
            )
            return
        if leader == self._current:
            return
        ours = self._scores.get(self._current, 0.0)
        theirs = self._scores[leader]
        if theirs >= ours * self.options.switch_ratio and theirs - ours >= self.options.switch_margin:
            self._current = leader

    def override(self, code: str) -> LanguageGuess:
        """Pin the call's language (the agent's choice wins over any evidence)."""
        self._override = normalize_code(code)
        return LanguageGuess(self._override, 1.0)

    def clear_override(self) -> None:
        """Go back to deciding from evidence."""
        self._override = None

    @property
    def settled(self) -> bool:
        """True once enough evidence has come in that the decision resists single utterances."""
        return self._settled

    @property
    def overridden(self) -> bool:
        return self._override is not None

    @property
    def decision(self) -> LanguageGuess | None:
        """The current language and its share of the evidence (1.0 when overridden); None before
        any evidence."""
        if self._override is not None:
            return LanguageGuess(self._override, 1.0)
        if self._current is None:
            return None
        total = sum(self._scores.values())
        share = self._scores[self._current] / total if total else 0.0
        return LanguageGuess(self._current, round(share, 4))

    @property
    def scores(self) -> dict[str, float]:
        """Accumulated evidence per language (seconds x probability)."""
        return dict(self._scores)


def speech_languages() -> list[str]:
    """The languages Whisper can hear (faster-whisper's list; imported only when asked)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return sorted(_LANGUAGE_CODES)


def knowledge_base_languages(kb_dir: str | Path) -> dict[str, int]:
    """Articles per `language:` in the front matter of the Markdown files under `kb_dir`.

    Only the front matter is read. Articles without a language count as `unspecified`, files
    whose front matter is not valid YAML as `invalid`.
    """
    import yaml

    counts: dict[str, int] = {}
    root = Path(kb_dir)
    for path in sorted(root.rglob("*.md")) if root.is_dir() else []:
        key = "unspecified"
        try:
            head = _front_matter(path)
            meta = yaml.safe_load(head) if head else None
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            meta, key = None, "invalid"
        if isinstance(meta, dict) and meta.get("language"):
            key = str(meta["language"]).strip().lower()
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def _front_matter(path: Path) -> str:
    # Read line by line so a long article body is never loaded just to find its language.
    lines: list[str] = []
    with path.open(encoding="utf-8") as fh:
        if fh.readline().strip() != "---":
            return ""
        for line in fh:
            if line.strip() in ("---", "..."):
                return "".join(lines)
            lines.append(line)
    return ""
