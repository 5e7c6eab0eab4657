"""The console in a real browser: Debian's chromium driven by Playwright, axe-core for accessibility.

Starts `assistant up --fake` (the console on the in-memory FakeClient, via ASSISTANT_CONSOLE_FAKE=1) on a
free port, then for each page: render, screenshot into tests/artifacts/, an axe-core scan with the
WCAG 2.0/2.1/2.2 A and AA rules (zero serious or critical violations; minor ones are printed), and a
keyboard-only pass that tabs to the page's main action and activates it. The Live call page also runs
a demo call and marks its suggestion helpful.

One test (marked `models`) runs `assistant up` itself, on the real service and bundled models: a demo
call's captions and approved answer on the page, an axe scan mid-call, and "Helpful" read back from
the service's database. How soon captions appear is measured by `bench/console.py`, not asserted.

Set-up (scripts/setup.sh does it): apt-get install chromium; pip install playwright (the `test`
extra); npm install --prefix tests/js axe-core@4. `playwright install` is not used: it downloads a
browser, and the machine is offline.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from up_util import Up, free_port, start_up, stop_up

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
PAGES = {
    "": "Live call",
    "calls": "Calls",
    "digest": "Daily digest",
    "knowledge": "Knowledge",
    "floor": "Floor",
}

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

if sync_playwright is None or not CHROMIUM.exists():
    pytest.skip(
        "browser test needs playwright (pip install playwright) and Debian's chromium at /usr/bin/chromium "
        "(apt-get install chromium); scripts/setup.sh installs both",
        allow_module_level=True,
    )
if not AXE.exists():
    pytest.skip("axe-core is missing: npm install --prefix tests/js axe-core@4", allow_module_level=True)


def _start_up(args: list[str], env: dict[str, str]) -> tuple[Up, str]:
    """`assistant up ARGS` as a new user runs it (no terminal, no display); returns it and the console
    URL once `up` prints it (after both health checks)."""
    up = start_up(args, env)
    line = up.wait_for("Console: ", 300)
    return up, line.split(" ", 1)[1].strip()


def _fresh_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A first-time user's HOME and an ASSISTANT_HOME of this module's own (module fixtures start
    before the per-test `isolated_home`, so the inherited one would be the user's real one)."""
    env = {
        **os.environ,
        "HOME": str(tmp_path_factory.mktemp("user-home")),
        "ASSISTANT_HOME": str(tmp_path_factory.mktemp("up-home")),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    env.pop("ASSISTANT_CONFIG", None)
    return env


@pytest.fixture(scope="module")
def console_url(tmp_path_factory):
    up, url = _start_up(["--fake", "--port", str(free_port())], _fresh_env(tmp_path_factory))
    yield url
    stop_up(up)


@pytest.fixture(scope="module")
def real_up(tmp_path_factory):
    """`assistant up` on the real service and models, as the README runs it (no flag but the ports),
    in homes of its own; (console, service) URLs."""
    from conftest import _session_model_cache

    env = {
        **_fresh_env(tmp_path_factory),
        "ASSISTANT_MODEL_CACHE": str(_session_model_cache(tmp_path_factory)),
    }
    service_port = free_port()
    up, url = _start_up(["--port", str(free_port()), "--service-port", str(service_port)], env)
    yield url, f"http://127.0.0.1:{service_port}", Path(env["ASSISTANT_HOME"])
    stop_up(up)


@pytest.fixture(scope="module")
def browser():
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, console_url, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    watch_runs(pg)
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        show_failure(pg, request.node.name)
    context.close()


def show_failure(pg: Page, name: str) -> None:
    """After a failed test: print what the page showed (the report shows it) and save a screenshot."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    try:
        state = pg.evaluate(
            """() => { const app = document.querySelector('[data-testid="stApp"]');
            return {url: location.href, script: app && app.dataset.testScriptState,
                    connection: app && app.dataset.testConnectionState,
                    stale: document.querySelectorAll('[data-stale="true"]').length,
                    skeletons: document.querySelectorAll('[data-testid="stSkeleton"]').length,
                    focused: document.activeElement && document.activeElement.outerHTML.slice(0, 200),
                    scrollY: window.scrollY,
                    text: document.body.innerText.slice(0, 3000)}; }"""
        )
        print(f"page at failure: {json.dumps(state, indent=1)}")
        pg.screenshot(path=str(ARTIFACTS / f"failed-{safe}.png"), full_page=True)
    except Exception as exc:  # the page may be gone; the test's own error is what matters
        print(f"page at failure: not readable ({exc})")


# Who opens each page: a demo account whose role shows it (the fake's passwords are all "demo").
OPENS = {
    "": "demo-agent",
    "floor": "demo-supervisor",
    "calls": "demo-agent",
    "digest": "demo-supervisor",
    "knowledge": "demo-knowledge-manager",
}
FIRST_PAGE = {"demo-agent": "Live call", "demo-supervisor": "Floor",
              "demo-knowledge-manager": "Knowledge", "demo-admin": "Administration"}  # fmt: skip


def sign_in(pg: Page, url: str, user: str, password: str = "demo") -> None:
    """Open the console (a new browser session starts on the sign-in page) and sign in as `user`."""
    pg.goto(url)
    pg.get_by_role("heading", name="Sign in", level=1).wait_for()
    settle(pg)
    pg.get_by_label("User name").fill(user)
    pg.get_by_label("Password", exact=True).fill(password)
    pg.get_by_role("button", name="Sign in").click()


def open_page(pg: Page, url: str, path: str, user: str | None = None, password: str = "demo") -> None:
    """Sign in as a person who may see the page, then open it from the menu (a reload would start a
    new browser session, signed out)."""
    user = user or OPENS[path]
    sign_in(pg, url, user, password)
    pg.get_by_role("heading", name=FIRST_PAGE[user], level=1).wait_for()
    settle(pg)
    if PAGES[path] != FIRST_PAGE[user]:
        go_to(pg, PAGES[path])


def settle(pg: Page) -> None:
    """Wait until Streamlit has finished the current run and the browser has drawn it: connected, no
    script running, no element left stale (faded) from an earlier run, and no element still a skeleton.
    Streamlit loads each widget's code (buttons, select boxes, tables) on first use and shows a
    skeleton until it has; a test that types or clicks before then finds text fields but no buttons,
    and keys pressed without a pause keep React from swapping the skeletons out. A fixed pause here
    was a guess that a loaded machine beats."""
    pg.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app !== null && app.dataset.testConnectionState === "CONNECTED"
                && app.dataset.testScriptState === "notRunning"
                && document.querySelector('[data-stale="true"]') === null
                && document.querySelector('[data-testid="stSkeleton"]') === null;
        }"""
    )


def sidebar_links(pg: Page) -> list[str]:
    """The page links the sidebar shows, in order (the menu, then Sign out)."""
    links = pg.locator('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]')
    return [links.nth(i).inner_text().strip() for i in range(links.count())]


def go_to(pg: Page, link: str, heading: str | None = None) -> None:
    """Follow the sidebar link `link` and wait until its page (level-1 heading `heading`, by default
    the link's own text) is drawn and settled. The heading exists only once the new page has run."""
    pg.get_by_role("link", name=link, exact=True).click()
    pg.get_by_role("heading", name=heading or link, level=1).wait_for()
    settle(pg)


# Full script runs a page has finished, counted from the websocket (fragment runs are not counted).
_RUNS: dict[int, list[int]] = {}


def watch_runs(pg: Page) -> None:
    """Count the full script runs the server finishes for `pg`, as `settle_after` needs."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    count = _RUNS.setdefault(id(pg), [0])
    done = ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY

    def on_frame(frame) -> None:
        if isinstance(frame, bytes):
            msg = ForwardMsg.FromString(frame)
            if msg.WhichOneof("type") == "script_finished" and msg.script_finished == done:
                count[0] += 1

    pg.on("websocket", lambda ws: ws.on("framereceived", on_frame))


def settle_after(pg: Page, action, timeout_s: float = 30) -> None:
    """Do `action` (a widget change), then wait for the full rerun it causes to finish and be drawn.
    `settle` alone can return before that rerun starts, and the rerun then replaces elements a test
    already holds. The rerun is seen on the websocket: the page's own run state can go from running to
    not running within one React render when the browser is slow, so watching it can miss the run."""
    count = _RUNS[id(pg)]
    before = count[0]
    action()
    deadline = time.monotonic() + timeout_s
    while count[0] == before:
        assert time.monotonic() < deadline, f"no rerun finished within {timeout_s} s of the action"
        pg.wait_for_timeout(50)  # Playwright delivers websocket events while it waits
    # The frame has reached the browser; let its script handle it and draw before checking the page.
    pg.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    settle(pg)


def axe_scan(pg: Page, name: str) -> list[dict]:
    """Run axe-core on the page; fail on serious/critical, print the rest."""
    pg.add_script_tag(path=str(AXE))
    result = pg.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    violations = result["violations"]
    for v in violations:
        targets = [n["target"] for n in v["nodes"]][:3]
        print(f"axe {name}: {v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])} nodes, e.g. {targets})")
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(violations, indent=2))
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: serious/critical axe violations: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}" for v in bad
    )
    return violations


def tab_to(pg: Page, text: str, limit: int = 200) -> list[str]:
    """Press Tab until the focused element is the control named `text`; returns the focus path."""
    path = []
    for _ in range(limit):
        pg.keyboard.press("Tab")
        focused = pg.evaluate(
            "() => { const e = document.activeElement; if (!e) return ''; "
            "return (e.getAttribute('aria-label') || e.innerText || e.value || e.tagName).trim().slice(0, 80); }"
        )
        path.append(focused)
        if focused == text or focused.endswith("\n" + text) or focused.endswith(text):
            visible = pg.evaluate(
                "() => { const s = getComputedStyle(document.activeElement); "
                "return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none'; }"
            )
            assert visible, f"focus on {text!r} is not visible"
            return path
    pytest.fail(f"Tab never reached {text!r}; focus went through {path}")


def test_live_call_demo_captions_suggestion_helpful(page, console_url):
    open_page(page, console_url, "")
    region = page.locator('[role="status"][aria-live="polite"]')
    assert region.count() == 1, "the polite live region exists before any update"
    page.get_by_role("button", name="Start demo call").click()
    page.get_by_text("Machine translation (es to en):").first.wait_for()
    page.get_by_role("heading", name="Apply for food assistance (SNAP)").wait_for()
    # the card's lines arrive one by one after its heading: wait for the line, do not read the page once
    page.get_by_text("Confidence: high (0.81)").wait_for()
    page.get_by_role("button", name=re.compile(r"^Helpful\b")).click()
    # the card's own line; the polite live region says "Latest update: Feedback saved: helpful." too
    page.get_by_text("Feedback saved: helpful", exact=True).wait_for()
    page.get_by_role("heading", name="Call summary").wait_for()
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "live-call.png"), full_page=True)
    axe_scan(page, "live-call")
    page.set_viewport_size({"width": 320, "height": 800})
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "live-call-320px.png"), full_page=True)
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= 340, f"the page scrolls sideways at 320 px ({overflow} px wide)"


@pytest.mark.models
def test_real_service_demo_call_shows_captions_and_a_suggestion_and_stores_feedback(browser, real_up):
    """The README's run command on the bundled models: a demo call streams the sample call through
    the service; captions for both speakers and an approved answer appear on the page, and
    "Helpful" is stored against that suggestion in the service's database."""
    import urllib.request

    url, service, home = real_up
    accounts = dict(line.split(" ", 1) for line in (home / "demo-accounts.txt").read_text().splitlines())
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    try:
        open_page(pg, url, "", "demo-agent", accounts["demo-agent"])
        pg.get_by_role("button", name="Start demo call").click()
        pg.get_by_text(re.compile(r"^Agent \[00:0\d\]: Thank you for calling")).first.wait_for()
        pg.get_by_text(re.compile(r"^Caller \[\d\d:\d\d\]: I want to pay my property")).first.wait_for()
        pg.get_by_text("Confidence:").first.wait_for()  # an approved answer, not an abstention
        main = pg.inner_text("main")
        call_id = re.search(r"Call (demo-[0-9a-f]+)", main)
        assert call_id, main[:500]
        pg.get_by_role("button", name=re.compile(r"^Helpful\b")).first.click()
        # the card's own line; the polite live region may say it too until the next caption replaces it
        pg.get_by_text("Feedback saved: helpful", exact=True).wait_for()
        # Scan a still page: while updates run, a slow one (a loaded machine) fades the last run's
        # elements to 33% opacity, and axe reports the faded text's contrast.
        pg.get_by_text("Pause updates").click()
        pg.get_by_text("updates paused").wait_for()
        settle(pg)
        pg.screenshot(path=str(ARTIFACTS / "live-call-real-service.png"), full_page=True)
        axe_scan(pg, "live-call-real-service")  # mid-call, with captions and a suggestion on screen
        key = (home / "admin.key").read_text().strip()  # the local admin key: every call
        request = urllib.request.Request(
            f"{service}/calls/{call_id.group(1)}", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            stored = json.load(r)
        kinds = [f["kind"] for f in stored["feedback"]]
        assert kinds == ["helpful"], stored["feedback"]
        rated = {s["suggestion_id"]: s for s in stored["suggestions"]}[stored["feedback"][0]["suggestion_id"]]
        assert rated["article_id"] and not rated["abstained"]
    finally:
        context.close()


def test_floor_shows_a_live_call_with_its_agent_and_alert_in_words_and_passes_axe(page, console_url):
    """A supervisor's demo call (the sample data) on the Floor page: agent, queue, the silence alert in
    words, updated in place; axe finds nothing serious."""
    open_page(page, console_url, "", "demo-supervisor")
    page.get_by_role("button", name="Start demo call").click()
    page.get_by_text(re.compile(r"I will send you the steps")).first.wait_for()
    settle(page)
    go_to(page, "Floor")
    table = page.locator('[data-testid="stTable"]')
    table.get_by_text("demo-supervisor").first.wait_for()
    assert "food-assistance" in table.inner_text()
    page.get_by_text("Alert: Silence or hold").first.wait_for()
    region = page.locator('[role="status"][aria-live="polite"]')
    assert region.count() == 1 and "Silence or hold" in region.inner_text()
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "floor.png"), full_page=True)
    assert page.title().startswith("Floor")
    axe_scan(page, "floor")


def test_agent_search_without_a_call_shows_answers_and_opens_the_article(page, console_url):
    open_page(page, console_url, "")
    page.keyboard.press("Alt+s")  # the listed shortcut: focus on the search box
    page.wait_for_function(
        "() => document.activeElement?.getAttribute('aria-label') === 'Search the knowledge base'"
    )
    page.keyboard.type("apply for food assistance")
    page.keyboard.press("Enter")
    page.get_by_text(
        re.compile(r"Apply for food assistance \(SNAP\) - confidence \w+ \(0\.\d\d\)")
    ).wait_for()
    page.get_by_text("Say: You can apply online, by phone or in person").first.wait_for()
    page.get_by_text("Open the article: Apply for food assistance (SNAP)").click()
    page.get_by_text("You get a decision within 30 days.").first.wait_for()


@pytest.mark.parametrize("path", ["calls", "digest", "knowledge"])
def test_page_renders_and_passes_axe(page, console_url, path):
    open_page(page, console_url, path)
    page.screenshot(path=str(ARTIFACTS / f"{path}.png"), full_page=True)
    assert page.title().startswith(PAGES[path]), f"browser tab title names the page: {page.title()!r}"
    axe_scan(page, path)


def test_keyboard_live_call_starts_a_demo(page, console_url):
    open_page(page, console_url, "")
    tab_to(page, "Start demo call")
    page.keyboard.press("Enter")
    page.get_by_text("Machine translation (es to en):").first.wait_for()


def test_keyboard_calls_opens_a_call(page, console_url):
    open_page(page, console_url, "calls")
    tab_to(page, "Open call")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Transcript").wait_for()


def test_keyboard_digest_downloads_markdown(page, console_url):
    open_page(page, console_url, "digest")
    tab_to(page, "Digest (Markdown)")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == "digest-2026-03-02.md"


def test_keyboard_knowledge_rebuilds_the_index(page, console_url):
    open_page(page, console_url, "knowledge")
    tab_to(page, "Rebuild the index", limit=300)
    page.keyboard.press("Enter")
    page.get_by_text("index rebuilt").wait_for()


def in_view_and_focused(pg: Page, selector: str) -> tuple[bool, bool]:
    """(the element's top is inside the viewport, it has keyboard focus)."""
    return tuple(
        pg.evaluate(
            """sel => { const e = document.querySelector(sel); if (!e) return [false, false];
            const r = e.getBoundingClientRect();
            return [r.top >= 0 && r.top < window.innerHeight, document.activeElement === e]; }""",
            selector,
        )
    )


def wait_in_view(pg: Page, selector: str) -> None:
    pg.wait_for_function(
        """sel => { const e = document.querySelector(sel); if (!e) return false;
        const r = e.getBoundingClientRect(); return r.top >= 0 && r.top < window.innerHeight
        && document.activeElement === e; }""",
        arg=selector,
    )


def test_console_makes_no_request_beyond_this_machine(page, console_url):
    """Offline first: no font, icon or script from the internet on any page, also after actions."""
    seen: list[str] = []
    page.context.on("request", lambda r: seen.append(r.url))
    for path in ("", "digest", "knowledge", "calls"):
        open_page(page, console_url, path)
    page.get_by_role("button", name="Open call").click()
    page.get_by_role("heading", name="Transcript").wait_for()
    open_page(page, console_url, "")
    page.get_by_role("button", name="Start demo call").click()
    page.get_by_role("heading", name="Call summary").wait_for()
    settle(page)
    outside = sorted(
        {
            u
            for u in seen
            if urlsplit(u).scheme not in ("data", "blob", "about")
            and urlsplit(u).hostname not in ("127.0.0.1", "localhost")
        }
    )
    assert len(seen) > 20 and not outside, f"requests beyond this machine: {outside}"


def test_a_row_opens_its_call_in_view(page, console_url):
    sys.path.insert(0, str(ROOT))
    from assistant.service.fake_client import FakeClient

    # Oldest first: demo calls other tests start are the newest, so these rows stay put.
    third = sorted(FakeClient().calls.values(), key=lambda c: c["started_at"])[2]["call_id"]
    open_page(page, console_url, "calls")
    page.locator('input[aria-label="Sort by"]').click()
    settle_after(page, page.get_by_role("option", name="Oldest first").click)
    grid = page.locator('[data-testid="stDataFrame"]')
    grid.scroll_into_view_if_needed()
    grid.locator("canvas").first.wait_for()
    settle(page)
    box = grid.bounding_box()
    assert box is not None and box["height"] < 1100, "one page of calls, not every call"
    # The row marker (check box) of the third row: the header and each row are 35 px high.
    x, y = box["x"] + 16, box["y"] + 35 + 2 * 35 + 17
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    page.wait_for_url(re.compile(f"call={third}"))
    page.get_by_role("heading", name=f"Call {third}").wait_for()
    wait_in_view(page, "#opened-call")
    page.get_by_role("heading", name="Transcript").wait_for()


def test_keyboard_calls_page_two_and_opened_call_in_view(page, console_url):
    open_page(page, console_url, "calls")
    page.locator('input[aria-label="Page"]').click()
    page.get_by_role("option", name="Page 2 of 2").click()
    page.get_by_text(re.compile(r"Showing calls 26 to \d+ of \d+\.")).wait_for()
    settle(page)
    tab_to(page, "Open call")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Transcript").wait_for()
    wait_in_view(page, "#opened-call")


def type_digest_date(pg: Page, digits: str) -> None:
    """Keyboard only: Tab into the date, type it, press Enter (no Tab out of the field)."""
    tab_to(pg, "year, Digest date")
    pg.keyboard.type(digits)
    pg.keyboard.press("Enter")


def test_typed_digest_date_applies_on_enter_and_the_day_is_built(page, console_url):
    open_page(page, console_url, "digest")
    type_digest_date(page, "20260216")
    page.get_by_text("No digest for 16 February 2026 yet").wait_for()
    assert "Digest date" in (page.evaluate("document.activeElement.getAttribute('aria-label')") or "")
    settle(page)
    tab_to(page, "Build the digest for 2026-02-16")
    page.keyboard.press("Enter")
    page.get_by_text("Done: digest of 2026-02-16 built from 3 calls").wait_for()
    page.get_by_role("heading", name="Top topics").wait_for()
    settle(page)
    axe_scan(page, "digest-built")


def test_digest_chart_labels_are_whole_and_ticks_are_whole_numbers(page, console_url):
    open_page(page, console_url, "digest")
    type_digest_date(page, "20260217")
    page.get_by_text("No digest for 17 February 2026 yet").wait_for()
    settle(page)
    tab_to(page, "Build the digest for 2026-02-17")
    page.keyboard.press("Enter")
    page.get_by_text("Done: digest of 2026-02-17").wait_for()
    settle(page)
    texts = page.locator('[data-testid="stVegaLiteChart"] svg').evaluate(
        "svg => [...svg.querySelectorAll('.role-axis-label text')].map(t => t.textContent)"
    )
    labels = " ".join(texts)
    assert "A parking permit for a new" in labels and "address" in labels, texts
    assert "…" not in labels and "..." not in labels, texts
    ticks = [t for t in texts if re.fullmatch(r"[0-9.]+", t)]
    assert ticks and all(t.isdigit() for t in ticks), ticks
    page.screenshot(path=str(ARTIFACTS / "digest-chart.png"), full_page=True)


def test_a_topic_opens_its_call(page, console_url):
    open_page(page, console_url, "digest")
    page.get_by_text("Calls by topic").wait_for()
    page.get_by_text("Lost or stolen EBT card: 1 call").click()
    page.get_by_role("link", name="Open call call-mar02-1140-b7", exact=True).click()
    page.get_by_role("heading", name="Call call-mar02-1140-b7").wait_for()
    wait_in_view(page, "#opened-call")


def test_gap_draft_says_so_and_moves_to_the_editor(page, console_url):
    open_page(page, console_url, "knowledge")
    last_seen = page.locator('[data-testid="stTable"]').nth(1).inner_text()
    assert "2026-03-02T" not in last_seen and ".482913" not in last_seen
    assert re.search(r"02 Mar 2026, \d\d:\d\d", last_seen), last_seen
    settle_after(page, page.get_by_role("button", name="Start a draft article from this gap").click)
    page.get_by_text("Draft started from the gap").wait_for()
    wait_in_view(page, "#article-editor")
    # Streamlit draws a field empty and fills in a value set by a callback on a later render, so a
    # single read can come between the two (CI read "" once); wait for the value instead.
    expect(page.get_by_label("Title", exact=True)).to_have_value("Property tax payment plans")  # its topic
    expect(page.get_by_label("Caller questions (one a line)")).to_have_value(
        "Can I pay my property tax in parts?"
    )


@pytest.mark.parametrize(
    ("user", "menu"),
    [
        ("demo-agent", ["Live call", "Calls"]),
        ("demo-supervisor", ["Floor", "Live call", "Calls", "Daily digest"]),
        ("demo-knowledge-manager", ["Knowledge"]),
        ("demo-admin", ["Administration"]),
    ],
)
def test_each_role_sees_only_its_pages_and_signs_out(page, console_url, user, menu):
    """An agent has no Knowledge page (cannot publish) and no digest; a knowledge manager no calls;
    a supervisor calls and digests. The service refuses the same routes (tests/test_access.py)."""
    sign_in(page, console_url, user)
    page.get_by_role("heading", name=FIRST_PAGE[user], level=1).wait_for()
    settle(page)
    shown = sidebar_links(page)
    assert shown == [*(menu if len(menu) > 1 else []), "Sign out"], shown  # one page: no menu
    page.get_by_text(f"Signed in as {user}").wait_for()
    go_to(page, "Sign out", "Sign in")
    page.get_by_text("You are signed out.").wait_for()


def test_a_wrong_password_is_refused_on_the_sign_in_page(page, console_url):
    sign_in(page, console_url, "demo-agent", "not the password")
    page.get_by_text("Error: wrong user name or password").wait_for()
    settle(page)
    axe_scan(page, "sign-in")


@pytest.fixture(scope="module")
def sso_console(tmp_path_factory):
    """The console on the real service (no models loaded), both set up for single sign-on with a
    real local OpenID Connect provider (oidc-provider-mock); yields (console URL, home)."""
    import secrets as tokens

    from oidc_util import provider

    env = _fresh_env(tmp_path_factory)
    console_port, service_port = free_port(), free_port()
    with provider() as issuer:
        streamlit_dir = Path(env["HOME"]) / ".streamlit"
        streamlit_dir.mkdir()
        (streamlit_dir / "secrets.toml").write_text(
            "[auth]\n"
            f'redirect_uri = "http://localhost:{console_port}/oauth2callback"\n'
            f'cookie_secret = "{tokens.token_hex(16)}"\n'
            'client_id = "console"\nclient_secret = "secret"\n'
            f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
            'expose_tokens = "id"\n'
        )
        env.update(ASSISTANT_OIDC_ISSUER=issuer, ASSISTANT_OIDC_CLIENT_ID="console",
                   ASSISTANT_SERVICE_URL=f"http://127.0.0.1:{service_port}")  # fmt: skip
        with service_and_console(env, service_port, console_port):
            yield f"http://localhost:{console_port}", Path(env["ASSISTANT_HOME"])


@contextlib.contextmanager
def service_and_console(env: dict[str, str], service_port: int, console_port: int, *serve_args: str):
    """The real service (no models loaded: --no-warm) and the console, as processes of their own;
    stopped on leaving."""
    from service_util import wait_healthy

    from assistant.commands.up import console_command

    serve = [
        sys.executable,
        "-m",
        "assistant",
        "serve",
        "--port",
        str(service_port),
        "--no-warm",
        *serve_args,
    ]
    procs: list[subprocess.Popen] = []
    try:
        procs.append(subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_healthy(f"http://127.0.0.1:{service_port}", procs[0])
        procs.append(subprocess.Popen(console_command("127.0.0.1", console_port), env=env, cwd=ROOT,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        wait_healthy(f"http://127.0.0.1:{console_port}/_stcore", procs[1])
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


def test_single_sign_on_through_the_local_provider(browser, sso_console):
    """Sign in at the provider as a supervisor: the console shows the supervisor's pages, calls the
    service as that person (the audit log names them), and a reload keeps them signed in."""
    url, home = sso_console
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    try:
        pg.goto(url)
        pg.get_by_role("heading", name="Sign in", level=1).wait_for()
        settle(pg)
        pg.get_by_role("button", name="Sign in with single sign-on").click()
        pg.get_by_role("heading", name="Authorize Client").wait_for()
        pg.get_by_role("button", name="sam", exact=True).click()
        pg.get_by_role("heading", name="Floor", level=1).wait_for()
        pg.get_by_text("Signed in as sam").wait_for()
        settle(pg)  # page links are drawn once their code has loaded
        assert sidebar_links(pg) == ["Floor", "Live call", "Calls", "Daily digest", "Sign out"]
        pg.reload()
        pg.get_by_text("Signed in as sam").wait_for()
        import httpx

        key = (home / "admin.key").read_text().strip()
        state = json.loads((home / "service.json").read_text())
        lines = httpx.get(f"{state['url']}/audit", headers={"Authorization": f"Bearer {key}"}).json()
        assert ("sam", "sign_in") in {(x["user"], x["action"]) for x in lines}
        settle(pg)  # the reloaded page drawn whole
        pg.get_by_role("link", name="Sign out").click()  # also at the provider (st.logout)
        pg.get_by_role("heading", name="End Session").wait_for()
        pg.get_by_role("button", name="End session").click()
        pg.get_by_role("heading", name="Sign in", level=1).wait_for()
        pg.reload()
        pg.get_by_role("heading", name="Sign in", level=1).wait_for()  # signed out for good
    finally:
        context.close()


# ---------------------------------------------------------------- Markdown from data stays text

FOREIGN = "evil.example"
INJECTED = f"[evil link](http://{FOREIGN}/phish) ![evil image](http://{FOREIGN}/pixel.png)"


@pytest.fixture(scope="module")
def injected_console(tmp_path_factory):
    """The console on the real service with a knowledge base holding an article whose title carries
    a Markdown link and image to a foreign host; yields (console URL, demo account passwords)."""
    env = _fresh_env(tmp_path_factory)
    kb = tmp_path_factory.mktemp("kb")
    shutil.copytree(ROOT / "knowledge_base", kb, dirs_exist_ok=True)
    (kb / "account" / "zz-injected.md").write_text(
        f"---\nid: zz-injected\ntitle: 'Pay here {INJECTED}'\nsay: Call the main line.\n"
        "questions:\n  - How do I pay?\nprogram: Account Help\nlanguage: en\nowner: account-team\n"
        "effective: 2026-01-01\nreview_by: 2027-06-30\nstatus: published\n---\nCall the main line to pay.\n"
    )
    console_port, service_port = free_port(), free_port()
    env.update(ASSISTANT_KB_DIR=str(kb), ASSISTANT_SERVICE_URL=f"http://127.0.0.1:{service_port}")
    with service_and_console(env, service_port, console_port, "--demo-accounts"):
        accounts = Path(env["ASSISTANT_HOME"]) / "demo-accounts.txt"
        yield (
            f"http://127.0.0.1:{console_port}",
            dict(line.split() for line in accounts.read_text().splitlines()),
        )


def test_injected_links_and_images_stay_text_in_the_audit_and_knowledge_tables(browser, injected_console):
    """Issue 29: a name typed at sign-in went unescaped into the admin's audit table, and an
    article title into the Knowledge table, as a live link and an image fetched from another host.
    Both show as typed now; the browser asks the foreign host for nothing."""
    url, passwords = injected_console
    asked: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(f"**/*{FOREIGN}*/**", lambda route: (asked.append(route.request.url), route.abort()))
    try:
        attacker = context.new_page()
        sign_in(attacker, url, f"boss {INJECTED}", "not the password")
        attacker.get_by_text("Error: wrong user name or password").wait_for()
        attacker.close()
        for user, heading in (("demo-knowledge-manager", "Knowledge"), ("demo-admin", "Administration")):
            fresh = browser.new_context(viewport={"width": 1280, "height": 900})
            fresh.route(f"**/*{FOREIGN}*/**", lambda route: (asked.append(route.request.url), route.abort()))
            pg = fresh.new_page()
            pg.set_default_timeout(30_000)
            try:
                sign_in(pg, url, user, passwords[user])
                pg.get_by_role("heading", name=heading, level=1).wait_for()
                settle(pg)
                tables = pg.locator('[data-testid="stTable"]')
                expect(tables.first).to_be_visible()
                # The text as typed (an invisible word joiner keeps "http://" from being linked).
                assert INJECTED in " ".join(tables.all_inner_texts()).replace("\u2060", "")
                for element in ("a", "img"):
                    found = pg.locator(f'[data-testid="stTable"] {element}')
                    assert found.count() == 0, [
                        found.nth(i).evaluate("e => e.outerHTML") for i in range(found.count())
                    ]
                assert pg.locator(f'a[href*="{FOREIGN}"], img[src*="{FOREIGN}"]').count() == 0
            finally:
                fresh.close()
    finally:
        context.close()
    assert asked == []


def test_artifacts_folder_is_ignored_by_git():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "check-ignore", "-q", "tests/artifacts/x.png"], cwd=ROOT)
    assert out.returncode == 0


# ---------------------------------------------------------------- the live floor on the real service

REGION_WATCH = """() => {
    const region = document.querySelector('[role="status"][aria-live="polite"]');
    window.__region = region;
    window.__replaced = 0;
    window.__said = [region.innerText];
    new MutationObserver((records) => {
        for (const r of records) {
            for (const n of r.removedNodes) {
                if (n === region || (n.contains && n.contains(region))) window.__replaced += 1;
            }
        }
        const now = document.querySelector('[role="status"][aria-live="polite"]');
        if (now !== region) window.__replaced += 1;
        if (region.innerText !== window.__said[window.__said.length - 1]) window.__said.push(region.innerText);
    }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def _simulate(service: str, home: Path, agent: str, queue: str) -> subprocess.Popen:
    """`assistant simulate-call` of the bundled sample call, routed to `agent` (the machine's local
    admin key, which the service's home holds, sends it)."""
    env = {**os.environ, "ASSISTANT_HOME": str(home)}
    ws = service.replace("http://", "ws://") + "/media"
    cmd = [sys.executable, "-m", "assistant", "simulate-call", str(ROOT / "samples" / "call-en-payment-pii.wav"),
           "--url", ws, "--quiet", "--param", f"agent={agent}", "--param", f"queue={queue}"]  # fmt: skip
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.models
def test_routed_calls_reach_their_agent_and_the_floor_on_the_real_service(browser, real_up):
    """Three `simulate-call --param agent=...` calls: the signed-in agent's own call opens on their Live
    call page without a reload, its line to say visible without scrolling at 1280x900; the live region
    keeps its DOM node (zero replacements) and announces no agent speech; the three calls and their agents
    are on the floor through the API, the CLI and the supervisor's Floor page, which passes axe."""
    import urllib.request

    url, service, home = real_up
    accounts = dict(line.split(" ", 1) for line in (home / "demo-accounts.txt").read_text().splitlines())
    agent_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    boss_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    agent, boss = agent_ctx.new_page(), boss_ctx.new_page()
    for pg in (agent, boss):
        pg.set_default_timeout(120_000)
    calls: list[subprocess.Popen] = []
    key = (home / "admin.key").read_text().strip()

    def floor() -> dict:
        request = urllib.request.Request(f"{service}/floor", headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.load(r)

    deadline = time.monotonic() + 180
    while floor()["calls"] and time.monotonic() < deadline:  # an earlier test's demo call ends first
        time.sleep(1)
    try:
        open_page(agent, url, "", "demo-agent", accounts["demo-agent"])
        agent.get_by_text("Waiting for your next call.").wait_for()
        loads: list[str] = []
        agent.on("load", lambda: loads.append(agent.url))
        calls = [_simulate(service, home, a, q) for a, q in
                 (("demo-agent", "property-tax"), ("agent-b", "benefits"), ("agent-c", "licences"))]  # fmt: skip
        agent.get_by_text("Queue: property-tax").wait_for()  # the call opened by itself
        agent.evaluate(REGION_WATCH)
        say = agent.get_by_text(re.compile(r"^Say( in \w+)?: ")).first
        say.wait_for()
        box = say.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 900, box
        agent.screenshot(path=str(ARTIFACTS / "live-call-routed.png"))
        # a few more updates: the caller's card number turn (its words vary with Whisper; the mask does not)
        agent.get_by_text(re.compile(r"^Caller \[\d\d:\d\d\]: .*\[CARD\]")).first.wait_for()

        api = {c["agent"] for c in floor()["calls"]}
        cli = subprocess.run([sys.executable, "-m", "assistant", "floor", "--json", "--url", service],
                             env={**os.environ, "ASSISTANT_HOME": str(home)}, cwd=ROOT, capture_output=True,
                             text=True, timeout=60)  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        printed = {c["agent"] for c in json.loads(cli.stdout)["calls"]}
        assert api == printed == {"demo-agent", "agent-b", "agent-c"}

        open_page(boss, url, "floor", "demo-supervisor", accounts["demo-supervisor"])
        table = boss.locator('[data-testid="stTable"]')
        for name in ("demo-agent", "agent-b", "agent-c"):
            table.get_by_text(name, exact=True).wait_for()
        boss.get_by_text("Pause updates").click()
        settle(boss)
        boss.screenshot(path=str(ARTIFACTS / "floor-real-service.png"), full_page=True)
        axe_scan(boss, "floor-real-service")

        replaced, said = agent.evaluate("() => [window.__replaced, window.__said]")
        assert replaced == 0, f"the live region was replaced {replaced} times"
        assert len(said) > 1, said  # it did announce something during the call
        assert not [s for s in said if "Agent:" in s], said  # the agent's own words are not read back
        assert loads == [], f"the page was reloaded: {loads}"
    finally:
        for proc in calls:
            proc.wait(300)
        agent_ctx.close()
        boss_ctx.close()
    assert [p.returncode for p in calls] == [0, 0, 0], [p.stderr.read() for p in calls if p.stderr]


def test_admin_audit_view_pages_newest_first_with_a_total_and_alerts(browser, real_up):
    """Issue 29 (3, 13): the Administration page's audit view shows the newest lines first, 50 at a
    time with the total, pages back with "Older lines", and shows the alerts above them (here a
    read key, which reads every call). On main it showed the oldest 500 of the first 10,000."""
    import httpx

    url, service, home = real_up
    accounts = dict(line.split(" ", 1) for line in (home / "demo-accounts.txt").read_text().splitlines())
    auth = {"Authorization": f"Bearer {(home / 'admin.key').read_text().strip()}"}
    for n in range(30):  # 60 ordinary lines
        assert httpx.post(
            f"{service}/keys", json={"scopes": ["ingest"], "name": f"k{n}"}, headers=auth
        ).is_success
        assert httpx.delete(f"{service}/keys/k{n}", headers=auth).is_success
    assert httpx.post(f"{service}/keys", json={"scopes": ["read"], "name": "reader"}, headers=auth).is_success
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    watch_runs(pg)
    try:
        sign_in(pg, url, "demo-admin", accounts["demo-admin"])
        pg.get_by_role("heading", name="Administration", level=1).wait_for()
        settle(pg)
        pg.get_by_text(re.compile(r"latest alert\(s\)")).wait_for()
        pg.locator("li").filter(
            has_text="created key reader with the read scope"
        ).wait_for()  # the alert list
        caption = pg.get_by_text(re.compile(r"^Lines 1-50 of \d+, newest first$"))
        total = int(re.search(r"of (\d+)", caption.inner_text()).group(1))
        assert total >= 62, total
        tables = pg.locator('[data-testid="stTable"]')
        first_rows = tables.last.inner_text()
        assert first_rows.index("sign_in") < first_rows.index("key.create")  # newest first
        settle_after(pg, lambda: pg.get_by_role("button", name="Older lines").click())
        pg.get_by_text(f"Lines 51-{min(100, total)} of {total}, newest first").wait_for()
        assert tables.last.inner_text() != first_rows
        settle_after(pg, lambda: pg.get_by_role("button", name="Newer lines").click())
        pg.get_by_text(f"Lines 1-50 of {total}, newest first").wait_for()
    finally:
        context.close()
