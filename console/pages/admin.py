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
ui.data_table(
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
PAGE_SIZE = 50
FILTER_KEYS = ("audit_user", "audit_action", "audit_since", "audit_until")
cols = st.columns(4)
who = cols[0].text_input("Only this user", key="audit_user")
action = cols[1].text_input("Only this action", key="audit_action", help="a prefix with '*': sign_in*")
since = cols[2].text_input("From (date or time, UTC)", key="audit_since", placeholder="YYYY-MM-DD")
until = cols[3].text_input("Before (date or time, UTC)", key="audit_until", placeholder="YYYY-MM-DD")
filters = tuple(st.session_state.get(k, "").strip() for k in FILTER_KEYS)
if st.session_state.get("audit_filters") != filters:  # new filters start again at the newest line
    st.session_state["audit_filters"] = filters
    st.session_state["audit_pages"] = []
pages: list[int] = st.session_state.setdefault("audit_pages", [])  # cursors of the pages behind us
found = ui.call(
    "audit_page",
    limit=PAGE_SIZE,
    before=pages[-1] if pages else None,
    user=who.strip() or None,
    action=action.strip() or None,
    since=since.strip() or None,
    until=until.strip() or None,
)
if found is not None:
    if found["alerts"]:
        st.warning(
            f"{len(found['alerts'])} latest alert(s): access to calls given out by an admin to "
            "themselves, or a read key made (see docs/service.md, Security)",
            icon=":material/warning:",
        )
        st.markdown(
            "\n".join(
                f"- {ui.md_escape(ui.readable_time(x['at']))}: {ui.md_escape(x['target'])}"
                for x in found["alerts"]
            )
        )
    first = len(pages) * PAGE_SIZE + 1 if found["lines"] else 0
    st.caption(
        f"Lines {first}-{first + len(found['lines']) - 1 if found['lines'] else 0} of {found['total']}, newest first"
    )
    if not found["lines"]:
        st.info("No audit lines match.", icon=":material/info:")
    else:
        ui.data_table(
            [
                {
                    "When": ui.readable_time(x["at"]),
                    "Who": x["user"],
                    "What": x["action"],
                    "Target": x["target"],
                    "From": x.get("source") or "",
                }
                for x in found["lines"]
            ]
        )
    newer, older = st.columns(2)
    if newer.button("Newer lines", disabled=not pages, key="audit_newer"):
        pages.pop()
        st.rerun()
    if older.button("Older lines", disabled=found["next_before"] is None, key="audit_older"):
        pages.append(found["next_before"])
        st.rerun()
