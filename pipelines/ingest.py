"""Batch ingest job for schedulers (cron, Airflow, Ray): a folder of recordings, or a JSONL file of
already-transcribed calls, into the database. The work is in `assistant.batch.ingest`.

Run: python pipelines/ingest.py DIR|FILE.jsonl [--db PATH] [--engine ray ...]   (same as `assistant ingest`)
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.batch.run import main  # noqa: E402 - after the path fix when run as a script
from assistant.cli import private_umask  # noqa: E402

if __name__ == "__main__":
    with private_umask():  # the database and its log (transcripts): the job's user's only, as the CLI
        raise SystemExit(main())
