"""Daily digest (supervisors): top topics and trend, emerging topics, knowledge gaps, languages, quotes."""

from __future__ import annotations

import datetime as dt

import altair as alt
import streamlit as st

from console import components as ui
from console import exports

st.title("Daily digest")
st.caption("What callers asked about on one day, and where the knowledge base had no answer.")

dates = ui.call("digest_dates")
if dates is None:
    st.stop()
latest = dt.date.fromisoformat(max(dates)) if dates else dt.date.today() - dt.timedelta(days=1)
picked = st.date_input("Digest date", value=latest, format="YYYY-MM-DD", key="digest_date")
if dates:
    st.caption("Days with a digest: " + ", ".join(sorted(dates, reverse=True)[:14]))
digest = ui.call("digest", picked.isoformat())
if digest is None:
    if st.session_state.get(ui.DOWN_KEY):
        st.stop()
    st.info(
        f"No digest for {picked:%d %B %Y}: no calls were recorded that day, or the digest has not run yet "
        "('assistant digest --date YYYY-MM-DD' builds it).",
        icon=":material/event_busy:",
    )
    st.stop()

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
    chart = (
        alt.Chart(alt.Data(values=rows), title="Calls per topic", description="Bar chart of calls per topic; the same figures are in the table below.")
        .mark_bar(color="#1f4e79")
        .encode(x=alt.X("Calls:Q", title="Calls"), y=alt.Y("Topic:N", sort="-x", title=None), tooltip=["Topic:N", "Calls:Q", "Trend:N"])
    )  # fmt: skip
    st.altair_chart(chart, width="stretch")
    st.caption("Table: the chart's figures with each topic's trend against the previous 7 days.")
    st.table([dict(r, Topic=ui.md_escape(r["Topic"])) for r in rows])  # cells render Markdown

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
    st.table(langs)
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
day = digest["date"]
# The service renders the files, so the console and the CLI share one layout.
markdown_file = ui.call("digest_export", day, "markdown")
# After a failure, one banner is enough (and a second one would repeat its button's key).
csv_file = ui.call("digest_export", day, "csv") if markdown_file is not None else None
a, b = st.columns(2)
if markdown_file is not None:
    a.download_button("Digest (Markdown)", markdown_file, file_name=f"digest-{day}.md", mime="text/markdown",
                      on_click="ignore")  # fmt: skip
if csv_file is not None:
    b.download_button("Topics (CSV)", csv_file, file_name=f"digest-{day}.csv", mime="text/csv",
                      on_click="ignore")  # fmt: skip
