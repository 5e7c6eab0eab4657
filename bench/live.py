"""Benchmark: live calls through the real service at real-time pace.

Starts `assistant serve` in a subprocess (its own temporary database; models from the usual
home), then for each N streams N simultaneous copies of a two-channel sample call, looped to
`--seconds`, with `assistant.service.sim` (Twilio format, 20 ms frames; `--format audiohook`:
Genesys AudioHook, signed, stereo PCMU, transcripts back). Measured from the
events the service returns (polled every 0.1 s, so figures include up to 0.1 s of polling):

- end of speech -> final caption, and end of caller speech -> suggestion (p50 / p95), where
  "end of speech" is the turn's scripted end in samples/calls.json;
- speech start -> first partial caption of that turn (p50 / p95; turns shorter than the partial
  interval may get none);
- lag growth: median final latency in the last minute minus the first minute;
- server CPU (cores busy, from /proc) and peak RSS;
- the machine's load average before and after each N (other work on the box shows here), and the
  jobs each live model worker ran.

Run: .venv/bin/python bench/live.py [--calls 1,8] [--seconds 180] [--port 8731] [--workers N]
     [--spread SECONDS]

By default the N calls start 50 ms apart and so end their turns together: every final of a turn
arrives at once, the worst case. `--spread S` starts them evenly over S seconds instead (a floor
where calls began at different times); compare the two in separate runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SAMPLE = REPO / "samples" / "call-en-payment-pii.wav"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def proc_stats(pid: int) -> tuple[float, int]:
    """CPU seconds used and peak RSS (bytes) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    hwm = next(
        line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmHWM")
    )
    return cpu, int(hwm.split()[1]) * 1024


def turns_for(sample: Path, duration: float, seconds: float) -> list[dict]:
    meta = next(
        c for c in json.loads((REPO / "samples" / "calls.json").read_text()) if c["file"] == sample.name
    )
    out = []
    loop = 0
    while loop * duration < seconds:
        for t in meta["turns"]:
            start, end = t["start"] + loop * duration, t["end"] + loop * duration
            if end <= seconds:
                out.append({"speaker": t["speaker"], "start": start, "end": end})
        loop += 1
    return out


def measure(result, turns: list[dict], trace: bool = False) -> dict[str, list]:  # noqa: ANN001
    """Latencies of one call's events against the scripted turns (`trace`: print each one)."""
    finals, suggestions, first_partial, final_at = [], [], [], []
    seen_partial: set[int] = set()
    last_caller_turn = None

    def turn_of(data: dict) -> int | None:
        best, overlap = None, 0.0
        for i, t in enumerate(turns):
            if t["speaker"] != data["speaker"]:
                continue
            o = min(t["end"], data["end"]) - max(t["start"], data["start"])
            if o > overlap:
                best, overlap = i, o
        return best

    for seen, event in result.events:
        data = event["data"]
        if event["type"] == "caption":
            i = turn_of(data)
            if i is None:  # audio past the last whole turn (the loop cut mid-turn)
                if data["final"] and data["speaker"] == "caller":
                    last_caller_turn = None  # so its suggestion is not charged to an earlier turn
                continue
            if not data["final"] and i not in seen_partial:
                seen_partial.add(i)
                first_partial.append(seen - (result.t0 + turns[i]["start"]))
            if trace:
                kind = "final" if data["final"] else "partial"
                print(f"  {seen - result.t0:7.2f}s {kind:7} turn {i} [{turns[i]['start']:.1f}-{turns[i]['end']:.1f}]"
                      f" {data['speaker']}: {data['text'][:60]}")  # fmt: skip
            if data["final"]:
                latency = seen - (result.t0 + turns[i]["end"])
                finals.append(latency)
                final_at.append((turns[i]["end"], latency))
                if data["speaker"] == "caller":
                    last_caller_turn = i
        elif event["type"] == "suggestion" and last_caller_turn is not None:
            suggestions.append(seen - (result.t0 + turns[last_caller_turn]["end"]))
            if trace:
                print(f"  {seen - result.t0:7.2f}s suggest after turn {last_caller_turn}: "
                      f"{data['article_id'] or 'no answer'} ({data['utterance'][:50]})")  # fmt: skip
    return {
        "finals": finals,
        "suggestions": suggestions,
        "first_partial": first_partial,
        "final_at": final_at,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", default="1,2,4")
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument("--sample", default=str(SAMPLE))
    parser.add_argument("--trace", action="store_true", help="print every caption's arrival time")
    parser.add_argument("--format", choices=("twilio", "audiohook"), default="twilio", help="media protocol")
    parser.add_argument("--workers", type=int, help="live model workers (default: the live_workers setting)")
    parser.add_argument(
        "--spread",
        type=float,
        default=0.0,
        help="start the calls evenly over this many seconds (default: 50 ms apart, all in step)",
    )
    args = parser.parse_args()

    from assistant.identity.keys import read_local_key
    from assistant.service.sim import SimOptions, load_frames, simulate_many

    sample = Path(args.sample)
    frames = load_frames(str(sample))
    duration = len(next(iter(frames.values()))) / 8000
    turns = turns_for(sample, duration, args.seconds)
    tmp = tempfile.mkdtemp(prefix="bench-live-")
    counts = [int(x) for x in args.calls.split(",")]
    # one key streams every call here (one platform): no per-key share of the slots
    env = {**os.environ, "ASSISTANT_MAX_CALLS": str(max(counts)), "ASSISTANT_MEDIA_KEY_SHARE": "1"}
    if args.workers is not None:
        env["ASSISTANT_LIVE_WORKERS"] = str(args.workers)
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(args.port), "--db", f"{tmp}/bench.duckdb"],
        env=env,
    )
    url = f"http://127.0.0.1:{args.port}"

    def health() -> dict:
        # Signed in with the local admin key (written by the service at start): the full health.
        key = read_local_key()
        request = urllib.request.Request(
            f"{url}/health", headers={"Authorization": f"Bearer {key}"} if key else {}
        )
        with urllib.request.urlopen(request, timeout=5) as r:
            return dict(json.load(r))

    try:
        for _ in range(600):
            try:
                if health()["models"]["transcriber"] != "not loaded":
                    break
            except OSError:
                pass
            time.sleep(0.5)
        rows = []
        for n in counts:
            load0 = os.getloadavg()[0]
            served0 = health().get("live_workers", {})
            stages0 = health().get("live_stages", {})
            cpu0, _ = proc_stats(server.pid)
            wall0 = time.monotonic()
            path = "/audiohook" if args.format == "audiohook" else "/media"
            opts = SimOptions(
                url=f"ws://127.0.0.1:{args.port}{path}",
                realtime=True,
                echo=False,
                loop_to=args.seconds,
                media_format=args.format,
            )
            results = simulate_many(str(sample), opts, n, spread=args.spread)
            cpu1, rss = proc_stats(server.pid)
            wall = time.monotonic() - wall0
            after = health()
            served = {k: v - served0.get(k, 0) for k, v in after.get("live_workers", {}).items()}
            stages = {
                k: (
                    v["jobs"] - stages0.get(k, {}).get("jobs", 0),
                    v["seconds"] - stages0.get(k, {}).get("seconds", 0.0),
                )
                for k, v in after.get("live_stages", {}).items()
            }
            m: dict[str, list] = {"finals": [], "suggestions": [], "first_partial": [], "final_at": []}
            for r in results:
                for key, values in measure(r, turns, args.trace).items():
                    m[key].extend(values)
            early = [lat for at, lat in m["final_at"] if at <= 60]
            late = [lat for at, lat in m["final_at"] if at >= args.seconds - 60]
            growth = statistics.median(late) - statistics.median(early) if early and late else float("nan")
            rows.append(
                {
                    "calls": n,
                    "stored": sum(r.stored for r in results),
                    "transcripts": sum(len(r.transcripts) for r in results),
                    "final_p50": pct(m["finals"], 0.5),
                    "final_p95": pct(m["finals"], 0.95),
                    "sugg_p50": pct(m["suggestions"], 0.5),
                    "sugg_p95": pct(m["suggestions"], 0.95),
                    "partial_p50": pct(m["first_partial"], 0.5),
                    "partial_p95": pct(m["first_partial"], 0.95),
                    "partial_turns": f"{len(m['first_partial'])}/{len(turns) * n}",
                    "lag_growth": growth,
                    "cpu": (cpu1 - cpu0) / wall,
                    "rss_mb": rss / 2**20,
                    "load": f"{load0:.1f}->{os.getloadavg()[0]:.1f}",
                    "workers": "/".join(str(v) for _, v in sorted(served.items())) or "-",
                    "stages": stages,
                    "wall": wall,
                }
            )
            print(f"done N={n}: {rows[-1]}", flush=True)
            if args.format == "audiohook":
                print(
                    f"AudioHook transcripts sent back: {rows[-1]['transcripts']} for {len(m['finals'])} finals"
                )
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\nsample {sample.name} looped to {args.seconds:.0f} s; machine: {os.cpu_count()} cores; "
        f"load average at end {os.getloadavg()[0]:.1f}; live workers "
        f"{env.get('ASSISTANT_LIVE_WORKERS', 'default')}, threads {env.get('ASSISTANT_THREADS', 'default')}; "
        + (
            f"calls started over {args.spread:.0f} s"
            if args.spread > 0
            else "calls started 50 ms apart (in step)"
        )
    )
    head = (
        "calls",
        "stored",
        "final p50/p95 s",
        "suggest p50/p95 s",
        "1st partial p50/p95 s",
        "turns w/ partial",
        "lag growth s",
        "CPU cores",
        "peak RSS MB",
        "load avg",
        "jobs per worker",
    )
    print(" | ".join(head))
    for r in rows:
        print(
            " | ".join(
                [
                    str(r["calls"]),
                    str(r["stored"]),
                    f"{r['final_p50']:.2f}/{r['final_p95']:.2f}",
                    f"{r['sugg_p50']:.2f}/{r['sugg_p95']:.2f}",
                    f"{r['partial_p50']:.2f}/{r['partial_p95']:.2f}",
                    r["partial_turns"],
                    f"{r['lag_growth']:+.2f}",
                    f"{r['cpu']:.2f}",
                    f"{r['rss_mb']:.0f}",
                    r["load"],
                    r["workers"],
                ]
            )
        )
    print("\nwhere the model workers' time went (wall seconds inside each stage, summed over workers):")
    print("calls | stage | jobs | mean s | total s | share of the run's worker time")
    for r in rows:
        busy = sum(t for _, t in r["stages"].values())
        for stage, (jobs, total) in sorted(r["stages"].items(), key=lambda kv: -kv[1][1]):
            if jobs:
                print(
                    f"{r['calls']} | {stage} | {jobs} | {total / jobs:.3f} | {total:.1f} | "
                    f"{total / busy if busy else 0:.0%}"
                )
        print(f"{r['calls']} | all | - | - | {busy:.1f} | over {r['wall']:.0f} s of wall time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
