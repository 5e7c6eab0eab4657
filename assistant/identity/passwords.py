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


def check_password(password: str) -> str:
    """A password long enough to use; InputError otherwise."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise InputError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InputError(f"a password may have at most {MAX_LENGTH} characters")
    return password


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
