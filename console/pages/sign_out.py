"""Sign out: a page the sidebar links to, not a button.

Following a link is a navigation the browser makes itself, and it drops the Live call and Floor pages'
refresh timers; with a button, a refresh asked for just after the click could run after the sign-in page
and leave the main area blank.
"""

from __future__ import annotations

import streamlit as st

from console import forget_session, sign_out

st.session_state["_signed_out"] = True
if sign_out():
    st.write("Signing you out at your single sign-on provider...")
    st.stop()  # the browser goes there now; a rerun could drop the redirect
if forget_session():
    st.write("Signing you out...")
    st.stop()  # the browser deletes the session cookie, then opens the sign-in page
st.rerun()
