"""A real local OpenID Connect provider for tests (oidc-provider-mock), and the code flow a
browser would run against it, done with httpx (not a test module)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx

PEOPLE = {
    "sam": {"preferred_username": "sam", "roles": ["supervisor"]},
    "kim": {"preferred_username": "kim", "roles": ["knowledge_manager", "unknown-role"]},
    "nora": {"preferred_username": "nora", "roles": []},
    "gina": {"preferred_username": "gina", "groups": ["cc-agents"]},
}


@contextlib.contextmanager
def provider() -> Iterator[str]:
    """The provider's issuer URL while it runs (users: `PEOPLE`)."""
    from oidc_provider_mock import User, run_server_in_thread

    users = [User(sub=sub, claims=claims) for sub, claims in PEOPLE.items()]
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


def id_token(issuer: str, sub: str, client_id: str = "console") -> str:
    """Sign `sub` in at the provider (authorization code flow) and return the ID token it issues."""
    redirect = "http://localhost:1/callback"
    params = {"client_id": client_id, "redirect_uri": redirect, "response_type": "code",
              "scope": "openid profile", "state": "s", "nonce": "n"}  # fmt: skip
    with httpx.Client(base_url=issuer, timeout=10) as http:
        answer = http.post("/oauth2/authorize", params=params, data={"sub": sub})
        assert answer.status_code in (302, 303), answer.text[:300]
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        token = http.post(
            "/oauth2/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
            auth=(client_id, "secret"),
        )
        assert token.status_code == 200, token.text[:300]
        return str(token.json()["id_token"])
