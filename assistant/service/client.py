"""The console's client of the service: one method per action, one HTTP call per method.

Errors: a service that cannot be reached raises `ServiceUnavailable`; a request the service
rejects as bad input (HTTP 400/409/422) raises `InputError` with its message (for an article, the
offending field first); 404 on a digest is None, on a digest export an `InputError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from assistant import config
from assistant.errors import AssistantError, InputError
from assistant.identity.keys import read_local_key

# Checks the console runs as the user types, before anything is sent: the same rules the service
# applies (articles are validated again there), re-exported so the console depends on this module only.
from assistant.knowledge.articles import ArticleError as ArticleError
from assistant.knowledge.articles import article_from_mapping as article_from_mapping
from assistant.service import schemas
from assistant.service.schemas import parse
from assistant.text.readability import flesch_kincaid_grade as flesch_kincaid_grade

STATE_FILE = "service.json"  # in the home folder while `assistant serve` runs: url, token, db, pid


def _cid(call_id: str) -> str:
    """A call id as one path segment (ids may contain '/')."""
    return quote(call_id, safe="")


class ServiceUnavailable(AssistantError):
    """The assistant service is not running or not reachable."""


class Forbidden(InputError):
    """The service knows who is asking, and they may not do this (HTTP 403)."""


class ServiceClient:
    """httpx client of the service at `base_url` (default: the `service_url` setting)."""

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 5.0,
        transport: Any = None,
    ) -> None:
        """`token`: a session token or API key; None: the `api_token` setting, else this machine's
        local admin key when this user can read it (the CLI on the service's machine); '': none."""
        import httpx

        cfg = config.get()
        self.base_url = (base_url or cfg.service_url).rstrip("/")
        if token is None:
            token = cfg.api_token or read_local_key() or None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs: dict[str, Any] = {"transport": transport} if transport is not None else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, **kwargs)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        none_on_404: bool = False,
        text: bool = False,
        raw: bool = False,
        **kwargs: Any,
    ) -> Any:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServiceUnavailable(
                f"the assistant service at {self.base_url} cannot be reached ({type(exc).__name__})",
                hint="start it with 'assistant serve'",
            ) from None
        if response.status_code == 404 and none_on_404:
            return None
        if response.status_code in (400, 404, 409, 422):
            raise InputError(_message(response))
        if response.status_code == 401:
            if path in ("/auth/sign-in", "/auth/oidc"):
                raise InputError(_message(response))
            raise InputError(f"the service refused the token: {_message(response)}", hint="sign in again")
        if response.status_code == 403:
            raise Forbidden(_message(response))
        if response.status_code == 413:
            raise InputError(_message(response))
        if response.status_code >= 400:
            raise ServiceUnavailable(f"the service answered {response.status_code}: {_message(response)}")
        if raw:
            return response
        return response.text if text else response.json()

    # -- calls ---------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return parse(schemas.Health | schemas.BriefHealth, self._call("GET", "/health"))

    def list_calls(self, active: bool | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if active is not None:
            params["active"] = str(active).lower()
        return parse(list[schemas.CallRow], self._call("GET", "/calls", params=params))

    def list_calls_page(
        self, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of calls, newest first, and the cursor of the next page (None: no more)."""
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = self._call("GET", "/calls", params=params, raw=True)
        return parse(list[schemas.CallRow], response.json()), response.headers.get("x-next-cursor")

    def process_call(
        self, audio: str, call_id: str | None = None, language: str | None = None
    ) -> dict[str, Any]:
        """`process-call` on the service's machine (a path there); the `process-call --json` shape."""
        body = {"audio": audio, "call_id": call_id, "language": language}
        return parse(schemas.ProcessedCall, self._call("POST", "/calls/process", json=body, timeout=None))

    def find_call(self, call_id: str) -> dict[str, Any] | None:
        """As `get_call`, but None when no such call is stored or live (`assistant calls show`)."""
        found = self._call("GET", f"/calls/{_cid(call_id)}", none_on_404=True)
        return None if found is None else parse(schemas.CallDetail, found)

    def get_call(self, call_id: str) -> dict[str, Any]:
        return parse(schemas.CallDetail, self._call("GET", f"/calls/{_cid(call_id)}"))

    def floor(self) -> dict[str, Any]:
        """Every live call the signed-in person may see, with agent, queue, sentiment and alerts."""
        return parse(schemas.Floor, self._call("GET", "/floor"))

    def events(self, call_id: str, cursor: int = 0) -> tuple[list[dict[str, Any]], int]:
        body = parse(
            schemas.Events, self._call("GET", f"/calls/{_cid(call_id)}/events", params={"cursor": cursor})
        )
        return body["events"], body["cursor"]

    def feedback(
        self, call_id: str, suggestion_id: str, kind: str, comment: str | None = None
    ) -> dict[str, Any]:
        body = {"suggestion_id": suggestion_id, "kind": kind, "comment": comment}
        return parse(schemas.FeedbackSaved, self._call("POST", f"/calls/{_cid(call_id)}/feedback", json=body))

    def set_outcome(self, call_id: str, outcome: str) -> dict[str, Any]:
        body = self._call("POST", f"/calls/{_cid(call_id)}/outcome", json={"outcome": outcome})
        return parse(schemas.OutcomeSet, body)

    def set_language(self, call_id: str, language: str) -> dict[str, Any]:
        body = self._call("POST", f"/calls/{_cid(call_id)}/language", json={"language": language})
        return parse(schemas.LanguageSet, body)

    def start_demo_call(self, sample: str | None = None) -> str:
        return parse(schemas.DemoCall, self._call("POST", "/demo-calls", json={"sample": sample}))["call_id"]

    # -- knowledge -----------------------------------------------------------------------------
    def search(self, text: str, k: int = 3, program: str | None = None) -> dict[str, Any]:
        body = self._call("POST", "/search", json={"text": text, "k": k, "program": program})
        return parse(schemas.SearchResults, body)

    def articles(self) -> list[dict[str, Any]]:
        return parse(list[schemas.Article], self._call("GET", "/articles"))

    def create_article(self, article: dict[str, Any]) -> dict[str, Any]:
        """A new article; an id already in use is an `InputError` ("id: ... already exists")."""
        if not article.get("id"):
            raise InputError("id: an article needs an id")
        return parse(schemas.Article, self._call("POST", "/articles", json=article))

    def save_article(self, article: dict[str, Any]) -> dict[str, Any]:
        """An edit of the existing article with this id (an `InputError` when there is none)."""
        article_id = article.get("id")
        if not article_id:
            raise InputError("id: an article needs an id")
        return parse(schemas.Article, self._call("PUT", f"/articles/{article_id}", json=article))

    def set_article_status(self, article_id: str, status: str) -> dict[str, Any]:
        body = self._call("POST", f"/articles/{article_id}/status", json={"status": status})
        return parse(schemas.Article, body)

    def rebuild_index(self) -> dict[str, Any]:
        return parse(schemas.IndexReport, self._call("POST", "/index/rebuild", timeout=300.0))

    def knowledge_gaps(self, limit: int = 50) -> list[dict[str, Any]]:
        return parse(list[schemas.Gap], self._call("GET", "/gaps", params={"limit": limit}))

    # -- digests -------------------------------------------------------------------------------
    def digest_dates(self) -> list[str]:
        return parse(list[str], self._call("GET", "/digests"))

    def digest(self, date: str) -> dict[str, Any] | None:
        found = self._call("GET", f"/digests/{date}", none_on_404=True)
        return None if found is None else parse(schemas.Digest, found)

    def build_digest(self, date: str) -> dict[str, Any]:
        """Build (or rebuild) and store the digest of `date`; returns it as `digest()` would."""
        return parse(schemas.Digest, self._call("POST", f"/digests/{date}", timeout=600.0))

    def digest_export(self, date: str, fmt: str = "markdown") -> str:
        """The stored digest as a Markdown or CSV file's text, laid out as `assistant digest --format`."""
        return self._call("GET", f"/digests/{date}/export", params={"format": fmt}, text=True)

    # -- signing in and administration ---------------------------------------------------------
    def sign_in(self, name: str, password: str) -> dict[str, Any]:
        """A session for `name`: {"token", "user", "roles", "expires_at"}; sends it from now on."""
        session = parse(
            schemas.SessionIssued,
            self._call("POST", "/auth/sign-in", json={"name": name, "password": password}),
        )
        self._http.headers["Authorization"] = f"Bearer {session['token']}"
        return session

    def sign_in_oidc(self, id_token: str) -> dict[str, Any]:
        """Single sign-on: the provider's ID token for a session (as `sign_in`)."""
        session = parse(schemas.SessionIssued, self._call("POST", "/auth/oidc", json={"id_token": id_token}))
        self._http.headers["Authorization"] = f"Bearer {session['token']}"
        return session

    def sign_out(self) -> None:
        self._call("POST", "/auth/sign-out")
        self._http.headers.pop("Authorization", None)

    def me(self) -> dict[str, Any]:
        return parse(schemas.Me, self._call("GET", "/auth/me"))

    def users(self) -> list[dict[str, Any]]:
        return parse(list[schemas.User], self._call("GET", "/users"))

    def add_user(self, name: str, roles: list[str], password: str | None = None) -> dict[str, Any]:
        body = {"name": name, "roles": roles, "password": password}
        return parse(schemas.UserAdded, self._call("POST", "/users", json=body))

    def remove_user(self, name: str) -> dict[str, Any]:
        return parse(schemas.UserRemoved, self._call("DELETE", f"/users/{quote(name, safe='')}"))

    def set_roles(self, name: str, roles: list[str]) -> list[str]:
        body = self._call("PUT", f"/users/{quote(name, safe='')}/roles", json={"roles": roles})
        return parse(schemas.UserRoles, body)["roles"]

    def keys(self) -> list[dict[str, Any]]:
        return parse(list[schemas.ApiKey], self._call("GET", "/keys"))

    def create_key(
        self, scopes: list[str], name: str | None = None, client_secret: bool = False
    ) -> dict[str, Any]:
        body = {"scopes": scopes, "name": name, "client_secret": client_secret}
        return parse(schemas.KeyCreated, self._call("POST", "/keys", json=body))

    def revoke_key(self, name: str) -> dict[str, Any]:
        return parse(schemas.KeyRevoked, self._call("DELETE", f"/keys/{quote(name, safe='')}"))

    def audit(self, since: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
        """The newest 100 lines matching (newest first); `audit_page` pages and counts."""
        return self.audit_page(user=user, since=since)["lines"]

    def audit_page(
        self,
        *,
        limit: int = 100,
        before: int | None = None,
        user: str | None = None,
        action: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> dict[str, Any]:
        """{"total", "next_before", "lines", "alerts"}: lines newest first, older than `before`."""
        filters = (("before", before), ("user", user), ("action", action), ("since", since), ("until", until))
        params: dict[str, Any] = {"limit": limit, **{k: v for k, v in filters if v}}
        response = self._call("GET", "/audit", params=params, raw=True)
        alerts = self._call("GET", "/audit", params={"limit": 20, "action": "alert.*"})
        cursor = response.headers.get("x-next-cursor")
        page = {
            "total": int(response.headers.get("x-total-count", "0")),
            "next_before": int(cursor) if cursor else None,
            "lines": response.json(),
            "alerts": alerts,
        }
        return parse(schemas.AuditPage, page)

    def unlock_user(self, name: str) -> dict[str, Any]:
        return parse(schemas.UserUnlocked, self._call("POST", f"/users/{quote(name, safe='')}/unlock"))

    def set_password(self, name: str, password: str) -> dict[str, Any]:
        body = self._call("PUT", f"/users/{quote(name, safe='')}/password", json={"password": password})
        return parse(schemas.PasswordSet, body)

    def apply_retention(
        self, dry_run: bool = False, transcript_days: int | None = None, audit_days: int | None = None
    ) -> dict[str, Any]:
        """Retention now; days given win over the service's settings (None: the service's)."""
        days = {"transcript_days": transcript_days, "audit_days": audit_days}
        request = {"dry_run": dry_run, **{k: v for k, v in days.items() if v is not None}}
        body = self._call("POST", "/retention/apply", json=request, timeout=600.0)
        return parse(schemas.RetentionReport, body)

    def delete_call(self, call_id: str) -> dict[str, Any]:
        return parse(schemas.CallDeleted, self._call("DELETE", f"/calls/{_cid(call_id)}"))

    # -- batch ---------------------------------------------------------------------------------
    def ingest(self, source: str) -> dict[str, Any]:
        """Ingest a file or folder on the service's machine into its database; the report's JSON."""
        return parse(
            schemas.IngestReport, self._call("POST", "/ingest", json={"source": source}, timeout=None)
        )


def _state_path() -> Path:
    return Path(config.get().home) / STATE_FILE


def write_service_state(url: str, token: str | None, db: str) -> Path:
    """Tell CLI commands on this machine where the service owning `db` listens (owner-only file)."""
    import json
    import os

    path = _state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"url": url, "token": token or "", "db": str(Path(db).expanduser().resolve()), "pid": os.getpid()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    return path


def remove_service_state() -> None:
    """Forget the state file, if it is this process's."""
    import json
    import os

    path = _state_path()
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def running_service(db: str | None = None) -> ServiceClient | None:
    """A client of the service that owns `db` (default: the db setting) when one runs on this
    machine, else None. DuckDB lets one process open the file, so the CLI goes through the service
    while it runs (ARCHITECTURE invariant 2). A stale state file (its process gone, or nothing
    answering) counts as no service."""
    import json
    import os

    import httpx

    try:
        state = json.loads(_state_path().read_text(encoding="utf-8"))
        pid, url, owned = int(state["pid"]), str(state["url"]), str(state["db"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    target = str(Path(db or config.get().db).expanduser().resolve())
    if owned != target:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    # The local admin key (readable by the service's own user only) makes the CLI an admin here.
    client = ServiceClient(url, token=read_local_key() or state.get("token") or None)
    try:
        client._http.get("/health", timeout=5.0)
    except httpx.TransportError:
        client.close()
        return None
    return client


def _message(response: Any) -> str:
    """One line from an error response; validation errors name their field first."""
    try:
        detail = response.json().get("detail")
    except ValueError:
        return response.text[:200] or f"HTTP {response.status_code}"
    if isinstance(detail, list) and detail:
        first = detail[0]
        if "field" in first:
            return f"{first['field']}: {first['message']}"
        where = ".".join(str(p) for p in first.get("loc", [])[1:])
        return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
    return str(detail)
