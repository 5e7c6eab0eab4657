"""The console: Live call (agents), Calls, Daily digest (supervisors), Knowledge (knowledge managers).

Run everything with `assistant up`, or only the console with `.venv/bin/streamlit run streamlit_app.py`
(the service must run: `assistant serve`). `ASSISTANT_CONSOLE_FAKE=1` runs the console on in-memory
sample data without a service. Pages live in console/pages/; they draw and call the service client.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).resolve().parent / "console" / "pages"

# Focus must stay visible for keyboard users whatever the widget library draws.
st.markdown(
    "<style>:focus-visible{outline:3px solid #1f4e79 !important;outline-offset:2px !important}"
    ".live-region{padding:0.25rem 0}"
    # Date fields' day/month segments are below the 24 px minimum target size (WCAG 2.5.8) by default.
    '[role="spinbutton"][data-type]{display:inline-flex;min-width:24px;min-height:24px;'
    "align-items:center;justify-content:center}</style>",
    unsafe_allow_html=True,
)
page = st.navigation(
    [
        st.Page(PAGES / "live_call.py", title="Live call", icon=":material/call:", default=True),
        st.Page(PAGES / "calls.py", title="Calls", icon=":material/history:", url_path="calls"),
        st.Page(PAGES / "digest.py", title="Daily digest", icon=":material/insights:", url_path="digest"),
        st.Page(PAGES / "knowledge.py", title="Knowledge", icon=":material/menu_book:", url_path="knowledge"),
    ]
)
# The browser tab names the page first (WCAG 2.4.2), then the product.
st.set_page_config(
    page_title=f"{page.title} - Contact Assistant", page_icon=":material/support_agent:", layout="wide"
)
page.run()
