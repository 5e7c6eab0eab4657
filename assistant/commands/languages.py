"""`assistant languages`: list, install and remove translation packs; show supported languages."""

from __future__ import annotations

import argparse
import json

from assistant import config
from assistant.language.detect import knowledge_base_languages, speech_languages, text_languages
from assistant.language.translation import (
    install_codes,
    install_file,
    installed_packs,
    packs_dir,
    reachable_pairs,
    remove_code,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("languages", help="translation packs and supported languages")
    p.set_defaults(func=run_list, json=False)
    sub = p.add_subparsers(dest="languages_command", metavar="ACTION")

    ls = sub.add_parser("list", help="installed packs, knowledge-base and speech languages")
    ls.add_argument("--json", action="store_true", help="print one JSON object")
    ls.set_defaults(func=run_list)

    inst = sub.add_parser("install", help="download packs to and from English (needs the network)")
    inst.add_argument("codes", nargs="+", metavar="CODE", help="language codes, e.g. es fr")
    inst.set_defaults(func=run_install)

    inst_file = sub.add_parser("install-file", help="install a .argosmodel file (offline)")
    inst_file.add_argument("files", nargs="+", metavar="FILE", help="path to a .argosmodel file")
    inst_file.set_defaults(func=run_install_file)

    rm = sub.add_parser("remove", help="remove every pack that involves a language")
    rm.add_argument("codes", nargs="+", metavar="CODE", help="language codes")
    rm.set_defaults(func=run_remove)


def run_list(args: argparse.Namespace) -> int:

    cfg = config.get()
    packs = installed_packs()
    pairs = reachable_pairs(packs)
    kb = knowledge_base_languages(cfg.kb_dir)
    speech = speech_languages()
    text = text_languages()
    if getattr(args, "json", False):
        out = {
            "packs_dir": str(packs_dir()),
            "packs": [{"from": p.from_code, "to": p.to_code, "version": p.version} for p in packs],
            "pairs": [{"from": s, "to": t, "via": list(path[1:-1])} for s, t, path in pairs],
            "knowledge_base": kb,
            "speech": speech,
            "text_detection": text,
        }
        print(json.dumps(out, indent=2))
        return 0
    print(f"Translation packs ({packs_dir() / 'packages'}):")
    if not packs:
        print("  none installed: assistant languages install CODE, or install-file FILE.argosmodel")
    for p in packs:
        print(f"  {p.pair}  (version {p.version or '?'})")
    if pairs:
        print("Text pairs (-> via pivot):")
        for s, t, path in pairs:
            via = f"  via {' -> '.join(path[1:-1])}" if len(path) > 2 else ""
            print(f"  {s}->{t}{via}")
    print(f"Knowledge-base languages ({cfg.kb_dir}):")
    print("  " + (", ".join(f"{code} ({n})" for code, n in kb.items()) or "no articles found"))
    print(f"Speech languages (Whisper, {len(speech)}): {' '.join(speech)}")
    print(f"Text detection languages (langdetect, {len(text)}): {' '.join(text)}")
    return 0


def run_install(args: argparse.Namespace) -> int:

    for pack in install_codes(args.codes):
        print(f"installed {pack.pair}")
    return 0


def run_install_file(args: argparse.Namespace) -> int:

    for path in args.files:
        pack = install_file(path)
        print(f"installed {pack.pair} from {path}")
    return 0


def run_remove(args: argparse.Namespace) -> int:

    for code in args.codes:
        for pack in remove_code(code):
            print(f"removed {pack.pair}")
    return 0
