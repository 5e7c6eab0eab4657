"""Translation through argostranslate with generated tiny packs: plumbing, labels, error paths.

The packs have random weights, so translated text is nonsense; nothing here checks its wording.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from argos_fixture import build_argos_package

from assistant import cli, config
from assistant.errors import InputError
from assistant.language.translation import (
    MissingLanguagePack,
    RuleSentencizer,
    Translation,
    configure_argos,
    get_translator,
    install_file,
    installed_packs,
    reachable_pairs,
    split_sentences,
    translate,
    translate_or_original,
)

REPO = Path(__file__).resolve().parent.parent
SPANISH = "Hola, llamo porque todavía no he recibido mi pago de desempleo. ¿Me puede ayudar?"


@pytest.fixture(scope="session")
def packs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny packs, built once per session: es->en and en->fr (for pivoting es->en->fr)."""
    out = tmp_path_factory.mktemp("argos-packs")
    return {
        "es_en": build_argos_package(out, "es", "en", "Spanish", "English"),
        "en_fr": build_argos_package(out, "en", "fr", "English", "French"),
    }


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network disabled by test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _run_cli(argv: list[str]) -> subprocess.CompletedProcess[str]:
    # A fresh process: argostranslate is imported there after the environment is set.
    return subprocess.run(
        [sys.executable, "-m", "assistant", *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ),
        timeout=300,
    )


# -- sentence splitting (no model) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hola. ¿Cómo está? Bien!", ["Hola.", "¿Cómo está?", "Bien!"]),
        ("Call Dr. Smith at 5 p.m. today. Thanks.", ["Call Dr. Smith at 5 p.m. today.", "Thanks."]),
        ("我的驾照过期了。我需要续期！", ["我的驾照过期了。", "我需要续期！"]),
        ("no final punctuation", ["no final punctuation"]),
        ("Le montant est de 5.50 euros. Merci.", ["Le montant est de 5.50 euros.", "Merci."]),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


# -- done criterion: install -> translate -> remove -> hint, through the CLI ------------------


@pytest.mark.models
def test_cli_translate_then_remove(packs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["languages", "install-file", str(packs["es_en"])]) == 0
    assert "installed es->en" in capsys.readouterr().out

    done = _run_cli(["translate", SPANISH, "--to", "en", "--json"])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["source"] == "es" and result["target"] == "en"
    assert result["engine"] == "argostranslate" and result["machine_translated"] is True
    assert result["text"] and result["text"] != SPANISH

    assert cli.main(["languages", "remove", "es"]) == 0
    assert "removed es->en" in capsys.readouterr().out
    failed = _run_cli(["translate", SPANISH, "--to", "en", "--json"])
    assert failed.returncode == 2
    assert failed.stdout == ""
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no translation pack for es->en")
    assert "assistant languages install es" in lines[0] and "install-file" in lines[0]


@pytest.mark.models
def test_cli_translate_plain_output_is_labelled(
    packs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    install_file(packs["es_en"])
    assert cli.main(["translate", SPANISH, "--from", "es", "--to", "en"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip()
    assert "[machine-translated es->en by argostranslate]" in captured.err


# -- library API -------------------------------------------------------------------------------


@pytest.mark.models
def test_translate_labels_and_reuses_loaded_route(packs: dict[str, Path]) -> None:
    install_file(packs["es_en"])
    first = translate(SPANISH, "en")  # source detected
    assert isinstance(first, Translation)
    assert (first.source, first.target, first.engine, first.machine_translated) == (
        "es",
        "en",
        "argostranslate",
        True,
    )
    translator = get_translator()
    assert translator is get_translator()
    route = translator.route("es", "en")
    assert translator.route("es", "en") is route
    assert isinstance(route.underlying.sentencizer, RuleSentencizer)
    again = translate(SPANISH, "en", "es")
    assert again == first  # deterministic decoding, same text


@pytest.mark.models
def test_translation_works_with_network_unreachable(packs: dict[str, Path], no_network: None) -> None:
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    install_file(packs["es_en"])
    result = translate("Buenos días. Necesito ayuda con mi licencia. Gracias.", "en", "es")
    assert result.machine_translated and result.text


@pytest.mark.models
def test_pivot_through_english(packs: dict[str, Path]) -> None:
    install_file(packs["es_en"])
    install_file(packs["en_fr"])
    assert ("es", "fr", ("es", "en", "fr")) in reachable_pairs(installed_packs())
    result = translate(SPANISH, "fr", "es")
    assert (result.source, result.target, result.machine_translated) == ("es", "fr", True)
    with pytest.raises(MissingLanguagePack, match="fr->es"):
        translate("Bonjour, je voudrais renouveler mon permis de conduire.", "es", "fr")


def test_identity_is_not_machine_translated() -> None:
    result = translate(SPANISH, "es")
    assert result == Translation(SPANISH, "es", "es", "none", False)


def test_missing_pack_and_fallback_to_original() -> None:
    with pytest.raises(MissingLanguagePack) as info:
        translate(SPANISH, "en", "es")
    assert (info.value.source, info.value.target) == ("es", "en")
    assert "assistant languages install es" in str(info.value)
    kept = translate_or_original(SPANISH, "en", "es")
    assert kept == Translation(SPANISH, "es", "es", "none", False)


def test_no_pack_is_known_without_importing_argos(tmp_path: Path) -> None:
    """The first caller in a language without a pack must not wait for argos to import (1.4-3.2 s
    here) only to learn there is no pack; a fresh interpreter shows whether it was imported."""
    script = (
        "import sys\n"
        "from assistant.language.translation import MissingLanguagePack, translate\n"
        "try:\n"
        "    translate('Quiero hablar con un supervisor.', 'en', 'es')\n"
        "except MissingLanguagePack as exc:\n"
        "    print(exc.source, exc.target, 'argostranslate' in sys.modules)\n"
    )
    env = {**os.environ, "ASSISTANT_HOME": str(tmp_path), "ASSISTANT_LANGUAGE_PACKS": str(tmp_path / "packs")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["es", "en", "False"], out.stderr


@pytest.mark.models
def test_changing_packs_dir_forgets_loaded_routes(
    packs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install_file(packs["es_en"])
    assert translate(SPANISH, "en", "es").machine_translated
    monkeypatch.setenv("ASSISTANT_LANGUAGE_PACKS", str(tmp_path / "other-packs"))
    config.reset()
    with pytest.raises(MissingLanguagePack):
        translate(SPANISH, "en", "es")


@pytest.mark.models
def test_packs_live_in_the_language_packs_setting(
    packs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = tmp_path / "my-packs"
    monkeypatch.setenv("ASSISTANT_LANGUAGE_PACKS", str(target))
    config.reset()
    pack = install_file(packs["es_en"])
    install_file(packs["es_en"])  # reinstalling replaces, never duplicates
    assert Path(pack.path).parent == target / "packages"
    assert [p.pair for p in installed_packs()] == ["es->en"]
    import argostranslate.settings

    assert argostranslate.settings.package_dirs == [target / "packages"]
    assert configure_argos() == target / "packages"


@pytest.mark.models
def test_languages_list(
    packs: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a.md").write_text("---\nid: a\nlanguage: es\n---\nTexto\n", encoding="utf-8")
    (kb / "b.md").write_text("---\nid: b\nlanguage: en\n---\nText\n", encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_KB_DIR", str(kb))
    config.reset()
    install_file(packs["es_en"])
    install_file(packs["en_fr"])
    assert cli.main(["languages", "list", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {(p["from"], p["to"]) for p in out["packs"]} == {("es", "en"), ("en", "fr")}
    assert {"from": "es", "to": "fr", "via": ["en"]} in out["pairs"]
    assert out["knowledge_base"] == {"en": 1, "es": 1}
    assert len(out["speech"]) >= 99 and "es" in out["speech"]
    assert "zh" in out["text_detection"] and "tl" in out["text_detection"]
    assert cli.main(["languages"]) == 0
    text = capsys.readouterr().out
    assert "es->en" in text and "es->fr  via en" in text and "es (1)" in text


# -- bad input: each exits 2 with one line -----------------------------------------------------


def _assert_one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err
    return err


def test_cli_translate_empty_text(capsys: pytest.CaptureFixture[str]) -> None:
    _assert_one_line_error(["translate", "  ", "--to", "en"], capsys, "empty text")


@pytest.mark.parametrize("argv", [["--to", "xx"], ["--to", "en", "--from", "klingon"]])
def test_cli_translate_unknown_code(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _assert_one_line_error(["translate", SPANISH, *argv], capsys, "unknown language code")


@pytest.mark.models
def test_cli_translate_script_without_pack(
    packs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    install_file(packs["es_en"])
    _assert_one_line_error(
        ["translate", "안녕하세요, 실업 급여가 아직 들어오지 않아서 전화드렸어요.", "--to", "en"],
        capsys,
        "no translation pack for ko->en",
        "assistant languages install ko",
    )


def _corrupt_variants(good: Path, folder: Path) -> dict[str, Path]:
    variants: dict[str, Path] = {}
    (folder / "text.argosmodel").write_text("this is not a zip file\n")
    variants["not a zip"] = folder / "text.argosmodel"
    data = good.read_bytes()
    (folder / "truncated.argosmodel").write_bytes(data[: len(data) // 2])
    variants["truncated"] = folder / "truncated.argosmodel"
    flipped = bytearray(data)
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo(next(n for n in zf.namelist() if n.endswith("model.bin")))
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    flipped[middle] ^= 0xFF
    (folder / "flipped.argosmodel").write_bytes(bytes(flipped))
    variants["bad checksum"] = folder / "flipped.argosmodel"
    with zipfile.ZipFile(good) as src:
        entries = {n: src.read(n) for n in src.namelist()}
    top = next(iter(entries)).split("/")[0]

    def rezip(name: str, keep: dict[str, bytes]) -> Path:
        path = folder / f"{name}.argosmodel"
        with zipfile.ZipFile(path, "w") as zf:
            for entry, content in keep.items():
                zf.writestr(entry, content)
        return path

    variants["no top folder"] = rezip("flat", {n.split("/", 1)[1]: c for n, c in entries.items()})
    variants["no metadata"] = rezip(
        "nometa", {n: c for n, c in entries.items() if not n.endswith("metadata.json")}
    )
    variants["bad metadata"] = rezip("badmeta", {**entries, f"{top}/metadata.json": b"{not json"})
    variants["no model"] = rezip("nomodel", {n: c for n, c in entries.items() if "/model/" not in n})
    return variants


@pytest.mark.models
def test_cli_install_file_rejects_bad_archives(
    packs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install_file(packs["es_en"])
    variants = _corrupt_variants(packs["es_en"], tmp_path)
    variants["missing file"] = tmp_path / "absent.argosmodel"
    for name, path in variants.items():
        err = _assert_one_line_error(["languages", "install-file", str(path)], capsys)
        assert str(path) in err, name
    # Nothing already installed was lost, and nothing broken was added.
    assert [p.pair for p in installed_packs()] == ["es->en"]
    assert translate(SPANISH, "en", "es").machine_translated


def test_cli_install_offline(no_network: None, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_one_line_error(["languages", "install", "fr"], capsys, "offline", "install-file")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["languages", "install", "xx"], "unknown language code"),
        (["languages", "install", "en"], "pivot"),
        (["languages", "remove", "es"], "no installed translation pack involves es"),
        (["languages", "remove", "xx"], "unknown language code"),
    ],
)
def test_cli_languages_bad_input(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    _assert_one_line_error(argv, capsys, needle)


def test_translate_rejects_undetectable_text() -> None:
    with pytest.raises(InputError):
        translate("12345 !!!", "en")
