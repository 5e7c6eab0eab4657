"""Floor (supervisors): every live call now, its agent, queue, duration, language, caller sentiment
and trend, latest need, last suggestion and its feedback, and alerts in words; follow any call's
captions read-only. Updates in place (a fragment), never a full-page reload."""

from __future__ import annotations

import streamlit as st

from assistant import config
from console import components as ui
from console import live

# The call pace: the page follows GET /floor closely (bench/floor.py --page).
REFRESH = min(10.0, max(0.25, config.get().console_refresh))
ALERT_WORDS = {
    "escalation": "Escalation: the caller asks for a supervisor or to complain",
    "negative_sentiment": "Negative sentiment",
    "no_answer": "No approved answer",
    "silence": "Silence or hold",
    "long_call": "Long call",
}

st.title("Floor")
st.caption(
    f"Every live call, updated every {REFRESH:g} s. Alerts are listed in words under the table; "
    "new ones are also announced to screen readers."
)
if "floor_seen" not in st.session_state:
    st.session_state.floor_seen = set()  # alerts already announced
    st.session_state.floor_latest = "No new alerts."
paused = st.toggle("Pause updates", key="floor_paused")


def alert_line(call: dict, a: dict) -> str:
    when = ui.readable_time(a["at"])
    return (
        f"**Alert: {ALERT_WORDS.get(a['kind'], a['kind'])}** - call {ui.md_escape(call['call_id'])}, "
        f"agent {ui.md_escape(call['agent'] or 'unassigned')}, {ui.md_escape(when)}: {ui.md_escape(a['detail'])}"
    )


def table_rows(calls: list[dict]) -> list[dict]:
    # Cells are Markdown: a lone "-" would show as a list bullet, so empty cells say so in words.
    out = []
    for c in calls:
        last = c.get("last_suggestion")
        if last is None:
            suggestion = "none yet"
        elif last["abstained"]:
            suggestion = "no approved answer"
        else:
            suggestion = f"{last['title']} ({last['confidence']})"
        if last is not None:
            suggestion += f"; feedback: {(last['feedback'] or 'none').replace('_', ' ')}"
        senti = c["sentiment"] or "not yet known"
        out.append({
            "Call": c["call_id"], "Agent": c["agent"] or "unassigned", "Queue": c["queue"] or "none",
            "Duration": ui.clock(c["duration"]), "Language": ui.language_name(c["language"]),
            "Caller sentiment": f"{senti}, {c['sentiment_trend']}" if c["sentiment_trend"] else senti,
            "Latest need": c["latest_need"] or "none yet", "Last suggestion": suggestion,
            "Alerts": ", ".join(ALERT_WORDS.get(a["kind"], a["kind"]).split(":")[0] for a in c["alerts"]) or "none",
        })  # fmt: skip
    return out


@st.fragment(run_every=None if paused else REFRESH)
def board() -> None:
    floor, problem = ui.fetch("floor")
    calls = (floor or {}).get("calls", [])
    news = [
        f"Alert on call {c['call_id']}, agent {c['agent'] or 'unassigned'}: "
        f"{ALERT_WORDS.get(a['kind'], a['kind'])}."
        for c in calls
        for a in c["alerts"]
        if (c["call_id"], a["kind"], a["at"]) not in st.session_state.floor_seen
    ]
    st.session_state.floor_seen |= {(c["call_id"], a["kind"], a["at"]) for c in calls for a in c["alerts"]}
    if news:
        st.session_state.floor_latest = " ".join(news[-3:])
    ui.live_region(st.session_state.floor_latest)  # first, always: its DOM node stays
    if problem:
        st.error(problem, icon=":material/cloud_off:")
    else:
        calls_table(calls)
    # In the same fragment as the table: a call that started after the page opened can be followed
    # without a reload, and one GET /floor feeds both.
    st.header("Follow a call")
    choices = [c["call_id"] for c in calls]
    labels = {c["call_id"]: f"{c['call_id']} (agent {c['agent'] or 'unassigned'})" for c in calls}
    picked = st.selectbox("Live call to follow", choices, index=None, key="floor_pick", format_func=lambda x: labels.get(x, x),
                          placeholder="No live calls" if not choices else "Choose a call")  # fmt: skip
    if st.button("Follow the call", disabled=picked is None):
        st.session_state.floor_follow = live.new_state(picked)
        st.rerun()  # the whole page: the captions below start at once


def calls_table(calls: list[dict]) -> None:
    st.markdown(f"**{len(calls)} live call{'s' if len(calls) != 1 else ''}**")
    if not calls:
        st.info("No live calls right now.", icon=":material/info:")
        return
    ui.data_table(table_rows(calls))
    st.header("Alerts", divider="gray")
    lines = [alert_line(c, a) for c in calls for a in c["alerts"]]
    if not lines:
        st.markdown("No alerts on the live calls.")
    for line in lines:
        st.markdown(line)


board()


@st.fragment(run_every=None if paused else REFRESH)
def follow() -> None:
    state = st.session_state.get("floor_follow")
    if not state:
        st.caption("Choose a live call to read its captions as they come (read-only: no feedback from here).")
        return
    if not live.is_over(state):
        got, problem = ui.fetch("events", state["call_id"], state["cursor"])
        if got is not None:
            live.apply_events(state, *got)
        elif problem:
            st.error(problem, icon=":material/error:")
    status = "ended" if live.is_over(state) else "in progress"
    st.markdown(f"**Following call** {ui.md_escape(state['call_id'])} ({status}, read-only)")
    ui.captions_list(state["captions"], key="floor_captions", agent_language=config.get().agent_language)
    if state["suggestions"]:
        s = state["suggestions"][-1]
        title = "no approved answer" if s.get("abstained") else s.get("title")
        st.markdown(f"**Last suggestion:** {ui.md_escape(title)}")


follow()
