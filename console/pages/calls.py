"""Calls: search and filter past calls, open one (transcript, suggestions with feedback, summary), export."""

from __future__ import annotations

import datetime as dt
import json

import streamlit as st

from console import components as ui
from console import exports

st.title("Calls")
st.caption("Past and live calls. Filter, then open one to read it or export it.")

rows = ui.call("list_calls", limit=500)
if rows is None:
    st.stop()
if not rows:
    st.info(
        "No calls stored yet. Run a demo call on the Live call page, or ingest recordings.",
        icon=":material/info:",
    )
    st.stop()


def day(row: dict) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(row.get("started_at"))[:10])
    except ValueError:
        return None


days = [d for d in (day(r) for r in rows) if d]
st.header("Filter")
c1, c2 = st.columns(2)
since = c1.date_input("From date", value=min(days) if days else None, format="YYYY-MM-DD", key="calls_from")
until = c2.date_input("To date", value=max(days) if days else None, format="YYYY-MM-DD", key="calls_to")
c3, c4, c5 = st.columns(3)
languages = sorted({r["language"] for r in rows if r.get("language")})
language = c3.selectbox(
    "Language", ["any", *languages], format_func=lambda c: "Any" if c == "any" else ui.language_name(c)
)
outcomes = sorted({r["outcome"] for r in rows if r.get("outcome")})
outcome = c4.selectbox("Outcome", ["any", *outcomes], format_func=lambda o: "Any" if o == "any" else o)
topic = c5.text_input("Topic or reason contains", key="calls_topic")

shown = [
    r
    for r in rows
    if (not since or not day(r) or day(r) >= since)
    and (not until or not day(r) or day(r) <= until)
    and (language == "any" or r.get("language") == language)
    and (outcome == "any" or r.get("outcome") == outcome)
    and (not topic or topic.lower() in str(r.get("reason") or "").lower())
]
st.header(f"Calls found: {len(shown)}")
if not shown:
    st.info("No call matches these filters. Widen the dates or choose Any.", icon=":material/filter_alt_off:")
    st.stop()

SORTS = {
    "Newest first": (lambda r: str(r.get("started_at") or ""), True),
    "Oldest first": (lambda r: str(r.get("started_at") or ""), False),
    "Longest first": (lambda r: r.get("duration") or 0.0, True),
    "Shortest first": (lambda r: r.get("duration") or 0.0, False),
    "Language": (lambda r: ui.language_name(r.get("language")), False),
    "Outcome": (lambda r: r.get("outcome") or "", False),
}
PAGE_SIZE = 25
s1, s2 = st.columns(2)
# A new order starts on its first page.
sort = s1.selectbox(
    "Sort by", list(SORTS), key="calls_sort", on_change=lambda: st.session_state.pop("calls_page", None)
)
key, reverse = SORTS[sort]
ordered = sorted(shown, key=key, reverse=reverse)
pages = max(1, -(-len(ordered) // PAGE_SIZE))
labels = [f"Page {i} of {pages}" for i in range(1, pages + 1)]
if st.session_state.get("calls_page") not in labels:  # the filters changed the number of pages
    st.session_state.pop("calls_page", None)
page_label = s2.selectbox("Page", labels, key="calls_page") if pages > 1 else labels[0]
page_no = labels.index(page_label) if page_label in labels else 0
rows_here = ordered[page_no * PAGE_SIZE : (page_no + 1) * PAGE_SIZE]
first = page_no * PAGE_SIZE + 1
st.caption(
    f"Showing calls {first} to {first + len(rows_here) - 1} of {len(ordered)}. "
    "Choose a row to open that call, or pick it in the list under the table."
)


def open_call(call_id: str) -> None:
    """Open `call_id` below the list (also in the address, so the link can be shared) and bring it into view."""
    st.query_params["call"] = call_id
    st.session_state.calls_scroll = st.session_state.get("calls_scroll", 0) + 1


table_key = f"calls_table_{sort}_{page_no}"  # a new list (sort, page) starts with no row chosen


def row_chosen() -> None:
    chosen = st.session_state[table_key].selection.rows
    if chosen:
        open_call(rows_here[chosen[0]]["call_id"])


table = [
    {
        "Call": r["call_id"],
        "Started": str(r.get("started_at") or "")[:16].replace("T", " "),
        "Channel": r.get("channel") or "-",
        "Language": ui.language_name(r.get("language")),
        "Length": ui.clock(r.get("duration")),
        "Outcome": r.get("outcome") or "-",
        "Status": r.get("status") or "-",
        "Reason": r.get("reason") or "-",
    }
    for r in rows_here
]
st.dataframe(
    table, key=table_key, on_select=row_chosen, selection_mode="single-row", hide_index=True, height="content"
)

ids = [r["call_id"] for r in rows_here]
picked = st.selectbox("Call to open", ids, key="calls_pick")
if st.button("Open call", type="primary", icon=":material/open_in_full:") and picked:
    open_call(picked)

call_id = st.query_params.get("call")
if call_id:
    data = ui.call("get_call", call_id)
    if data is None:
        st.stop()
    st.header(
        f"Call {ui.md_escape(call_id)}", anchor="opened-call"
    )  # a stored id is a safe id (assistant/privacy/gate.py)
    # Bring the call into view once per opening (a row, the button, or a link to ?call=ID).
    request = (call_id, st.session_state.get("calls_scroll", 0))
    if st.session_state.get("calls_in_view") != request:
        st.session_state.calls_in_view = request
        ui.bring_into_view("#opened-call", request[1])
    summary = data.get("summary") or {}
    st.subheader("Summary")
    st.markdown(ui.md_escape(summary.get("text") or "No summary stored."))
    st.markdown(
        f"**Outcome:** {ui.md_escape(data.get('outcome') or '-')} · "
        f"**Language:** {ui.md_escape(ui.language_name(data.get('language')))}"
    )
    st.subheader("Transcript")
    captions = [dict(u, final=True) for u in data.get("utterances") or []]
    ui.captions_list(captions, key="calls_captions")
    st.subheader("Suggestions and feedback")
    feedback = {}
    for f in data.get("feedback") or []:
        feedback.setdefault(f["suggestion_id"], []).append(f["kind"].replace("_", " "))
    if not data.get("suggestions"):
        st.write("No suggestions were made in this call.")
    for s in data.get("suggestions") or []:
        what = (
            "no approved answer (abstained)"
            if s.get("abstained")
            else f"{s.get('title')} [{s.get('article_id')}]"
        )
        score = (
            f", confidence {ui.confidence_text(None, s.get('score'))}" if s.get("score") is not None else ""
        )
        given = ", ".join(feedback.get(s["suggestion_id"], [])) or "none"
        st.markdown(
            f"- {ui.md_escape(what)}{score}. Question: {ui.md_escape(s.get('utterance'))}. Feedback: {given}"
        )
    st.subheader("Export")
    a, b, c = st.columns(3)
    a.download_button(
        "Transcript (text)", exports.transcript_text(captions), file_name=f"{call_id}.txt", on_click="ignore"
    )
    b.download_button(
        "Captions (WebVTT)", exports.webvtt(captions), file_name=f"{call_id}.vtt", on_click="ignore"
    )
    c.download_button("Call (JSON)", json.dumps(data, ensure_ascii=False, indent=2), file_name=f"{call_id}.json",
                      mime="application/json", on_click="ignore")  # fmt: skip
