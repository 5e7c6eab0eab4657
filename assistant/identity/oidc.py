"""Single sign-on with an OpenID Connect provider (Login.gov, Entra ID, Okta, Keycloak ...).

The console signs the person in at the provider (Streamlit's `st.login`, Authlib) and hands the
service the ID token; the service checks it here with PyJWT against the provider's published keys
(its JWKS, found through `<issuer>/.well-known/openid-configuration`): signature, issuer, audience
(`oidc_client_id`) and expiry. The claim `oidc_roles_claim` gives the roles, through
`oidc_role_map` (`group=role,...`; empty: the claim's values are role names). A person with no role
is refused. The account is kept (source `oidc`, no password) so the audit log and calls name them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from assistant import config, storage
from assistant.errors import AssistantError, ConfigError
from assistant.identity.accounts import OIDC_SOURCE, Session, open_session
from assistant.identity.audit import record
from assistant.identity.roles import ROLES, check_name
from assistant.storage import Connection


class TokenRefused(AssistantError):
    """An ID token that does not check out, or a person with no role here (HTTP 401/403)."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class OidcOptions:
    """Attributes: issuer (the provider's URL), client_id (the audience of its ID tokens),
    roles_claim, role_map (claim value -> role), name_claim (the user name)."""

    issuer: str
    client_id: str
    roles_claim: str = "roles"
    role_map: Mapping[str, str] | None = None
    name_claim: str = "preferred_username"

    @classmethod
    def from_config(cls) -> OidcOptions | None:
        cfg = config.get()
        if not cfg.oidc_issuer:
            return None
        if not cfg.oidc_client_id:
            raise ConfigError("oidc_issuer is set but oidc_client_id is empty")
        return cls(
            cfg.oidc_issuer.rstrip("/"),
            cfg.oidc_client_id,
            cfg.oidc_roles_claim,
            parse_role_map(cfg.oidc_role_map),
            cfg.oidc_name_claim,
        )


def parse_role_map(text: str) -> dict[str, str] | None:
    """`group-a=agent,group-b=supervisor` -> {"group-a": "agent", ...}; '' -> None (values are roles)."""
    if not text.strip():
        return None
    found: dict[str, str] = {}
    for part in text.split(","):
        value, sep, role = part.partition("=")
        if not sep or not value.strip() or role.strip() not in ROLES:
            raise ConfigError(
                f"oidc_role_map: {part.strip()!r} is not CLAIM_VALUE=ROLE with a role of {', '.join(ROLES)}"
            )
        found[value.strip()] = role.strip()
    return found


@lru_cache(maxsize=8)
def _jwks_client(issuer: str) -> Any:
    import httpx
    import jwt

    try:
        meta = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise TokenRefused(
            f"the sign-on provider {issuer} cannot be reached ({type(exc).__name__})", status=503
        ) from None
    return jwt.PyJWKClient(meta["jwks_uri"], cache_keys=True)


def verify(id_token: str, options: OidcOptions) -> dict[str, Any]:
    """The ID token's claims once its signature, issuer, audience and expiry check out."""
    import jwt

    try:
        client = _jwks_client(options.issuer)
        kid = jwt.get_unverified_header(id_token).get("kid")
        if kid is not None:
            key = client.get_signing_key(kid)
        else:  # a provider with one key may leave out its id
            keys = client.get_signing_keys()
            if len(keys) != 1:
                raise TokenRefused("the sign-on token names no key (kid) and the provider has several")
            key = keys[0]
        return dict(
            jwt.decode(
                id_token,
                key.key,
                algorithms=["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"],
                audience=options.client_id,
                issuer=options.issuer,
                options={"require": ["exp", "iat", "sub"]},
            )
        )
    except jwt.PyJWTError as exc:
        raise TokenRefused(f"the sign-on token was refused: {exc}") from None


def roles_of(claims: Mapping[str, Any], options: OidcOptions) -> tuple[str, ...]:
    """The roles a person's claims give (unknown values are ignored)."""
    raw = claims.get(options.roles_claim)
    values = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list | tuple) else []
    mapped = [options.role_map.get(str(v)) if options.role_map is not None else str(v) for v in values]
    return tuple(sorted({r for r in mapped if r in ROLES}))


def sign_in_with_token(con: Connection, id_token: str, options: OidcOptions) -> Session:
    """A session for the person an ID token names, with the roles its claims give."""
    claims = verify(id_token, options)
    name = str(claims.get(options.name_claim) or claims["sub"])
    try:
        check_name(name)
    except AssistantError:
        raise TokenRefused(f"the sign-on name {name!r} cannot be a user name here") from None
    roles = roles_of(claims, options)
    if not roles:
        record(con, name, "sign_in.failed", f"{name} (single sign-on: no role)")
        raise TokenRefused(
            f"{name} has no role in this assistant (claim {options.roles_claim!r})", status=403
        )
    user = storage.get_user(con, name)
    if user is None:
        storage.save_user(con, name, roles, "", OIDC_SOURCE)
        record(con, name, "user.add", f"{name} roles={','.join(roles)} (single sign-on)")
    elif user.source != OIDC_SOURCE:
        raise TokenRefused(f"{name} is a local account here; sign in with its password", status=403)
    elif user.roles != roles:
        storage.set_user_roles(con, name, roles)
        record(con, name, "user.set_roles", f"{name} roles={','.join(roles)} (single sign-on)")
    session = open_session(con, storage.get_user(con, name))  # type: ignore[arg-type]
    record(con, name, "sign_in", f"{name} (single sign-on)")
    return session
