"""`assistant kb build|search|lint|eval`: the knowledge base from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant import config
from assistant.errors import InputError
from assistant.knowledge import search as kb_search
from assistant.knowledge.articles import load_articles
from assistant.knowledge.evaluation import run_eval as evaluate
from assistant.knowledge.index import build_index, ensure_index
from assistant.knowledge.lint import lint
from assistant.knowledge.search import SearchOptions, result_to_json, search_many
from assistant.language.detect import language_name


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("kb", help="knowledge base: build the index, search, lint, evaluate")
    sub = p.add_subparsers(dest="kb_command", metavar="ACTION", required=True)

    b = sub.add_parser("build", help="build or refresh the search index; prints counts")
    _dirs(b)
    b.set_defaults(func=run_build)

    s = sub.add_parser("search", help="search published articles (refreshes a stale index first)")
    s.add_argument("text", nargs="?", help="the query")
    s.add_argument("-k", type=int, default=None, help="how many articles (default: the search_k setting)")
    s.add_argument("--program", help="only articles of this program")
    s.add_argument("--language", help="only articles in this language")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--queries-file", type=Path, help="one query per line; prints one JSON line per query")
    _dirs(s)
    s.set_defaults(func=run_search)

    lint = sub.add_parser("lint", help="check articles; exits 1 when there are errors")
    lint.add_argument("--kb-dir", help="knowledge-base folder (default: the kb_dir setting)")
    lint.add_argument("--no-duplicates", action="store_true", help="skip the near-duplicate check (no model)")
    lint.set_defaults(func=run_lint)

    e = sub.add_parser("eval", help="evaluate retrieval on BANKING77 or CLINC150")
    e.add_argument("--dataset", required=True, choices=["banking77", "clinc150"])
    e.add_argument("--data-dir", type=Path, help="folder with the eval files (default: ../shared/eval)")
    e.add_argument(
        "--threshold", type=float, help="abstention threshold (default: the search_threshold setting)"
    )
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=run_eval)


def _dirs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kb-dir", help="knowledge-base folder (default: the kb_dir setting)")
    p.add_argument("--index-dir", help="index folder (default: the index_dir setting)")


def _config(args: argparse.Namespace):  # noqa: ANN202 - returns assistant.config.Config

    return config.get().replace(kb_dir=args.kb_dir, index_dir=getattr(args, "index_dir", None))


def run_build(args: argparse.Namespace) -> int:

    cfg = _config(args)
    articles, problems = load_articles(cfg.kb_dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    _, report = build_index(articles, cfg.index_dir, kb_search.Embedder())
    note = f" (rebuilt: {report.rebuilt_reason})" if report.rebuilt_reason else ""
    print(
        f"articles {report.articles}  added {report.added}  changed {report.changed}  removed {report.removed}"
        f"  embedded {report.embedded} passages  index {report.index_kind}{' + head' if report.head else ''}{note}"
    )
    if problems:
        print(f"skipped {len(problems)} invalid file(s): run 'assistant kb lint'", file=sys.stderr)
    return 0


def run_search(args: argparse.Namespace) -> int:

    cfg = _config(args)
    if args.queries_file is not None:
        try:
            raw = args.queries_file.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read queries file {args.queries_file} ({exc.strerror})") from None
        try:
            queries = [line.strip() for line in raw.decode("utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError:
            raise InputError(f"queries file {args.queries_file} is not UTF-8 text") from None
    elif args.text is not None:
        queries = [args.text]
    else:
        raise InputError("give a query, or --queries-file FILE")
    if args.k is not None and args.k < 1:
        raise InputError("-k must be at least 1")
    embedder = kb_search.Embedder()
    index, _ = ensure_index(cfg.kb_dir, cfg.index_dir, embedder)
    options = SearchOptions(k=args.k or cfg.search_k, program=args.program, language=args.language)
    if args.queries_file is not None:
        for result in search_many(queries, options, index=index, embedder=embedder) if queries else []:
            print(json.dumps(result_to_json(result), ensure_ascii=False))
        return 0
    result = search_many(queries, options, index=index, embedder=embedder)[0]
    if args.json:
        print(json.dumps(result_to_json(result), ensure_ascii=False, indent=2))
        return 0
    if result.abstained:
        print(f"no approved answer: {result.reason}")
        if result.hits:
            print("closest articles (below threshold):")
    for i, hit in enumerate(result.hits, 1):
        extra = ", ".join(
            f"{k} {v}"
            for k, v in (("owner", hit.owner), ("effective", hit.effective), ("program", hit.program))
            if v
        )
        print(f"{i}. [{hit.score:.2f}] {hit.title} ({hit.article_id}){'  ' + extra if extra else ''}")
        print(f"   matched: {hit.passage[:160]}")
        if hit.translation_of:
            print(f"   {language_name(hit.language)} version of {hit.translation_of}")
        if hit.native_missing:
            print(
                f"   no approved {language_name(result.language)} version: the {language_name(hit.language)} one"
            )
    return 0


def run_lint(args: argparse.Namespace) -> int:

    cfg = _config(args)
    embedder = None
    if not args.no_duplicates:
        embedder = kb_search.Embedder()
    problems = lint(cfg.kb_dir, embedder=embedder)
    errors = [p for p in problems if p.severity == "error"]
    for problem in problems:
        print(problem)
    print(f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)")
    return 1 if errors else 0


def run_eval(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    cfg = config.get()
    data_dir = args.data_dir or config.REPO_ROOT.parent / "shared" / "eval"
    cache = Path(cfg.home) / "cache" / "embeddings"
    report = evaluate(args.dataset, Path(data_dir), kb_search.Embedder(), cache, threshold=args.threshold)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
        return 0
    print(f"dataset            {report.dataset}")
    print(f"articles           {report.articles}")
    print(f"test queries       {report.queries}")
    print(f"top-1              {report.top1:.4f}")
    print(f"top-3              {report.top3:.4f}")
    print(f"threshold          {report.threshold:.3f}")
    print(f"abstained (in)     {report.abstain_rate:.4f}")
    if report.in_scope_accuracy is not None:
        print(f"in-scope accuracy  {report.in_scope_accuracy:.4f}")
        print(f"out-of-scope recall {report.oos_recall:.4f}  ({report.oos_queries} queries)")
        print(f"calibrated on val  {report.calibrated_threshold:.3f}")
    return 0
