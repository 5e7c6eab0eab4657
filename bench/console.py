"""Benchmark: how soon the agent *sees* speech in the console, in a real browser, on the real service.

Starts `assistant up` (service + console, a temporary home), opens the Live call page in Debian's
chromium (Playwright), clicks "Start demo call" and reads the captions column every 0.1 s. For
each scripted turn of the demo sample (samples/calls.json) it reports when the first caption of
that turn appeared, after the turn's speech began; and when the first suggestion card appeared
after the end of the caller's question it answers.

Times are measured from the click, which is before the service starts streaming, so every figure
includes the demo's own start-up and is an upper bound on caption latency.

Run: .venv/bin/python bench/console.py [--port 8593] [--service-port 8793]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SAMPLE = "call-en-payment-pii.wav"  # what "Start demo call" plays
LINE = re.compile(r"^(Agent|Caller) \[(\d+):(\d+)\]: (.*)$")


def start_up(port: int, service_port: int, home: str) -> subprocess.Popen:
    env = {**os.environ, "ASSISTANT_HOME": home, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "assistant", "up", "--no-browser", "--port", str(port)]
    cmd += ["--service-port", str(service_port)]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("Console: "):
            return proc
    raise SystemExit("assistant up stopped before the console was ready")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8593)
    parser.add_argument("--service-port", type=int, default=8793)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    turns = next(c for c in json.loads((REPO / "samples" / "calls.json").read_text()) if c["file"] == SAMPLE)[
        "turns"
    ]
    home = tempfile.mkdtemp(prefix="bench-console-")
    proc = start_up(args.port, args.service_port, home)
    first_seen: dict[int, float] = {}
    suggestion_at: float | None = None
    asked = ""
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{args.port}/")
            page.get_by_role("heading", name="Live call", level=1).wait_for(timeout=60_000)
            page.wait_for_timeout(1000)
            clicked = time.monotonic()
            page.get_by_role("button", name="Start demo call").click()
            end = clicked + turns[-1]["end"] + 15
            while time.monotonic() < end:
                now = time.monotonic() - clicked
                text = page.inner_text("main")
                for line in text.splitlines():
                    m = LINE.match(line.strip())
                    if not m:
                        continue
                    speaker = m.group(1).lower()
                    at = int(m.group(2)) * 60 + int(m.group(3))
                    candidates = [i for i, t in enumerate(turns) if t["speaker"] == speaker]
                    turn = min(candidates, key=lambda i: abs(turns[i]["start"] - at))
                    first_seen.setdefault(turn, now)
                if suggestion_at is None and "Confidence:" in text:
                    suggestion_at = now
                    asked = next((x for x in text.splitlines() if x.startswith("For the question:")), "")
                if "Call summary" in text:
                    break
                time.sleep(0.1)
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        shutil.rmtree(home, ignore_errors=True)

    print(f"demo sample {SAMPLE}; times from the click on 'Start demo call'")
    print("turn | speaker | speech starts s | first caption s | caption after speech start s")
    delays = []
    for i, t in enumerate(turns):
        seen = first_seen.get(i)
        delay = None if seen is None else seen - t["start"]
        if delay is not None:
            delays.append(delay)
        shown = "-" if seen is None else f"{seen:.2f} | {delay:.2f}"
        print(f"{i} | {t['speaker']} | {t['start']:.2f} | {shown}")
    if delays:
        ordered = sorted(delays)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(
            f"caption after speech start: median {statistics.median(delays):.2f} s, p95 {p95:.2f} s, "
            f"max {max(delays):.2f} s; turns captioned {len(delays)}/{len(turns)}"
        )
    words = set(re.findall(r"[a-z]+", asked.lower()))
    callers = [t for t in turns if t["speaker"] == "caller"]
    question = max(callers, key=lambda t: len(words & set(re.findall(r"[a-z]+", t["text"].lower()))))
    if suggestion_at is not None:
        print(
            f"first suggestion card at {suggestion_at:.2f} s, {suggestion_at - question['end']:.2f} s after "
            f"the end of the caller's turn it answers ({question['text']!r}; card: {asked!r})"
        )
    else:
        print("no suggestion card appeared")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
