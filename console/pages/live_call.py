"""Live call (agents): the agent's own call opens by itself; captions, suggestions led by a line to
say, the agent's own search (with or without a call), language, sentiment, summary.

An agent never chooses from a list: the service routes each call to its agent (the media stream's
`agent`), and this page opens the newest live call routed to the signed-in agent as soon as it
starts. Supervisors (and anyone on the sample data) can still open any live call, or start a demo.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from assistant import config
from console import components as ui
from console import exports, live, signed_in

OUTCOMES = ("resolved", "follow-up", "transferred", "unknown")

st.title("Live call")
REFRESH = min(10.0, max(0.25, config.get().console_refresh))  # faster would only load the machine
ANNOUNCE_AGENT = bool(config.get().console_announce_agent)
auth = signed_in() or {}
roles = set(auth.get("roles") or ())
ROUTED = "agent" in roles and "supervisor" not in roles  # calls come to this person by routing
st.caption(
    "Your call opens here by itself when it starts. Captions and approved answers while you talk; "
    f"updates arrive every {REFRESH:g} seconds."
)

if "live" not in st.session_state:
    st.session_state.live = live.new_state(None)
    st.session_state.live_seen = set()  # calls this page already opened (an ended one is not reopened)
agent_language = config.get().agent_language

# ---------------------------------------------------------------- open a call
left, right = st.columns([3, 2], vertical_alignment="bottom")
with left:
    if ROUTED:
        st.caption("Calls routed to you open here as they start.")
    else:
        active = ui.call("list_calls", active=True)
        choices = [c["call_id"] for c in active or []]
        routed, _ = ui.fetch("floor")  # who and where, so a call is more than its id
        labels = {r["call_id"]: f"{r['call_id']} (agent {r['agent'] or 'unassigned'}, queue {r['queue'] or '-'})"
                  for r in (routed or {}).get("calls", [])}  # fmt: skip
        picked = st.selectbox("Active call", choices, index=None, key="live_pick", format_func=lambda c: labels.get(c, c),
                              placeholder="No active calls" if not choices else "Choose a call")  # fmt: skip
        if st.button("Open selected call", disabled=picked is None):
            st.session_state.live = live.new_state(picked)
            st.session_state.live_seen.add(picked)
with right:
    if st.button("Start demo call", type="primary", icon=":material/play_arrow:"):
        call_id = ui.call("start_demo_call")
        if call_id:
            st.session_state.live = live.new_state(call_id)
            st.session_state.live_seen.add(call_id)

state = st.session_state.live
paused = st.toggle("Pause updates", key="live_paused", help="Stop refreshing; captions keep being recorded.")
st.caption(ui.SHORTCUTS_TEXT)
ui.focus_search_shortcut()


def running(row: dict | None, fallback: float | None) -> str:
    """The call's running duration: from its start time when known (it ticks between events)."""
    started = (row or {}).get("started_at")
    if started:
        try:
            begun = dt.datetime.fromisoformat(started)
            return ui.clock(max(0.0, (dt.datetime.now(dt.UTC) - begun).total_seconds()))
        except ValueError:
            pass
    return ui.clock(fallback)


# ---------------------------------------------------------------- updates (fragment: no full rerun)
@st.fragment(run_every=None if paused else REFRESH)
def updates() -> None:
    state = st.session_state.live
    was_over = live.is_over(state)
    floor, problem = ui.fetch("floor")
    rows = {r["call_id"]: r for r in (floor or {}).get("calls", [])}
    if ROUTED and (state["call_id"] is None or was_over):
        new = [r for r in rows.values() if r["call_id"] not in st.session_state.live_seen]
        if new:  # the newest call routed to this agent
            newest = max(new, key=lambda r: r["started_at"] or "")
            st.session_state.live = live.new_state(newest["call_id"])
            st.session_state.live_seen.add(newest["call_id"])
            st.rerun()  # the whole page: the call's own tools (language) appear below
    if state["call_id"] and not paused and not was_over:
        got, problem = ui.fetch("events", state["call_id"], state["cursor"])
        if got is not None:
            events, cursor = got
            live.apply_events(state, events, cursor, announce_agent=ANNOUNCE_AGENT)
    # The live region is always this fragment's first element, with the same shape: the browser keeps
    # its DOM node and only the text changes, which is what screen readers announce.
    ui.live_region(state["latest"])
    if problem:
        st.error(problem, icon=":material/cloud_off:")
    if not state["call_id"]:
        waiting = (
            "Waiting for your next call."
            if ROUTED
            else "No call open. Start a demo call or open an active call above."
        )
        st.info(waiting, icon=":material/info:")
        return
    if live.is_over(state) and not was_over:
        st.rerun()  # the whole page: show the summary
    status = {"live": "in progress", "ended": "ended", "interrupted": "interrupted"}.get(
        state["status"], "unknown"
    )
    row = rows.get(state["call_id"])
    facts = [f"**Call** {ui.md_escape(state['call_id'])} ({status}{', updates paused' if paused else ''})"]
    if row:
        facts.append(f"**Queue:** {ui.md_escape(row['queue'] or 'none')}")
        facts.append(f"**Started:** {ui.md_escape(ui.readable_time(row['started_at']))}")
        facts.append(f"**Duration:** {running(row, row['duration'])}")
    lang = state["language"] or {}
    senti = state["sentiment"]
    if lang:
        how = (
            "set"
            if lang.get("overridden")
            else f"detected, {round(100 * (lang.get('probability') or 0))}% sure"
        )
        facts.append(f"**Language:** {ui.language_name(lang.get('language'))}, {how}")
    if senti:
        facts.append(f"**Caller sentiment:** {senti.get('label')} ({senti.get('score', 0):+.2f})")
    st.markdown(" · ".join(facts))

    sug_col, cap_col = st.columns([3, 2])
    with sug_col:
        st.header("Suggestions", divider="gray", anchor=False)
        if not state["suggestions"]:
            st.info(
                "No suggestions yet. They appear when the caller asks a question.", icon=":material/info:"
            )
        for n, s in enumerate(reversed(state["suggestions"])):
            sid = s["suggestion_id"]

            def give(kind: str, sid: str = sid) -> None:
                rated = state.setdefault("rated", {})
                if kind in ui.RATINGS and sid in rated:
                    return  # one rating per suggestion: helpful or not helpful, not both
                if ui.call("feedback", state["call_id"], sid, kind) is not None:
                    state["feedback"][sid] = kind
                    if kind in ui.RATINGS:
                        rated[sid] = kind

            ui.suggestion_card(
                s, key=f"fb_{sid}", feedback=state["feedback"], on_feedback=give, newest=n == 0,
                rated=state.get("rated", {}).get(sid),
            )  # fmt: skip
    with cap_col:
        st.header("Captions", divider="gray", anchor=False)
        ui.captions_list(state["captions"], key="live_captions", agent_language=agent_language)
        if state["captions"]:
            with st.container(horizontal=True):  # a wrapping row: columns cut both labels to "Download..."
                st.download_button("Download captions (WebVTT)", exports.webvtt(state["captions"]),
                                   file_name=f"{state['call_id']}.vtt", mime="text/vtt", on_click="ignore")  # fmt: skip
                st.download_button("Download captions (text)", exports.transcript_text(state["captions"]),
                                   file_name=f"{state['call_id']}.txt", mime="text/plain", on_click="ignore")  # fmt: skip


updates()

# ---------------------------------------------------------------- the agent's own tools
st.header("Search the knowledge base", anchor=False)
with st.form("live_search", border=False):
    query = st.text_input("Search the knowledge base", placeholder="e.g. replace a lost benefits card")
    if st.form_submit_button("Search", icon=":material/search:") and query.strip():
        result = ui.call("search", query.strip())
        if result is not None:
            ui.search_results(result)
if state["call_id"]:
    st.header("Call language", anchor=False)
    codes = sorted(ui.LANGUAGE_NAMES)
    current = (state["language"] or {}).get("language")
    chosen = st.selectbox("Override the call language", codes, index=codes.index(current) if current in codes else None,
                          format_func=ui.language_name, placeholder="Choose a language", key="live_lang")  # fmt: skip
    clicked = st.button("Set call language", disabled=chosen is None)
    if clicked and chosen and ui.call("set_language", state["call_id"], chosen) is not None:
        state["language"] = {"language": chosen, "probability": 1.0, "overridden": True}
        ui.done_banner(f"call language set to {ui.language_name(chosen)}")

if state["summary"]:
    st.header("Call summary", anchor=False)
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
