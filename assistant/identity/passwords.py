"""Password hashing (argon2 through pwdlib) and generated passwords."""

from __future__ import annotations

import secrets
from functools import lru_cache
from typing import Any

from assistant.errors import InputError

MIN_LENGTH = 12
MAX_LENGTH = 256


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from pwdlib import PasswordHash

    return PasswordHash.recommended()


def check_password(password: str, name: str | None = None) -> str:
    """A password fit to use; InputError otherwise. As NIST SP 800-63B (5.1.1.2) asks: at least
    `MIN_LENGTH` characters, not a commonly used password (the 30,000 most common in breach corpora,
    as zxcvbn ships them, also with digits or symbols added at the end), not one character repeated
    or a keyboard run, and not containing the user name."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise InputError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InputError(f"a password may have at most {MAX_LENGTH} characters")
    lowered = password.lower()
    if name and len(name) >= 3 and (name.lower() in lowered or name.lower()[::-1] in lowered):
        raise InputError("a password may not contain the user name; choose another")
    if _common(lowered):
        raise InputError(
            "that password is among the most common ones in breached-password lists; choose another"
        )
    return password


_RUNS = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zxcvbnm")


def _common(lowered: str) -> bool:
    """A common password (also with trailing digits or symbols), one repeated unit, or a run of a row."""
    stem = lowered.rstrip("0123456789!@#$%^&*.?-_ ")
    words = _common_passwords()
    if lowered in words or (len(stem) >= 4 and stem in words):
        return True
    for size in range(1, 5):  # "aaaaaaaaaaaa", "abcabcabcabc", "12341234..."
        if len(lowered) % size == 0 and lowered == lowered[:size] * (len(lowered) // size):
            return True
    return any(lowered in (run * 3) or lowered in (run[::-1] * 3) for run in _RUNS)


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def hash_password(password: str) -> str:
    return str(_hasher().hash(check_password(password)))


def verify_password(password: str, hashed: str) -> bool:
    """Whether `password` matches `hashed` ('' never matches, but costs the same time)."""
    if not hashed:
        _hasher().verify(password or "x", _dummy_hash())
        return False
    try:
        return bool(_hasher().verify(password, hashed))
    except Exception:  # noqa: BLE001 - a malformed stored hash is a non-match, not a crash
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return str(_hasher().hash(secrets.token_urlsafe(16)))


def new_password() -> str:
    """A generated password (about 120 bits), shown once."""
    return secrets.token_urlsafe(15)
