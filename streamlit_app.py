"""The console: Live call (agents), Calls, Daily digest (supervisors), Knowledge (knowledge managers).

Run everything with `assistant up`, or only the console with `.venv/bin/streamlit run streamlit_app.py`
(the service must run: `assistant serve`). `ASSISTANT_CONSOLE_FAKE=1` runs the console on in-memory
sample data without a service. Pages live in console/pages/; they draw and call the service client.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from console.components import keyboard_helpers

PAGES = Path(__file__).resolve().parent / "console" / "pages"
# A bundled file: an icon named ":material/...:" makes the browser fetch the favicon from the internet.
FAVICON = Path(__file__).resolve().parent / "console" / "favicon.svg"

# Focus must stay visible for keyboard users whatever the widget library draws.
st.markdown(
    "<style>:focus-visible{outline:3px solid #1f4e79 !important;outline-offset:2px !important}"
    ".live-region{padding:0.25rem 0}"
    # Date fields' day/month segments are below the 24 px minimum target size (WCAG 2.5.8) by default.
    '[role="spinbutton"][data-type]{display:inline-flex;min-width:24px;min-height:24px;'
    "align-items:center;justify-content:center}</style>",
    unsafe_allow_html=True,
)
# Enter applies a date typed into a date field (Streamlit applies it only when focus leaves the field).
keyboard_helpers()
page = st.navigation(
    [
        # No page icons: the browser would fetch each page's icon (its favicon) from the internet.
        st.Page(PAGES / "live_call.py", title="Live call", default=True),
        st.Page(PAGES / "calls.py", title="Calls", url_path="calls"),
        st.Page(PAGES / "digest.py", title="Daily digest", url_path="digest"),
        st.Page(PAGES / "knowledge.py", title="Knowledge", url_path="knowledge"),
    ]
)
# The browser tab names the page first (WCAG 2.4.2), then the product.
st.set_page_config(page_title=f"{page.title} - Contact Assistant", page_icon=str(FAVICON), layout="wide")
page.run()
