"""The offline reading-grade measure used by `kb lint` and the console."""

from __future__ import annotations

import socket

from assistant.text.readability import flesch_kincaid_grade, strip_markdown, syllables


def test_plain_answers_score_low_and_dense_prose_scores_high():
    plain = "Call us to get a new card. It is free. We mail it in five days."
    dense = (
        "Determination of continued eligibility necessitates comprehensive verification of household "
        "composition, countable income, and applicable categorical exemptions."
    )
    assert flesch_kincaid_grade(plain) < 4
    assert flesch_kincaid_grade(dense) > 14
    assert flesch_kincaid_grade("") == 0.0


def test_syllables_and_markdown():
    assert syllables("card") == 1
    assert syllables("application") >= 4
    assert (
        strip_markdown("1. Go online.\n- Sign in.\n## Steps\n**Bold**") == "Go online.\nSign in.\nSteps\nBold"
    )


def test_works_with_the_network_unreachable(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert flesch_kincaid_grade("Renew your license online. Bring your old card.") < 8
