"""Text language detection, the call-level language decision, and `assistant detect`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant import cli
from assistant.errors import InputError
from assistant.language.detect import (
    CallLanguage,
    LanguageGuess,
    detect,
    detect_all,
    knowledge_base_languages,
    normalize_code,
    text_languages,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _sentences() -> list[tuple[str, str]]:
    rows = []
    for line in (FIXTURES / "language_sentences.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            code, sentence = line.split("\t", 1)
            rows.append((code, sentence))
    return rows


def test_sentence_set_accuracy() -> None:
    rows = _sentences()
    codes = Counter(code for code, _ in rows)
    assert len(rows) >= 100 and len(codes) >= 8
    assert set(codes) <= set(text_languages())
    misses = [(code, detect(s).language, s) for code, s in rows if detect(s).language != code]
    accuracy = 1 - len(misses) / len(rows)
    print(f"\ntext language detection: {accuracy:.3f} on {len(rows)} sentences, {len(codes)} languages")
    for miss in misses:
        print("  miss:", miss)
    assert accuracy >= 0.95


def test_detection_is_deterministic() -> None:
    text = "Necesito ayuda con mi factura"
    assert len({detect(text) for _ in range(5)}) == 1


def test_guess_is_normalised_and_frozen() -> None:
    guess = detect("请问办公室星期一早上几点开门？我的驾照下个月就要过期了。")
    assert guess.language == "zh"
    with pytest.raises(AttributeError):
        guess.language = "en"  # type: ignore[misc]


def test_short_text_gets_a_low_probability() -> None:
    long = detect("I would like to ask about the status of my unemployment benefits claim, please.")
    short = detect("OK, yes")
    assert long.language == "en" and long.probability > 0.9
    assert short.probability <= 0.5


def test_mixed_text_names_dominant_language_with_lower_probability() -> None:
    pure = detect(
        "Hola, llamo porque necesito ayuda con mi solicitud de beneficios y no sé qué hacer con la carta"
    )
    mixed_all = detect_all(
        "Hola, llamo porque necesito ayuda con mi solicitud de beneficios, the online form, y no sé qué hacer con la carta"
    )
    assert pure.language == "es"
    assert mixed_all[0].language == "es"
    assert mixed_all[0].probability < pure.probability
    assert len(mixed_all) >= 2


@pytest.mark.parametrize("text", ["", "   \n", "12345 !!! 67", "☎☎ :-)"])
def test_text_without_letters_is_an_error(text: str) -> None:
    with pytest.raises(InputError):
        detect(text)


@pytest.mark.parametrize(
    ("raw", "code"), [("ES", "es"), ("zh-cn", "zh"), ("zh-TW", "zh"), ("pt_BR", "pt"), ("zt", "zt")]
)
def test_normalize_code(raw: str, code: str) -> None:
    assert normalize_code(raw) == code


@pytest.mark.parametrize("raw", ["xx", "", "english", "e"])
def test_unknown_code_is_an_error(raw: str) -> None:
    with pytest.raises(InputError, match="unknown language code"):
        normalize_code(raw)


SPANISH_CALL = [
    "OK, yes",
    "Hola, buenos días",
    "Llamo por mi pago de desempleo",
    "No ha llegado todavía",
    "Sí, claro",
    "Mi número de caso es el siete dos cuatro",
    "Vale",
    "Gracias, es usted muy amable",
    "¿Cuándo llega el pago entonces?",
    "Perfecto, muchas gracias, adiós",
]


def test_spanish_call_decided_despite_english_first_utterance() -> None:
    call = CallLanguage()
    decisions = [call.add_text(u) for u in SPANISH_CALL]
    assert detect(SPANISH_CALL[0]).language != "es"  # the opening alone would mislead
    assert call.decision == decisions[-1]
    assert decisions[-1] is not None and decisions[-1].language == "es"
    assert call.settled
    # From the third utterance on, the decision never leaves Spanish.
    assert {d.language for d in decisions[2:] if d} == {"es"}


def test_one_english_aside_does_not_flip_a_settled_call() -> None:
    call = CallLanguage()
    for u in SPANISH_CALL[1:5]:
        call.add_text(u)
    after = call.add_text("Sorry, I mean the payment from last week")
    assert after is not None and after.language == "es"


def test_caller_switching_for_good_flips_the_decision() -> None:
    call = CallLanguage()
    for u in SPANISH_CALL[1:4]:
        call.add_text(u)
    for _ in range(6):
        call.add_speech("en", 0.95, 4.0)
    assert call.decision is not None and call.decision.language == "en"


def test_speech_and_text_evidence_combine() -> None:
    call = CallLanguage()
    call.add_speech("fr", 0.9, 3.0)
    call.add_text("Bonjour, je voudrais des informations sur mon dossier")
    decision = call.decision
    assert decision == LanguageGuess("fr", decision.probability) and decision.probability > 0.8


def test_override_wins_until_cleared() -> None:
    call = CallLanguage()
    assert call.decision is None
    call.add_speech("es", 0.9, 5.0)
    assert call.override("PT") == LanguageGuess("pt", 1.0)
    call.add_speech("es", 0.9, 5.0)
    assert call.decision == LanguageGuess("pt", 1.0) and call.overridden
    call.clear_override()
    assert call.decision is not None and call.decision.language == "es"


def test_call_language_rejects_bad_evidence() -> None:
    call = CallLanguage()
    with pytest.raises(InputError):
        call.add("es", 1.5, 1.0)
    with pytest.raises(InputError):
        call.add("es", 0.5, -1.0)
    with pytest.raises(InputError):
        call.add("klingon", 0.5, 1.0)
    with pytest.raises(InputError):
        call.override("xx")
    assert call.add_text("123 !!") is None  # no letters: no evidence, no error


def test_knowledge_base_languages(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\nid: a\nlanguage: es\n---\nCuerpo\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("---\nid: b\nlanguage: en\n---\nBody\n", encoding="utf-8")
    (tmp_path / "c.md").write_text("---\nid: c\n---\nNo language\n", encoding="utf-8")
    (tmp_path / "d.md").write_text("---\nid: [unclosed\n---\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("---\nlanguage: fr\n---\n", encoding="utf-8")
    counts = knowledge_base_languages(tmp_path)
    assert counts == {"en": 1, "es": 1, "invalid": 1, "unspecified": 1}
    assert knowledge_base_languages(tmp_path / "missing") == {}


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_detect_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["detect", "Bonjour, je voudrais renouveler mon permis de conduire", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["language"] == "fr" and 0.9 <= out["probability"] <= 1.0
    assert set(out) == {"language", "probability"}


def test_cli_detect_lines_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text(
        "Hola, llamo porque todavía no he recibido mi pago\n\nGuten Tag, ich habe eine Frage\n",
        encoding="utf-8",
    )
    assert cli.main(["detect", "--lines-file", str(lines), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["language"] for r in rows] == ["es", None, "de"]
    assert "empty" in rows[1]["error"]


@pytest.mark.parametrize(
    "argv",
    [
        ["detect", ""],
        ["detect", "42 42 42"],
        ["detect"],
        ["detect", "--lines-file", "/nonexistent/lines.txt", "--json"],
        ["detect", "hola", "--lines-file", "x.txt"],
    ],
)
def test_cli_detect_bad_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_cli_detect_lines_file_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Olá, não recebi".encode("latin-1"))
    assert cli.main(["detect", "--lines-file", str(path)]) == 2
    assert "UTF-8" in capsys.readouterr().err


def test_one_confident_utterance_does_not_settle_a_call() -> None:
    """Whisper heard a telephone English greeting as Finnish (p = 0.67): that alone must not pin
    the speaker's language, or every later utterance would be decoded as Finnish."""
    call = CallLanguage()
    call.add_speech("fi", 0.67, 4.8)
    assert call.decision is not None and call.decision.language == "fi" and not call.settled
    call.add_speech("en", 0.94, 4.6)
    assert call.decision is not None and call.decision.language == "en" and call.settled
