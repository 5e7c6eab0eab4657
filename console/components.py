"""Rendering shared by the pages: banners, captions, the live region, suggestion cards.

Meaning never rides on colour alone: every banner starts with a word ("Error", "Service down") and
confidence is written as a word and a number.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from assistant.errors import AssistantError
from assistant.vocab import confidence_word
from console import ServiceUnavailable, get_client

LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese", "it": "Italian",
    "vi": "Vietnamese", "zh": "Chinese", "ko": "Korean", "ar": "Arabic", "ru": "Russian", "tl": "Tagalog",
    "ht": "Haitian Creole", "pl": "Polish", "uk": "Ukrainian", "hi": "Hindi",
}  # fmt: skip
# Markdown's special characters, and ":" and "&": no emphasis, link, image or HTML entity survives
# in text from calls, articles or ids.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")
# GitHub-flavoured Markdown also links bare URLs and e-mail addresses found in the text *after*
# escapes are resolved ("http\://x" still becomes a link in st.table). An invisible word joiner
# inside "http://", "www." and "name@host." breaks that match; the text reads the same.
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|mailto|xmpp)(?=:)|\b(www)(?=\.)|(?<=[\w.+-])(?=@[-\w]+\.)")
WORD_JOINER = "\u2060"
DOWN_KEY = "_service_down"


def language_name(code: str | None) -> str:
    if not code:
        return "unknown"
    return f"{LANGUAGE_NAMES.get(code, code)} ({code})"


def md_escape(text: str | None) -> str:
    """Text shown through st.markdown or a table cell exactly as written: no emphasis, link, image,
    autolinked URL or e-mail address, or HTML."""
    return _MD_SPECIAL.sub(
        r"\\\1", _AUTOLINK.sub(lambda m: (m.group(1) or m.group(2) or "") + WORD_JOINER, text or "")
    )


def data_table(rows: Sequence[Mapping[str, Any]]) -> None:
    """A table of data. st.table renders each cell as Markdown, so every text cell is escaped:
    a user name, article title, audit target or caller's words holding a link or an image shows
    as typed, and nothing loads from another host. Every page draws its tables through this."""
    st.table([{k: md_escape(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows])


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(seconds)
    return f"{s // 60:02d}:{s % 60:02d}"


def confidence_text(confidence: str | None, score: float | None) -> str:
    """'high (0.81)': the word first, for readers who skip numbers; the number for those who want it."""
    word = confidence or confidence_word(score)
    return f"{word} ({score:.2f})" if score is not None else word


def readable_time(value: str | None, empty: str = "-") -> str:
    """An ISO date or timestamp as people read it, in the viewer's time zone: '02 Mar 2026, 14:05 CET'.

    The browser's zone when Streamlit knows it, else this machine's; a bare date stays a date."""
    if not value:
        return empty
    text = str(value)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if len(text) <= 10:  # a date without a time
        return f"{when:%d %b %Y}"
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    zone: Any = None
    try:
        from zoneinfo import ZoneInfo

        name = st.context.timezone
        zone = ZoneInfo(name) if name else None
    except Exception:  # no browser session (tests), or a zone this machine does not know
        zone = None
    local = when.astimezone(zone)
    return f"{local:%d %b %Y, %H:%M} {local.tzname() or ''}".rstrip()


def bring_into_view(selector: str, request: int) -> None:
    """Scroll the element matching the CSS `selector` into view and move keyboard focus to it.

    Draw it right after that element, once per `request` (a counter the caller increases): the
    script runs when its element first appears, so an unchanged request does nothing on reruns.
    It waits until the page has no loading placeholder left (Streamlit draws a table or chart as a
    short skeleton until its code has loaded), then keeps the element in view and focused for two
    seconds in case the page above it still grows, unless the person scrolls, clicks or types first."""
    script = (
        f"<script>/* request {int(request)} */(() => {{"
        f" const sel = {json.dumps(selector)}; const t0 = performance.now(); let moved = false;"
        " const events = ['wheel', 'keydown', 'mousedown', 'touchstart'];"
        " const stop = () => { moved = true; }; events.forEach(e => document.addEventListener(e, stop, true));"
        " const done = () => events.forEach(e => document.removeEventListener(e, stop, true));"
        " let placed = 0;"
        " const go = () => {"
        "  if (moved) return done(); const el = document.querySelector(sel);"
        "  const loading = document.querySelector('[data-testid=\"stSkeleton\"]') !== null;"
        "  if (!el || (loading && performance.now() - t0 < 8000)) {"
        "   if (performance.now() - t0 < 10000) setTimeout(go, 100); else done(); return; }"
        "  if (!el.matches('input, textarea, button, select, a[href], [tabindex]')) el.setAttribute('tabindex', '-1');"
        "  const top = el.getBoundingClientRect().top;"
        "  if (document.activeElement !== el || top < 0 || top >= window.innerHeight) {"
        "   el.scrollIntoView({block: 'start'}); el.focus({preventScroll: true}); }"
        "  if (!placed) placed = performance.now();"
        "  if (performance.now() - placed < 2000) setTimeout(go, 150); else done(); };"
        " setTimeout(go, 50); })();</script>"
    )
    st.html(script, unsafe_allow_javascript=True)


# Streamlit's date fields apply a typed date only when focus leaves the field; Enter applies it here
# (focus moves away for a moment, then comes back to the same part of the date).
ENTER_APPLIES_DATES = """<script>
if (!window.assistantEnterAppliesDates) {
  window.assistantEnterAppliesDates = true;
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const part = event.target.closest && event.target.closest('[data-testid="stDateInputField"] [role="spinbutton"]');
    if (!part) return;
    event.preventDefault();
    let away = document.getElementById("assistant-date-commit");
    if (!away) {
      away = document.createElement("span");
      away.id = "assistant-date-commit";
      away.tabIndex = -1;
      document.body.appendChild(away);
    }
    away.focus();
    setTimeout(() => part.isConnected && part.focus(), 0);
  }, true);
}
</script>"""


# A table wider than the screen (9 Floor columns at 320 px) scrolls inside its own box: that box takes
# keyboard focus (arrow keys scroll it) and is a region named after the heading above it (WCAG 2.1.1;
# axe "scrollable-region-focusable"). Tables drawn later (fragments, reruns) are handled as they come.
SCROLL_REGIONS = """<script>
if (!window.assistantScrollRegions) {
  window.assistantScrollRegions = true;
  const name = (box) => {
    let found = "";
    for (const h of document.querySelectorAll("main h1, main h2, main h3")) {
      if (h.compareDocumentPosition(box) & Node.DOCUMENT_POSITION_FOLLOWING) found = h.innerText.trim();
    }
    return "Table" + (found ? ": " + found : "") + " (scrolls sideways)";
  };
  const mark = () => {
    for (const table of document.querySelectorAll('[data-testid="stTable"]')) {
      for (const box of [table, ...table.querySelectorAll("div")]) {
        const style = getComputedStyle(box);
        if (!["auto", "scroll"].includes(style.overflowX) && !["auto", "scroll"].includes(style.overflowY)) continue;
        if (box.getAttribute("tabindex") === "0") continue;
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", name(box));
      }
    }
  };
  let queued = false;
  const soon = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; mark(); });
  };
  new MutationObserver(soon).observe(document.body, {childList: true, subtree: true});
  window.addEventListener("resize", soon);
  mark();
}
</script>"""


def keyboard_helpers() -> None:
    """Scripts every page needs for keyboard use (drawn once by the app shell)."""
    st.html(ENTER_APPLIES_DATES, unsafe_allow_javascript=True)
    st.html(SCROLL_REGIONS, unsafe_allow_javascript=True)


# ---------------------------------------------------------------- calling the service


def call(method: str, *args: Any, **kwargs: Any) -> Any:
    """Call one client method; on failure show a banner and return None (never a stack trace)."""
    try:
        result = getattr(get_client(), method)(*args, **kwargs)
    except ServiceUnavailable as exc:
        st.session_state[DOWN_KEY] = str(exc)
        service_down_banner(str(exc), key=f"retry_{method}")
        return None
    except ImportError:
        st.session_state[DOWN_KEY] = "no client"
        service_down_banner(
            "the service client (assistant/service/client.py) is not installed; "
            "set ASSISTANT_CONSOLE_FAKE=1 to try the console on sample data",
            key=f"retry_{method}",
        )
        return None
    except AssistantError as exc:
        error_banner(str(exc))  # the message may echo what someone typed
        return None
    st.session_state.pop(DOWN_KEY, None)
    return result


def fetch(method: str, *args: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """Call one client method without drawing anything: (result, None), or (None, the banner's
    text). Live pages draw their live region first and a banner after, so the region's place on
    the page never moves."""
    try:
        result = getattr(get_client(), method)(*args, **kwargs)
    except ServiceUnavailable as exc:
        st.session_state[DOWN_KEY] = str(exc)
        return (
            None,
            f"**Service down.** The console cannot reach the assistant service: {md_escape(str(exc))}. Retrying.",
        )
    except AssistantError as exc:
        return None, f"Error: {md_escape(str(exc))}"
    st.session_state.pop(DOWN_KEY, None)
    return result, None


def service_down_banner(message: str, *, key: str) -> None:
    st.error(
        f"**Service down.** The console cannot reach the assistant service: {md_escape(message)}. "
        "Live pages retry every second; other pages retry when you press **Try again**.",
        icon=":material/cloud_off:",
    )
    # A click only reruns the page, which calls the service again.
    st.button("Try again", key=key)


def error_banner(message: str) -> None:
    st.error(f"Error: {md_escape(message)}", icon=":material/error:")


def done_banner(message: str) -> None:
    st.success(f"Done: {md_escape(message)}", icon=":material/check_circle:")


# ---------------------------------------------------------------- live region


def live_region(text: str) -> None:
    """A polite live region. Rendered first on every run with the same shape, so React keeps the
    same DOM node and only its text changes: screen readers announce the change."""
    st.markdown(
        '<div role="status" aria-live="polite" aria-atomic="true" class="live-region">'
        f"<strong>Latest update:</strong> {html.escape(text)}</div>",
        unsafe_allow_html=True,
    )


# ---------------------------------------------------------------- captions


def caption_lines(captions: Sequence[dict[str, Any]], agent_language: str = "en") -> list[str]:
    """Markdown for each caption: speaker, time, original; the translation under it, labelled."""
    lines = []
    for c in captions:
        who = "Caller" if c.get("speaker") == "caller" else "Agent"
        partial = "" if c.get("final", True) else " *(still speaking)*"
        text = f"**{who}** [{clock(c.get('start'))}]: {md_escape(c.get('text'))}{partial}"
        lang = c.get("language")
        if c.get("translation") and lang and lang != agent_language:
            label = "Machine translation" if c.get("machine_translated", True) else "Translation"
            text += f"  \n*{label} ({lang} to {agent_language}):* {md_escape(c['translation'])}"
        lines.append(text)
    return lines


def captions_list(
    captions: Sequence[dict[str, Any]], *, key: str, agent_language: str = "en", page_size: int = 20
) -> None:
    """Captions, newest page by default; long calls are paged so the page stays responsive."""
    if not captions:
        st.info("No captions yet. They appear here as people speak.", icon=":material/info:")
        return
    pages = max(1, -(-len(captions) // page_size))
    page = pages
    if pages > 1:
        labels = [f"Page {i} of {pages}" + (" (latest)" if i == pages else "") for i in range(1, pages + 1)]
        choice = st.selectbox("Captions page", labels, index=pages - 1, key=f"{key}_page")
        page = labels.index(choice) + 1
    shown = captions[(page - 1) * page_size : page * page_size]
    st.caption(
        f"Showing captions {(page - 1) * page_size + 1} to {(page - 1) * page_size + len(shown)} of {len(captions)}."
    )
    # No fixed-height scroll box: a scrolling region needs its own keyboard focus; pages keep it short.
    for line in caption_lines(shown, agent_language):
        st.markdown(line)


# ---------------------------------------------------------------- suggestions


SHORTCUTS = {
    "helpful": "Alt+H",
    "not_helpful": "Alt+N",
    "used": "Alt+U",
    "article": "Alt+A",
    "search": "Alt+S",
}
SHORTCUTS_TEXT = (
    "Keyboard: **Alt+H** helpful, **Alt+N** not helpful, **Alt+U** used (the newest suggestion), "
    "**Alt+A** its full article, **Alt+S** search the knowledge base."
)


def say_and_answer(s: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(line to say, answer, language code) in the caller's language when there is one, else English."""
    other = s.get("answer_in_caller_language") or {}
    if other.get("text"):
        return other.get("say") or s.get("say"), other["text"], other.get("language")
    return s.get("say"), s.get("answer"), None


RATINGS = ("helpful", "not_helpful")  # one of them per suggestion


def suggestion_card(
    s: dict[str, Any],
    *,
    key: str,
    feedback: dict[str, str],
    on_feedback: Callable[[str], None],
    newest: bool = False,
    rated: str | None = None,
) -> None:
    """One suggestion: the line to say first, then the answer (in the caller's language when there is
    one), confidence and source, the full article a keystroke away, feedback. The newest card's
    buttons carry the keyboard shortcuts."""
    with st.container(border=True):
        if s.get("abstained"):
            st.markdown("#### No approved answer")
            st.write(
                "The assistant abstains: no approved article matches this question well enough. "
                "Search the knowledge base, or escalate."
            )
            st.caption(f"Question heard: {md_escape(s.get('utterance') or '-')}")
            return
        say, answer, lang = say_and_answer(s)
        st.markdown(f"#### {md_escape(s.get('title'))}")
        if say:
            where = f" in {LANGUAGE_NAMES.get(lang, lang)}" if lang else ""
            st.markdown(f"**Say{where}:** {md_escape(say)}")
            if lang and s.get("say") and s.get("say") != say:
                st.caption(f"In English: {md_escape(s.get('say'))}")
        st.markdown(f"**Confidence:** {confidence_text(s.get('confidence'), s.get('score'))}")
        other = s.get("answer_in_caller_language") or {}
        if lang:
            label = "machine translation" if other.get("machine_translated") else "approved article"
            st.markdown(f"**Answer in {language_name(lang)}** ({label})")
        st.markdown(md_escape(answer))  # shown as text: an article's links or images never load
        st.caption(
            f"For the question: {md_escape(s.get('utterance') or '-')} · Source: article {md_escape(s.get('article_id'))}, "
            f"owner {md_escape(s.get('owner') or 'unknown')}, effective {md_escape(s.get('effective') or 'unknown')}"
        )
        # A wrapping row, not columns: narrow columns would cut the labels to "Hel...".
        with st.container(horizontal=True):
            for kind, label in (("helpful", "Helpful"), ("not_helpful", "Not helpful"), ("used", "Used")):
                done = rated is not None and kind in RATINGS  # rated once: no second, opposite rating
                if st.button(
                    label, key=f"{key}_{kind}", shortcut=SHORTCUTS[kind] if newest else None, disabled=done
                ):
                    on_feedback(kind)
            opened = st.session_state.get(f"{key}_article", False)
            if st.button(
                "Hide the full article" if opened else "Full article",
                key=f"{key}_article_toggle",
                shortcut=SHORTCUTS["article"] if newest else None,
            ):
                st.session_state[f"{key}_article"] = opened = not opened
        given = feedback.get(s["suggestion_id"])
        if given:
            st.markdown(f"**Feedback saved:** {given.replace('_', ' ')}")
        if opened:
            st.markdown(f"**Full article (English):** {md_escape(s.get('title'))}")
            st.markdown(md_escape(s.get("answer")))
            with st.expander("Copy the answer (English)"):
                st.code(s.get("answer") or "", language=None, wrap_lines=True)
            if other.get("text"):
                with st.expander(
                    f"Copy the answer ({LANGUAGE_NAMES.get(other.get('language') or '', 'caller language')})"
                ):
                    st.code(other["text"], language=None, wrap_lines=True)


def search_results(result: dict[str, Any]) -> None:
    """Answers, not just titles: the line to say, the confidence word, the answer; each opens its article."""
    if result.get("abstained") or not result.get("hits"):
        st.info(
            f"No approved answer for this search: {md_escape(result.get('reason') or 'nothing matched')}.",
            icon=":material/search_off:",
        )
        return
    for hit in result["hits"]:
        with st.container(border=True):
            st.markdown(
                f"**{md_escape(hit['title'])}** - confidence {confidence_text(hit.get('confidence'), hit['score'])}"
            )
            if hit.get("say"):
                st.markdown(f"**Say:** {md_escape(hit['say'])}")
            st.caption(
                f"Source: article {md_escape(hit['id'])}, owner {md_escape(hit.get('owner') or 'unknown')}, "
                f"effective {md_escape(hit.get('effective') or 'unknown')}, language {md_escape(hit.get('language') or '-')}"
            )
            with st.expander(f"Open the article: {md_escape(hit['title'])}"):
                st.markdown(md_escape(hit.get("answer") or hit.get("passage")))


# Alt+S moves focus to the knowledge-base search box (Streamlit text inputs take no shortcut).
FOCUS_SEARCH = """<script>
if (!window.assistantFocusSearch) {
  window.assistantFocusSearch = true;
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.code !== "KeyS") return;
    const box = document.querySelector('input[aria-label="Search the knowledge base"]');
    if (!box) return;
    event.preventDefault();
    box.scrollIntoView({block: "center"});
    box.focus();
  }, true);
}
</script>"""


def focus_search_shortcut() -> None:
    st.html(FOCUS_SEARCH, unsafe_allow_javascript=True)
