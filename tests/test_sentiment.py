"""Sentiment: the domain phrases VADER misreads, and call start/end/drivers."""

from __future__ import annotations

import pytest

from assistant.text.sentiment import CallSentiment, Sentiment, call_sentiment, utterance_sentiment


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I've been waiting three weeks", "negative"),
        ("nobody calls me back", "negative"),
        ("this is ridiculous", "negative"),
        ("I keep getting transferred", "negative"),
        ("I was on hold for forty five minutes", "negative"),
        ("that fixed it", "positive"),
        ("thank you so much", "positive"),
        ("okay that worked", "positive"),
        ("I need a copy of a death certificate", "neutral"),
        ("I have a question about my disability benefits", "neutral"),
        ("I'm calling about unemployment", "neutral"),
        ("ok", "neutral"),
        ("hello my name is John", "neutral"),
    ],
)
def test_domain_phrases(text: str, label: str) -> None:
    result = utterance_sentiment(text)
    assert result.label == label, result
    assert -1.0 <= result.score <= 1.0


def test_domain_phrases_beat_plain_vader() -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    plain = SentimentIntensityAnalyzer()
    for text in ("I've been waiting three weeks", "nobody calls me back", "that fixed it"):
        assert plain.polarity_scores(text)["compound"] == 0.0  # what VADER alone says
        assert utterance_sentiment(text).label != "neutral"
    assert (
        utterance_sentiment("this is ridiculous").score
        < plain.polarity_scores("this is ridiculous")["compound"]
    )
    assert (
        utterance_sentiment("thank you so much").score
        > plain.polarity_scores("thank you so much")["compound"]
    )


def test_vader_rules_still_apply_around_a_phrase() -> None:
    assert (
        utterance_sentiment("THIS IS RIDICULOUS!!!").score < utterance_sentiment("this is ridiculous").score
    )


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_is_neutral(text: str) -> None:
    assert utterance_sentiment(text) == Sentiment("neutral", 0.0)


def test_non_ascii_and_long_text() -> None:
    assert utterance_sentiment("¡Gracias! 😀 great").label == "positive"
    long = "I have been waiting for weeks and nobody calls me back. " * 2000  # ~110k characters
    assert utterance_sentiment(long).label == "negative"


def test_call_start_end_and_drivers() -> None:
    utterances = [
        "hi, I've been waiting three weeks for my refund",
        "nobody calls me back",
        "okay",
        "let me find the letter",
        "oh that fixed it",
        "thank you so much",
    ]
    result = call_sentiment(utterances)
    assert isinstance(result, CallSentiment)
    assert result.start.label == "negative"  # first third: utterances 0-1
    assert result.end.label == "positive"  # last third: utterances 4-5
    assert result.change > 0
    # Mixed call: overall neutral, so the drivers are the strongest either way.
    assert result.overall.label == "neutral"
    assert [d.index for d in result.drivers] == [5, 0, 1]
    for d in result.drivers:
        assert d.text == utterances[d.index]


def test_negative_call_drivers_are_the_most_negative_utterances() -> None:
    utterances = ["hello", "this is ridiculous", "I want to speak to a supervisor", "fine"]
    result = call_sentiment(utterances)
    assert result.overall.label == "negative"
    assert result.drivers[0].index == 1
    assert all(d.score < 0 for d in result.drivers)


@pytest.mark.parametrize("n", [1, 2])
def test_call_with_one_or_two_utterances(n: int) -> None:
    utterances = ["this is ridiculous", "thank you so much"][:n]
    result = call_sentiment(utterances)
    assert result.start == utterance_sentiment(utterances[0])
    assert result.end == utterance_sentiment(utterances[-1])


def test_call_without_utterances_is_neutral() -> None:
    result = call_sentiment([])
    assert result.overall == result.start == result.end == Sentiment("neutral", 0.0)
    assert result.drivers == ()


def test_call_accepts_objects_with_text() -> None:
    class U:
        def __init__(self, text: str) -> None:
            self.text = text

    assert call_sentiment([U("thank you so much")]).overall.label == "positive"
