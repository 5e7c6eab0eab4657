"""Batch jobs for schedulers (cron, Airflow, Ray): ingest, daily digest, index build.

Each is also reachable from the `assistant` CLI; none holds logic the live path needs.
"""
