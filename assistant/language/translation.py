"""Text translation with argostranslate, and the language packs it needs.

Packs live under the `language_packs` setting (`<language_packs>/packages/`), never in the venv.
argostranslate reads its settings when first imported, so `configure_argos` sets the environment
before that import and, when argos is already imported, its settings module directly.

Translation objects (and the CTranslate2 models inside them) are loaded once per route and reused.
Routes missing a direct pack pivot through another language (es -> en -> fr), as argos does. A
missing route raises `MissingLanguagePack`, which names the pair and the install command; callers
that can live without translation use `translate_or_original`.

argostranslate 1.11 downloads a sentence-boundary model on first use unless a pack ships one, which
hangs or fails offline; packs without one get `RuleSentencizer`, a small rule-based splitter.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import threading
import zipfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant import config
from assistant.errors import InputError, ModelNotAvailable
from assistant.language.detect import detect, language_name, normalize_code
from assistant.protocols import Translator

ENGINE = "argostranslate"
PIVOT = "en"
INSTALL_FILE_HINT = "assistant languages install-file FILE.argosmodel"


@dataclass(frozen=True)
class Translation:
    """A text and where it came from.

    Attributes:
        text: the translated text (the original when `machine_translated` is False).
        source: language of the original text.
        target: language of `text`.
        engine: `argostranslate`, or `none` when nothing was translated.
        machine_translated: True when a machine produced `text`; show it labelled as such.
    """

    text: str
    source: str
    target: str
    engine: str
    machine_translated: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "source": self.source,
            "target": self.target,
            "engine": self.engine,
            "machine_translated": self.machine_translated,
        }


@dataclass(frozen=True)
class LanguagePack:
    """An installed argos package (one direction).

    Attributes:
        from_code: source language code.
        to_code: target language code.
        version: the package's own version.
        path: the installed package folder.
    """

    from_code: str
    to_code: str
    version: str
    path: str

    @property
    def pair(self) -> str:
        return f"{self.from_code}->{self.to_code}"


class MissingLanguagePack(ModelNotAvailable):
    """No installed pack (direct or through a pivot) translates `source` into `target`."""

    def __init__(self, source: str, target: str, installed: list[str]) -> None:
        codes = " ".join(c for c in dict.fromkeys((source, target)) if c != PIVOT) or source
        have = ", ".join(installed) if installed else "none"
        super().__init__(
            f"no translation pack for {source}->{target} ({language_name(source)} to "
            f"{language_name(target)}); installed: {have}",
            hint=f"install with: assistant languages install {codes}, or offline: {INSTALL_FILE_HINT}",
        )
        self.source = source
        self.target = target


# -- sentence splitting -------------------------------------------------------------------------

# Sentence ends: ., !, ?, and their CJK, Arabic and Devanagari forms, with closing quotes/brackets.
_SENTENCE_END = re.compile(r"""(?<=[.!?…])["'”’»)\]]*\s+|(?<=[。！？؟۔।])["'”’»)\]]*\s*""")
_ABBREVIATION = re.compile(
    r"(?:\b(?:mr|mrs|ms|dr|sr|sra|st|vs|etc|e\.g|i\.e|approx|dept|apt|tel|p\.ej|z\.b|u\.a)|\b[^\W\d_])\.$",
    re.IGNORECASE,
)


def split_sentences(text: str) -> list[str]:
    """Split `text` into sentences by punctuation, keeping common abbreviations and initials whole."""
    pieces = [p for p in _SENTENCE_END.split(text.strip()) if p]
    sentences: list[str] = []
    for piece in pieces:
        if sentences and _ABBREVIATION.search(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences or ([text] if text else [])


class RuleSentencizer:
    """argos' ISentenceBoundaryDetectionModel, offline: rules instead of a downloaded model."""

    def __init__(self, pkg: Any) -> None:
        self.pkg = pkg

    def split_sentences(self, text: str) -> list[str]:
        return split_sentences(text)

    def __str__(self) -> str:
        return "RuleSentencizer"


# -- argos configuration ------------------------------------------------------------------------


def packs_dir() -> Path:
    """The `language_packs` setting as a path."""
    return Path(config.get().language_packs)


def configure_argos(root: Path | None = None) -> Path:
    """Point argostranslate at `<root>/packages` (default: the `language_packs` setting).

    Safe to call before or after argostranslate is imported; returns the packages folder.
    """
    root = Path(root) if root is not None else packs_dir()
    packages = root / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    # argos reads these once, at import; set them first so a fresh import already agrees.
    os.environ["ARGOS_PACKAGES_DIR"] = str(packages)
    if "argostranslate.settings" not in sys.modules:
        import argostranslate.settings  # noqa: F401
    settings: Any = sys.modules["argostranslate.settings"]
    if Path(settings.package_data_dir) != packages or list(settings.package_dirs) != [packages]:
        settings.package_data_dir = packages
        # Only our folder: no packs from ~/.local/share or a snap leak into the assistant.
        settings.package_dirs = [packages]
        _forget_loaded()
    # The package index and downloads sit beside the packages, not inside (argos would read them
    # as packages), and not in the user's home.
    settings.local_package_index = root / "index.json"
    settings.downloads_dir = root / "downloads"
    return packages


_translators: dict[Path, ArgosTranslator] = {}
_translators_lock = threading.Lock()


def _forget_loaded() -> None:
    """Drop every loaded route: the packs changed, so cached argos objects may be stale."""
    for translator in list(_translators.values()):
        translator.forget()
    module = sys.modules.get("argostranslate.translate")
    if module is not None:
        module.get_installed_languages.cache_clear()
        # argos keys its own cache by "from-to" only, so a replaced pack would be reused.
        module.installed_translates.clear()


def _use_local_sentencizer(route: Any) -> None:
    """Give every package in a (possibly pivoted) route an offline sentence splitter."""
    stack = [route]
    while stack:
        node = stack.pop()
        stack.extend(getattr(node, name) for name in ("underlying", "t1", "t2") if hasattr(node, name))
        pkg = getattr(node, "pkg", None)
        # A pack that ships its own model (stanza/minisbd folder) uses it: it is local too.
        if (
            pkg is not None
            and pkg.packaged_sbd_path is None
            and hasattr(node, "sentencizer")
            and not isinstance(node.sentencizer, RuleSentencizer)
        ):
            node.sentencizer = RuleSentencizer(pkg)


class ArgosTranslator:
    """The argostranslate engine (implements `protocols.Translator`); routes are cached."""

    name = ENGINE

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else packs_dir()
        self._routes: dict[tuple[str, str], Any] = {}
        # Re-entrant: configuring argos inside `route` may call `forget` on this translator.
        self._lock = threading.RLock()

    def forget(self) -> None:
        with self._lock:
            self._routes.clear()

    def route(self, source: str, target: str) -> Any:
        """The argos ITranslation for a pair, loaded once. Raises MissingLanguagePack."""
        key = (source, target)
        with self._lock:
            found = self._routes.get(key)
            if found is not None:
                return found
            packs = installed_packs(self.root)
            if not any(s == source and t == target for s, t, _ in reachable_pairs(packs)):
                # No pack path at all: say so from the packs' metadata. Importing argos to learn
                # the same took 1.4-3.2 s the first time, and the first caller in a language
                # without a pack waited that long for the caption and any escalation alert.
                raise MissingLanguagePack(source, target, [p.pair for p in packs])
            configure_argos(self.root)
            from argostranslate import translate as argos_translate

            try:
                languages = {lang.code: lang for lang in argos_translate.get_installed_languages()}
            except FileNotFoundError as exc:
                raise InputError(
                    f"a folder under {self.root / 'packages'} is not an argos pack: {exc}"
                ) from None
            src, tgt = languages.get(source), languages.get(target)
            found = src.get_translation(tgt) if src is not None and tgt is not None else None
            if found is None:
                raise MissingLanguagePack(source, target, [p.pair for p in packs])
            _use_local_sentencizer(found)
            self._routes[key] = found
            return found

    def translate(self, text: str, source: str, target: str) -> str:
        return self.route(source, target).translate(text)


def get_translator(root: Path | None = None) -> ArgosTranslator:
    """The shared translator for a packs folder (default: the `language_packs` setting)."""
    root = Path(root) if root is not None else packs_dir()
    with _translators_lock:
        if root not in _translators:
            _translators[root] = ArgosTranslator(root)
        return _translators[root]


def translate(
    text: str, target: str, source: str | None = None, translator: Translator | None = None
) -> Translation:
    """Translate `text` into `target`, detecting the source language when `source` is None.

    Same source and target is not a translation: the text comes back with
    `machine_translated=False`. Raises InputError (empty text, unknown code, undetectable text)
    or MissingLanguagePack.
    """
    if not text or not text.strip():
        raise InputError("empty text: nothing to translate")
    target = normalize_code(target)
    source = normalize_code(source) if source else detect(text).language
    if source == target:
        return Translation(text, source, target, "none", False)
    engine = translator if translator is not None else get_translator()
    return Translation(engine.translate(text, source, target), source, target, engine.name, True)


def translate_or_original(
    text: str, target: str, source: str | None = None, translator: Translator | None = None
) -> Translation:
    """Like `translate`, but without a pack the original comes back, labelled with its own
    language (so `target` then equals `source` and nothing claims to be translated)."""
    try:
        return translate(text, target, source, translator)
    except MissingLanguagePack as exc:
        return Translation(text, exc.source, exc.source, "none", False)


# -- packs -------------------------------------------------------------------------------------


def installed_packs(root: Path | None = None) -> list[LanguagePack]:
    """Installed translation packs, read from their metadata.json (no argos import)."""
    folder = (Path(root) if root is not None else packs_dir()) / "packages"
    packs = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        try:
            meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if meta.get("type", "translate") == "translate" and meta.get("from_code") and meta.get("to_code"):
            packs.append(
                LanguagePack(
                    meta["from_code"], meta["to_code"], str(meta.get("package_version", "")), str(path)
                )
            )
    return packs


def reachable_pairs(packs: list[LanguagePack]) -> list[tuple[str, str, tuple[str, ...]]]:
    """Every (source, target, path) the packs can translate, pivots included, shortest path."""
    graph: dict[str, set[str]] = {}
    for p in packs:
        graph.setdefault(p.from_code, set()).add(p.to_code)
    result: list[tuple[str, str, tuple[str, ...]]] = []
    for start in sorted(graph):
        seen: dict[str, tuple[str, ...]] = {start: (start,)}
        queue = deque([start])
        while queue:
            here = queue.popleft()
            for nxt in sorted(graph.get(here, ())):
                if nxt not in seen:
                    seen[nxt] = (*seen[here], nxt)
                    queue.append(nxt)
        result.extend((start, end, path) for end, path in sorted(seen.items()) if end != start)
    return result


def _check_archive(path: Path) -> dict[str, Any]:
    """The metadata of a valid .argosmodel; InputError naming what is wrong otherwise."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not an argos package (a .argosmodel file is a zip archive)")
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            names = zf.namelist()
            if bad is not None:
                raise InputError(f"{path}: corrupt archive (bad checksum in {bad})")
            tops = {n.split("/", 1)[0] for n in names}
            if any(n.startswith("/") or ".." in n.split("/") for n in names):
                raise InputError(f"{path}: archive has unsafe paths")
            if len(tops) != 1 or not any("/" in n for n in names):
                raise InputError(f"{path}: not an argos package (expected one top folder with metadata.json)")
            top = tops.pop()
            try:
                meta = json.loads(zf.read(f"{top}/metadata.json"))
            except KeyError:
                raise InputError(f"{path}: not an argos package (no {top}/metadata.json)") from None
            except ValueError:
                raise InputError(f"{path}: metadata.json is not valid JSON") from None
            if not isinstance(meta, dict) or not meta.get("from_code") or not meta.get("to_code"):
                raise InputError(f"{path}: metadata.json lacks from_code/to_code")
            if meta.get("type", "translate") != "translate":
                raise InputError(f"{path}: a {meta.get('type')!r} package, not a translation pack")
            if f"{top}/model/model.bin" not in names:
                raise InputError(f"{path}: not an argos package (no model/model.bin)")
            if not {f"{top}/sentencepiece.model", f"{top}/bpe.model"} & set(names):
                raise InputError(f"{path}: not an argos package (no sentencepiece.model or bpe.model)")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise InputError(f"{path}: corrupt archive ({exc})") from None
    return meta


def install_file(path: str | Path, root: Path | None = None) -> LanguagePack:
    """Install a .argosmodel file (replacing an installed pack for the same pair)."""
    path = Path(path)
    meta = _check_archive(path)
    root = Path(root) if root is not None else packs_dir()
    configure_argos(root)
    from argostranslate import package

    for old in installed_packs(root):
        if (old.from_code, old.to_code) == (meta["from_code"], meta["to_code"]):
            shutil.rmtree(old.path)
    try:
        package.install_from_path(path)
    except Exception as exc:  # argos raises bare Exception; the archive was already checked
        raise InputError(f"{path}: could not install: {exc}") from None
    finally:
        _forget_loaded()
    for pack in installed_packs(root):
        if (pack.from_code, pack.to_code) == (meta["from_code"], meta["to_code"]):
            return pack
    raise InputError(f"{path}: installed, but no pack for {meta['from_code']}->{meta['to_code']} appeared")


def remove_code(code: str, root: Path | None = None) -> list[LanguagePack]:
    """Remove every installed pack that translates from or into `code`; returns them."""
    code = normalize_code(code)
    root = Path(root) if root is not None else packs_dir()
    victims = [p for p in installed_packs(root) if code in (p.from_code, p.to_code)]
    if not victims:
        raise InputError(f"no installed translation pack involves {code}")
    configure_argos(root)
    from argostranslate import package

    try:
        for pack in victims:
            package.uninstall(package.Package(Path(pack.path)))
    finally:
        _forget_loaded()
    return victims


def install_codes(codes: list[str], root: Path | None = None, timeout: float = 15.0) -> list[LanguagePack]:
    """Download and install packs to and from English for each code (needs the network)."""
    wanted = [normalize_code(c) for c in codes]
    if not wanted:
        raise InputError("name at least one language code to install")
    if PIVOT in wanted:
        raise InputError(f"{PIVOT} is the pivot language: install the other language of the pair")
    root = Path(root) if root is not None else packs_dir()
    configure_argos(root)
    import urllib.request

    from argostranslate import package, settings

    # argos' own update_package_index has no timeout and hides failures; fetch it ourselves.
    try:
        with urllib.request.urlopen(settings.remote_package_index, timeout=timeout) as response:
            data = response.read()
        json.loads(data)
    except (OSError, ValueError) as exc:
        raise ModelNotAvailable(
            f"cannot fetch the argos package index ({getattr(exc, 'reason', exc)}); offline?",
            hint=f"copy a .argosmodel file to this machine and run: {INSTALL_FILE_HINT}",
        ) from None
    index = Path(settings.local_package_index)
    index.parent.mkdir(parents=True, exist_ok=True)
    tmp = index.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(index)
    available = [p for p in package.get_available_packages() if p.type == "translate"]
    plan = []
    for code in wanted:
        found = [p for p in available if (p.from_code, p.to_code) in ((code, PIVOT), (PIVOT, code))]
        if not found:
            raise InputError(f"the argos package index has no pack between {code} and {PIVOT}")
        plan.extend(found)
    installed = []
    for available_pack in plan:
        try:
            downloaded = Path(available_pack.download())
        except Exception as exc:  # argos raises bare Exception on a failed download
            raise ModelNotAvailable(f"download failed for {available_pack}: {exc}") from None
        installed.append(install_file(downloaded, root))
        downloaded.unlink(missing_ok=True)
    return installed
