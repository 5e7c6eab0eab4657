"""`assistant floor`: the supervisor floor in the terminal (every live call, its alerts), or as JSON."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from assistant.service.client import ServiceClient, ServiceUnavailable, running_service


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("floor", help="live calls now: agent, queue, duration, sentiment, alerts")
    p.add_argument("--url", help="the service (default: the running one, else the service_url setting)")
    p.add_argument("--json", action="store_true", help="print GET /floor's JSON")
    p.set_defaults(func=run)


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60:02d}:{s % 60:02d}"


def lines(floor: dict[str, Any], now: datetime | None = None) -> list[str]:
    """The floor as text: one block per call, alerts in words."""
    calls = floor["calls"]
    if not calls:
        return ["No live calls."]
    out = [
        f"{len(calls)} live call{'s' if len(calls) != 1 else ''} at {(now or datetime.now(UTC)):%H:%M:%S} UTC"
    ]
    for c in calls:
        trend = f", {c['sentiment_trend']}" if c["sentiment_trend"] else ""
        out.append(
            f"{c['call_id']}  agent {c['agent'] or '-'}  queue {c['queue'] or '-'}  {_clock(c['duration'])}  "
            f"language {c['language'] or '-'}  caller {c['sentiment'] or '-'}{trend}"
        )
        if c["latest_need"]:
            out.append(f"    need: {c['latest_need']}")
        last = c.get("last_suggestion")
        if last:
            what = "no approved answer" if last["abstained"] else f"{last['title']} ({last['confidence']})"
            out.append(f"    suggestion: {what}; feedback: {(last['feedback'] or 'none').replace('_', ' ')}")
        for a in c["alerts"]:
            out.append(f"    ALERT {a['kind'].replace('_', ' ')} at {a['at']}: {a['detail']}")
    return out


def run(args: argparse.Namespace) -> int:
    client = ServiceClient(args.url) if args.url else running_service()
    if client is None:
        client = ServiceClient()
    with client:
        try:
            floor = client.floor()
        except ServiceUnavailable as exc:
            raise ServiceUnavailable(
                f"the floor shows live calls, which only the running service knows: {exc.args[0]}",
                hint="start it with 'assistant up' or 'assistant serve'",
            ) from None
    if args.json:
        print(json.dumps(floor, ensure_ascii=False))
        return 0
    print("\n".join(lines(floor)))
    return 0
