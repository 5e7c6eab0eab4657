"""Roles, key scopes and the principal behind a request."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, get_args

from assistant.errors import InputError

Role = Literal["agent", "supervisor", "knowledge_manager", "admin"]
Scope = Literal["media", "ingest", "read", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
SCOPES: tuple[Scope, ...] = get_args(Scope)
LOCAL_SCOPE = "local"  # the local admin key: every role and scope (see `keys.local_key`)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_name(name: str, what: str = "user name") -> str:
    """A user or key name: letters, digits, '.', '_' or '-', 1 to 64 characters, not starting with a sign."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(
            f"{what} {name!r} is not valid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def _check(values: Iterable[str], allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    found = sorted(set(values))
    if not found:
        raise InputError(f"give at least one {what}: {', '.join(allowed)}")
    for value in found:
        if value not in allowed:
            raise InputError(f"unknown {what} {value!r}; use one of: {', '.join(allowed)}")
    return tuple(found)


def check_roles(roles: Iterable[str]) -> tuple[Role, ...]:
    """The roles, sorted and without repeats; InputError for an unknown one or none."""
    return _check(roles, ROLES, "role")  # type: ignore[return-value]


def check_scopes(scopes: Iterable[str]) -> tuple[Scope, ...]:
    """The key scopes, sorted and without repeats; InputError for an unknown one or none."""
    return _check(scopes, SCOPES, "scope")  # type: ignore[return-value]


@dataclass(frozen=True)
class Principal:
    """The person or machine key behind a request.

    Attributes:
        name: the user name, or the key's name.
        kind: `user` (signed in) or `key` (an API key).
        roles: a person's roles.
        scopes: a key's scopes.
    """

    name: str
    kind: Literal["user", "key"]
    roles: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def grants(self) -> frozenset[str]:
        """Everything that may open a door: roles and scopes (the policy table names both)."""
        return self.roles | self.scopes

    def allowed(self, needed: Iterable[str]) -> bool:
        return bool(self.grants & set(needed))

    @property
    def sees_all_calls(self) -> bool:
        """Supervisors and read keys see every call; an agent only their own."""
        return bool(self.grants & {"supervisor", "read"})


def local_principal(name: str) -> Principal:
    """The local admin key: the service's own user on its own machine holds every role and scope."""
    return Principal(name, "key", frozenset(ROLES), frozenset(SCOPES))
