"""Build, persist and load the knowledge-base index (FAISS + manifest + cached passage vectors).

The index folder holds `manifest.json` (format version, model, dimension, per-article content hash,
passage keys) and the files it names: `vectors-<build>.npy`, `index-<build>.faiss` and, when trained,
`head-<build>.npz`, and, for an embedder with a multilingual encoder, that encoder's
`ml-vectors-<build>.npy` and `ml-head-<build>.npz`. The data files are written first under a new build id and the manifest last
(temp file + rename), so a killed build leaves the previous index usable. A manifest from another
model, another dimension or a newer format version is discarded and the index rebuilt.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant import config
from assistant.knowledge.articles import Article, load_articles
from assistant.knowledge.search import (
    APPROX_MIN_PASSAGES,
    FORMAT_VERSION,
    HEAD_MIN_QUESTIONS,
    BuildReport,
    Embedder,
    KnowledgeIndex,
    SearchOptions,
    SearchResult,
    _meta,
    atomic_write,
    dumps,
    new_build_id,
    passages,
    published,
    search_many,
    text_key,
)
from assistant.protocols import Embedder as EmbedderProtocol

MANIFEST = "manifest.json"
IVF_NPROBE = 32


def read_manifest(index_dir: Path, embedder: EmbedderProtocol) -> tuple[dict[str, Any] | None, str]:
    """The manifest when usable with `embedder`, else (None, why not)."""
    path = Path(index_dir) / MANIFEST
    if not path.is_file():
        return None, "no index yet"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        version = int(manifest["format_version"])
        model, dim = manifest["model"], int(manifest["dimension"])
    except (ValueError, KeyError, TypeError, OSError):
        return None, "the index manifest is unreadable"
    if version != FORMAT_VERSION:
        return None, f"the index has format version {version}, this program writes {FORMAT_VERSION}"
    if model != embedder.model_name or dim != embedder.dimension:
        return None, f"the index was built with model {model} ({dim} dims)"
    second = getattr(embedder, "multilingual", None)
    if second is not None and manifest.get("ml_model") != second.model_name:
        return None, "the index has no vectors of the multilingual encoder"
    for key in ("vectors", "index", *(("ml_vectors",) if second is not None else ())):
        if not (Path(index_dir) / manifest.get(key, "")).is_file():
            return None, f"the index file {manifest.get(key)} is missing"
    return manifest, ""


def _load_vectors(index_dir: Path, manifest: dict[str, Any], key: str = "vectors") -> dict[str, Any]:
    """Cached passage vectors keyed by text hash (empty when the file is damaged)."""
    import numpy as np

    try:
        matrix = np.load(Path(index_dir) / manifest[key])
    except (OSError, ValueError, KeyError):
        return {}
    keys = manifest["passage_keys"]
    if len(keys) != len(matrix):
        return {}
    return {k: matrix[i] for i, k in enumerate(keys)}


def train_head(vectors: Any, labels: Any, n_classes: int) -> tuple[Any, Any]:
    """Softmax regression over articles on their question vectors (weight [dim, n], bias [n])."""
    import numpy as np
    import torch

    torch.manual_seed(0)
    x = torch.tensor(vectors * 10.0, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.long)
    layer = torch.nn.Linear(x.shape[1], n_classes)
    opt = torch.optim.LBFGS(layer.parameters(), max_iter=100, lr=1, history_size=20)

    def closure() -> Any:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(layer(x), y) + 1e-4 * (layer.weight**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (
            layer.weight.numpy().T.astype(np.float32).copy(),
            layer.bias.numpy().astype(np.float32).copy(),
        )


def wants_head(articles: Sequence[Article]) -> bool:
    """The head pays off only with many sample questions per article (see docs/retrieval.md)."""
    if len(articles) < 2:
        return False
    return statistics.median(len(a.questions) for a in articles) >= HEAD_MIN_QUESTIONS


def make_faiss(vectors: Any, kind: str) -> Any:
    """A FAISS inner-product index over `vectors`: `flat` (exact) or `ivf` (approximate).

    IVF-Flat with sqrt(n) lists and 32 probed lists: bench/retrieval.py measures its recall@5
    against flat (>= 0.99 required). HNSW was tried first; on 500k passages it took minutes to
    build and searched slower than IVF on this 2-core machine.
    """
    import faiss
    import numpy as np

    dim = vectors.shape[1]
    index: Any
    if kind == "ivf":
        nlist = int(min(4096, max(256, np.sqrt(len(vectors)))))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = vectors[rng.choice(len(vectors), min(len(vectors), 50 * nlist), replace=False)]
        index.train(sample)
        index.nprobe = IVF_NPROBE
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(vectors)
    return index


def _embed_cached(
    embedder: EmbedderProtocol, keys: list[str], texts: list[str], cache: dict[str, Any]
) -> tuple[Any, int]:
    """Vectors for `texts` (rows in order), embedding only those not in `cache` (which it fills)."""
    import numpy as np

    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cache}.items())
    if missing:
        new_vectors = embedder.embed([t for _, t in missing])
        cache.update({k: new_vectors[i] for i, (k, _) in enumerate(missing)})
    if not keys:
        return np.zeros((0, embedder.dimension), np.float32), 0
    return np.stack([cache[k] for k in keys]).astype(np.float32), len(missing)


def build_index(
    articles: Sequence[Article], index_dir: str | Path, embedder: EmbedderProtocol
) -> tuple[KnowledgeIndex, BuildReport]:
    """Index the published `articles`, reusing cached vectors; writes the index folder."""
    import faiss
    import numpy as np

    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    arts = sorted(published(articles), key=lambda a: a.id)
    manifest, reason = read_manifest(index_dir, embedder)
    old_hashes: dict[str, str] = manifest["articles"] if manifest else {}
    cache = _load_vectors(index_dir, manifest) if manifest else {}
    second = getattr(embedder, "multilingual", None)
    ml_cache = _load_vectors(index_dir, manifest, "ml_vectors") if manifest and second else {}

    metas = [_meta(a) for a in arts]
    rows: list[tuple[int, str, str]] = []  # (article position, kind, text)
    for i, a in enumerate(arts):
        rows.extend((i, kind, text) for kind, text in passages(a))
    keys = [text_key(t) for _, _, t in rows]
    texts = [t for _, _, t in rows]
    vectors, missing = _embed_cached(embedder, keys, texts, cache)
    ml_vectors = None
    if second is not None:
        ml_vectors, ml_missing = _embed_cached(second, keys, texts, ml_cache)
        missing += ml_missing
    kind = "ivf" if len(vectors) >= APPROX_MIN_PASSAGES else "flat"
    fidx = make_faiss(vectors, kind)
    dim = embedder.dimension
    head = ml_head = None
    if wants_head(arts):
        q_rows = [r for r, (_, k, _) in enumerate(rows) if k in {"question", "title"}]
        labels = np.array([rows[r][0] for r in q_rows])
        head = train_head(vectors[q_rows], labels, len(arts))
        if ml_vectors is not None:
            ml_head = train_head(ml_vectors[q_rows], labels, len(arts))

    build = new_build_id()
    files = {"vectors": f"vectors-{build}.npy", "index": f"index-{build}.faiss"}
    with (index_dir / files["vectors"]).open("wb") as fh:
        np.save(fh, vectors)
    faiss.write_index(fidx, str(index_dir / files["index"]))
    if ml_vectors is not None:
        files["ml_vectors"] = f"ml-vectors-{build}.npy"
        with (index_dir / files["ml_vectors"]).open("wb") as fh:
            np.save(fh, ml_vectors)
    for key, trained in (("head", head), ("ml_head", ml_head)):
        if trained is not None:
            files[key] = f"{key.replace('_', '-')}-{build}.npz"
            with (index_dir / files[key]).open("wb") as fh:
                np.savez(fh, weight=trained[0], bias=trained[1])
    new_manifest = {
        "format_version": FORMAT_VERSION,
        "model": embedder.model_name,
        "dimension": dim,
        "ml_model": second.model_name if second is not None else None,
        "index_kind": kind,
        **files,
        "articles": {m["id"]: m["hash"] for m in metas},
        "article_meta": metas,
        "passage_article": [r[0] for r in rows],
        "passage_keys": keys,
        "passage_text": [r[2] for r in rows],
    }
    atomic_write(index_dir / MANIFEST, dumps(new_manifest))
    keep = set(files.values()) | {MANIFEST}
    for old in index_dir.glob("*-*.*"):
        if old.name not in keep and old.name.split("-")[0] in {"vectors", "index", "head", "ml"}:
            old.unlink(missing_ok=True)

    new_hashes: dict[str, str] = {m["id"]: m["hash"] for m in metas}
    report = BuildReport(
        articles=len(arts),
        added=sum(1 for i in new_hashes if i not in old_hashes),
        changed=sum(1 for i, h in new_hashes.items() if i in old_hashes and old_hashes[i] != h),
        removed=sum(1 for i in old_hashes if i not in new_hashes),
        embedded=missing,
        index_kind=kind,
        head=head is not None,
        rebuilt_reason="" if manifest else reason,
    )
    index = KnowledgeIndex(
        model_name=embedder.model_name,
        dimension=dim,
        articles=metas,
        passage_article=np.array([r[0] for r in rows], dtype=np.int64),
        passage_text=[r[2] for r in rows],
        vectors=vectors,
        faiss_index=fidx,
        index_kind=kind,
        head=head,
        ml_vectors=ml_vectors,
        ml_head=ml_head,
    )
    return index, report


def load_index(index_dir: str | Path, embedder: EmbedderProtocol) -> tuple[KnowledgeIndex | None, str]:
    """The persisted index, or (None, why it cannot be used)."""
    import faiss
    import numpy as np

    index_dir = Path(index_dir)
    manifest, reason = read_manifest(index_dir, embedder)
    if manifest is None:
        return None, reason
    try:
        vectors = np.load(index_dir / manifest["vectors"])
        fidx = faiss.read_index(str(index_dir / manifest["index"]))
        heads: dict[str, Any] = {}
        for key in ("head", "ml_head"):
            if manifest.get(key):
                with np.load(index_dir / manifest[key]) as data:
                    heads[key] = (data["weight"], data["bias"])
        ml_vectors = None
        if manifest.get("ml_vectors") and getattr(embedder, "multilingual", None) is not None:
            ml_vectors = np.load(index_dir / manifest["ml_vectors"])
    except (OSError, ValueError, RuntimeError):
        return None, "the index files are damaged"
    if len(vectors) != len(manifest["passage_keys"]) or fidx.ntotal != len(vectors):
        return None, "the index files do not match the manifest"
    if ml_vectors is not None and len(ml_vectors) != len(vectors):
        return None, "the index files do not match the manifest"
    index = KnowledgeIndex(
        model_name=manifest["model"],
        dimension=int(manifest["dimension"]),
        articles=manifest["article_meta"],
        passage_article=np.array(manifest["passage_article"], dtype=np.int64),
        passage_text=manifest["passage_text"],
        vectors=vectors,
        faiss_index=fidx,
        index_kind=manifest["index_kind"],
        head=heads.get("head"),
        ml_vectors=ml_vectors,
        ml_head=heads.get("ml_head") if ml_vectors is not None else None,
    )
    return index, ""


def is_current(index_dir: str | Path, articles: Sequence[Article], embedder: EmbedderProtocol) -> bool:
    """True when the persisted index matches these articles and this model."""
    manifest, _ = read_manifest(Path(index_dir), embedder)
    if manifest is None:
        return False
    return manifest["articles"] == {a.id: a.content_hash() for a in published(articles)}


def ensure_index(
    kb_dir: str | Path, index_dir: str | Path, embedder: EmbedderProtocol
) -> tuple[KnowledgeIndex, BuildReport | None]:
    """Load the index, building or refreshing it first when missing or stale (report is then set)."""
    articles, _problems = load_articles(kb_dir)
    if is_current(index_dir, articles, embedder):
        index, _ = load_index(index_dir, embedder)
        if index is not None:
            return index, None
    return build_index(articles, index_dir, embedder)


def search(
    text: str,
    k: int | None = None,
    filters: dict[str, str | None] | None = None,
    *,
    index: KnowledgeIndex | None = None,
    embedder: EmbedderProtocol | None = None,
    threshold: float | None = None,
) -> SearchResult:
    """Search the knowledge base; builds or refreshes the index from settings when needed."""

    cfg = config.get()
    if embedder is None:
        embedder = Embedder()
    if index is None:
        index, _ = ensure_index(cfg.kb_dir, cfg.index_dir, embedder)
    filters = filters or {}
    options = SearchOptions(
        k=k or cfg.search_k,
        program=filters.get("program"),
        language=filters.get("language"),
        threshold=threshold,
    )
    return search_many([text], options, index=index, embedder=embedder)[0]
