"""Single sign-on against a real local OpenID Connect provider (oidc-provider-mock): the service
checks the provider's ID tokens with its JWKS and maps a claim to roles."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from oidc_util import id_token, provider
from service_util import as_user, make_app

from assistant import config
from assistant.errors import ConfigError
from assistant.identity.oidc import parse_role_map


@pytest.fixture(scope="module")
def issuer():  # noqa: ANN201
    with provider() as url:
        yield url


@pytest.fixture
def sso(issuer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("ASSISTANT_OIDC_ISSUER", issuer)
    monkeypatch.setenv("ASSISTANT_OIDC_CLIENT_ID", "console")
    config.reset()
    with TestClient(make_app(tmp_path)) as c:
        yield c


def test_a_provider_token_signs_in_with_its_roles(sso: TestClient, issuer: str) -> None:
    answer = sso.post("/auth/oidc", json={"id_token": id_token(issuer, "sam")})
    assert answer.status_code == 200, answer.text
    session = answer.json()
    assert session["user"] == "sam" and session["roles"] == ["supervisor"]
    me = {"Authorization": f"Bearer {session['token']}"}
    assert sso.get("/calls", headers=me).status_code == 200
    assert sso.post("/articles", json={"id": "x"}, headers=me).status_code == 403
    kim = sso.post("/auth/oidc", json={"id_token": id_token(issuer, "kim")}).json()
    assert kim["roles"] == ["knowledge_manager"]  # an unknown value in the claim is ignored


def test_no_role_forged_or_foreign_tokens_are_refused(sso: TestClient, issuer: str) -> None:
    nora = sso.post("/auth/oidc", json={"id_token": id_token(issuer, "nora")})
    assert nora.status_code == 403 and "no role" in nora.json()["detail"]
    token = id_token(issuer, "sam")
    head, payload, signature = token.split(".")
    forged = sso.post("/auth/oidc", json={"id_token": f"{head}.{payload}.{signature[::-1]}"})
    assert forged.status_code == 401 and "refused" in forged.json()["detail"]
    other_client = sso.post("/auth/oidc", json={"id_token": id_token(issuer, "sam", client_id="other-app")})
    assert other_client.status_code == 401 and "audience" in other_client.json()["detail"].lower()
    assert sso.post("/auth/oidc", json={"id_token": "not a token"}).status_code == 401


def test_a_local_account_of_the_same_name_is_not_taken_over(sso: TestClient, issuer: str) -> None:
    sso.headers["Authorization"] = ""  # anonymous, as the console before sign-in
    as_user(sso, "sam", "admin")
    answer = sso.post("/auth/oidc", json={"id_token": id_token(issuer, "sam")})
    assert answer.status_code == 403 and "local account" in answer.json()["detail"]


def test_role_map_from_groups(issuer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (("ISSUER", issuer), ("CLIENT_ID", "console"), ("ROLES_CLAIM", "groups"),
                        ("ROLE_MAP", "cc-agents=agent,cc-leads=supervisor")):  # fmt: skip
        monkeypatch.setenv(f"ASSISTANT_OIDC_{name}", value)
    config.reset()
    with TestClient(make_app(tmp_path)) as c:
        session = c.post("/auth/oidc", json={"id_token": id_token(issuer, "gina")}).json()
        assert session["roles"] == ["agent"]
        lines = c.get("/audit", headers=as_user(c, "ada", "admin")).json()
    assert ("gina", "sign_in") in {(x["user"], x["action"]) for x in lines}


def test_without_single_sign_on_set_up_the_route_says_so(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path)) as c:
        answer = c.post("/auth/oidc", json={"id_token": "x"})
    assert answer.status_code == 404 and "oidc_issuer" in answer.json()["detail"]


@pytest.mark.parametrize("text", ["agents", "x=boss", "=agent"])
def test_bad_role_maps_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="oidc_role_map"):
        parse_role_map(text)
