"""API keys for machine clients (the telephony fork, batch jobs), and the local admin key file.

A key is `ak_` and 43 random characters; only its SHA-256 is stored (a key has far more entropy
than a password, so a slow hash adds nothing). `create_key` returns the key once.

The local admin key: the service writes a fresh one at each start to `<home>/admin.key`, mode 0600,
so the CLI run by the service's own user on its machine acts as admin through the running service
(the way a local admin socket works); anyone else needs a key.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant import config, storage
from assistant.errors import InputError
from assistant.identity.accounts import token_hash
from assistant.identity.audit import alert, record
from assistant.identity.roles import LOCAL_SCOPE, Principal, check_name, check_scopes, local_principal
from assistant.storage import Connection, StoredKey

KEY_PREFIX = "ak_"
LOCAL_KEY_NAME = "local-admin"
LOCAL_KEY_FILE = "admin.key"


@dataclass(frozen=True)
class NewKey:
    """A key just created: `key` is shown once and never stored."""

    name: str
    key: str
    scopes: tuple[str, ...]


def create_key(con: Connection, scopes: Sequence[str], name: str | None = None, *, by: str) -> NewKey:
    found = check_scopes(scopes)
    name = check_name(name, "key name") if name is not None else f"key-{secrets.token_hex(3)}"
    if name == LOCAL_KEY_NAME:
        raise InputError(f"{LOCAL_KEY_NAME!r} is the service's own key; choose another name")
    if storage.get_key(con, name) is not None:
        raise InputError(f"a key named {name!r} already exists (revoke it first: assistant keys revoke)")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    storage.save_key(con, name, token_hash(key), found, by)
    record(con, by, "key.create", f"{name} scopes={','.join(found)}")
    if "read" in found:  # a read key reads every call: allowed, but shown at the audit view's top
        alert(con, by, "read_key", f"{by} created key {name} with the read scope (reads every call)")
    return NewKey(name, key, found)


def revoke_key(con: Connection, name: str, *, by: str) -> None:
    check_name(name, "key name")
    if name == LOCAL_KEY_NAME:
        raise InputError(f"{LOCAL_KEY_NAME!r} is renewed at each service start; it cannot be revoked")
    if not storage.delete_key(con, name):
        raise InputError(f"no key {name!r} (see: assistant keys list)")
    record(con, by, "key.revoke", name)


def list_keys(con: Connection) -> list[StoredKey]:
    return storage.list_keys(con)


def key_json(key: StoredKey) -> dict[str, Any]:
    """A key as `assistant keys list --json` prints it (never the key or its hash)."""
    return {
        "name": key.name,
        "scopes": list(key.scopes),
        "created_at": key.created_at.isoformat(),
        "created_by": key.created_by,
    }


def key_principal(con: Connection, key: str) -> Principal | None:
    """The key behind a bearer token, or None."""
    if not key.startswith(KEY_PREFIX):
        return None
    found = storage.key_by_hash(con, token_hash(key))
    if found is None:
        return None
    if LOCAL_SCOPE in found.scopes:
        return local_principal(found.name)
    return Principal(found.name, "key", scopes=frozenset(found.scopes))


def local_key_path(home: str | None = None) -> Path:
    return Path(home or config.get().home) / LOCAL_KEY_FILE


def write_local_key(con: Connection, home: str | None = None) -> Path:
    """Renew the local admin key: store its hash and write it to `<home>/admin.key` (mode 0600)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    path = local_key_path(home)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    os.chmod(tmp, 0o600)  # an existing file keeps its mode through O_CREAT
    storage.save_key(con, LOCAL_KEY_NAME, token_hash(key), (LOCAL_SCOPE,), "service")
    tmp.replace(path)
    return path


def read_local_key(home: str | None = None) -> str | None:
    """The local admin key when this user can read it, else None."""
    try:
        return local_key_path(home).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
