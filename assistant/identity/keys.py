"""API keys for machine clients (the telephony fork, batch jobs), and the local admin key file.

A key is `ak_` and 43 random characters; only its SHA-256 is stored (a key has far more entropy
than a password, so a slow hash adds nothing). `create_key` returns the key once.

AudioHook client secrets (`create_key(..., client_secret=True)`, `client_secret`): Genesys signs
each connection with a shared secret, so the service must be able to recompute it. It is not kept
per key: it is HMAC-SHA256 of the key's stored hash under a secret of the installation,
`<home>/client_secrets.key` (32 random bytes, mode 0600, made on first use). The database alone
gives no secret; a revoked key's secret dies with its hash; losing the file invalidates every
secret (make new keys).

The local admin key: the service writes a fresh one at each start to `<home>/admin.key`, mode 0600,
so the CLI run by the service's own user on its machine acts as admin through the running service
(the way a local admin socket works); anyone else needs a key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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
SECRETS_FILE = "client_secrets.key"


@dataclass(frozen=True)
class NewKey:
    """A key just created: `key` is shown once and never stored."""

    name: str
    key: str
    scopes: tuple[str, ...]
    client_secret: str | None = None  # base-64, for AudioHook's signatures


def create_key(
    con: Connection, scopes: Sequence[str], name: str | None = None, *, by: str, client_secret: bool = False
) -> NewKey:
    found = check_scopes(scopes)
    name = check_name(name, "key name") if name is not None else f"key-{secrets.token_hex(3)}"
    if name == LOCAL_KEY_NAME:
        raise InputError(f"{LOCAL_KEY_NAME!r} is the service's own key; choose another name")
    if storage.get_key(con, name) is not None:
        raise InputError(f"a key named {name!r} already exists (revoke it first: assistant keys revoke)")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    if client_secret and "media" not in found:
        raise InputError("a client secret is for media keys (AudioHook): add --scope media")
    storage.save_key(con, name, token_hash(key), found, by)
    record(
        con,
        by,
        "key.create",
        f"{name} scopes={','.join(found)}" + (" client-secret" if client_secret else ""),
    )
    if "read" in found:  # a read key reads every call: allowed, but shown at the audit view's top
        alert(con, by, "read_key", f"{by} created key {name} with the read scope (reads every call)")
    secret = base64.b64encode(_derive(token_hash(key))).decode() if client_secret else None
    return NewKey(name, key, found, secret)


def _installation_secret(home: str | None = None) -> bytes:
    path = Path(home or config.get().home) / SECRETS_FILE
    try:
        found = bytes.fromhex(path.read_text(encoding="utf-8").strip())
        if len(found) == 32:
            return found
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    made = secrets.token_bytes(32)
    tmp = path.with_name(f"{SECRETS_FILE}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(made.hex() + "\n")
    try:
        os.link(tmp, path)  # the first process to make it wins; the others read its secret
    except FileExistsError:
        return bytes.fromhex(path.read_text(encoding="utf-8").strip())
    finally:
        tmp.unlink()
    return made


def _derive(key_hash: str) -> bytes:
    return hmac.new(
        _installation_secret(), b"audiohook-client-secret:" + key_hash.encode(), hashlib.sha256
    ).digest()


def client_secret(con: Connection, key: str) -> tuple[str, bytes] | None:
    """The name and client secret of a media key (or the local admin key), or None for an
    unknown key or one without the media scope."""
    found = storage.key_by_hash(con, token_hash(key)) if key.startswith(KEY_PREFIX) else None
    if found is None or not {"media", LOCAL_SCOPE} & set(found.scopes):
        return None
    return found.name, _derive(found.key_hash)


def local_client_secret(key: str) -> str:
    """The base-64 client secret of `key` as this machine's service derives it (for the local
    admin key: `simulate-call --format audiohook` on the service's machine)."""
    return base64.b64encode(_derive(token_hash(key))).decode()


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
