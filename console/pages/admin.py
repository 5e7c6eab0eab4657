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
who = st.text_input("Only this user", key="audit_user")
lines = ui.call("audit", None, who.strip() or None)
if lines is not None:
    if not lines:
        st.info("No audit lines match.", icon=":material/info:")
    else:
        ui.data_table(
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
