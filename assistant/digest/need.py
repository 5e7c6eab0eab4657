"""What a caller needs: the part of a problem statement that says it.

Callers wrap their need in greetings, their name, small talk and thanks ("Hi, how are you? My
name is [NAME] and I want to add a dependent to my account, thanks"). The digest groups calls by
need, so the wrapping is cut away first, sentence by sentence and clause by clause. Asking for a
supervisor, a transfer or a human is not a problem of its own: `caller_need` reports it as an
escalation, and the statement's other sentences (if any) are the need.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# Sentence ends; a "?" or "!" inside a sentence ends it too ("Hi, how are you? I need ...").
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_GREETING_WORDS = (
    r"(?:hi|hello|hey)(?: there| again)?|hiya|howdy|yes|yeah|yep|okay|ok|so|well|um|uh|oh|alright|all right|"
    r"good (?:morning|afternoon|evening|day)(?: to you)?|greetings|excuse me|dear|sir|madam|ma'am|"
    r"hola|buenos d[ií]as|buenas tardes|buenas noches|buenas|oiga|s[ií]|bueno|pues|disculpe|"
    r"(?:listen|look|oye|mire|mira)(?=\s*,)"  # "Look, ..." and "Mire, ..." but not "Look up ..."
)
_THANKS = (
    r"(?:please and )?thanks?(?: you)?(?: (?:so|very) much)?(?: (?:for (?:your|the) help|for (?:picking up|taking my call|"
    r"your time)|in advance))?|(?:i )?appreciate (?:it|that|your help)|much appreciated|"
    r"(?:muchas )?gracias(?: por (?:su|tu) ayuda)?"
)
# Greetings at the start of a statement, each a whole word ("So..." yes, "Someone" no).
_LEADING_GREETING = re.compile(rf"^(?:[¿¡]?(?:{_GREETING_WORDS}|{_THANKS})\b[\s,.!?-]*)+", re.IGNORECASE)
# A whole sentence that is only pleasantries, small talk or thanks.
_SMALL_TALK = re.compile(
    rf"^(?:[¿¡]?(?:{_GREETING_WORDS}|{_THANKS}|how are you(?: doing)?(?: today)?|how's it going|"
    r"hope you(?:'re| are) (?:well|doing well|having a good day)|nice to (?:meet|talk to) you|"
    r"c[oó]mo est[aá](?:s|n)?|please|por favor|can we make (?:this|it) quick|i(?:'m| am) in a hurry|"
    r"(?:hello,? )?can you hear me(?: okay| now| all right)?|are you (?:still )?there|"
    r"(?:[¿]?me )?(?:escucha|oye)(?:s|n)?|(?:muy )?amable|"
    r"(?:please )?help(?: me)?(?: out)?(?: please)?|can you help(?: me)?|i need (?:some |your )?help|"
    r"necesito ayuda|ay[uú]deme|have a (?:nice|good|great) day|bye|goodbye|adi[oó]s)"
    r"\b[\s,.!?-]*)+$",
    re.IGNORECASE,
)
# Small talk that opens a sentence before the need ("I hope you're having a good day, can you ...",
# "I have a problem, I'd like to ..."): cut when a clause follows it.
_LEADING_SMALL_TALK = re.compile(
    r"^(?:(?:i )?hope you(?:'re| are) (?:well|doing well|having an? (?:good|great|nice|lovely) (?:day|morning|afternoon))|"
    r"how are you(?: doing)?(?: today)?|i have an? (?:quick )?(?:problem|question|issue|request)|"
    r"tengo una (?:pregunta|duda|consulta)|tengo un problema)[\s]*[,;:-]+\s*(?=\S)",
    re.IGNORECASE,
)
_TRAILING_THANKS = re.compile(rf"[\s,.!-]*\b(?:please|por favor|{_THANKS})[\s,.!]*$", re.IGNORECASE)
# Who the caller is: their name, birth date, where they call from, their number (not the need).
_IDENTITY_CLAUSE = re.compile(
    r"\b(?i:my (?:full )?name is|my name's|this is|i am|i'm|me llamo|mi nombre es|soy)\s+"
    r"(?:\[NAME\]|[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)(?:\s+(?:here|speaking|calling))?[\s,.;!]*(?:and\s+)?"
    r"|\b(?i:i was born|my (?:date of )?birth ?(?:date|day)? is|my (?:policy|account|member|customer|case|"
    r"phone|social security|reference|id) (?:number|no\.?|#)?\s*(?:is|:))[^,.;!?]*[,.;!?]?\s*(?:and\s+)?",
)
# Asking for someone else: a supervisor, a manager, a real person, a transfer.
_ESCALATION = re.compile(
    r"\b(?:(?:transfer|connect|communicate|put|pass|escalate)\s+(?:me|this|my call|the call)?\s*(?:through\s+|over\s+)?"
    r"(?:to|with)\s+(?:a|an|your|the|some)?\s*(?:supervisor|manager|human|real person|person|"
    r"representative|rep|agent|someone|somebody|department)|"
    r"(?:speak|talk)\s+(?:to|with)\s+(?:a|an|your|the|some)?\s*(?:supervisor|manager|human|real person|"
    r"live (?:person|agent)|representative|someone (?:else|in charge))|"
    r"(?:want|need|get)\s+(?:a|your|the)\s+(?:supervisor|manager)|"
    r"^(?:a\s+)?(?:supervisor|manager|representative|operator|human|agent)(?:\s+please)?[\s.!?]*$|"
    r"(?:hablar|comunicar(?:me)?|pasar(?:me)?|transferir(?:me)?|p[aá]s[ae]me|comun[ií]qu[ae]me|con[eé]cteme)\s+(?:con|a)\s+(?:un|una|el|la|su)?\s*"
    r"(?:supervisor|supervisora|gerente|persona|representante|agente)|transf[ií]e?r[ae]me)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Need:
    """A statement reduced to its need.

    Attributes:
        text: the need, or "" when the statement had none (only greetings, thanks, an escalation).
        escalation: the statement asked for a supervisor, a transfer or a human.
    """

    text: str
    escalation: bool = False


def strip_greeting(text: str) -> str:
    """The text without leading greetings ("Hi there, so ..."), whole words only."""
    return _LEADING_GREETING.sub("", text).strip()


def asks_for_someone(text: str) -> bool:
    """Whether `text` asks for a supervisor, a manager, a human or a transfer."""
    return bool(_ESCALATION.search(text))


@functools.lru_cache(maxsize=65536)
def caller_need(text: str) -> Need:
    """The need a caller states in `text` (see the module docstring)."""
    text = " ".join(text.split())
    kept: list[str] = []
    escalation = False
    for sentence in _SENTENCE.split(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        if _ESCALATION.search(sentence):
            escalation = True
            continue
        sentence = _IDENTITY_CLAUSE.sub(" ", sentence)
        sentence = strip_greeting(" ".join(sentence.split()).lstrip(",.;:!- "))
        sentence = strip_greeting(_LEADING_SMALL_TALK.sub("", sentence))
        if not sentence or _SMALL_TALK.match(sentence):
            continue
        sentence = _TRAILING_THANKS.sub("", sentence).strip()
        if len(re.findall(r"\w+", sentence)) < 2:
            continue
        at = 1 if sentence[0] in "¿¡" else 0  # "¿cuándo ..." reads "¿Cuándo ..."
        kept.append(sentence[: at + 1].upper() + sentence[at + 1 :])
    return Need(" ".join(kept), escalation)
