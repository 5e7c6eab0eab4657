"""A shift in the console on the real service (`assistant up`, bundled models), in Chromium (issue 30):
follow a call that started after the Floor opened; stay signed in across a reload and a new tab (the
session cookie) and keep a `?call=ID` link through sign-in; the console refuses a foreign Host.

Helpers and the `assistant up` fixture come from tests/test_console_browser.py (its set-up notes apply).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
import test_console_browser as tcb
from test_console_browser import _RUNS, _simulate, go_to, open_page, settle, watch_runs

browser = tcb.browser  # the module's fixtures, by name
real_up = tcb.real_up

pytestmark = pytest.mark.models
COOKIE = "assistant_console_session"


def _accounts(home) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in (home / "demo-accounts.txt").read_text().splitlines())


def _get(service: str, home, path: str) -> dict | list:
    key = (home / "admin.key").read_text().strip()
    request = urllib.request.Request(f"{service}{path}", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)


PICKER = """t => {
    const box = [...document.querySelectorAll('[data-testid="stSelectbox"]')]
        .find(b => b.innerText.includes('Live call to follow'));
    return !!box && (box.innerText.includes(t) || [...box.querySelectorAll('input')].some(i => i.placeholder === t));
}"""


def picker_says(pg, text: str) -> None:
    """Wait until the "Live call to follow" box shows `text` (its placeholder or its value)."""
    pg.wait_for_function(PICKER, arg=text)


def test_a_call_that_started_after_the_floor_opened_can_be_followed(browser, real_up):
    url, service, home = real_up
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(120_000)
    watch_runs(pg)
    proc = None
    try:
        open_page(pg, url, "floor", "demo-supervisor", _accounts(home)["demo-supervisor"])
        pg.get_by_text("No live calls right now.").wait_for()
        picker_says(pg, "No live calls")
        runs = _RUNS[id(pg)][0]
        proc = _simulate(service, home, "demo-agent", "benefits")
        pg.locator('[data-testid="stTable"]').get_by_text("demo-agent", exact=True).wait_for()
        # The picker offers the new call with no full rerun of the page (no click, no reload).
        picker_says(pg, "Choose a call")
        assert _RUNS[id(pg)][0] == runs, "the page was rerun in full to show the new call"
        follow = pg.get_by_role("button", name="Follow the call")
        assert follow.is_disabled()
        pg.locator('[data-testid="stSelectbox"]').filter(has_text="Live call to follow").click()
        pg.get_by_role("option", name=re.compile(r"\(agent demo-agent\)")).click()
        pg.wait_for_function(
            "() => [...document.querySelectorAll('button')].some(b => b.innerText.trim() === "
            "'Follow the call' && !b.disabled)"
        )
        follow.click()
        pg.get_by_text(re.compile(r"^Following call \S+ \((in progress|ended), read-only\)")).wait_for()
        pg.get_by_text(re.compile(r"^(Agent|Caller) \[\d\d:\d\d\]: ")).first.wait_for()
    finally:
        if proc is not None:
            proc.wait(300)
        context.close()
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""


def test_a_reload_and_a_new_tab_keep_the_sign_in_and_a_call_link_survives_it(browser, real_up):
    url, service, home = real_up
    password = _accounts(home)["demo-supervisor"]
    stored = _get(service, home, "/calls?limit=5")
    if not stored:  # this module's first test stores one; run alone, make one
        proc = _simulate(service, home, "demo-agent", "benefits")
        proc.wait(300)
        stored = _get(service, home, "/calls?limit=5")
    call_id = stored[0]["call_id"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(120_000)
    try:
        pg.goto(f"{url}/calls?call={call_id}")  # a link someone sent: signed out, it opens Sign in
        pg.get_by_role("heading", name="Sign in", level=1).wait_for()
        settle(pg)
        pg.get_by_label("User name").fill("demo-supervisor")
        pg.get_by_label("Password", exact=True).fill(password)
        pg.get_by_role("button", name="Sign in").click()
        pg.get_by_role("heading", name=f"Call {call_id}").wait_for()  # the link, after sign-in
        assert f"call={call_id}" in pg.url and "/calls" in pg.url, pg.url

        cookies = [c for c in context.cookies() if c["name"] == COOKIE]
        assert len(cookies) == 1, context.cookies()
        assert cookies[0]["httpOnly"] and cookies[0]["secure"] and cookies[0]["sameSite"] == "Strict"
        assert cookies[0]["value"] not in pg.evaluate("document.cookie")  # page scripts cannot read it

        pg.reload()
        pg.get_by_role("heading", name=f"Call {call_id}").wait_for()
        pg.get_by_text("Signed in as demo-supervisor").wait_for()
        tab = context.new_page()
        tab.set_default_timeout(120_000)
        tab.goto(url)
        tab.get_by_role("heading", name="Floor", level=1).wait_for()  # a new tab: signed in too
        settle(pg)

        go_to(pg, "Sign out", "Sign in")
        pg.get_by_text("You are signed out.").wait_for()
        assert not [c for c in context.cookies() if c["name"] == COOKIE]
        tab.reload()  # the session is over at the service: the other tab is signed out too
        tab.get_by_role("heading", name="Sign in", level=1).wait_for()
    finally:
        context.close()


def test_the_console_refuses_a_host_name_it_does_not_serve(real_up):
    url = real_up[0]
    ok = urllib.request.Request(url)
    with urllib.request.urlopen(ok, timeout=30) as r:
        assert r.status == 200
    foreign = urllib.request.Request(url, headers={"Host": "rebound.example"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(foreign, timeout=30)
    assert refused.value.code == 400
    assert "allowed_hosts" in refused.value.read().decode()
