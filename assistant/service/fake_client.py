"""An in-memory stand-in for `assistant.service.client.ServiceClient`, with realistic sample data.

It implements every method of the service contract with the same shapes. A demo call advances by one
step each time `events()` is asked for it, so a page polling once a second sees captions arrive.
Used by the AppTest tests, the browser test and `ASSISTANT_CONSOLE_FAKE=1` (see `console/__init__`).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import itertools
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from assistant.digest.model import check_not_future, from_stored, parse_day
from assistant.digest.render import check_format, export
from assistant.errors import InputError
from assistant.knowledge.articles import article_from_mapping, say_line
from assistant.service.client import ServiceUnavailable
from assistant.service.knowledge import article_json
from assistant.service.schemas import CLIENT_RETURNS, Events, parse
from assistant.storage import StoredDigest
from assistant.text.summary import restate_outcome
from assistant.vocab import confidence_word

if TYPE_CHECKING:
    from assistant.digest.model import Digest

_FOOD: dict[str, Any] = {
    "id": "food-snap-apply",
    "title": "Apply for food assistance (SNAP)",
    "program": "Food Assistance",
    "language": "en",
    "status": "published",
    "owner": "food-knowledge-team",
    "effective": "2026-01-10",
    "review_by": "2027-01-10",
    "questions": ["How do I apply for food stamps?", "Can I get help buying groceries?"],
    "say": "You can apply online, by phone or in person, and you get a decision within 30 days.",
    "tags": ["snap", "apply"],
    "translation_of": None,
    "body": "You can apply for food assistance online, by phone or in person.\n\n"
    '1. Go to the state services website and choose "Food Assistance".\n'
    "2. Have proof of income and your address ready.\n\n"
    "You get a decision within 30 days.",
    "grade": 5.1,
    "pending_draft": None,
    "usage": {"suggested": 42, "helpful": 30, "not_helpful": 4, "used": 25, "last_suggested": "2026-03-02"},
}
_FOOD_ES: dict[str, Any] = {
    **_FOOD,
    "id": "food-snap-apply-es",
    "title": "Solicitar asistencia alimentaria (SNAP)",
    "language": "es",
    "translation_of": "food-snap-apply",
    "questions": ["¿Cómo solicito cupones de alimentos?"],
    "say": "Puede solicitarla en línea, por teléfono o en persona; la decisión llega en 30 días.",
    "body": "Puede solicitar asistencia alimentaria en línea, por teléfono o en persona.",
    "grade": 6.0,
    "usage": {"suggested": 9, "helpful": 7, "not_helpful": 0, "used": 6, "last_suggested": "2026-03-01"},
}
_CARD: dict[str, Any] = {
    "id": "food-ebt-card-replace",
    "title": "Replace a lost or stolen EBT card",
    "program": "Food Assistance",
    "language": "en",
    "status": "published",
    "owner": "food-knowledge-team",
    "effective": "2024-05-01",
    "review_by": "2025-05-01",
    "questions": ["I lost my EBT card.", "My benefits card was stolen."],
    "tags": ["ebt", "card"],
    "translation_of": None,
    "body": "Call the card line to freeze the card, then ask for a new one. It arrives in 5 to 7 days.",
    "grade": 4.2,
    "pending_draft": None,
    "usage": {"suggested": 17, "helpful": 9, "not_helpful": 5, "used": 8, "last_suggested": "2026-02-27"},
}
_TAX_DRAFT: dict[str, Any] = {
    "id": "property-tax-payment-plan",
    "title": "Set up a property tax payment plan",
    "program": "Property Tax",
    "language": "en",
    "status": "draft",
    "owner": "tax-knowledge-team",
    "effective": "2026-04-01",
    "review_by": "2027-04-01",
    "questions": ["Can I pay my property tax in parts?"],
    "tags": ["payment-plan"],
    "translation_of": None,
    "body": "You can split your property tax bill into four payments. Ask before the due date.",
    "grade": 6.3,
    "pending_draft": None,
    "usage": {"suggested": 0, "helpful": 0, "not_helpful": 0, "used": 0, "last_suggested": None},
}

_DEMO_LINES = (
    # speaker, start, end, original (redacted), language, translation into the agent's language
    ("agent", 0.0, 2.4, "Thank you for calling state services, how can I help?", "en", None),
    (
        "caller",
        2.9,
        6.8,
        "Hola, quiero solicitar ayuda para comprar comida.",
        "es",
        "Hello, I want to apply for help buying food.",
    ),
    ("agent", 7.2, 9.0, "Of course. Do you prefer Spanish?", "en", None),
    (
        "caller",
        9.5,
        13.1,
        "Sí, por favor. Mi número de teléfono es [PHONE].",
        "es",
        "Yes, please. My phone number is [PHONE].",
    ),
    (
        "agent",
        13.6,
        17.9,
        "You can apply online, by phone or in person. I will send you the steps.",
        "en",
        None,
    ),
    (
        "caller",
        18.2,
        20.5,
        "Muchas gracias, eso resuelve mi pregunta.",
        "es",
        "Thank you very much, that resolves my question.",
    ),
)


def _call(
    call_id: str, started: str, language: str, outcome: str, reason: str, **extra: Any
) -> dict[str, Any]:
    lines = extra.pop("lines", ())
    utterances = [
        {
            "speaker": s,
            "start": a,
            "end": b,
            "text": t,
            "language": lang,
            "translation": tr,
            "machine_translated": tr is not None,
        }
        for s, a, b, t, lang, tr in lines
    ]
    return {
        "call_id": call_id, "started_at": started, "channel": extra.pop("channel", "voice"),
        "language": language, "duration": extra.pop("duration", 184.0), "outcome": outcome,
        "status": extra.pop("status", "complete"), "reason": reason, "utterances": utterances,
        "suggestions": extra.pop("suggestions", []), "feedback": extra.pop("feedback", []),
        "summary": {"reason": reason, "outcome": outcome, "language": language, "key_details": [],
                    "text": f"Caller asked about {reason}. Outcome: {outcome}."},
    }  # fmt: skip


def _sample_calls() -> dict[str, dict[str, Any]]:
    calls = [
        _call("call-mar02-0915-a1", "2026-03-02T09:15:00+00:00", "es", "resolved",
              "applying for food assistance", lines=_DEMO_LINES, duration=20.5,
              suggestions=[{"suggestion_id": "call-mar02-0915-a1:0", "article_id": "food-snap-apply",
                            "title": _FOOD["title"], "score": 0.81, "abstained": False,
                            "utterance": "I want to apply for help buying food."}],
              feedback=[{"suggestion_id": "call-mar02-0915-a1:0", "kind": "helpful", "comment": None}]),
        _call("call-mar02-1140-b7", "2026-03-02T11:40:00+00:00", "en", "follow-up",
              "a lost EBT card", lines=(("caller", 0.5, 3.0, "I lost my EBT card yesterday.", "en", None),),
              suggestions=[{"suggestion_id": "call-mar02-1140-b7:0", "article_id": _CARD["id"],
                            "title": _CARD["title"], "score": 0.74, "abstained": False,
                            "utterance": "I lost my EBT card yesterday."}]),
        _call("call-mar01-1602-c3", "2026-03-01T16:02:00+00:00", "en", "transferred",
              "a property tax payment plan", channel="chat",
              lines=(("caller", 0.0, 2.0, "Can I pay my property tax in parts?", "en", None),),
              suggestions=[{"suggestion_id": "call-mar01-1602-c3:0", "article_id": None, "title": None,
                            "score": 0.31, "abstained": True, "utterance": "Can I pay my property tax in parts?"}]),
    ]  # fmt: skip
    calls += _history_calls()
    return {c["call_id"]: c for c in calls}


_HISTORY = (
    # reason, language, outcome, what the caller said (already redacted), its English translation
    ("a lost EBT card", "en", "resolved", "I lost my EBT card at the store.", None),
    ("applying for food assistance", "es", "follow-up", "Quiero solicitar ayuda para comprar comida.",
     "I want to apply for help buying food."),
    ("a property tax payment plan", "en", "transferred", "Can I pay my property tax in parts?", None),
    ("renewing a fishing licence", "en", "unknown", "Where do I renew a fishing licence?", None),
    ("a parking permit for a new address", "vi", "resolved", "Tôi cần giấy phép đậu xe cho địa chỉ mới.",
     "I need a parking permit for my new address."),
)  # fmt: skip


def _history_calls(n: int = 30) -> list[dict[str, Any]]:
    """Older calls (February 2026), enough to page the Calls list and build a digest of a past day."""
    out = []
    for i in range(n):
        reason, language, outcome, said, english = _HISTORY[i % len(_HISTORY)]
        day, hour, minute = 16 + i % 13, 8 + (i * 7) % 9, (i * 13) % 60
        call_id = f"call-feb{day:02d}-{hour:02d}{minute:02d}-h{i:02d}"
        out.append(
            _call(call_id, f"2026-02-{day:02d}T{hour:02d}:{minute:02d}:00+00:00", language, outcome, reason,
                  duration=float(60 + (i * 37) % 540), channel="chat" if i % 4 == 3 else "voice",
                  lines=(("caller", 0.5, 3.0, said, language, english),))
        )  # fmt: skip
    return out


def _sample_digest() -> dict[str, Any]:
    def topic(tid, label, calls, share, change, prev, emerging, gap, gap_calls, langs, quotes, article=None):
        return {"topic_id": tid, "label": label, "calls": calls, "share": share, "change": change,
                "previous_mean": prev, "emerging": emerging, "knowledge_gap": gap, "gap_calls": gap_calls,
                "sentiment": -0.1, "resolved_share": 0.6, "median_handle_time": 240.0, "languages": langs,
                "quotes": quotes, "article_id": article, "rank": 0, "call_ids": [], "escalations": 0,
                "knowledge_gap_flag": gap >= 0.5}  # fmt: skip

    topics = [
        topic("t1", "Applying for food assistance", 14, 0.35, 1.2, 11.7, False, 0.1, 1, {"en": 9, "es": 5},
              ["I want to apply for help buying food."], "food-snap-apply"),
        topic("t2", "Lost or stolen EBT card", 9, 0.225, 3.0, 3.0, True, 0.2, 2, {"en": 8, "vi": 1},
              ["My card was stolen at the store."], _CARD["id"]),
        topic("t3", "Property tax payment plans", 6, 0.15, None, 0.0, True, 0.83, 5, {"en": 6},
              ["Can I pay my property tax in parts?"]),
    ]  # fmt: skip
    for rank, t in enumerate(topics, 1):
        t["rank"] = rank
    # Only the calls this sample holds (the figures above are a bigger day's).
    topics[0]["call_ids"] = ["call-mar02-0915-a1"]
    topics[1]["call_ids"] = ["call-mar02-1140-b7"]
    topics[2]["call_ids"] = []
    return {
        "date": "2026-03-02",
        "method_version": "fake-1",
        "total_calls": 40,
        "no_answer_share": 0.15,
        "languages": {"en": 31, "es": 7, "vi": 2},
        "skipped_calls": 0,
        "unassigned_calls": 11,
        "escalated_calls": 3,
        "topics": topics,
        "emerging": ["t2", "t3"],
        "knowledge_gaps": ["t3"],
        "language_equity": [
            {"language": "en", "calls": 31, "no_answer_share": 0.13, "resolved_share": 0.81},
            {"language": "es", "calls": 7, "no_answer_share": 0.29, "resolved_share": 0.57},
            {"language": "vi", "calls": 2, "no_answer_share": 0.0, "resolved_share": 1.0},
        ],
        "missing_native_articles": [],
        "digest_text": "Monday 02 March 2026: 40 calls. Top problems: applying for food assistance (14 calls).",
    }


def _as_digest(d: dict[str, Any]) -> Digest:
    """The sample digest as the service sees it: a stored row whose payload is the JSON, then the
    service's own conversion, so exports here go through the real renderer the same way."""

    stored = StoredDigest(
        digest_date=dt.date.fromisoformat(d["date"]),
        method_version=d["method_version"],
        created_at=dt.datetime.fromisoformat(d["date"]).replace(tzinfo=dt.UTC),
        total_calls=d["total_calls"],
        no_answer_share=d.get("no_answer_share"),
        languages=d.get("languages") or {},
        digest_text=d.get("digest_text"),
        payload=d,
        topics=(),  # the export reads topics from the payload, as the service does
    )
    return from_stored(stored)


class FakeClient:
    """In-memory service. `down=True`: every method raises ServiceUnavailable; `empty=True`: no data."""

    def __init__(self, *, down: bool = False, empty: bool = False) -> None:
        self.down = down
        self.calls: dict[str, dict[str, Any]] = {} if empty else _sample_calls()
        self.articles_by_id: dict[str, dict[str, Any]] = (
            {} if empty else {a["id"]: copy.deepcopy(a) for a in (_FOOD, _FOOD_ES, _CARD, _TAX_DRAFT)}
        )
        self.digests: dict[str, dict[str, Any]] = {} if empty else {"2026-03-02": _sample_digest()}
        self.gaps: list[dict[str, Any]] = (
            []
            if empty
            else [
                # last_seen as the service sends it: UTC, with microseconds
                {
                    "query": "Can I pay my property tax in parts?",
                    "count": 5,
                    "last_seen": "2026-03-02T14:05:31.482913+00:00",
                    "topic_id": "t3",
                    "topic_label": "Property tax payment plans",
                },
                {
                    "query": "Where do I renew a fishing licence?",
                    "count": 2,
                    "last_seen": "2026-03-01T09:12:03.000417+00:00",
                    "topic_id": None,
                    "topic_label": None,
                },
            ]
        )
        self.feedback_log: list[dict[str, Any]] = []
        self.rebuilds = 0
        self._scripts: dict[str, list[list[dict[str, Any]]]] = {}
        self._released: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._agent_outcome: dict[str, str] = {}
        self._routing: dict[str, dict[str, Any]] = {}  # live call id -> agent, queue, start (wall clock)
        self.signed_in: dict[str, Any] | None = None

    def _check(self) -> None:
        if self.down:
            raise ServiceUnavailable(
                "the assistant service is not reachable at http://127.0.0.1:8700",
                hint="start it with 'assistant up'",
            )

    def _need_call(self, call_id: str) -> dict[str, Any]:
        if call_id not in self.calls:
            raise InputError(f"no call with id {call_id!r}")
        return self.calls[call_id]

    # ------------------------------------------------------------------ calls
    # -- signing in (demo accounts: the fake has no secrets to protect) ---------------------------
    DEMO_PASSWORD = "demo"
    DEMO_USERS = {
        "demo-agent": ["agent"],
        "demo-supervisor": ["supervisor"],
        "demo-knowledge-manager": ["knowledge_manager"],
        "demo-admin": ["admin"],
    }

    def sign_in(self, name: str, password: str) -> dict[str, Any]:
        """A demo account of the fake (password `demo`); else the service's one-line refusal."""
        self._check()
        if name not in self.DEMO_USERS or password != self.DEMO_PASSWORD:
            raise InputError("wrong user name or password")
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)
        self.signed_in = {"token": f"st_fake-{name}", "user": name, "roles": self.DEMO_USERS[name],
                          "expires_at": expires.isoformat()}  # fmt: skip
        return dict(self.signed_in)

    def sign_in_oidc(self, id_token: str) -> dict[str, Any]:
        raise InputError("single sign-on needs the real service (the sample-data console has demo accounts)")

    def sign_out(self) -> None:
        self.signed_in = None

    def users(self) -> list[dict[str, Any]]:
        self._check()
        return [{"name": n, "roles": r, "source": "demo", "locked": False, "locked_until": None,
                 "created_at": "2026-03-01T08:00:00+00:00"} for n, r in self.DEMO_USERS.items()]  # fmt: skip

    def keys(self) -> list[dict[str, Any]]:
        self._check()
        return [dict(k) for k in self._keys().values()]

    def create_key(self, scopes: list[str], name: str | None = None) -> dict[str, Any]:
        """An API key of the sample data (not a credential anywhere): shown once, as the service does."""
        self._check()
        if not scopes:
            raise InputError("scopes: a key needs at least one scope")
        name = name or f"key-{next(self._ids)}"
        if name in self._keys():
            raise InputError(f"name: a key named {name!r} already exists")
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        who = self.signed_in["user"] if self.signed_in else "demo-admin"
        self._keys()[name] = {
            "name": name,
            "scopes": sorted(set(scopes)),
            "created_at": now,
            "created_by": who,
        }
        return {"name": name, "key": f"ak_sample-{name}-{next(self._ids):04d}", "scopes": sorted(set(scopes))}

    def revoke_key(self, name: str) -> dict[str, Any]:
        self._check()
        if self._keys().pop(name, None) is None:
            raise InputError(f"no key named {name!r}")
        return {"name": name, "revoked": True}

    def _keys(self) -> dict[str, dict[str, Any]]:
        return self.__dict__.setdefault("_key_table", {})

    def audit(self, since: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
        return self.audit_page(user=user, since=since)["lines"]

    def audit_page(
        self,
        *,
        limit: int = 100,
        before: int | None = None,
        user: str | None = None,
        action: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> dict[str, Any]:
        self._check()
        lines: list[dict[str, Any]] = [
            {"id": 3, "at": "2026-03-02T10:02:11+00:00", "user": "demo-supervisor", "action": "digest.export",
             "target": "2026-03-02 csv"},
            {"id": 2, "at": "2026-03-02T09:16:40+00:00", "user": "demo-agent", "action": "call.view",
             "target": "call-20260302-0915-a1"},
            {"id": 1, "at": "2026-03-02T09:15:02+00:00", "user": "demo-agent", "action": "sign_in", "target": "demo-agent"},
        ]  # fmt: skip

        def keep(x: dict[str, Any]) -> bool:
            return (
                (not user or x["user"] == user)
                and (not action or x["action"] == action or (action.endswith("*") and x["action"].startswith(action[:-1])))
                and (not since or x["at"] >= since)
                and (not until or x["at"] < until)
            )  # fmt: skip

        found = [x for x in lines if keep(x)]
        shown = [x for x in found if before is None or x["id"] < before][:limit]
        more = bool(shown) and any(x["id"] < shown[-1]["id"] for x in found)
        return {
            "total": len(found),
            "next_before": shown[-1]["id"] if more else None,
            "lines": shown,
            "alerts": [],
        }

    def health(self) -> dict[str, Any]:
        self._check()
        live = [c for c in self.calls.values() if c["status"] == "live"]
        return {"status": "ok", "models": {"transcriber": "fake", "embedder": "fake", "index": "loaded"},
                "database": {"path": ":memory:", "ok": True, "error": None}, "active_calls": len(live),
                "lag": {c["call_id"]: 0.2 for c in live}, "worker_errors": 0,
                "live_workers": {"assistant-model-worker-0": 0},
                "live_stages": {"final_decode": {"jobs": 0, "seconds": 0.0}}}  # fmt: skip

    def _visible(self, call_id: str) -> bool:
        """As the service: an agent (not a supervisor) sees only the calls routed to them. The sample
        history names no agent and stays visible to everyone (it is demo data)."""
        who = self.signed_in
        if (
            who is None
            or "supervisor" in who["roles"]
            or "agent" not in who["roles"]
            or call_id not in self._routing
        ):
            return True
        return self._routing.get(call_id, {}).get("agent") == who["user"]

    def list_calls(self, active: bool | None = None, limit: int = 100) -> list[dict[str, Any]]:
        self._check()
        keys = ("call_id", "started_at", "channel", "language", "duration", "outcome", "status", "reason")
        rows = [{k: c.get(k) for k in keys} for c in self.calls.values() if self._visible(c["call_id"])]
        if active is not None:
            rows = [r for r in rows if (r["status"] == "live") == active]
        return sorted(rows, key=lambda r: str(r["started_at"]), reverse=True)[:limit]

    def get_call(self, call_id: str) -> dict[str, Any]:
        self._check()
        return copy.deepcopy(self._need_call(call_id))

    def start_demo_call(self, sample: str | None = None) -> str:
        self._check()
        call_id = f"demo-{next(self._ids):03d}"
        now = dt.datetime.now(dt.UTC)
        self.calls[call_id] = _call(call_id, now.isoformat(timespec="seconds"), "es", "unknown",
                                    "applying for food assistance", status="live", duration=None)  # fmt: skip
        agent = self.signed_in["user"] if self.signed_in else None
        self._routing[call_id] = {"agent": agent, "queue": "food-assistance", "started": now}
        self._scripts[call_id] = self._demo_script(call_id)
        self._released[call_id] = []
        return call_id

    def _demo_script(self, call_id: str) -> list[list[dict[str, Any]]]:
        steps: list[list[dict[str, Any]]] = [[{"type": "status", "data": {"state": "live", "lag": 0.2}}]]
        for i, (speaker, start, end, text, lang, tr) in enumerate(_DEMO_LINES):
            cap = {"speaker": speaker, "text": text, "start": start, "end": end, "language": lang,
                   "translation": tr, "machine_translated": tr is not None}  # fmt: skip
            half = " ".join(text.split()[:3]) + " ..."
            steps.append(
                [{"type": "caption", "data": {**cap, "text": half, "translation": None, "final": False}}]
            )
            step = [{"type": "caption", "data": {**cap, "final": True}}]
            if i == 1:
                step.append(
                    {"type": "language", "data": {"language": "es", "probability": 0.97, "overridden": False}}
                )
                step.append({"type": "sentiment", "data": {"label": "neutral", "score": 0.05}})
                step.append({"type": "suggestion", "data": self._demo_suggestion(call_id, tr or text)})
            if i == 4:  # the agent put the caller on hold to look the steps up
                step.append({"type": "alert", "data": {"kind": "silence", "at": dt.datetime.now(dt.UTC).isoformat(
                    timespec="seconds"), "detail": "no one has spoken for 31 s (silence or hold)"}})  # fmt: skip
            if i == 5:
                step.append({"type": "sentiment", "data": {"label": "positive", "score": 0.62}})
            steps.append(step)
        summary = {"reason": "applying for food assistance", "outcome": "resolved", "language": "es",
                   "key_details": ["a phone number (redacted)"], "sentiment_start": "neutral",
                   "sentiment_end": "positive", "duration": 20.5,
                   "text": "Caller asked how to apply for food assistance; the agent explained the three ways. "
                           "Outcome: resolved."}  # fmt: skip
        steps.append(
            [{"type": "summary", "data": summary}, {"type": "status", "data": {"state": "ended", "lag": 0.0}}]
        )
        return steps

    def _demo_suggestion(self, call_id: str, utterance: str) -> dict[str, Any]:
        return {
            "suggestion_id": f"{call_id}:0", "utterance": utterance, "abstained": False,
            "article_id": _FOOD["id"], "title": _FOOD["title"], "score": 0.81, "confidence": "high",
            "say": _FOOD["say"], "answer": _FOOD["body"], "owner": _FOOD["owner"], "effective": _FOOD["effective"],
            "answer_in_caller_language": {"text": _FOOD_ES["body"], "say": _FOOD_ES["say"], "language": "es",
                                          "machine_translated": False, "engine": None},
        }  # fmt: skip

    def floor(self) -> dict[str, Any]:
        """The live calls (demo calls under way) as the service's floor shows them."""
        self._check()
        rows = []
        for call_id, route in self._routing.items():
            call = self.calls.get(call_id)
            if call is None or call["status"] != "live" or not self._visible(call_id):
                continue
            released = self._released.get(call_id, [])
            of = {kind: [e["data"] for e in released if e["type"] == kind] for kind in
                  ("caption", "sentiment", "language", "alert", "suggestion")}  # fmt: skip
            scores = [x["score"] for x in of["sentiment"] if x.get("score") is not None]
            trend = None
            if len(scores) >= 2:
                change = scores[-1] - sum(scores[-4:-1]) / len(scores[-4:-1])
                trend = "improving" if change >= 0.15 else "worsening" if change <= -0.15 else "steady"
            last = of["suggestion"][-1] if of["suggestion"] else None
            given = [
                f["kind"] for f in call["feedback"] if last and f["suggestion_id"] == last["suggestion_id"]
            ]
            rows.append({
                "call_id": call_id, "agent": route["agent"], "queue": route["queue"],
                "started_at": route["started"].isoformat(timespec="seconds"),
                "duration": max((c["end"] or 0.0 for c in of["caption"]), default=0.0),
                "language": of["language"][-1]["language"] if of["language"] else None,
                "sentiment": of["sentiment"][-1]["label"] if of["sentiment"] else None,
                "sentiment_trend": trend, "latest_need": last["utterance"] if last else None,
                "alerts": of["alert"],
                "last_suggestion": None if last is None else {
                    "suggestion_id": last["suggestion_id"], "article_id": last["article_id"], "title": last["title"],
                    "abstained": last["abstained"], "confidence": last["confidence"],
                    "feedback": given[-1] if given else None},
            })  # fmt: skip
        return {"calls": rows}

    def events(self, call_id: str, cursor: int = 0) -> tuple[list[dict[str, Any]], int]:
        self._check()
        call = self._need_call(call_id)
        released = self._released.setdefault(call_id, [])
        script = self._scripts.get(call_id, [])
        if script:
            for ev in script.pop(0):
                released.append({"seq": len(released), "call_id": call_id, **ev})
                self._apply(call, ev)
        cursor = max(0, cursor)
        page = parse(Events, {"events": released[cursor:], "cursor": len(released)})
        return page["events"], page["cursor"]

    def _apply(self, call: dict[str, Any], ev: dict[str, Any]) -> None:
        data = ev["data"]
        if ev["type"] == "caption" and data.get("final"):
            call["utterances"].append({k: v for k, v in data.items() if k != "final"})
        elif ev["type"] == "suggestion":
            call["suggestions"].append({k: data[k] for k in ("suggestion_id", "article_id", "title", "score",
                                                             "abstained", "utterance")})  # fmt: skip
        elif ev["type"] == "summary":
            call["summary"] = dict(data)
            call["outcome"] = data["outcome"]
            call["duration"] = data.get("duration")
            if call["call_id"] in self._agent_outcome:
                self._restate(call, self._agent_outcome[call["call_id"]])
        elif ev["type"] == "status" and data["state"] != "live":
            call["status"] = "complete" if data["state"] == "ended" else "interrupted"

    def feedback(
        self, call_id: str, suggestion_id: str, kind: str, comment: str | None = None
    ) -> dict[str, Any]:
        self._check()
        call = self._need_call(call_id)
        if kind not in ("helpful", "not_helpful", "used"):
            raise InputError(f"feedback kind {kind!r} is not one of helpful, not_helpful, used")
        if not any(s["suggestion_id"] == suggestion_id for s in call["suggestions"]):
            raise InputError(f"no suggestion {suggestion_id!r} in call {call_id!r}")
        item = {"suggestion_id": suggestion_id, "kind": kind, "comment": comment}
        call["feedback"].append(item)
        self.feedback_log.append({"call_id": call_id, **item})
        article = next(s["article_id"] for s in call["suggestions"] if s["suggestion_id"] == suggestion_id)
        return {"feedback_id": f"fb-{len(self.feedback_log)}", "call_id": call_id, "suggestion_id": suggestion_id,
                "article_id": article, "kind": kind, "created_at": dt.datetime.now(dt.UTC).isoformat()}  # fmt: skip

    def set_outcome(self, call_id: str, outcome: str) -> dict[str, Any]:
        self._check()
        if outcome not in ("resolved", "follow-up", "transferred", "unknown"):
            raise InputError(f"outcome {outcome!r} is not one of resolved, follow-up, transferred, unknown")
        call = self._need_call(call_id)
        call["outcome"] = outcome
        if call["status"] == "live":  # applied to the summary when the call ends, as the service does
            self._agent_outcome[call_id] = outcome
        else:
            self._restate(call, outcome)
        return {"call_id": call_id, "outcome": outcome, "status": call["status"]}

    @staticmethod
    def _restate(call: dict[str, Any], outcome: str) -> None:
        call["outcome"] = outcome
        call["summary"]["outcome"] = outcome
        call["summary"]["text"] = restate_outcome(call["summary"].get("text") or "", outcome)

    def set_language(self, call_id: str, language: str) -> dict[str, Any]:
        self._check()
        call = self._need_call(call_id)
        call["language"] = language
        released = self._released.setdefault(call_id, [])
        ev = {"type": "language", "data": {"language": language, "probability": 1.0, "overridden": True}}
        released.append({"seq": len(released), "call_id": call_id, **ev})
        return {"call_id": call_id, "language": language, "overridden": True}

    # ------------------------------------------------------------------ search and knowledge
    def search(self, text: str, k: int = 3, program: str | None = None) -> dict[str, Any]:
        self._check()
        if not text.strip():
            raise InputError("the search text is empty")
        words = {w.strip("?.,!").lower() for w in text.split() if len(w) > 3}
        hits = []
        for a in self.articles_by_id.values():
            if a["status"] != "published" or (program and a["program"] != program):
                continue
            hay = (a["title"] + " " + " ".join(a["questions"]) + " " + a["body"]).lower()
            overlap = sum(1 for w in words if w in hay)
            if overlap:
                score = round(min(0.95, 0.3 + 0.15 * overlap), 2)
                hits.append({"id": a["id"], "title": a["title"], "score": score, "passage": a["body"][:160],
                             "confidence": confidence_word(score), "answer": a["body"],
                             "say": a.get("say") or say_line(body=a["body"]), "owner": a["owner"], "effective": a["effective"],
                             "review_by": a["review_by"], "program": a["program"], "language": a["language"]})  # fmt: skip
        hits.sort(key=lambda h: -h["score"])
        hits = hits[:k]
        abstained = not hits or hits[0]["score"] < 0.45
        reason = "no approved article is close enough to the question" if abstained else None
        if abstained:
            now = dt.datetime.now(dt.UTC).isoformat()
            self.gaps.insert(0, {"query": text, "count": 1, "last_seen": now})
        return {"query": text, "abstained": abstained, "reason": reason, "hits": [] if abstained else hits}

    def articles(self) -> list[dict[str, Any]]:
        self._check()
        return [copy.deepcopy(a) for a in sorted(self.articles_by_id.values(), key=lambda a: a["id"])]

    def _parsed_article(self, article: dict[str, Any]) -> Any:

        meta = {
            k: v for k, v in article.items() if k not in ("body", "grade", "usage") and v not in (None, "")
        }
        parsed = article_from_mapping(meta, article.get("body", ""))  # raises ArticleError (an InputError)
        if not parsed.body.strip():
            raise InputError("body: the answer text is empty")
        return parsed

    def _store_article(self, article: dict[str, Any], parsed: Any) -> dict[str, Any]:
        # The service's own JSON shape of an article; the usage figures of an edited one are kept.

        saved = article_json(parsed)
        if parsed.id in self.articles_by_id:
            saved["usage"] = self.articles_by_id[parsed.id]["usage"]
        self.articles_by_id[parsed.id] = saved
        return copy.deepcopy(saved)

    def create_article(self, article: dict[str, Any]) -> dict[str, Any]:
        self._check()
        if not article.get("id"):
            raise InputError("id: an article needs an id")
        parsed = self._parsed_article(article)
        if parsed.id in self.articles_by_id:
            raise InputError(
                f"id: an article with id {parsed.id!r} already exists; open it to edit it, or choose another id"
            )
        return self._store_article(article, replace(parsed, status="draft"))  # a draft until published

    def save_article(self, article: dict[str, Any]) -> dict[str, Any]:
        self._check()
        if not article.get("id"):
            raise InputError("id: an article needs an id")
        parsed = self._parsed_article(article)
        if parsed.id not in self.articles_by_id:
            raise InputError(f"no article {parsed.id!r}; create it with POST /articles")
        current = self.articles_by_id[parsed.id]
        if current["status"] == "published":  # the edit waits; the published text stays in use
            draft = {
                k: v for k, v in article_json(parsed).items() if k not in ("grade", "usage", "pending_draft")
            }
            current["pending_draft"] = {
                "author": "demo",
                "created_at": dt.datetime.now(dt.UTC).isoformat(),
                "article": {**draft, "status": "draft"},
            }
            return copy.deepcopy(current)
        return self._store_article(article, replace(parsed, status="draft"))

    def set_article_status(self, article_id: str, status: str) -> dict[str, Any]:
        self._check()
        if article_id not in self.articles_by_id:
            raise InputError(f"no article {article_id!r}")
        if status not in ("published", "draft", "retired"):
            raise InputError(f"unknown article status {status!r}; use one of: published, draft, retired")
        current = self.articles_by_id[article_id]
        pending = current.get("pending_draft")
        if status == "published" and pending:
            current.update({k: v for k, v in pending["article"].items() if k != "status"})
        current["pending_draft"] = None
        current["status"] = status
        return copy.deepcopy(self.articles_by_id[article_id])

    def rebuild_index(self) -> dict[str, Any]:
        self._check()
        self.rebuilds += 1
        published = sum(1 for a in self.articles_by_id.values() if a["status"] == "published")
        return {"articles": published, "added": 0, "changed": 0, "removed": 0, "embedded": 0,
                "index_kind": "flat", "head": False, "problems": 0}  # fmt: skip

    def knowledge_gaps(self, limit: int = 50) -> list[dict[str, Any]]:
        self._check()
        return copy.deepcopy(self.gaps[:limit])

    # ------------------------------------------------------------------ digests
    def digest_dates(self) -> list[str]:
        self._check()
        return sorted(self.digests, reverse=True)

    def digest(self, date: str) -> dict[str, Any] | None:
        self._check()
        found = self.digests.get(date)
        return copy.deepcopy(found) if found else None

    def build_digest(self, date: str) -> dict[str, Any]:
        """A day's digest from the calls held here: one topic per call reason (the service clusters)."""

        self._check()
        day = parse_day(date, "the date")
        check_not_future(day)
        calls = [c for c in self.calls.values() if c["started_at"][:10] == day.isoformat()]
        by_reason: dict[str, list[dict[str, Any]]] = {}
        for c in calls:
            by_reason.setdefault(c["reason"], []).append(c)
        topics = []
        for rank, (reason, members) in enumerate(sorted(by_reason.items(), key=lambda kv: -len(kv[1])), 1):
            gap = sum(1 for c in members if any(x["abstained"] for x in c["suggestions"]))
            langs: dict[str, int] = {}
            for c in members:
                langs[c["language"]] = langs.get(c["language"], 0) + 1
            quotes = [
                u["translation"] or u["text"]
                for c in members
                for u in c["utterances"]
                if u["speaker"] == "caller"
            ]
            topics.append({
                "topic_id": f"T{day:%Y%m%d}-{rank:02d}", "label": reason[:1].upper() + reason[1:],
                "calls": len(members), "share": round(len(members) / len(calls), 4), "change": None,
                "previous_mean": None, "emerging": False, "knowledge_gap": round(gap / len(members), 4),
                "gap_calls": gap, "sentiment": None,
                "resolved_share": round(sum(c["outcome"] == "resolved" for c in members) / len(members), 4),
                "median_handle_time": None, "languages": langs, "quotes": quotes[:2], "article_id": None,
                "rank": rank, "knowledge_gap_flag": gap > 0 and gap / len(members) >= 0.5,
                "call_ids": [c["call_id"] for c in members], "escalations": 0,
            })  # fmt: skip
        no_answer = sum(1 for c in calls if any(x["abstained"] for x in c["suggestions"]))
        languages: dict[str, int] = {}
        for c in calls:
            languages[c["language"]] = languages.get(c["language"], 0) + 1
        top = ", ".join(
            f"{t['label'].lower()} ({t['calls']} call{'s' if t['calls'] != 1 else ''})" for t in topics[:3]
        )
        built = {
            "date": day.isoformat(), "method_version": "fake-1", "total_calls": len(calls),
            "no_answer_share": round(no_answer / len(calls), 4) if calls else None, "languages": languages,
            "skipped_calls": 0, "unassigned_calls": 0, "escalated_calls": 0, "topics": topics, "emerging": [],
            "language_equity": [], "missing_native_articles": [],
            "knowledge_gaps": [t["topic_id"] for t in topics if t["knowledge_gap_flag"]],
            "digest_text": f"{day:%A %d %B %Y}: {len(calls)} calls."
            + (f" Top problems: {top}." if top else ""),
        }  # fmt: skip
        self.digests[day.isoformat()] = built
        return copy.deepcopy(built)

    def digest_export(self, date: str, fmt: str = "markdown") -> str:
        self._check()

        check_format(fmt)
        found = self.digests.get(date)
        if found is None:
            raise InputError(f"no digest for {date}; build it with: assistant digest --date {date}")
        return export(_as_digest(found), fmt).text


def _checked(method: Any, model: Any) -> Any:
    @functools.wraps(method)
    def checked(self: FakeClient, *args: Any, **kwargs: Any) -> Any:
        return parse(model, method(self, *args, **kwargs))

    return checked


# The fake returns what the HTTP client returns: the same models check both (schemas.CLIENT_RETURNS).
for _name, _model in CLIENT_RETURNS.items():
    if hasattr(FakeClient, _name):  # the console never ingests: the fake has no `ingest`
        setattr(FakeClient, _name, _checked(getattr(FakeClient, _name), _model))
