"""The console: Live call (agents), Floor, Calls, Daily digest (supervisors), Knowledge (knowledge managers).

Run everything with `assistant up`, or only the console with `.venv/bin/streamlit run console_server.py`
(the service must run: `assistant serve`). `ASSISTANT_CONSOLE_FAKE=1` runs the console on in-memory
sample data without a service. Pages live in console/pages/; they draw and call the service client.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import streamlit as st

from assistant.errors import AssistantError
from console import PAGE_ROLES, ServiceUnavailable, pages_for, restore_session, sign_in_sso, signed_in
from console.components import keyboard_helpers, md_escape

PAGES = Path(__file__).resolve().parent / "console" / "pages"
# A bundled file: an icon named ":material/...:" makes the browser fetch the favicon from the internet.
FAVICON = Path(__file__).resolve().parent / "console" / "favicon.svg"

# Focus must stay visible for keyboard users whatever the widget library draws.
st.markdown(
    "<style>:focus-visible{outline:3px solid #1f4e79 !important;outline-offset:2px !important}"
    ".live-region{padding:0.25rem 0}"
    # Streamlit draws a button's keyboard shortcut in faint grey (below 4.5:1 contrast): make it legible.
    "button kbd{color:#31333f !important;background-color:#f0f2f6 !important;opacity:1 !important}"
    # Date fields' day/month segments are below the 24 px minimum target size (WCAG 2.5.8) by default.
    '[role="spinbutton"][data-type]{display:inline-flex;min-width:24px;min-height:24px;'
    "align-items:center;justify-content:center}"
    # Live pages update every second: an element waiting for the next update keeps full contrast
    # (Streamlit fades it, which on a loaded machine put text below 4.5:1 for most of the time).
    '[data-stale="true"]{opacity:1 !important}'
    # At 320 px a long page title ("Administration") fits on its line instead of breaking mid-word.
    "@media (max-width:480px){h1{font-size:1.9rem !important;word-break:normal !important;"
    "overflow-wrap:normal !important}}</style>",
    unsafe_allow_html=True,
)
# Enter applies a date typed into a date field (Streamlit applies it only when focus leaves the field).
keyboard_helpers()
TITLES = {
    "floor": ("Floor", "floor"),
    "live_call": ("Live call", "live"),
    "calls": ("Calls", "calls"),
    "digest": ("Daily digest", "digest"),
    "knowledge": ("Knowledge", "knowledge"),
    "admin": ("Administration", "admin"),
}
auth = signed_in()
if auth is None:
    try:  # signed in before, in this browser: the session cookie names a live session at the service
        auth = restore_session()
    except ServiceUnavailable:
        auth = None  # the sign-in page says the service is down
if auth is None and not st.session_state.get("_sso_error"):
    try:  # signed in at the single sign-on provider (also after a reload): a session at the service
        auth = sign_in_sso()
    except (ServiceUnavailable, AssistantError) as exc:
        st.session_state["_sso_error"] = str(exc)
if auth is None:
    sign_in_page = st.Page(PAGES / "sign_in.py", title="Sign in", default=True)
    # Every page's address is known, so a link to one (`/calls?call=ID`) is remembered through sign-in.
    others = [
        st.Page(PAGES / f"{name}.py", title=TITLES[name][0], url_path=TITLES[name][1]) for name in PAGE_ROLES
    ]
    page = st.navigation([sign_in_page, *others], position="hidden")
    if page.title != sign_in_page.title:
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in st.query_params.to_dict().items())
        st.session_state["_next"] = f"/{page.url_path}" + (f"?{query}" if query else "")
        st.switch_page(sign_in_page)
else:
    allowed = pages_for(auth["roles"])
    # No page icons: the browser would fetch each page's icon (its favicon) from the internet.
    pages = [
        st.Page(PAGES / f"{name}.py", title=TITLES[name][0], default=n == 0,
                **({"url_path": TITLES[name][1]} if TITLES[name][1] else {}))
        for n, name in enumerate(allowed)
    ] or [st.Page(PAGES / "sign_in.py", title="Sign in", default=True)]  # fmt: skip
    leave = st.Page(PAGES / "sign_out.py", title="Sign out", url_path="sign-out")
    page = st.navigation([*pages, leave], position="hidden")
    with st.sidebar:
        if len(pages) > 1:
            for p in pages:
                st.page_link(p)
        st.write(f"Signed in as **{md_escape(auth['user'])}** ({', '.join(auth['roles'])})")
        st.page_link(leave, label="Sign out")  # no icon: its name would be read out before the label
# The browser tab names the page first (WCAG 2.4.2), then the product.
st.set_page_config(page_title=f"{page.title} - Contact Assistant", page_icon=str(FAVICON), layout="wide")
page.run()
