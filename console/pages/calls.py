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
    for r in shown
]
st.table(table)

ids = [r["call_id"] for r in shown]
picked = st.selectbox("Call to open", ids, key="calls_pick")
if st.button("Open call", type="primary", icon=":material/open_in_full:"):
    st.session_state.calls_open = picked

call_id = st.session_state.get("calls_open")
if call_id:
    data = ui.call("get_call", call_id)
    if data is None:
        st.stop()
    st.header(f"Call {call_id}")  # a stored id is a safe id (assistant/privacy.py)
    summary = data.get("summary") or {}
    st.subheader("Summary")
    st.markdown(ui.md_escape(summary.get("text") or "No summary stored."))
    st.markdown(
        f"**Outcome:** {data.get('outcome') or '-'} · **Language:** {ui.language_name(data.get('language'))}"
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
