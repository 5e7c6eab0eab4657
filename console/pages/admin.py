"""Administration (admins): the accounts and their roles, and the audit log."""

from __future__ import annotations

import streamlit as st

from console import components as ui

st.title("Administration")
st.caption(
    "Accounts and the audit log. Add people, change roles and create API keys with the "
    "'assistant users' and 'assistant keys' commands on the service's machine."
)

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
