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

Run: .venv/bin/python bench/floor.py [--repeat 2] [--samples call-en-payment-pii.wav,call-es-food.wav]
     .venv/bin/python bench/floor.py --speech   (needs the Debian packages flite and espeak-ng)
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
    args = parser.parse_args()
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
