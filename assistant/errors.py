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
