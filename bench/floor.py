"""Benchmark: end of a caller's sentence to the `escalation` alert on `GET /floor`.

No recording in the repo has a caller asking for a supervisor, so the caller's words are scripted
while everything else is real: the service app (uvicorn on a local port, its own temporary
database and home), real-time Twilio streams of the sample recordings with `assistant.service.sim`,
and the bundled Whisper `base` decoding every final (its cost is paid as usual); only the text of
each caller final is replaced, after decoding, by "I want to speak to a supervisor, please." (an
English caller) or "Quiero hablar con un supervisor, por favor." with Whisper's own translation
pass replaced by the English (a Spanish caller: the rule reads the translation). A poller reads
`GET /floor` every 50 ms; the figure is the wall time the alert first shows there minus the wall
time the first caller turn's speech ended (its scripted end in samples/calls.json after the stream's
first frame). Polling adds up to 0.05 s.

With --speech the caller's words are spoken, not scripted: a call whose caller channel is synthetic
speech of the sentence (flite's `slt` voice for English; espeak-ng's `es+klatt` at 145 words a minute
for Spanish, the one synthetic Spanish voice on Debian that Whisper base hears as "supervisor" -
espeak-ng's other Spanish voices come out as "superbipo" and the like). Nothing is replaced: the
alert comes from what Whisper heard (for Spanish, from its translation). The figure is the alert's
wall time minus the end of the speech (the last sample above 1% of full scale).

With --page it measures the supervisor's Floor *page* against `GET /floor` instead (issue 30): it starts
`assistant up` (service and console, a temporary home), signs in as the demo supervisor in Debian's
chromium (Playwright), and streams 1, then 8, routed sample calls at once (`assistant simulate-call`,
real time). A poller reads `GET /floor` every 0.1 s and notes when each fact first shows there (a
call's row; each new "latest need" of a call); a script in the page notes when the same fact first
shows in the Floor's table (a MutationObserver and a 50 ms timer, `Date.now()`, the same clock). The
figure is the page's time minus the API's, per fact: median, p95 and max at 1 and at 8 calls.

Run: .venv/bin/python bench/floor.py [--repeat 2] [--samples call-en-payment-pii.wav,call-es-food.wav]
     .venv/bin/python bench/floor.py --speech   (needs the Debian packages flite and espeak-ng)
     .venv/bin/python bench/floor.py --page [--calls 1,8] [--console-port 9810 --service-port 9811]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ENGLISH = "I want to speak to a supervisor, please."
SPANISH = "Quiero hablar con un supervisor, por favor."


class ScriptedCaller:
    """The real transcriber; a caller's final text is replaced after the real decode."""

    def __init__(self, inner: Any, *, substitute: bool = True) -> None:
        self.inner = inner
        self.substitute = substitute  # False (--speech): pass the decoded text through
        # (speaker, task, audio seconds, decode seconds, start on the monotonic clock)
        self.timings: list[tuple[str, str, float, float, float]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def transcribe(self, audio: Any, options: Any, speaker: str = "unknown") -> Any:
        from assistant.speech.transcription import Transcript

        began = time.monotonic()
        out = self.inner.transcribe(audio, options, speaker=speaker)
        self.timings.append((speaker, options.task, len(audio) / 16000, time.monotonic() - began, began))
        if not self.substitute or speaker != "caller" or not out.segments:
            return out
        english = options.task == "translate" or out.info.language == "en"
        return Transcript((replace(out.segments[0], text=ENGLISH if english else SPANISH),), out.info)


def first_caller_end(sample: str) -> float:
    meta = next(c for c in json.loads((REPO / "samples" / "calls.json").read_text()) if c["file"] == sample)
    return next(t["end"] for t in meta["turns"] if t["speaker"] == "caller")


SPOKEN = {  # language: (synthesizer command with {out} and {text}, sentence)
    "en": (["flite", "-voice", "slt", "-t", "{text}", "-o", "{out}"], ENGLISH),
    "es": (["espeak-ng", "-v", "es+klatt", "-s", "145", "-w", "{out}", "{text}"], SPANISH),
}
LEAD = 1.5  # seconds of silence before the caller speaks


def spoken_call(language: str, folder: Path, tail: float) -> tuple[Path, float]:
    """A stereo call (agent silent on the left, the caller on the right) in which the caller says the
    escalation sentence once; (its path, the second the speech ends)."""
    import shutil
    import subprocess

    from assistant.speech.audio import SAMPLE_RATE, decode_file, write_wav

    command, text = SPOKEN[language]
    if shutil.which(command[0]) is None:
        raise SystemExit(f"error: --speech needs {command[0]} (apt-get install {command[0]})")
    raw = folder / f"{language}-raw.wav"
    subprocess.run([a.format(out=raw, text=text) for a in command], check=True, capture_output=True)
    voice = decode_file(str(raw))
    voice = voice if voice.ndim == 1 else voice.mean(axis=0)
    loud = (abs(voice) > 0.01).nonzero()[0]
    voice = voice[: loud[-1] + 1]
    lead = int(LEAD * SAMPLE_RATE)
    caller = np.concatenate([np.zeros(lead, np.float32), voice.astype(np.float32),
                             np.zeros(int(tail * SAMPLE_RATE), np.float32)])  # fmt: skip
    path = folder / f"spoken-supervisor-{language}.wav"
    write_wav(path, [np.zeros_like(caller), caller])
    return path, (lead + len(voice)) / SAMPLE_RATE


PAGE_WATCH = """() => {
    window.__seen = window.__seen || {};
    const scan = () => {
        const now = Date.now();
        for (const table of document.querySelectorAll('[data-testid="stTable"] table')) {
            const heads = [...table.querySelectorAll('thead th')].map(th => th.innerText.trim());
            const call = heads.indexOf('Call'), need = heads.indexOf('Latest need');
            if (call < 0) continue;
            for (const tr of table.querySelectorAll('tbody tr')) {
                const cells = [...tr.querySelectorAll('td, th')].map(td => td.innerText.trim());
                const id = cells[call];
                for (const key of [id + '|row', id + '|need|' + cells[need]]) {
                    if (!(key in window.__seen)) window.__seen[key] = now;
                }
            }
        }
    };
    new MutationObserver(scan).observe(document.body, {childList: true, subtree: true, characterData: true});
    setInterval(scan, 50);
    scan();
}"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def page_main(args: argparse.Namespace) -> int:
    """The Floor page's lag behind GET /floor at each number of calls in `args.calls`."""
    import signal
    import subprocess

    import httpx
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="bench-floor-page-")
    env = {**os.environ, "ASSISTANT_HOME": home, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    # Whisper models rebuilt from their packages once, not in every temporary home.
    env.setdefault("ASSISTANT_MODEL_CACHE", str(Path.home() / ".local/share/contact-assistant/models"))
    cmd = [sys.executable, "-m", "assistant", "up", "--no-browser", "--port", str(args.console_port),
           "--service-port", str(args.service_port)]  # fmt: skip
    up = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert up.stdout is not None
    said = []
    for line in up.stdout:
        said.append(line)
        if line.startswith("Console: "):
            break
    else:
        raise SystemExit("assistant up stopped before the console was ready:\n" + "".join(said[-20:]))
    threading.Thread(target=up.stdout.read, daemon=True).start()  # drain: `up` never blocks on its pipe
    service = f"http://127.0.0.1:{args.service_port}"
    accounts = dict(x.split(" ", 1) for x in (Path(home) / "demo-accounts.txt").read_text().splitlines())
    key = (Path(home) / "admin.key").read_text().strip()
    http = httpx.Client(base_url=service, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    samples = ["call-en-payment-pii.wav", "call-en-benefits.wav", "call-es-food.wav", "call-es-license.wav"]
    results: dict[int, list[float]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(f"http://127.0.0.1:{args.console_port}/")
            page.get_by_label("User name").fill("demo-supervisor")
            page.get_by_label("Password", exact=True).fill(accounts["demo-supervisor"])
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Floor", level=1).wait_for()
            page.evaluate(PAGE_WATCH)
            for n in (int(x) for x in args.calls.split(",")):
                api: dict[str, float] = {}
                stop = threading.Event()

                def poll(api: dict[str, float] = api, stop: threading.Event = stop) -> None:
                    while not stop.is_set():
                        now = time.time()
                        for row in http.get("/floor").json()["calls"]:
                            api.setdefault(f"{row['call_id']}|row", now)
                            api.setdefault(f"{row['call_id']}|need|{row['latest_need'] or 'none yet'}", now)
                        time.sleep(0.1)

                poller = threading.Thread(target=poll, daemon=True)
                poller.start()
                ws = f"ws://127.0.0.1:{args.service_port}/media"
                calls = [
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "assistant",
                            "simulate-call",
                            str(REPO / "samples" / samples[i % 4]),
                            "--url",
                            ws,
                            "--quiet",
                            "--param",
                            f"agent=bench-{n}-{i}",
                            "--param",
                            "queue=bench",
                        ],
                        cwd=REPO,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                    for i in range(n)
                ]
                for c in calls:
                    c.wait(900)
                page.wait_for_timeout(3000)  # the page catches up with the last facts
                stop.set()
                poller.join(5)
                seen = page.evaluate("() => window.__seen")
                lags = [seen[k] / 1000 - t for k, t in api.items() if k in seen]
                missed = [k for k in api if k not in seen]
                results[n] = lags
                print(
                    f"{n} call(s): {len(lags)} facts; page after GET /floor: median {statistics.median(lags):.2f} s, "
                    f"p95 {percentile(lags, 0.95):.2f} s, max {max(lags):.2f} s; "
                    f"{len(missed)} facts never shown on the page"
                    if lags
                    else f"{n} call(s): no fact seen on both"
                )
            browser.close()
    finally:
        http.close()
        up.send_signal(signal.SIGINT)
        up.wait(60)
        shutil.rmtree(home, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--samples",
        default="call-en-payment-pii.wav,call-en-benefits.wav,call-es-food.wav,call-es-license.wav",
    )
    parser.add_argument("--port", type=int, default=8947)
    parser.add_argument("--tail", type=float, default=3.0, help="seconds streamed after the caller's turn")
    parser.add_argument("--trace", action="store_true", help="print each call's captions and alerts")
    parser.add_argument(
        "--speech", action="store_true", help="spoken sentences (English, Spanish) instead of scripted text"
    )
    parser.add_argument(
        "--page", action="store_true", help="the Floor page's lag behind GET /floor, in a browser"
    )
    parser.add_argument("--calls", default="1,8", help="--page: calls at once, per run")
    parser.add_argument("--console-port", type=int, default=9810)
    parser.add_argument("--service-port", type=int, default=9811)
    args = parser.parse_args()
    if args.page:
        return page_main(args)
    home = tempfile.mkdtemp(prefix="bench-floor-")
    os.environ["ASSISTANT_HOME"] = home
    os.environ.setdefault("ASSISTANT_MODEL_CACHE", str(Path.home() / ".local/share/contact-assistant/models"))

    import httpx
    import uvicorn

    from assistant import config
    from assistant.calls.processor import CallOptions, CallProcessor
    from assistant.identity.keys import write_local_key
    from assistant.live.session import ArticleCatalog, LiveOptions
    from assistant.service.app import ServiceOptions, create_app
    from assistant.service.sim import SimOptions, load_frames, simulate
    from assistant.speech.transcription import load_transcriber

    config.reset()
    scripted = ScriptedCaller(load_transcriber(), substitute=not args.speech)
    processor = CallProcessor(CallOptions.from_config(), transcriber=scripted)
    opts = ServiceOptions(db=f"{home}/floor.duckdb", live=LiveOptions.from_config(), warm=True)
    app = create_app(processor=processor, options=opts, catalog=ArticleCatalog.load())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning"))
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    while not server.started:
        time.sleep(0.1)
    key = write_local_key(app.state.hub.cursor(), home).read_text().strip()
    http = httpx.Client(base_url=f"http://127.0.0.1:{args.port}", headers={"Authorization": f"Bearer {key}"})
    sim = SimOptions(
        url=f"ws://127.0.0.1:{args.port}/media", echo=False, token=key, params={"agent": "bench"}
    )

    figures: dict[str, list[float]] = {}
    try:
        if args.speech:
            calls = [spoken_call(language, Path(home), args.tail) for language in SPOKEN]
        else:
            calls = [
                (REPO / "samples" / sample, first_caller_end(sample)) for sample in args.samples.split(",")
            ]
        for path, end in calls:
            sample = path.name
            frames = load_frames(str(path))
            cut = int((end + args.tail) * 8000)  # the first caller turn and a few seconds after it
            frames = {k: v[:cut] for k, v in frames.items()}
            for rep in range(args.repeat):
                call_id = f"floor-{Path(sample).stem}-{rep}"
                seen: dict[str, float] = {}
                stop = threading.Event()

                def poll(
                    call_id: str = call_id, seen: dict[str, float] = seen, stop: threading.Event = stop
                ) -> None:
                    while not stop.is_set():
                        for row in http.get("/floor").json()["calls"]:
                            if row["call_id"] == call_id and any(
                                a["kind"] == "escalation" for a in row["alerts"]
                            ):
                                seen.setdefault("at", time.monotonic())
                        time.sleep(0.05)

                poller = threading.Thread(target=poll, daemon=True)
                poller.start()
                result = simulate(str(path), sim, call_id=call_id, frames=frames)
                stop.set()
                poller.join(5)
                if args.trace:
                    for who, task, secs, took, began in scripted.timings:
                        print(
                            f"  +{began - result.t0:5.2f}s decode {who} {task} of {secs:.1f} s audio: {took:.2f} s"
                        )
                    scripted.timings.clear()
                    for at, e in result.events:
                        if e["type"] in ("caption", "alert", "language") and e["data"].get("final", True):
                            print(
                                f"  +{at - result.t0:5.2f}s {e['type']}: {json.dumps(e['data'], ensure_ascii=False)[:160]}"
                            )
                if "at" not in seen:
                    print(f"{sample} #{rep}: no escalation alert seen on the floor")
                    continue
                latency = seen["at"] - (result.t0 + end)
                figures.setdefault(sample, []).append(latency)
                print(f"{sample} #{rep}: end of sentence -> alert on /floor {latency:.2f} s")
    finally:
        server.should_exit = True
        serving.join(30)
        shutil.rmtree(home, ignore_errors=True)
    every = [x for xs in figures.values() for x in xs]
    if every:
        print(
            f"\nescalation alert on the floor after the end of the sentence: median {statistics.median(every):.2f} s, "
            f"max {max(every):.2f} s over {len(every)} calls "
            + ", ".join(f"{k}: {', '.join(f'{x:.2f}' for x in v)}" for k, v in figures.items())
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
