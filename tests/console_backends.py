"""The two services the console tests run against (not a test module).

- `FakeClient`: the in-memory stand-in (assistant/service/fake_client.py).
- The real service app (FastAPI, its DuckDB file, the knowledge-base folder, the digest tables) on a
  local port, with fake speech and search engines, seeded with the same sample calls, articles, gaps
  and digest as the fake, and reached through the real HTTP `ServiceClient`.

Both are checked against the same pydantic models (assistant/service/schemas.py), so a page that
works on one and breaks on the other points at a drift between them.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from pathlib import Path
from typing import Any

from fakes import FakeEmbedder, FakeIndex, FakeTranscriber

from assistant import config, storage
from assistant.calls.processor import CallOptions, CallProcessor
from assistant.digest.build import save as save_digest
from assistant.digest.model import from_stored
from assistant.identity.keys import write_local_key
from assistant.knowledge.articles import article_from_mapping, write_article
from assistant.live.session import ArticleCatalog, LiveOptions
from assistant.service.app import ServiceOptions, create_app
from assistant.service.client import ServiceClient
from assistant.service.fake_client import FakeClient
from assistant.storage import CallRecord, StoredDigest, SuggestionRecord, UtteranceRecord

ARTICLE_FIELDS = ("id", "title", "program", "language", "status", "owner", "effective", "review_by", "questions",
                  "tags", "translation_of", "say")  # fmt: skip


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def call_record(call: dict[str, Any]) -> CallRecord:
    """A fake call as the service would have stored it."""
    utterances = tuple(
        UtteranceRecord(
            speaker=u["speaker"],
            start=u["start"],
            end=u["end"],
            text=u["text"],
            language=u["language"],
            translation=u["translation"],
            translation_engine="argos" if u["translation"] else None,
            machine_translated=u["machine_translated"],
        )
        for u in call["utterances"]
    )
    caller = [i for i, u in enumerate(utterances) if u.speaker == "caller"]
    suggestions = tuple(
        SuggestionRecord(
            query_text=s["utterance"],
            article_id=s["article_id"],
            article_title=s["title"],
            score=s["score"],
            abstained=s["abstained"],
            utterance_idx=caller[0] if caller else None,
        )
        for s in call["suggestions"]
    )
    return CallRecord(
        call_id=call["call_id"],
        started_at=_time(call["started_at"]),
        channel=call["channel"],
        source=f"seed:{call['call_id']}",
        language=call["language"],
        duration=call["duration"],
        outcome=call["outcome"],
        reason=call["reason"],
        summary_text=call["summary"].get("text"),
        summary_json=call["summary"],
        status=call["status"],
        utterances=utterances,
        suggestions=suggestions,
    )


def seed(con: Any, fake: FakeClient, kb_dir: Path) -> None:
    for call in fake.calls.values():
        storage.save_call(con, call_record(call))
        for f in call["feedback"]:
            storage.add_feedback(con, call["call_id"], f["suggestion_id"], f["kind"], f["comment"])
    for a in fake.articles_by_id.values():
        meta = {k: a[k] for k in ARTICLE_FIELDS if a.get(k) is not None}
        write_article(kb_dir, article_from_mapping(meta, a["body"]))
    for day, payload in fake.digests.items():
        stored = StoredDigest(
            digest_date=dt.date.fromisoformat(day),
            method_version=payload["method_version"],
            created_at=dt.datetime.now(dt.UTC),
            total_calls=payload["total_calls"],
            no_answer_share=payload["no_answer_share"],
            languages=payload["languages"],
            digest_text=payload["digest_text"],
            payload=payload,
            topics=(),
        )
        save_digest(con, from_stored(stored), [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealService:
    """The service app on a local port (uvicorn in a thread), seeded like `FakeClient()`."""

    def __init__(self, tmp_path: Path, monkeypatch: Any) -> None:
        import uvicorn

        kb_dir = tmp_path / "kb"
        kb_dir.mkdir()
        monkeypatch.setenv("ASSISTANT_KB_DIR", str(kb_dir))
        config.reset()
        self.expected = FakeClient()  # what was seeded: the tests' expectations
        db = tmp_path / "service.duckdb"
        con = storage.open_db(db)
        try:
            seed(con, self.expected, kb_dir)
        finally:
            con.close()
        options = ServiceOptions(db=str(db), live=LiveOptions())
        # Fake speech and search; a bag-of-words embedder, so the digest has real vectors to group.
        processor = CallProcessor(
            CallOptions(), transcriber=FakeTranscriber(), embedder=FakeEmbedder(), index=FakeIndex()
        )
        app = create_app(processor=processor, options=options, catalog=ArticleCatalog.load())
        port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the service did not start")
            time.sleep(0.05)
        # The console calls as a person with every role: the local admin key (as on the service's machine).
        key = write_local_key(app.state.hub.cursor(), str(tmp_path / "service-home")).read_text().strip()
        self.client = ServiceClient(f"http://127.0.0.1:{port}", token=key, timeout=30.0)

    def close(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(30)
        config.reset()
