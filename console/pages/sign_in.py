"""Sign in: name and password (local accounts of the service)."""

from __future__ import annotations

import streamlit as st

from assistant.errors import InputError
from console import ServiceUnavailable, is_fake, keep_signed_in, sign_in, sso_configured
from console import components as ui

st.title("Sign in")
st.caption("Sign in with the account your administrator gave you. The console shows the pages of your roles.")
ui.call("health")  # says "Service down" now, not after someone typed their password
if st.session_state.get("_signed_out") or st.query_params.get("signed_out"):
    st.info("You are signed out.", icon=":material/logout:")

if sso_configured():
    if st.session_state.get("_sso_error"):
        ui.error_banner(f"single sign-on: {st.session_state['_sso_error']}")
        if st.button("Sign out of single sign-on"):
            st.session_state.pop("_sso_error", None)
            st.logout()
    elif st.button("Sign in with single sign-on", type="primary", icon=":material/login:"):
        st.login()
    st.caption("Or with a local account:")

with st.form("sign_in"):
    name = st.text_input("User name", key="sign_in_name", autocomplete="username")
    password = st.text_input(
        "Password", type="password", key="sign_in_password", autocomplete="current-password"
    )
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    try:
        auth = sign_in(name.strip(), password)
    except ServiceUnavailable as exc:
        st.error(
            f"Service down: {ui.md_escape(str(exc))}. Try again when it is back.", icon=":material/cloud_off:"
        )
    except InputError as exc:
        ui.error_banner(str(exc))  # it may echo the name typed
    else:
        st.session_state.pop("_signed_out", None)
        # Through the route that sets the session cookie (a reload keeps the person signed in), then
        # to the page first asked for, with its `?call=ID`.
        if keep_signed_in(auth, st.session_state.pop("_next", "/")):
            st.write("Signed in. Opening the console...")
            st.stop()
        st.rerun()

if is_fake():
    st.caption(
        "This console runs on sample data: sign in as demo-agent, demo-supervisor, "
        "demo-knowledge-manager or demo-admin, password demo."
    )
else:
    st.caption(
        "Demo accounts (one per role: demo-agent, demo-supervisor, demo-knowledge-manager, demo-admin) "
        "exist only on a machine started with 'assistant up'; their passwords are printed in its terminal "
        "and kept in demo-accounts.txt in the assistant's home folder."
    )
