"""Batch work on recordings and transcript files: `ingest` (this process, resumable), `ray_engine`
(the same on Ray actors), `run` (the command line shared by `assistant ingest` and `pipelines/ingest.py`).

May import: calls, storage, privacy and the basics (errors, config). Imported by: commands, service.
"""
