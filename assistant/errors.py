"""Errors a user can act on. The CLI prints their message on one line and exits with `exit_code`."""

from __future__ import annotations


class AssistantError(Exception):
    """A problem with the user's input or environment, explained in one line."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} ({self.hint})" if self.hint else base


class InputError(AssistantError):
    """Bad input: a missing, empty or undecodable file, an empty query, an unknown code."""


class ModelNotAvailable(AssistantError):
    """A model is not installed locally and the network may not be used."""


class ConfigError(AssistantError):
    """A setting has a value that cannot be used."""


def surrogate_at(text: str) -> int | None:
    """The index of the first lone UTF-16 surrogate in `text` (it cannot be stored or sent as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def check_text(text: str, what: str) -> str:
    """`text` unchanged, or InputError naming `what` when it holds a lone surrogate."""
    at = surrogate_at(text)
    if at is not None:
        raise InputError(
            f"{what} contains an invalid character (a lone surrogate \\u{ord(text[at]):04x} at {at})"
        )
    return text


def surrogate_path(value: object, where: str = "") -> str | None:
    """Where in a parsed JSON value (dotted path; keys count too) the first lone surrogate is."""
    if isinstance(value, str):
        return (where or "value") if surrogate_at(value) is not None else None
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            found = surrogate_path(str(key), where) or surrogate_path(item, path)
            if found:
                return found
    if isinstance(value, list):
        for n, item in enumerate(value):
            found = surrogate_path(item, f"{where}[{n}]")
            if found:
                return found
    return None
