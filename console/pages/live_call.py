"""Live call (agents): captions, suggestions, the agent's own search, language, sentiment, summary."""

from __future__ import annotations

import streamlit as st

from assistant import config
from console import components as ui
from console import exports, live

OUTCOMES = ("resolved", "follow-up", "transferred", "unknown")

st.title("Live call")
REFRESH = min(10.0, max(0.25, config.get().console_refresh))  # faster would only load the machine
st.caption(f"Captions and approved answers while you talk. Updates arrive every {REFRESH:g} seconds.")

if "live" not in st.session_state:
    st.session_state.live = live.new_state(None)
agent_language = config.get().agent_language

# ---------------------------------------------------------------- choose a call
active = ui.call("list_calls", active=True)
if active is None:
    st.stop()
choices = [c["call_id"] for c in active]
left, right = st.columns([3, 2], vertical_alignment="bottom")
with left:
    picked = st.selectbox(
        "Active call",
        choices,
        index=None,
        placeholder="No active calls" if not choices else "Choose a call",
        key="live_pick",
    )
    if st.button("Open selected call", disabled=picked is None):
        st.session_state.live = live.new_state(picked)
with right:
    if st.button("Start demo call", type="primary", icon=":material/play_arrow:"):
        call_id = ui.call("start_demo_call")
        if call_id:
            st.session_state.live = live.new_state(call_id)

state = st.session_state.live
paused = st.toggle("Pause updates", key="live_paused", help="Stop refreshing; captions keep being recorded.")
polling = bool(state["call_id"]) and not paused and not live.is_over(state)


# ---------------------------------------------------------------- updates (fragment: no full rerun)
@st.fragment(run_every=REFRESH if polling else None)
def updates() -> None:
    state = st.session_state.live
    announce = st.empty()  # first element of the fragment, always: the live region keeps its DOM node
    was_over = live.is_over(state)
    if state["call_id"] and not paused and not was_over:
        got = ui.call("events", state["call_id"], state["cursor"])
        if got is not None:
            events, cursor = got
            live.apply_events(state, events, cursor)
    with announce.container():
        ui.live_region(state["latest"])
    if not state["call_id"]:
        st.info("No call open. Start a demo call or open an active call above.", icon=":material/info:")
        return
    if live.is_over(state) and not was_over:
        st.rerun()  # the whole page: stop polling and show the summary
    status = {"live": "in progress", "ended": "ended", "interrupted": "interrupted"}.get(
        state["status"], "unknown"
    )
    lang = state["language"] or {}
    senti = state["sentiment"]
    facts = [f"**Call** {state['call_id']} ({status}{', updates paused' if paused else ''})"]
    if lang:
        how = (
            "set by agent"
            if lang.get("overridden")
            else f"detected, {round(100 * (lang.get('probability') or 0))}% sure"
        )
        facts.append(f"**Language:** {ui.language_name(lang.get('language'))}, {how}")
    if senti:
        facts.append(f"**Caller sentiment:** {senti.get('label')} ({senti.get('score', 0):+.2f})")
    st.markdown(" · ".join(facts))

    cap_col, sug_col = st.columns([3, 2])
    with cap_col:
        st.header("Captions", divider="gray")
        ui.captions_list(state["captions"], key="live_captions", agent_language=agent_language)
        if state["captions"]:
            a, b = st.columns(2)
            a.download_button("Download captions (WebVTT)", exports.webvtt(state["captions"]),
                              file_name=f"{state['call_id']}.vtt", mime="text/vtt", on_click="ignore")  # fmt: skip
            b.download_button("Download captions (text)", exports.transcript_text(state["captions"]),
                              file_name=f"{state['call_id']}.txt", mime="text/plain", on_click="ignore")  # fmt: skip
    with sug_col:
        st.header("Suggestions", divider="gray")
        if not state["suggestions"]:
            st.info(
                "No suggestions yet. They appear when the caller asks a question.", icon=":material/info:"
            )
        for s in reversed(state["suggestions"]):
            sid = s["suggestion_id"]

            def give(kind: str, sid: str = sid) -> None:
                if ui.call("feedback", state["call_id"], sid, kind) is not None:
                    state["feedback"][sid] = kind
                    state["latest"] = f"Feedback saved: {kind.replace('_', ' ')}."

            ui.suggestion_card(s, key=f"fb_{sid}", feedback=state["feedback"], on_feedback=give)


updates()

# ---------------------------------------------------------------- the agent's own tools
if state["call_id"]:
    st.header("Search the knowledge base")
    with st.form("live_search", border=False):
        query = st.text_input("Your question", placeholder="e.g. replace a lost benefits card")
        if st.form_submit_button("Search", icon=":material/search:") and query.strip():
            result = ui.call("search", query.strip())
            if result is not None:
                ui.search_results(result)
    st.header("Call language")
    codes = sorted(ui.LANGUAGE_NAMES)
    current = (state["language"] or {}).get("language")
    chosen = st.selectbox("Override the call language", codes, index=codes.index(current) if current in codes else None,
                          format_func=ui.language_name, placeholder="Choose a language", key="live_lang")  # fmt: skip
    clicked = st.button("Set call language", disabled=chosen is None)
    if clicked and chosen and ui.call("set_language", state["call_id"], chosen) is not None:
        state["language"] = {"language": chosen, "probability": 1.0, "overridden": True}
        ui.done_banner(f"call language set to {ui.language_name(chosen)}")

if state["summary"]:
    st.header("Call summary")
    summary = state["summary"]
    st.markdown(ui.md_escape(summary.get("text")))
    if summary.get("key_details"):
        st.markdown("**Key details:** " + ui.md_escape(", ".join(summary["key_details"])))
    outcome = summary.get("outcome", "unknown")
    new = st.selectbox(
        "Outcome", OUTCOMES, index=OUTCOMES.index(outcome) if outcome in OUTCOMES else 3, key="live_outcome"
    )
    if st.button("Save outcome") and ui.call("set_outcome", state["call_id"], new) is not None:
        # The service restates the stored summary with the new outcome: show that one.
        stored = ui.call("get_call", state["call_id"]) or {}
        state["summary"] = stored.get("summary") or {**summary, "outcome": new}
        st.session_state.live_outcome_saved = new
        st.rerun()
    if st.session_state.pop("live_outcome_saved", None) == outcome:
        ui.done_banner(f"outcome saved as {outcome}")
