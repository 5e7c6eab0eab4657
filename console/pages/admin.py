"""Administration (admins): the accounts and their roles, API keys (list, create, revoke), and the audit log."""

from __future__ import annotations

import streamlit as st

from console import components as ui

st.title("Administration")
st.caption(
    "Accounts, API keys and the audit log. Add people and change roles with the "
    "'assistant users' command on the service's machine."
)

SCOPES = {
    "media": "media: stream calls (a contact-center platform)",
    "ingest": "ingest: add recordings and transcripts",
    "read": "read: calls, digests and the floor",
    "admin": "admin: accounts, keys and the audit log",
}


def keys_section() -> None:
    """API keys: the list, a new key (its secret shown once, here), and revoking one."""
    st.header("API keys")
    st.caption("Keys let a machine call the service. A new key is shown once, right after you create it.")
    made = st.session_state.pop("admin_new_key", None)
    if made is not None:  # shown on this run only: the next one no longer has it
        st.success(f"Key **{ui.md_escape(made['name'])}** created. Copy it now; it is not shown again.",
                   icon=":material/key:")  # fmt: skip
        st.code(made["key"], language=None)
    note = st.session_state.pop("admin_key_note", None)
    if note:
        ui.done_banner(note)
    found = ui.call("keys")
    if found is None:
        return
    if found:
        st.table([{"Name": k["name"], "Scopes": ", ".join(k["scopes"]), "Created": ui.readable_time(k["created_at"]),
                   "Created by": k["created_by"]} for k in found])  # fmt: skip
    else:
        st.info("No API keys.", icon=":material/info:")
    with st.form("admin_key_form", clear_on_submit=True):
        name = st.text_input("New key's name (optional)", key="admin_key_name")
        scopes = st.multiselect(
            "Scopes of the new key", list(SCOPES), format_func=SCOPES.get, key="admin_key_scopes"
        )
        create = st.form_submit_button("Create key", icon=":material/key:")
    if create:
        created = ui.call("create_key", scopes, name.strip() or None)
        if created is not None:
            st.session_state.admin_new_key = created
            st.rerun()
    if found:
        pick = st.selectbox("Key to revoke", [k["name"] for k in found], index=None, key="admin_key_pick",
                            placeholder="Choose a key")  # fmt: skip
        revoke = st.button("Revoke key", disabled=pick is None, icon=":material/key_off:")
        if revoke and pick is not None and ui.call("revoke_key", pick) is not None:
            st.session_state.admin_key_note = f"key {pick} revoked: it no longer opens anything"
            st.rerun()


st.header("Accounts")
users = ui.call("users")
if users is None:
    st.stop()
st.table(
    [
        {
            "Name": u["name"],
            "Roles": ", ".join(u["roles"]),
            "Kind": u["source"],
            "Locked": f"until {ui.readable_time(u['locked_until'])}" if u["locked"] else "no",
        }
        for u in users
    ]
)

keys_section()

st.header("Audit log")
who = st.text_input("Only this user", key="audit_user")
lines = ui.call("audit", None, who.strip() or None)
if lines is not None:
    if not lines:
        st.info("No audit lines match.", icon=":material/info:")
    else:
        st.table(
            [
                {
                    "When": ui.readable_time(x["at"]),
                    "Who": x["user"],
                    "What": x["action"],
                    "Target": x["target"],
                }
                for x in reversed(lines[-500:])
            ]
        )
