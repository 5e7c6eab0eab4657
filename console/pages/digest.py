"""Daily digest (supervisors): top topics and trend, emerging topics, knowledge gaps, languages, quotes."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable
from pathlib import Path

import altair as alt
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from console import components as ui
from console import exports, get_client

CALLS_PAGE = str(Path(__file__).resolve().parent / "calls.py")


def topics_chart(rows: list[dict]) -> alt.Chart:
    """Calls per topic as horizontal bars: whole-number ticks, and every label in full (wrapped)."""
    values = [{**r, "Label": textwrap.fill(r["Topic"], 28)} for r in rows]
    most = max((r["Calls"] for r in rows), default=1)
    return (
        alt.Chart(alt.Data(values=values), title="Calls per topic", height=alt.Step(40),
                  description="Bar chart of calls per topic; the same figures are in the table below.")
        .mark_bar(color="#1f4e79")
        .encode(
            x=alt.X("Calls:Q", title="Calls", scale=alt.Scale(domainMin=0, nice=False),
                    axis=alt.Axis(format="d", tickMinStep=1, tickCount=min(most, 10))),
            y=alt.Y("Label:N", sort="-x", title=None,
                    axis=alt.Axis(labelLimit=0, labelExpr="split(datum.label, '\\n')")),
            tooltip=["Topic:N", "Calls:Q", "Trend:N"],
        )
    )  # fmt: skip


def topic_calls(topics: list[dict]) -> None:
    """Each topic's calls, as links that open the call on the Calls page."""
    listed = [t for t in topics if t.get("call_ids")]
    if not listed:
        # Digests built before topics kept their calls have topics with calls but no ids.
        if any(t.get("calls") for t in topics):
            st.caption("This digest does not list its calls; rebuild it to link each topic to its calls.")
        return
    st.subheader("Calls by topic")
    for t in listed:
        ids = t["call_ids"]
        with st.expander(f"{ui.md_escape(t['label'])}: {len(ids)} call{'s' if len(ids) != 1 else ''}"):
            for call_id in ids:
                try:
                    # No icon: a screen reader would read its name ("call") before the label.
                    st.page_link(
                        CALLS_PAGE, label=f"Open call {ui.md_escape(call_id)}", query_params={"call": call_id}
                    )
                except StreamlitPageNotFoundError:  # this page run on its own, without the others
                    st.text(call_id)


st.title("Daily digest")
st.caption("What callers asked about on one day, and where the knowledge base had no answer.")

dates = ui.call("digest_dates")
if dates is None:
    st.stop()
# The latest day with a digest; on a machine with none yet, the latest day with calls (not an empty
# yesterday).
newest_call = None if dates else (ui.call("list_calls", False, 1) or [{}])[0].get("started_at")  # ended calls
days = dates or ([str(newest_call)[:10]] if newest_call else [])
latest = dt.date.fromisoformat(max(days)) if days else dt.date.today() - dt.timedelta(days=1)
picked = st.date_input(
    "Digest date",
    value=latest,
    format="YYYY-MM-DD",
    key="digest_date",
    help="Type the date and press Enter, or choose it in the calendar.",
)
if dates:
    st.caption("Days with a digest: " + ", ".join(sorted(dates, reverse=True)[:14]))
day = picked.isoformat()


def build(label: str, *, primary: bool) -> dict | None:
    """A button that builds (or rebuilds) the day's digest in the service; returns the new digest."""
    if not st.button(label, type="primary" if primary else "secondary", icon=":material/build:"):
        return None
    with st.spinner(f"Building the digest of {day} from its calls ..."):
        built = ui.call("build_digest", day)
    if built is not None:
        ui.done_banner(f"digest of {day} built from {built.get('total_calls', 0)} calls")
    return built


digest = ui.call("digest", day)
if digest is None:
    if st.session_state.get(ui.DOWN_KEY):
        st.stop()
    note = st.empty()
    note.info(
        f"No digest for {picked:%d %B %Y} yet. Build it now from the calls stored for that day "
        "(it takes a few seconds; a day without calls gives an empty digest).",
        icon=":material/event_busy:",
    )
    digest = build(f"Build the digest for {day}", primary=True)
    if digest is None:
        st.stop()
    note.empty()
else:
    digest = build(f"Rebuild the digest for {day}", primary=False) or digest

topics = digest.get("topics") or []
by_id = {t["topic_id"]: t for t in topics}
st.markdown(ui.md_escape(digest.get("digest_text")))
share = digest.get("no_answer_share")
st.markdown(
    f"**Calls:** {digest.get('total_calls', 0)} · **No approved answer:** "
    f"{'n/a' if share is None else f'{round(100 * share)}%'}"
)

st.header("Top topics")
if not topics:
    st.write("No topic had enough calls to report.")
else:
    rows = [{"Topic": t["label"], "Calls": t["calls"], "Trend": exports.trend_words(t)} for t in topics]
    st.altair_chart(topics_chart(rows), width="stretch")
    st.caption("Table: the chart's figures with each topic's trend against the previous 7 days.")
    ui.data_table(rows)
    topic_calls(topics)

st.header("Emerging topics")
emerging = [by_id[i] for i in digest.get("emerging") or [] if i in by_id]
for t in emerging:
    st.markdown(f"- **{ui.md_escape(t['label'])}**: {t['calls']} calls, {exports.trend_words(t)}")
if not emerging:
    st.write("None today.")

st.header("Knowledge gaps")
gaps = [by_id[i] for i in digest.get("knowledge_gaps") or [] if i in by_id]
for t in gaps:
    st.markdown(
        f"- **{ui.md_escape(t['label'])}**: {t.get('gap_calls', 0)} calls without an approved answer "
        f"({round(100 * (t.get('knowledge_gap') or 0))}% of the topic)"
    )
if not gaps:
    st.write("None today: every frequent question had an approved answer.")

st.header("Languages")
langs = [
    {"Language": ui.language_name(code), "Calls": n} for code, n in (digest.get("languages") or {}).items()
]
if langs:
    ui.data_table(langs)
else:
    st.write("No language recorded.")

st.header("Representative quotes")
quotes = [(t["label"], q) for t in topics for q in t.get("quotes") or []]
for label, q in quotes:
    st.markdown(f"- {ui.md_escape(label)}: “{ui.md_escape(q)}”")
if not quotes:
    st.write("No quotes.")

st.header("Download")
st.caption("The same files as 'assistant digest --format markdown' and '--format csv'.")
day = digest.get("date") or day
# The service renders the files, so the console and the CLI share one layout. It renders them when a
# person presses a button, not on every visit: the audit log says "digest.export" for a download only.
client = get_client()


def export(fmt: str) -> Callable[[], str]:
    return lambda: client.digest_export(day, fmt)


a, b = st.columns(2)
a.download_button("Digest (Markdown)", export("markdown"), file_name=f"digest-{day}.md", mime="text/markdown",
                  on_click="ignore")  # fmt: skip
b.download_button("Topics (CSV)", export("csv"), file_name=f"digest-{day}.csv", mime="text/csv",
                  on_click="ignore")  # fmt: skip
