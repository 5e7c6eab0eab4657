"""Wrap-up (disposition) codes: suggested at call end from what the caller needed, confirmed by
the agent, and learnt from without a training job.

The codes file (setting `wrapup_codes`) is a YAML list of `{code, label, description?, examples?}`.
A call's need is its caller turns (their translation when there is one), embedded once. Each code
is scored by the mean of its best `TOP` similarities among its anchors: its label, description and
examples, and the needs of every call an agent confirmed with that code (nearest confirmed calls
count, so the codes agents pick teach the next suggestions). The top 3 are suggested.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant import config
from assistant.errors import InputError
from assistant.storage import quality as qstore

if TYPE_CHECKING:
    import numpy as np

    from assistant.protocols import Embedder

TOP = 3
SUGGESTED = 3
NEED_TURNS = 3


@dataclass(frozen=True)
class Code:
    code: str
    label: str
    description: str = ""
    examples: tuple[str, ...] = ()

    @property
    def anchors(self) -> list[str]:
        return [self.label, *([self.description] if self.description else []), *self.examples]


def words_of(name: str) -> str:
    """An intent-like name in words: "CheckClaimStatus" -> "check claim status"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[_-]+", " ", name)
    return " ".join(spaced.lower().split())


def parse_codes(data: Any, where: str) -> list[Code]:
    if not isinstance(data, list) or not data:
        raise InputError(f"wrap-up codes {where}: must be a non-empty YAML list of {{code, label}}")
    out: list[Code] = []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict) or not isinstance(item.get("code"), str) or not item["code"].strip():
            raise InputError(f"wrap-up codes {where}: entry {n} needs a 'code'")
        label = item.get("label", words_of(item["code"]))
        examples = item.get("examples") or []
        if (
            not isinstance(label, str)
            or not isinstance(examples, list)
            or not all(isinstance(e, str) for e in examples)
        ):
            raise InputError(
                f"wrap-up codes {where}: entry {item['code']!r}: 'label' is text, 'examples' a list of text"
            )
        out.append(
            Code(item["code"].strip(), label.strip(), str(item.get("description") or ""), tuple(examples))
        )
    names = [c.code for c in out]
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise InputError(f"wrap-up codes {where}: code(s) listed twice: {', '.join(dupes)}")
    return out


def load_codes(path: str | Path) -> list[Code]:
    import yaml

    file = Path(path)
    if not file.is_file():
        raise InputError(f"wrap-up codes {file}: no such file")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        raise InputError(f"wrap-up codes {file}: not valid YAML text") from None
    return parse_codes(data, str(file))


def configured_codes() -> list[Code]:
    """The codes of the `wrapup_codes` setting; none when it is empty."""
    path = config.get().wrapup_codes
    return load_codes(path) if path else []


class Suggester:
    """Ranks codes for needs; `learn` adds a confirmed call's need as an anchor of its code."""

    def __init__(self, codes: Sequence[Code], embedder: Embedder) -> None:
        import numpy as np

        self.codes = list(codes)
        self.embedder = embedder
        texts = [a for c in self.codes for a in c.anchors]
        self._vectors = embedder.embed(texts)
        self._owner = np.array([k for k, c in enumerate(self.codes) for _ in c.anchors])
        self._index = {c.code: k for k, c in enumerate(self.codes)}

    def learn(self, code: str, need: np.ndarray) -> None:
        import numpy as np

        k = self._index.get(code)
        if k is None:
            return  # a code since removed from the file teaches nothing
        self._vectors = np.vstack([self._vectors, need.reshape(1, -1)])
        self._owner = np.append(self._owner, k)

    def rank(self, need: np.ndarray, n: int = SUGGESTED) -> list[str]:
        import numpy as np

        sims = self._vectors @ need
        scores = np.full(len(self.codes), -2.0)
        for k in range(len(self.codes)):
            mine = np.sort(sims[self._owner == k])[::-1][:TOP]
            scores[k] = float(mine.mean())
        order = np.argsort(-scores, kind="stable")[:n]
        return [self.codes[k].code for k in order]


def need_text(call: Any) -> str:
    caller = [u.translation or u.text for u in call.utterances if u.speaker != "agent"]
    return " ".join(caller[:NEED_TURNS]).strip()


def suggest_for_call(con: Any, call: Any, codes: Sequence[Code], embedder: Embedder) -> tuple[str, ...]:
    """Suggest and store the top codes for a stored call (learning from every confirmed call)."""
    import numpy as np

    text = need_text(call)
    if not text:
        return ()
    need = embedder.embed([text])[0]
    suggester = Suggester(codes, embedder)
    for _, code, blob in qstore.confirmed_wrapups(con, embedder.model_name, exclude=call.call_id):
        suggester.learn(code, np.frombuffer(blob, dtype=np.float32))
    top = suggester.rank(need)
    qstore.save_wrapup_suggestion(
        con, call.call_id, top, embedder.model_name, need.astype(np.float32).tobytes()
    )
    return tuple(top)


def confirm(con: Any, call_id: str, code: str, user: str) -> None:
    """Record the agent's code; InputError for a code not in the codes file (when one is set)."""
    codes = configured_codes()
    if codes and code not in {c.code for c in codes}:
        known = ", ".join(c.code for c in codes[:12])
        raise InputError(f"unknown wrap-up code {code!r} (known: {known})")
    qstore.choose_wrapup(con, call_id, code, user)
