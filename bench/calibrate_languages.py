"""Per-language abstention thresholds for the multilingual route, from the knowledge base's own
sample questions (never an eval set's rows).

Run: .venv/bin/python bench/calibrate_languages.py [--kb-dir knowledge_base]

Each sample question is searched twice, with the index rebuilt from the article vectors without:
- in scope: that one question's passage (its article keeps its title, other questions and body);
- in scope across languages (a question of a translated article): its own article, so only the
  original in another language can answer;
- out of scope: its whole article family (the article and every version of it).
For each language and route, the table's threshold is the one that maximises (in-scope answered
right + out-of-scope refused) / 2 on these questions (printed for comparison; not used). The
thresholds in encoder.py come from the last lines: CLINC150 `oos_val` refused as often as on the
English route (run with --clinc PATH; --oos-only skips the slow table). It also prints the unrelated-text
similarity (the median of the best wrong article's top-3 mean), which sets the "none of these"
anchor of each encoder when an article has few sample questions.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.knowledge.articles import load_articles  # noqa: E402
from assistant.knowledge.index import make_faiss  # noqa: E402
from assistant.knowledge.search import (  # noqa: E402
    ANCHOR,
    Embedder,
    KnowledgeIndex,
    SearchOptions,
    _meta,
    passages,
    published,
)
from assistant.language.detect import detect  # noqa: E402

GRID = np.round(np.arange(0.20, 0.80, 0.005), 3)


def sub_index(full: KnowledgeIndex, keep_rows: np.ndarray, keep_articles: np.ndarray) -> KnowledgeIndex:
    remap = -np.ones(len(full.articles), dtype=np.int64)
    remap[keep_articles] = np.arange(len(keep_articles))
    rows = keep_rows[remap[full.passage_article[keep_rows]] >= 0]
    vectors = full.vectors[rows]
    assert full.ml_vectors is not None
    return KnowledgeIndex(
        model_name=full.model_name,
        dimension=full.dimension,
        articles=[full.articles[i] for i in keep_articles],
        passage_article=remap[full.passage_article[rows]],
        passage_text=[full.passage_text[r] for r in rows],
        vectors=vectors,
        faiss_index=make_faiss(vectors, "flat"),
        ml_vectors=full.ml_vectors[rows],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-dir", default="knowledge_base")
    parser.add_argument("--clinc", default="../shared/eval/clinc150_full.json", help="CLINC150 data_full")
    parser.add_argument("--oos-only", action="store_true", help="only the CLINC150 oos_val rule")
    args = parser.parse_args()
    arts = sorted(published(load_articles(args.kb_dir)[0]), key=lambda a: a.id)
    embedder = Embedder()
    rows = [(i, kind, text) for i, a in enumerate(arts) for kind, text in passages(a)]
    texts = [t for _, _, t in rows]
    full = KnowledgeIndex(
        model_name=embedder.model_name,
        dimension=embedder.dimension,
        articles=[_meta(a) for a in arts],
        passage_article=np.array([r[0] for r in rows], dtype=np.int64),
        passage_text=texts,
        vectors=(vectors := embedder.embed(texts)),
        faiss_index=make_faiss(vectors, "flat"),
        ml_vectors=embedder.multilingual.embed(texts),
    )
    family = [a.translation_of or a.id for a in arts]
    all_rows = np.arange(len(rows))
    options = SearchOptions(k=3)
    # (language, route) -> lists of (score, right) in scope and scores out of scope
    ins: dict[tuple[str, str], list[tuple[float, bool]]] = collections.defaultdict(list)
    oos: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    unrelated: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    for r, (pos, kind, text) in enumerate(rows):
        if kind != "question" or args.oos_only:
            continue
        lang = arts[pos].language
        detected = detect(text).language
        fam = family[pos]
        others = np.array([i for i in range(len(arts)) if family[i] != fam])
        without_q = sub_index(full, all_rows[all_rows != r], np.arange(len(arts)))
        without_f = sub_index(full, all_rows, others)
        in_scope = [without_q]
        if arts[pos].translation_of:
            in_scope.append(sub_index(full, all_rows, np.array([i for i in range(len(arts)) if i != pos])))
        for route, vec in (("english", full.vectors[r]), ("multilingual", full.ml_vectors[r])):
            multi = route == "multilingual"
            for idx in in_scope:
                got = idx.search_vector(text, vec, options, 0.0, multilingual=multi, language=detected)
                right = bool(got.hits) and family[[a.id for a in arts].index(got.hits[0].article_id)] == fam
                ins[lang, route].append((got.hits[0].score, right))
            out = without_f.search_vector(text, vec, options, 0.0, multilingual=multi, language=detected)
            oos[lang, route].append(out.hits[0].score)
            m = full.ml_vectors if multi else full.vectors
            sims = [float(np.sort(m[full.passage_article == o] @ vec)[::-1][:3].mean()) for o in others]
            unrelated[lang, route].append(max(sims))

    if args.oos_only:
        ins.clear()
    base = statistics.median(unrelated["en", "english"]) if ins else ANCHOR
    print(f"unrelated-text similarity of the English route on English questions: {base:.3f}")
    print("anchor per language and route: ANCHOR + (its unrelated similarity - that)")
    print(f"{'language':>8} {'route':>12} {'questions':>9} {'top-1':>6} {'threshold':>9} "
          f"{'right&kept':>10} {'oos refused':>11} {'unrelated sim':>13} {'anchor':>6}")  # fmt: skip
    for key in sorted(ins):
        scores = np.array([s for s, _ in ins[key]])
        right = np.array([ok for _, ok in ins[key]])
        out = np.array(oos[key])
        balanced = [((right & (scores >= t)).mean() + (out < t).mean()) / 2 for t in GRID]
        best = float(GRID[int(np.argmax(balanced))])
        print(
            f"{key[0]:>8} {key[1]:>12} {len(scores):>9} {right.mean():>6.3f} {best:>9.3f} "
            f"{(right & (scores >= best)).mean():>10.3f} {(out < best).mean():>11.3f} "
            f"{statistics.median(unrelated[key]):>13.3f} "
            f"{ANCHOR + statistics.median(unrelated[key]) - base:>6.3f}"
        )

    # The rule used for the thresholds in encoder.py: out-of-scope questions are refused as often
    # on the multilingual route as on the English route at its `search_threshold` (itself set to
    # refuse 85 % of CLINC150 `oos_val` on CLINC150's articles). The out-of-scope questions are
    # CLINC150 `oos_val` searched on this knowledge base; the multilingual route uses each
    # language's anchor. The leave-one-family-out questions above are same-domain near misses,
    # which ask for far higher thresholds than real out-of-scope questions do.
    import json

    from assistant import config

    oos_val = [q for q, _ in json.loads(Path(args.clinc).read_text())["oos_val"]]
    en_vecs, ml_vecs = embedder.embed(oos_val), embedder.multilingual.embed(oos_val)
    setting = float(config.get().search_threshold)
    en_scores = [
        full.search_vector(q, v, options, 0.0).hits[0].score for q, v in zip(oos_val, en_vecs, strict=True)
    ]
    refused = float(np.mean(np.array(en_scores) < setting))
    print(f"English route refuses {refused:.3f} of CLINC150 oos_val here at search_threshold {setting}")
    for lang in ("en", "es"):
        scores = [full.search_vector(q, v, options, 0.0, multilingual=True, language=lang).hits[0].score
                  for q, v in zip(oos_val, ml_vecs, strict=True)]  # fmt: skip
        print(
            f"multilingual route, {lang} anchor: same refusal at threshold {np.quantile(scores, refused):.3f}"
        )


if __name__ == "__main__":
    main()
