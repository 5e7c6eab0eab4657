"""The leak scanner itself (tests/privacy_scan.py): what counts as a piece of a secret."""

from __future__ import annotations

import pytest

SECRETS = {"card": "6011877893287925", "ssn": "196675970"}


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("My card is 6011 8778 9328 7925", "run5"),
        ("6, 0, 1, 1, 8, 7, 7, 8", "run5"),
        ("1 9 6 6 7. 5 9 7 0.", "run5"),
        ("It is six zero one one eight", "run5"),
        ("ssn 196-67-5970", "run5"),
        ("ending in 7925.", "last4"),
        ("My social IDN 8M, 6 times, 5970.", "last4"),
        ("the numbers were seven, nine, two, five", "words4"),
        ("uno dos tres cuatro", "words4"),
    ],
)
def test_pieces_of_a_secret_are_found(privacy_scan, text, rule):
    assert rule in {r for r, _ in privacy_scan.find_leaks(text, SECRETS)}


@pytest.mark.parametrize(
    "text",
    [
        "My card is [CARD] and my social is [SSN].",
        "score 0.5970 at 12.7925 s",
        "created 2026-11-29T01:43:24.601187+00:00",
        "id 3f601187a2b44c19",
        "One more thing, I have two kids and three dogs.",
        "seven nine two and then five",
        "call 5559 or 1966",
    ],
)
def test_other_numbers_and_placeholders_are_not_leaks(privacy_scan, text):
    assert privacy_scan.find_leaks(text, SECRETS) == []


def test_every_text_column_of_every_table_and_the_log_are_scanned(privacy_scan, tmp_path):
    import duckdb

    db = tmp_path / "x.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE a (id BIGINT, note VARCHAR, meta JSON, score DOUBLE)")
    con.execute("CREATE SCHEMA extra")
    con.execute("CREATE TABLE extra.b (tags VARCHAR[], s STRUCT(t VARCHAR))")
    con.execute('INSERT INTO a VALUES (6011877893, \'fine\', \'{"x": 0.60118, "y": "ends 5970"}\', 60118.0)')
    con.execute("INSERT INTO extra.b VALUES (['card 6011 8778'], {'t': 'one two three four'})")
    con.close()
    leaks, seen = privacy_scan.scan_duckdb(db, SECRETS)
    assert seen == 4
    assert {(leak.where, leak.rule) for leak in leaks} == {
        ("a.meta", "last4"),
        ("b.tags", "run5"),
        ("b.s", "words4"),
    }
    log = tmp_path / "service.log"
    log.write_text("INFO started\nWARNING caption: 1 9 6 6 7\n")
    assert [(x.where, x.rule) for x in privacy_scan.scan_log(log, SECRETS)] == [("service.log:2", "run5")]
