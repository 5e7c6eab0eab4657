"""Knowledge (knowledge managers): browse, create and edit articles, publish or retire, gaps, index."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from assistant.errors import InputError
from assistant.service.client import flesch_kincaid_grade
from console import ServiceUnavailable, get_client
from console import article_form as form
from console import components as ui

NEW = "(new article)"
LABELS = {
    "id": "Article id (a-z, 0-9, dashes)", "title": "Title", "program": "Program", "language": "Language code",
    "say": "Line to say (one short line agents read out first; optional)",
    "owner": "Owner", "effective": "Effective date (YYYY-MM-DD)", "review_by": "Review by (YYYY-MM-DD)",
    "translation_of": "Translation of (article id, optional)", "questions": "Caller questions (one a line)",
    "tags": "Tags (comma-separated)", "status": "Status", "body": "Answer (Markdown)",
}  # fmt: skip


def review_status(review_by: str | None, today: dt.date | None = None) -> str:
    """Review-date status in words (never colour alone)."""
    if not review_by:
        return "no review date"
    today = today or dt.date.today()
    try:
        due = dt.date.fromisoformat(str(review_by)[:10])
    except ValueError:
        return f"invalid date {review_by}"
    if due < today:
        return f"overdue since {due}"
    if (due - today).days <= 30:
        return f"due soon ({due})"
    return f"current (review by {due})"


def helpful_rate(usage: dict[str, Any]) -> str:
    rated = (usage.get("helpful") or 0) + (usage.get("not_helpful") or 0)
    return "no ratings" if not rated else f"{round(100 * usage['helpful'] / rated)}% of {rated}"


def load_form(values: dict[str, str], editing: str | None = None, note: str | None = None) -> None:
    """Callback: fill the editor (runs before the widgets are drawn, so their keys may be set).

    `editing` is the id of the article being edited; None starts a new article, and saving a new
    article never replaces an existing one. `note` is said above the editor, which comes into view."""
    for f, v in values.items():
        st.session_state[form.PREFIX + f] = v
    st.session_state.kb_editing = editing
    st.session_state.kb_errors = {}
    st.session_state.kb_saved = None
    st.session_state.kb_note = note
    st.session_state.kb_focus = st.session_state.get("kb_focus", 0) + 1


def load_selected() -> None:
    pick = st.session_state.get("kb_pick")
    chosen = next((a for a in st.session_state.get("kb_articles", []) if a["id"] == pick), None)
    if chosen:
        load_form(form.from_article(chosen), chosen["id"], f"Editing article {chosen['id']}.")
    else:
        load_form(form.blank(), None, "New article: the editor is empty.")


def load_gap(query: str) -> None:
    label = next(
        (g.get("topic_label") for g in st.session_state.get("kb_gaps") or [] if g["query"] == query), None
    )
    load_form(
        form.from_gap(query, label),
        None,
        f"Draft started from the gap \u201c{query}\u201d: title and caller question are filled in. "
        "Add an id and the answer, then save.",
    )


def save() -> None:
    """Callback: validate, then create a new article or save the edited one; problems go next to
    their fields. Creating refuses an id that is already used, so nothing published is replaced."""
    values = {f: st.session_state.get(form.PREFIX + f, "") for f in form.FIELDS}
    errors = form.validate(values)
    st.session_state.kb_saved = None
    st.session_state.kb_save_error = None
    st.session_state.kb_note = None
    editing = st.session_state.get("kb_editing")
    payload = form.to_payload(values)
    if not errors:
        try:
            if editing is not None and payload["id"] == editing:
                saved = get_client().save_article(payload)
            else:  # a new article, or an edited one saved under a new id: a copy, never a replacement
                saved = get_client().create_article(payload)
            st.session_state.kb_saved = saved.get("id") or values["id"]
            st.session_state.kb_saved_pending = bool(saved.get("pending_draft"))
            st.session_state.kb_editing = st.session_state.kb_saved
        except ServiceUnavailable as exc:
            st.session_state.kb_save_error = f"Service down: {exc}. Nothing was saved; try again."
        except InputError as exc:
            field, message = form.field_of(exc)
            errors[field or "body"] = message
    st.session_state.kb_errors = errors


st.title("Knowledge")
st.caption("Approved answers the assistant suggests. Edit, publish, retire, and close knowledge gaps.")

articles = ui.call("articles")
if articles is None:
    st.stop()
st.session_state.kb_articles = articles

# ---------------------------------------------------------------- browse
st.header("Articles")
c1, c2 = st.columns([3, 1])
needle = c1.text_input("Search articles (id, title, program, question)", key="kb_search")
status_filter = c2.selectbox("Status", ["any", "published", "draft", "retired"], format_func=str.capitalize)
shown = [
    a
    for a in articles
    if (status_filter == "any" or a.get("status") == status_filter)
    and (
        not needle
        or needle.lower()
        in " ".join(
            [a["id"], a.get("title") or "", a.get("program") or "", *(a.get("questions") or [])]
        ).lower()
    )
]
if not articles:
    st.info("The knowledge base is empty. Create the first article below.", icon=":material/info:")
elif not shown:
    st.info("No article matches this search.", icon=":material/search_off:")
else:
    ui.data_table(
        [
            {
                "Id": a["id"],
                "Title": a.get("title"),
                "Language": a.get("language"),
                "Status": a.get("status"),
                "Draft waiting": "yes, by " + a["pending_draft"]["author"] if a.get("pending_draft") else "",
                "Times suggested": (a.get("usage") or {}).get("suggested", 0),
                "Helpful rate": helpful_rate(a.get("usage") or {}),
                "Last used": ui.readable_time((a.get("usage") or {}).get("last_suggested"), empty="never"),
                "Review": review_status(a.get("review_by")),
            }
            for a in shown
        ]
    )

ids = [a["id"] for a in articles]
st.selectbox("Article", [NEW, *ids], key="kb_pick")
b1, b2, b3, b4 = st.columns(4)
b1.button("Edit in the editor", on_click=load_selected, icon=":material/edit:")
pick = st.session_state.get("kb_pick")
for col, (status, label) in zip(
    (b2, b3, b4), (("published", "Publish"), ("draft", "Move to draft"), ("retired", "Retire")), strict=True
):
    clicked = col.button(label, disabled=pick == NEW, key=f"kb_status_{status}")
    if clicked and ui.call("set_article_status", pick, status) is not None:
        # Run the page again, so the table above shows the new status at once.
        st.session_state.kb_status_note = (
            f"{pick} is now {status}; search and suggestions use the change now."
        )
        st.rerun()
if st.session_state.get("kb_status_note"):
    ui.done_banner(st.session_state.pop("kb_status_note"))
st.caption(
    "New and edited articles are drafts: search and suggestions keep the published text until a "
    "knowledge manager presses Publish (a different one, where your agency requires it)."
)

# ---------------------------------------------------------------- editor
st.header("Edit an article", anchor="article-editor")
if form.PREFIX + "id" not in st.session_state:
    load_form(form.blank())
    st.session_state.kb_focus = st.session_state.kb_done_focus = 0  # nothing to bring into view yet
if st.session_state.get("kb_note"):
    ui.done_banner(st.session_state.kb_note)
editing = st.session_state.get("kb_editing")
st.caption(
    f"Editing {ui.md_escape(editing)}: saving keeps your changes as a draft until it is published. "
    "A different id saves a new article."
    if editing
    else "A new article: saving creates it, and an id that is already used is refused "
    "(to change an article, choose it above and press Edit in the editor)."
)
if st.session_state.get("kb_done_focus") != st.session_state.get("kb_focus"):
    st.session_state.kb_done_focus = st.session_state.get("kb_focus")
    ui.bring_into_view("#article-editor", st.session_state.kb_focus)
errors: dict[str, str] = st.session_state.get("kb_errors") or {}


def problem(field: str) -> None:
    if field in errors:
        st.error(
            f"Problem with {LABELS[field].split(' (')[0].lower()}: {ui.md_escape(errors[field])}",
            icon=":material/error:",
        )


left, right = st.columns(2)
with left:
    for f in ("id", "title", "say", "program", "language", "owner"):
        st.text_input(LABELS[f], key=form.PREFIX + f)
        problem(f)
with right:
    for f in ("effective", "review_by", "translation_of", "tags"):
        st.text_input(LABELS[f], key=form.PREFIX + f)
        problem(f)
    st.selectbox(LABELS["status"], ["draft", "published", "retired"], key=form.PREFIX + "status")
    problem("status")
st.text_area(LABELS["questions"], key=form.PREFIX + "questions", height=100)
problem("questions")
body = st.text_area(LABELS["body"], key=form.PREFIX + "body", height=220)
problem("body")
grade = flesch_kincaid_grade(body or "")
st.markdown(
    f"**Reading grade:** {grade:.1f} "
    + (
        "(plain language: grade 8 or below)"
        if grade <= 8
        else "(above grade 8: use shorter sentences and words)"
    )
)
st.button("Save article", type="primary", on_click=save, icon=":material/save:")
if errors:
    st.error(
        f"Error: nothing was saved. Fix the {len(errors)} problem(s) marked above.", icon=":material/error:"
    )
elif st.session_state.get("kb_save_error"):
    st.error(st.session_state.kb_save_error, icon=":material/cloud_off:")
elif st.session_state.get("kb_saved"):
    ui.done_banner(
        f"article {st.session_state.kb_saved} saved as a draft; "
        + (
            "the published text stays in use until the draft is published."
            if st.session_state.get("kb_saved_pending")
            else "press Publish to put it in use."
        )
    )

# ---------------------------------------------------------------- gaps
st.header("Gap queue")
st.caption(
    "Every answer an agent marked **Not helpful** is listed, always. A question the assistant had no "
    "approved answer for is listed too, unless that day's digest put its call in a topic whose callers "
    "mostly got an approved answer (the article exists; this wording missed it)."
)
gaps = ui.call("knowledge_gaps")
st.session_state.kb_gaps = gaps or []
if gaps:
    ui.data_table(
        [
            {"Question": g["query"], "Times asked": g.get("count", 1), "Last seen": ui.readable_time(g.get("last_seen"))}
            for g in gaps
        ]
    )  # fmt: skip
    queries = [g["query"] for g in gaps]
    gap = st.selectbox("Gap", queries, key="kb_gap")
    st.button(
        "Start a draft article from this gap",
        on_click=lambda: load_gap(st.session_state.kb_gap),
        help="Fills the editor above with this question and moves there.",
    )
elif gaps is not None:
    st.write("No open gaps.")

# ---------------------------------------------------------------- index
st.header("Search index")
st.caption(
    "Saving, publishing and retiring update search at once. Rebuild after article files were changed "
    "outside the console (in git, for example)."
)
if st.button("Rebuild the index", icon=":material/refresh:"):
    with st.spinner("Rebuilding the index ..."):
        counts = ui.call("rebuild_index")
    if counts is not None:
        ui.done_banner(
            "index rebuilt from the articles on disk: " + ", ".join(f"{k} {v}" for k, v in counts.items())
        )
