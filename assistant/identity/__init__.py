"""Who may do what: people and their roles, passwords, sessions, API keys, the audit log, retention.

- `roles`: the roles (agent, supervisor, knowledge_manager, admin) and key scopes (media, ingest,
  read, admin), and `Principal`, the person or key behind a request.
- `passwords`: argon2 hashing (pwdlib), the rules a chosen password must meet, generated passwords.
- `accounts`: local accounts, sign-in, unlock and new passwords, sessions that expire, demo accounts.
- `throttle`: failed sign-ins counted per (user name, client address), locks with back-off, and the
  audit budget that keeps a flood of failures from burying the log.
- `keys`: API keys (stored hashed) and the local admin key file the CLI uses on the service's machine.
- `audit`: the append-only audit log, its paged view and its alerts.
- `retention`: deleting calls and audit lines older than their retention.
- `oidc`: single sign-on with an OpenID Connect provider (ID tokens checked against its JWKS).

May import: storage, privacy, config, errors (the layers below it). Imported by: service and commands.
"""
