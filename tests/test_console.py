"""The console pages under Streamlit's AppTest. Tests that take `backend` run twice: against the
in-memory FakeClient and against the real service app seeded with the same data (see
tests/console_backends.py); tests that take `fake` change the fake's data and run on it alone."""

from __future__ import annotations

import argparse
import re
import socket
import sys
import tomllib
from pathlib import Path

import pytest
from console_backends import RealService
from streamlit.testing.v1 import AppTest

from assistant.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
# `console` sits next to streamlit_app.py (Streamlit puts that folder on sys.path); it is not installed.
sys.path.insert(0, str(ROOT))

import console  # noqa: E402
from assistant.service.fake_client import FakeClient  # noqa: E402
from console import article_form, exports, live  # noqa: E402

PAGES = ROOT / "console" / "pages"


@pytest.fixture
def fake():
    client = FakeClient()
    console.set_client(client)
    yield client
    console.set_client(None)


@pytest.fixture(params=["fake", "service"])
def backend(request, tmp_path, monkeypatch):
    """The console on the fake or on the real service; yields the data both were seeded with."""
    if request.param == "fake":
        client = FakeClient()
        console.set_client(client)
        yield client
    else:
        service = RealService(tmp_path, monkeypatch)
        console.set_client(service.client)
        try:
            yield service.expected
        finally:
            service.close()
    console.set_client(None)


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def article(article_id: str) -> dict | None:
    """An article as the console's service has it now."""
    return next((a for a in console.get_client().articles() if a["id"] == article_id), None)


def button(at: AppTest, label: str):
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r} in {[b.label for b in at.button]}"
    return found[0]


def shown(text: str) -> str:
    """What the reader sees of Markdown from console.components.md_escape: its backslash escapes
    and the invisible word joiners that keep URLs from being linked do not show."""
    return re.sub(r"\\([^\w\s]|_)", r"\1", text).replace("\u2060", "")


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.error] + [i.value for i in at.info]
    parts += [s.value for s in at.success] + [c.value for c in at.caption] + [h.value for h in at.header]
    return shown("\n".join(str(p) for p in parts))


def table(at: AppTest, n: int):  # noqa: ANN201
    """The n-th table's cells as the reader sees them (tables are drawn through md_escape)."""
    return at.table[n].value.map(lambda v: shown(v) if isinstance(v, str) else v)


def run_demo(at: AppTest, steps: int = 20) -> AppTest:
    button(at, "Start demo call").click().run()
    for _ in range(steps):
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    return at


# ---------------------------------------------------------------- the app shell


def app_signed_in(name: str, password: str = "demo") -> AppTest:
    """The whole console (streamlit_app.py), signed in on its sign-in page."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert [t.value for t in at.title] == ["Sign in"]
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_console_opens_on_sign_in_and_shows_nothing_else(fake):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in"]
    assert "Live call" not in texts(at) and not fake.signed_in


def test_a_wrong_password_is_a_one_line_error_and_no_sign_in(fake):
    at = app_signed_in("demo-agent", "wrong")
    assert [t.value for t in at.title] == ["Sign in"]
    assert [e.value for e in at.error] == ["Error: wrong user name or password"]


@pytest.mark.parametrize(
    ("user", "first", "pages"),
    [
        ("demo-agent", "Live call", ["live_call", "calls"]),
        ("demo-supervisor", "Floor", ["floor", "live_call", "calls", "digest"]),
        ("demo-knowledge-manager", "Knowledge", ["knowledge"]),
        ("demo-admin", "Administration", ["admin"]),
    ],
)
def test_each_role_sees_its_pages(fake, user, first, pages):
    at = app_signed_in(user)
    assert [t.value for t in at.title] == [first]
    assert console.pages_for(fake.DEMO_USERS[user]) == pages
    assert f"Signed in as **{user}**" in shown(" ".join(m.value for m in at.sidebar.markdown))
    assert [link.label for link in at.sidebar.get("page_link")][-1] == "Sign out"
    at.switch_page("console/pages/sign_out.py").run()
    assert [t.value for t in at.title] == ["Sign in"] and "You are signed out." in texts(at)


def test_a_person_with_several_roles_sees_each_roles_pages() -> None:
    assert console.pages_for(["agent", "knowledge_manager"]) == ["live_call", "calls", "knowledge"]
    assert console.pages_for([]) == []


@pytest.mark.parametrize(
    ("name", "title"),
    [("live_call", "Live call"), ("calls", "Calls"), ("digest", "Daily digest"), ("knowledge", "Knowledge"),
     ("admin", "Administration"), ("floor", "Floor")],
)  # fmt: skip
def test_each_page_renders_with_its_heading(backend, name, title):
    at = page(name)
    assert [t.value for t in at.title] == [title]


@pytest.mark.parametrize("name", ["live_call", "calls", "digest", "knowledge"])
def test_service_down_shows_a_banner_not_a_stack_trace(name):
    # The down client stays set through "Try again": without it the rerun reached whatever
    # service was on the default port, and failed whenever one was (an `assistant up` beside CI).
    console.set_client(FakeClient(down=True))
    try:
        at = page(name)
        errors = " ".join(e.value for e in at.error)
        assert "Service down" in errors and "not reachable" in errors
        button(at, "Try again").click().run()
        assert not at.exception and "Service down" in " ".join(e.value for e in at.error)
    finally:
        console.set_client(None)


def test_missing_client_module_is_a_banner(monkeypatch):
    def no_client():
        raise ImportError("No module named 'assistant.service.client'")

    monkeypatch.setattr(console, "get_client", no_client)
    monkeypatch.setattr("console.components.get_client", no_client)
    at = page("calls")
    assert "ASSISTANT_CONSOLE_FAKE=1" in shown(" ".join(e.value for e in at.error))


# ---------------------------------------------------------------- live call


def test_live_region_exists_before_any_call(backend):
    at = page("live_call")
    first = at.markdown[0].value
    assert 'aria-live="polite"' in first and 'role="status"' in first and "No call selected" in first
    assert "No call open" in texts(at)


def test_demo_call_shows_captions_translation_suggestion_and_summary(fake):
    at = run_demo(page("live_call"))
    body = texts(at)
    assert "**Caller** [00:02]: Hola" in body
    assert "*Machine translation (es to en):* Hello, I want to apply" in body
    assert "Apply for food assistance (SNAP)" in body
    assert "**Confidence:** high (0.81)" in body
    assert "Source: article food-snap-apply, owner food-knowledge-team, effective 2026-01-10" in body
    assert "**Answer in Spanish (es)** (approved article)" in body
    assert "**Language:** Spanish (es), detected, 97% sure" in body
    assert "**Caller sentiment:** positive (+0.62)" in body
    # the live region's last announcement: the caller's last final (never the agent's own words)
    assert "Call summary" in body and "Caller: Thank you very much" in at.markdown[0].value
    labels = [d.proto.label for d in at.get("download_button")]
    assert "Download captions (WebVTT)" in labels and "Download captions (text)" in labels


@pytest.mark.parametrize(
    "label,kind", [("Helpful", "helpful"), ("Not helpful", "not_helpful"), ("Used", "used")]
)
def test_feedback_buttons_store_feedback(fake, label, kind):
    at = run_demo(page("live_call"), steps=4)
    button(at, label).click().run()
    assert fake.feedback_log[-1]["kind"] == kind
    assert fake.feedback_log[-1]["suggestion_id"].endswith(":0")
    assert f"**Feedback saved:** {kind.replace('_', ' ')}" in texts(at)


def test_pause_stops_polling(fake):
    at = page("live_call")
    button(at, "Start demo call").click().run()
    at.toggle(key="live_paused").set_value(True).run()
    cursor = at.session_state.live["cursor"]
    for _ in range(3):
        at.run()
    assert at.session_state.live["cursor"] == cursor
    assert "updates paused" in texts(at)
    at.toggle(key="live_paused").set_value(False).run()
    assert at.session_state.live["cursor"] > cursor


def test_open_an_active_call(fake):
    call_id = fake.start_demo_call()
    at = page("live_call")
    assert f"{call_id} (agent unassigned, queue food-assistance)" in at.selectbox(key="live_pick").options
    at.selectbox(key="live_pick").set_value(call_id).run()
    button(at, "Open selected call").click().run()
    assert at.session_state.live["call_id"] == call_id
    assert f"**Call** {call_id}" in texts(at)


def test_agent_search_hit_and_abstain(fake):
    at = run_demo(page("live_call"), steps=2)
    at.text_input[0].input("apply for food assistance")
    at.button[[b.label for b in at.button].index("Search")].click().run()
    assert "**Apply for food assistance (SNAP)** - confidence high (0.75)" in texts(at)
    assert "**Say:** You can apply online, by phone or in person" in texts(at)
    at.text_input[0].input("zzz qqqq")
    at.button[[b.label for b in at.button].index("Search")].click().run()
    assert "No approved answer for this search" in texts(at)
    assert fake.gaps[0]["query"] == "zzz qqqq"


def test_language_override_and_outcome(fake):
    at = run_demo(page("live_call"))
    at.selectbox(key="live_lang").set_value("en").run()
    button(at, "Set call language").click().run()
    call_id = at.session_state.live["call_id"]
    assert fake.calls[call_id]["language"] == "en"
    at.selectbox(key="live_outcome").set_value("follow-up").run()
    button(at, "Save outcome").click().run()
    assert fake.calls[call_id]["outcome"] == "follow-up"
    assert "outcome saved as follow-up" in texts(at)


def test_changed_outcome_is_restated_in_the_summary(fake):
    at = run_demo(page("live_call"))
    call_id = at.session_state.live["call_id"]
    assert "Outcome: resolved." in texts(at)
    at.selectbox(key="live_outcome").set_value("follow-up").run()
    button(at, "Save outcome").click().run()
    assert "Outcome: follow-up." in texts(at) and "Outcome: resolved." not in texts(at)
    assert "outcome saved as follow-up" in texts(at)
    assert "Outcome: follow-up." in fake.calls[call_id]["summary"]["text"]
    calls = page("calls")
    calls.query_params["call"] = call_id
    calls.run()
    assert "Outcome: follow-up." in texts(calls) and "Outcome: resolved." not in texts(calls)


def test_an_agents_own_call_opens_by_itself_with_queue_and_line_to_say(fake):
    auth = fake.sign_in("demo-agent", "demo")
    at = AppTest.from_file(str(PAGES / "live_call.py"), default_timeout=60)
    at.session_state["_auth"] = auth
    at.run()
    assert "Waiting for your next call." in texts(at) and not [
        s for s in at.selectbox if s.key == "live_pick"
    ]
    call_id = fake.start_demo_call()  # routed to the signed-in agent
    for _ in range(6):
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    assert at.session_state.live["call_id"] == call_id
    body = texts(at)
    assert "**Queue:** food-assistance" in body and "**Duration:**" in body
    assert "**Say in Spanish:** Puede solicitarla en línea" in body
    assert "In English: You can apply online" in body


def test_another_agents_call_does_not_open(fake):
    fake.sign_in("demo-supervisor", "demo")
    fake.start_demo_call()  # a supervisor's demo call: not routed to demo-agent
    auth = fake.sign_in("demo-agent", "demo")
    at = AppTest.from_file(str(PAGES / "live_call.py"), default_timeout=60)
    at.session_state["_auth"] = auth
    at.run()
    at.run()
    assert at.session_state.live["call_id"] is None and "Waiting for your next call." in texts(at)


def test_live_region_announces_caller_finals_and_suggestions_not_the_agent(monkeypatch):
    state = live.new_state("c1")
    agent = {"type": "caption", "data": {"speaker": "agent", "text": "Let me check.", "final": True}}
    live.apply_events(state, [agent], 1)
    assert state["latest"] == "Waiting for the first caption."
    caller = {"type": "caption", "data": {"speaker": "caller", "text": "Thanks.", "final": True}}
    suggestion = {"type": "suggestion", "data": {"abstained": False, "title": "Pay a bill", "confidence": "high",
                                                 "say": "You can pay online."}}  # fmt: skip
    live.apply_events(state, [caller, suggestion], 3)
    assert (
        state["latest"] == "Caller: Thanks. Suggestion: Pay a bill, confidence high. Say: You can pay online."
    )
    live.apply_events(state, [agent], 4, announce_agent=True)
    assert state["latest"] == "Agent: Let me check."


def test_floor_lists_live_calls_with_agent_queue_and_alerts_in_words(fake):
    fake.sign_in("demo-agent", "demo")
    call_id = fake.start_demo_call()
    for _ in range(11):  # the demo call up to the hold (a silence alert)
        fake.events(call_id)
    at = page("floor")
    cells = table(at, 0)
    row = cells[cells["Call"] == call_id].iloc[0]
    assert (row["Agent"], row["Queue"], row["Alerts"]) == ("demo-agent", "food-assistance", "Silence or hold")
    assert row["Last suggestion"] == "Apply for food assistance (SNAP) (high); feedback: none"
    assert f"**Alert: Silence or hold** - call {call_id}" in texts(at).replace("\\", "")
    assert "Alert on call" in at.markdown[0].value  # announced in the live region


def test_floor_shows_a_callers_injected_link_and_image_as_text(fake, monkeypatch):
    """Issue 29: the "latest need" is the caller's words; Markdown in them must not become a link or
    an image in the table (tests/test_console_browser.py shows such cells render as text)."""
    injected = "pay [here](http://evil.example/x) ![i](https://evil.example/p.png) www.evil.example"
    call_id = fake.start_demo_call()
    for _ in range(4):
        fake.events(call_id)
    real = fake.floor

    def floor():  # noqa: ANN202
        data = real()
        data["calls"] = [dict(c, latest_need=injected, agent=f"agent {injected}") for c in data["calls"]]
        return data

    monkeypatch.setattr(fake, "floor", floor)
    at = page("floor")
    raw = at.table[0].value.iloc[0]
    for cell in (raw["Latest need"], raw["Agent"]):
        assert "](" not in cell and "http://" not in cell and "https://" not in cell and "www." not in cell
    assert table(at, 0).iloc[0]["Latest need"] == injected


def test_floor_follows_a_call_read_only(fake):
    call_id = fake.start_demo_call()
    for _ in range(4):
        fake.events(call_id)
    at = page("floor")
    at.selectbox(key="floor_pick").set_value(call_id).run()
    button(at, "Follow the call").click().run()
    body = texts(at)
    assert (
        f"**Following call** {call_id} (in progress, read-only)" in body
        and "**Caller** [00:02]: Hola" in body
    )
    assert not [b for b in at.button if b.label in ("Helpful", "Not helpful", "Used")]


def test_floor_without_live_calls(backend):
    at = page("floor")
    assert "No live calls right now." in texts(at) and "**0 live calls**" in texts(at)


def test_partial_captions_are_replaced_by_the_final_text():
    state = live.new_state("c1")
    cap = {"speaker": "caller", "text": "I need", "final": False}
    live.apply_events(state, [{"type": "caption", "data": cap}], 1)
    live.apply_events(state, [{"type": "caption", "data": {**cap, "text": "I need help.", "final": True}}], 2)
    assert [c["text"] for c in state["captions"]] == ["I need help."]
    assert state["cursor"] == 2 and state["latest"] == "Caller: I need help."


def test_a_partial_is_replaced_even_when_the_other_speaker_talks_in_between():
    state = live.new_state("c1")
    events = [
        {"type": "caption", "data": {"speaker": "agent", "text": "Let me", "final": False}},
        {"type": "caption", "data": {"speaker": "caller", "text": "Sorry", "final": False}},
        {"type": "caption", "data": {"speaker": "agent", "text": "Let me check.", "final": True}},
        {"type": "caption", "data": {"speaker": "caller", "text": "Sorry, go on.", "final": True}},
        {"type": "caption", "data": {"speaker": "agent", "text": "Your claim", "final": False}},
    ]
    live.apply_events(state, events, 5)
    assert [c["text"] for c in state["captions"]] == ["Let me check.", "Sorry, go on.", "Your claim"]


def test_long_call_captions_are_paged(fake):
    captions = [
        {"speaker": "caller", "text": f"line {i}", "start": i, "end": i + 0.5, "language": "en", "translation": None,
         "machine_translated": False}
        for i in range(95)
    ]  # fmt: skip
    fake.calls["call-mar02-1140-b7"]["utterances"] = captions
    at = page("calls")
    at.selectbox(key="calls_pick").set_value("call-mar02-1140-b7").run()
    button(at, "Open call").click().run()
    assert "Showing captions 81 to 95 of 95." in texts(at)
    at.selectbox(key="calls_captions_page").set_value("Page 1 of 5").run()
    assert "Showing captions 1 to 20 of 95." in texts(at)


# ---------------------------------------------------------------- calls


def found(at: AppTest) -> int:
    return int(re.search(r"Calls found: (\d+)", texts(at)).group(1))


def test_calls_filters_and_open(backend):
    at = page("calls")
    assert found(at) == len(backend.calls) == 33
    at.selectbox[0].set_value("es").run()
    assert found(at) == sum(c["language"] == "es" for c in backend.calls.values()) == 7
    at.selectbox[0].set_value("any").run()
    at.text_input(key="calls_topic").input("EBT").run()
    assert found(at) == sum("EBT" in c["reason"] for c in backend.calls.values()) == 7
    at.text_input(key="calls_topic").input("").run()
    at.selectbox(key="calls_pick").set_value("call-mar02-0915-a1").run()
    button(at, "Open call").click().run()
    body = texts(at)
    assert "Call call-mar02-0915-a1" in body
    assert "Feedback: helpful" in body
    assert "Machine translation (es to en)" in body


def test_calls_no_match_and_empty():
    console.set_client(FakeClient(empty=True))
    try:
        at = page("calls")
    finally:
        console.set_client(None)
    assert "No calls stored yet" in texts(at)


def test_calls_outcome_without_match(backend):
    at = page("calls")
    at.date_input(key="calls_from").set_value(exports_date("2026-03-02")).run()
    at.selectbox[1].set_value("transferred").run()
    assert "No call matches these filters" in texts(at)


def html_scripts(at: AppTest) -> str:
    return "\n".join(h.proto.body for h in at.get("html"))


def test_calls_list_is_paged_and_sorted(backend):
    at = page("calls")
    table = at.dataframe[0].value
    newest = sorted(backend.calls.values(), key=lambda c: c["started_at"], reverse=True)
    assert len(table) == 25 and list(table["Call"]) == [c["call_id"] for c in newest[:25]]
    assert "Showing calls 1 to 25 of 33." in texts(at)
    at.selectbox(key="calls_page").set_value("Page 2 of 2").run()
    assert list(at.dataframe[0].value["Call"]) == [c["call_id"] for c in newest[25:]]
    assert "Showing calls 26 to 33 of 33." in texts(at)
    at.selectbox(key="calls_sort").set_value("Longest first").run()
    longest = sorted(backend.calls.values(), key=lambda c: c["duration"] or 0, reverse=True)
    assert list(at.dataframe[0].value["Call"]) == [c["call_id"] for c in longest[:25]]
    at.selectbox(key="calls_sort").set_value("Oldest first").run()
    assert at.dataframe[0].value["Call"][0] == newest[-1]["call_id"]
    assert at.selectbox(key="calls_pick").options == list(at.dataframe[0].value["Call"])


def test_an_opened_call_is_in_the_address_and_brought_into_view(backend):
    at = page("calls")
    at.selectbox(key="calls_pick").set_value("call-mar02-1140-b7").run()
    button(at, "Open call").click().run()
    assert at.query_params["call"] == "call-mar02-1140-b7"
    assert "Call call-mar02-1140-b7" in texts(at)
    assert "#opened-call" in html_scripts(at) and "scrollIntoView" in html_scripts(at)
    at.run()  # a rerun for something else does not scroll again
    assert "#opened-call" not in html_scripts(at)


def test_a_link_with_a_call_id_opens_that_call(backend):
    at = AppTest.from_file(str(PAGES / "calls.py"), default_timeout=60)
    at.query_params["call"] = "call-feb16-0800-h00"
    at.run()
    assert not at.exception
    assert "Call call-feb16-0800-h00" in texts(at) and "#opened-call" in html_scripts(at)


def exports_date(text: str):
    import datetime as dt

    return dt.date.fromisoformat(text)


# ---------------------------------------------------------------- digest


def test_digest_topics_chart_table_and_sections(backend):
    at = page("digest")
    body = texts(at)
    for heading in ("Top topics", "Emerging topics", "Knowledge gaps", "Languages", "Representative quotes"):
        assert heading in body
    assert at.get("vega_lite_chart"), "the Altair chart is drawn"
    assert len(at.table) == 2  # the chart's text equivalent and the languages
    assert "Property tax payment plans**: 5 calls without an approved answer" in body
    labels = [d.proto.label for d in at.get("download_button")]
    assert labels == ["Digest (Markdown)", "Topics (CSV)"]


class ExportSpy(FakeClient):
    """Records each digest export asked for; `fail` makes it raise instead."""

    def __init__(self, fail: Exception | None = None) -> None:
        super().__init__()
        self.fail = fail
        self.exports: list[tuple[str, str]] = []

    def digest_export(self, date: str, fmt: str = "markdown") -> str:
        self.exports.append((date, fmt))
        if self.fail is not None:
            raise self.fail
        return super().digest_export(date, fmt)


def with_client(client: FakeClient, name: str) -> AppTest:
    console.set_client(client)
    try:
        return page(name)
    finally:
        console.set_client(None)


def test_digest_page_exports_nothing_until_a_download_is_pressed():
    """Issue 30 item 4: the service renders (and audits) an export when a person presses a download
    button (Streamlit's deferred download data), not on every visit of the page. Before, each visit
    exported both files and left two `digest.export` lines. The browser test downloads the file."""
    spy = ExportSpy()
    at = with_client(spy, "digest")
    assert spy.exports == []
    assert [d.proto.label for d in at.get("download_button")] == ["Digest (Markdown)", "Topics (CSV)"]
    assert "Top topics" in texts(at)


def test_digest_date_without_data(backend):
    at = page("digest")
    at.date_input(key="digest_date").set_value(exports_date("2026-01-01")).run()
    assert "No digest for 01 January 2026" in texts(at)
    assert "assistant digest" not in texts(at)  # a CLI command that cannot run beside the service


def test_a_days_digest_is_built_from_the_page(backend):
    at = page("digest")
    at.date_input(key="digest_date").set_value(exports_date("2026-02-16")).run()
    assert "No digest for 16 February 2026 yet" in texts(at)
    button(at, "Build the digest for 2026-02-16").click().run()
    assert not at.exception
    assert "2026-02-16" in console.get_client().digest_dates(), texts(at)
    assert "2026-02-16" in console.get_client().digest_dates()
    body = texts(at)
    assert "Done: digest of 2026-02-16 built from 3 calls" in body and "No digest for" not in body
    assert "**Calls:** 3" in body and "Top topics" in body
    at.run()  # the stored digest now shows without building again
    assert "Rebuild the digest for 2026-02-16" in [b.label for b in at.button]


def test_a_digest_is_rebuilt_from_the_page(backend):
    at = page("digest")
    assert "**Calls:** 40" in texts(at)  # the sample digest
    button(at, "Rebuild the digest for 2026-03-02").click().run()
    assert "**Calls:** 2" in texts(at)  # rebuilt from the two calls held for that day
    assert console.get_client().digest("2026-03-02")["total_calls"] == 2


def test_digest_chart_has_whole_number_ticks_and_full_labels(fake):
    import json

    import pyarrow as pa

    long_label = "Your parking permit renewal form asks for an address that is no longer valid"
    fake.digests["2026-03-02"]["topics"][0]["label"] = long_label
    at = page("digest")
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    x, y = spec["encoding"]["x"], spec["encoding"]["y"]
    assert x["axis"]["format"] == "d" and x["axis"]["tickMinStep"] == 1
    assert y["axis"]["labelLimit"] == 0 and "split(datum.label" in y["axis"]["labelExpr"]
    chart = at.get("vega_lite_chart")[0].proto
    labels = list(pa.ipc.open_stream(chart.data.data).read_pandas()[y["field"]])
    assert long_label in [" ".join(label.split("\n")) for label in labels]
    assert all(len(line) <= 28 for label in labels for line in label.split("\n"))


def test_digest_topics_link_to_their_calls(fake):
    at = app_signed_in("demo-supervisor")
    at.switch_page(str(PAGES / "digest.py")).run()
    assert not at.exception, [e.value for e in at.exception]
    links = at.main.get("page_link")
    assert [(link.proto.label, link.proto.query_string) for link in links] == [
        ("Open call call\\-mar02\\-0915\\-a1", "call=call-mar02-0915-a1"),
        ("Open call call\\-mar02\\-1140\\-b7", "call=call-mar02-1140-b7"),
    ]
    assert all(link.proto.page == "calls" for link in links)


def test_digest_without_call_ids_says_so(fake):
    for t in fake.digests["2026-03-02"]["topics"]:  # as a digest built before topics kept their calls
        t["call_ids"] = []
    at = page("digest")
    assert "This digest does not list its calls" in texts(at)


def test_digest_empty():
    console.set_client(FakeClient(empty=True))
    try:
        at = page("digest")
    finally:
        console.set_client(None)
    assert "No digest for" in texts(at)


# ---------------------------------------------------------------- knowledge


def test_knowledge_table_shows_usage_and_review_status(backend):
    at = page("knowledge")
    rows = table(at, 0)
    card = rows[rows["Id"] == "food-ebt-card-replace"].iloc[0]
    usage = {a["id"]: a["usage"] for a in console.get_client().articles()}["food-ebt-card-replace"]
    assert card["Times suggested"] == usage["suggested"] > 0  # the service counts the stored suggestions
    if isinstance(console.get_client(), FakeClient):
        assert card["Times suggested"] == 17 and card["Helpful rate"] == "64% of 14"
    assert card["Review"].startswith("overdue since 2025-05-01")
    at.text_input(key="kb_search").input("EBT").run()
    assert list(table(at, 0)["Id"]) == ["food-ebt-card-replace"]
    at.text_input(key="kb_search").input("nothing like this").run()
    assert "No article matches this search." in texts(at)


def test_invalid_article_edit_is_explained_next_to_fields_and_not_saved(backend):
    at = page("knowledge")
    at.selectbox(key="kb_pick").set_value("food-ebt-card-replace").run()
    button(at, "Edit in the editor").click().run()
    assert at.text_input(key="kb_f_title").value == "Replace a lost or stolen EBT card"
    at.text_input(key="kb_f_title").input("Changed title")
    at.text_input(key="kb_f_effective").input("March 5th")
    at.text_input(key="kb_f_language").input("Spanish!")
    button(at, "Save article").click().run()
    errors = [shown(e.value) for e in at.error]
    assert any("effective date: 'March 5th' is not a date (use YYYY-MM-DD)" in e for e in errors)
    assert any("language code" in e and "is not a language code" in e for e in errors)
    assert any("nothing was saved" in e for e in errors)
    assert article("food-ebt-card-replace")["title"] == "Replace a lost or stolen EBT card"


def test_review_date_before_effective_is_rejected(backend):
    at = page("knowledge")
    for field, value in {"id": "new-one", "title": "T", "effective": "2026-05-01", "review_by": "2026-01-01",
                         "body": "Some answer."}.items():  # fmt: skip
        at.text_input(key=f"kb_f_{field}").input(value) if field != "body" else at.text_area(
            key="kb_f_body"
        ).input(value)
    button(at, "Save article").click().run()
    assert any("is before effective" in e.value for e in at.error)
    assert article("new-one") is None


def test_an_article_with_a_card_number_is_refused_naming_the_body(backend):
    at = page("knowledge")
    for field, value in {"id": "pay-by-card", "title": "Pay by card",
                         "body": "Example card: 4111\u20131111\u20131111\u20131111."}.items():  # fmt: skip
        at.text_input(key=f"kb_f_{field}").input(value) if field != "body" else at.text_area(
            key="kb_f_body"
        ).input(value)
    button(at, "Save article").click().run()
    errors = [e.value for e in at.error]
    assert any("holds a card number" in e for e in errors), errors
    assert not any("4111" in e for e in errors)
    assert article("pay-by-card") is None


def test_create_article_with_live_grade_then_save(backend):
    at = page("knowledge")
    at.text_input(key="kb_f_id").input("fishing-licence-renew")
    at.text_input(key="kb_f_title").input("Renew a fishing licence")
    at.text_area(key="kb_f_body").input("Renew online. It takes five minutes.").run()
    assert re.search(r"\*\*Reading grade:\*\* -?\d+\.\d \(plain language", texts(at))
    button(at, "Save article").click().run()
    assert "article fishing-licence-renew saved as a draft; press Publish to put it in use" in texts(at)
    assert article("fishing-licence-renew")["status"] == "draft"


def test_service_side_validation_error_lands_on_its_field(fake, monkeypatch):
    def reject(article):
        raise InputError("owner: no such team")

    monkeypatch.setattr(fake, "create_article", reject)
    at = page("knowledge")
    at.text_input(key="kb_f_id").input("x-1")
    at.text_input(key="kb_f_title").input("X")
    at.text_area(key="kb_f_body").input("Answer.")
    button(at, "Save article").click().run()
    assert any(e.value.startswith("Problem with owner: no such team") for e in at.error)


@pytest.mark.parametrize(
    "label,status", [("Publish", "published"), ("Move to draft", "draft"), ("Retire", "retired")]
)
def test_status_buttons(backend, label, status):
    at = page("knowledge")
    at.selectbox(key="kb_pick").set_value("property-tax-payment-plan").run()
    button(at, label).click().run()
    assert article("property-tax-payment-plan")["status"] == status


def test_gap_queue_starts_a_draft_and_rebuild_index(fake):
    at = page("knowledge")
    button(at, "Start a draft article from this gap").click().run()
    # The title is the gap's digest topic (issue 30 item 9: a caller's words can be garbled); the
    # question stays as heard.
    assert at.text_input(key="kb_f_title").value == "Property tax payment plans"
    assert at.text_area(key="kb_f_questions").value == "Can I pay my property tax in parts?"
    button(at, "Rebuild the index").click().run()
    assert fake.rebuilds == 1 and "index rebuilt from the articles on disk: articles 3" in texts(at)


def test_a_new_article_with_a_used_id_is_refused_and_the_published_one_kept(backend):
    before = dict(article("food-ebt-card-replace"))
    at = page("knowledge")
    assert at.selectbox(key="kb_pick").value == "(new article)"
    at.text_input(key="kb_f_id").input("food-ebt-card-replace")
    at.text_input(key="kb_f_title").input("Something else")
    at.text_area(key="kb_f_body").input("Other text.")
    button(at, "Save article").click().run()
    assert any(
        shown(e.value).startswith(
            "Problem with article id: an article with id 'food-ebt-card-replace' already exists"
        )
        for e in at.error
    )
    assert article("food-ebt-card-replace") == before


def test_editing_an_article_is_explicit_and_a_draft_until_published(backend):
    suggested = article("food-ebt-card-replace")["usage"]["suggested"]
    at = page("knowledge")
    at.selectbox(key="kb_pick").set_value("food-ebt-card-replace").run()
    button(at, "Edit in the editor").click().run()
    assert "Editing food-ebt-card-replace: saving keeps your changes as a draft" in texts(at)
    at.text_input(key="kb_f_title").input("Replace a lost, stolen or damaged EBT card")
    button(at, "Save article").click().run()
    saved = article("food-ebt-card-replace")
    assert saved["title"] != "Replace a lost, stolen or damaged EBT card" and saved["status"] == "published"
    assert saved["pending_draft"]["article"]["title"] == "Replace a lost, stolen or damaged EBT card"
    assert "the published text stays in use until the draft is published" in texts(at)
    button(at, "Publish").click().run()
    saved = article("food-ebt-card-replace")
    assert saved["title"] == "Replace a lost, stolen or damaged EBT card" and saved["pending_draft"] is None
    assert saved["usage"]["suggested"] == suggested > 0  # the same article, edited
    # the same id under "new article" mode is refused again
    at.selectbox(key="kb_pick").set_value("(new article)").run()
    button(at, "Edit in the editor").click().run()
    assert "A new article: saving creates it" in texts(at)


def test_the_line_to_say_is_edited_with_the_article_and_kept(backend):
    at = page("knowledge")
    at.selectbox(key="kb_pick").set_value("food-snap-apply").run()
    button(at, "Edit in the editor").click().run()
    assert at.text_input(key="kb_f_say").value == article("food-snap-apply")["say"]
    at.text_input(key="kb_f_title").input("Apply for SNAP food benefits")  # another field: say is kept
    button(at, "Save article").click().run()
    assert article("food-snap-apply")["pending_draft"]["article"]["say"] == article("food-snap-apply")["say"]
    at.text_input(key="kb_f_say").input("You can apply online today.")
    button(at, "Save article").click().run()
    button(at, "Publish").click().run()
    assert article("food-snap-apply")["say"] == "You can apply online today."


def test_gap_last_seen_is_a_readable_local_time(fake):
    import datetime as dt

    at = page("knowledge")
    seen = list(table(at, 1)["Last seen"])
    expected = dt.datetime.fromisoformat(fake.gaps[0]["last_seen"]).astimezone()
    assert seen[0] == f"{expected:%d %b %Y, %H:%M} {expected.tzname()}".rstrip()
    assert not any("T" in v.split(",")[0] or "." in v for v in seen)


def test_starting_a_draft_from_a_gap_says_so_and_brings_the_editor_into_view(fake):
    at = page("knowledge")
    assert "#article-editor" not in html_scripts(at)  # nothing jumps on a first visit
    button(at, "Start a draft article from this gap").click().run()
    assert "Done: Draft started from the gap \u201cCan I pay my property tax in parts?\u201d" in texts(at)
    assert "#article-editor" in html_scripts(at) and "focus" in html_scripts(at)
    assert "A new article: saving creates it" in texts(at)


def test_knowledge_empty():
    console.set_client(FakeClient(empty=True))
    try:
        at = page("knowledge")
    finally:
        console.set_client(None)
    assert "The knowledge base is empty" in texts(at) and "No open gaps." in texts(at)


def test_article_form_validation_collects_every_problem():
    values = article_form.blank() | {"id": "Bad Id", "effective": "tomorrow", "status": "draft"}
    errors = article_form.validate(values)
    assert set(errors) == {"id", "title", "effective", "body"}


# ---------------------------------------------------------------- exports and theme


def test_webvtt_and_text_exports():
    caps = [
        {
            "speaker": "caller",
            "text": "Hola --> hi",
            "start": 61.5,
            "end": 63.25,
            "translation": "Hello",
            "final": True,
        },
        {"speaker": "agent", "text": "partial", "start": 64, "final": False},
    ]
    vtt = exports.webvtt(caps)
    assert vtt.startswith(
        "WEBVTT\n\n1\n00:01:01.500 --> 00:01:03.250\n<v Caller>Hola -> hi\n(machine translation) Hello"
    )
    assert "partial" not in vtt
    assert (
        exports.transcript_text(caps) == "[01:01] Caller: Hola --> hi\n        (machine translation) Hello\n"
    )


def test_fake_digest_export_uses_the_cli_renderer():
    from assistant.digest.render import CSV_COLUMNS, markdown, to_csv
    from assistant.service.fake_client import _as_digest

    client = FakeClient()
    d = _as_digest(client.digests["2026-03-02"])
    md = client.digest_export("2026-03-02", "markdown")
    assert md == markdown(d).rstrip("\n") + "\n"
    assert md.startswith("# Daily digest 2026-03-02\n") and "| 3 | Property tax payment plans | 6 |" in md
    csv_text = client.digest_export("2026-03-02", "csv")
    assert csv_text == to_csv(d)
    lines = csv_text.splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS) and len(lines) == 4


def test_fake_digest_export_bad_format_and_missing_date():
    client = FakeClient()
    with pytest.raises(InputError, match="unknown digest export format 'pdf'; use one of: markdown, csv"):
        client.digest_export("2026-03-02", "pdf")
    with pytest.raises(InputError, match="no digest for 2026-01-01"):
        client.digest_export("2026-01-01", "markdown")


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_theme_text_contrast_is_at_least_4_5():
    theme = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]
    for bg in (theme["backgroundColor"], theme["secondaryBackgroundColor"]):
        assert contrast(theme["textColor"], bg) >= 4.5
        assert contrast(theme["linkColor"], bg) >= 4.5
    assert contrast("#ffffff", theme["primaryColor"]) >= 4.5  # text on primary buttons


# ---------------------------------------------------------------- assistant up


def test_up_without_serve_command_explains(monkeypatch):
    from assistant.commands import up

    monkeypatch.setattr(up, "serve_available", lambda: False)
    args = argparse.Namespace(fake=False, port=8501, service_port=8700, host="127.0.0.1", no_browser=True)
    with pytest.raises(InputError, match="'assistant serve' is not available.*assistant up --fake"):
        up.run(args)


def test_up_refuses_a_port_in_use():
    from assistant.commands import up

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        args = argparse.Namespace(fake=True, port=port, service_port=8700, host="127.0.0.1", no_browser=True)
        with pytest.raises(InputError, match=f"console port {port} .* already in use"):
            up.run(args)


def test_up_rejects_an_impossible_port():
    from assistant.commands import up

    args = argparse.Namespace(fake=True, port=70000, service_port=8700, host="127.0.0.1", no_browser=True)
    with pytest.raises(InputError, match="not between 1 and 65535"):
        up.run(args)
