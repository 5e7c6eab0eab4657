"""Figures for the privacy gate (assistant/privacy/gate.py).

1. The redaction fixture (tests/fixtures/redaction_cases.jsonl) through the gate: card/SSN misses,
   other misses, false positives (the same scoring as tests/test_redaction.py).
2. False positives on ordinary questions: how many BANKING77 (train + test) and CLINC150 (every
   split, out-of-scope included) queries the gate changes at all. None of them holds personal data,
   so every change is a false positive. Printed for the gate alone (no capture window: these are
   single questions) and for the English core (`redaction.redact`) for comparison, with examples.

Run: .venv/bin/python bench/privacy.py [--eval ../shared/eval] [--examples 15]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def queries(eval_dir: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for split in ("train", "test"):
        with (eval_dir / f"banking77_{split}.csv").open(encoding="utf-8") as fh:
            out[f"banking77_{split}"] = [row["text"] for row in csv.DictReader(fh)]
    clinc = json.loads((eval_dir / "clinc150_full.json").read_text(encoding="utf-8"))
    out["clinc150"] = [text for split in clinc.values() for text, _ in split]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", default=str(REPO.parent / "shared" / "eval"), help="the eval data folder")
    parser.add_argument("--examples", type=int, default=15, help="changed queries to print")
    args = parser.parse_args()

    from test_redaction import CASES, _score

    from assistant.privacy.gate import gate
    from assistant.privacy.redaction import redact_text

    hard, other, fps = _score()
    print(
        f"redaction fixture: {len(CASES)} cases; card/SSN misses {len(hard)}, other misses {len(other)}, "
        f"false positives {len(fps)}"
    )
    for line in hard + other + fps:
        print("   ", line)

    total = changed_gate = changed_core = 0
    examples: list[str] = []
    started = time.perf_counter()
    for name, texts in queries(Path(args.eval)).items():
        n_gate = n_core = 0
        for text in texts:
            gated = gate(text)
            if gated != text:
                n_gate += 1
                if len(examples) < args.examples:
                    examples.append(f"{text!r} -> {gated!r}")
            n_core += redact_text(text) != text
        print(f"{name}: {len(texts)} queries; changed by the gate {n_gate}, by the English core {n_core}")
        total += len(texts)
        changed_gate += n_gate
        changed_core += n_core
    seconds = time.perf_counter() - started
    print(
        f"BANKING77+CLINC150: {total} queries; false positives: gate {changed_gate} "
        f"({100 * changed_gate / total:.2f}%), English core {changed_core}; {seconds:.1f} s"
    )
    for line in examples:
        print("   ", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
