"""Index building, caching, staleness, search, abstention and lint (fake embedder; a few real MiniLM tests)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from fakes import ARTICLES, FakeEmbedder

from assistant.errors import InputError
from assistant.knowledge.articles import Article, load_articles, write_article
from assistant.knowledge.index import MANIFEST, build_index, ensure_index, load_index, search
from assistant.knowledge.lint import lint
from assistant.knowledge.search import SearchOptions, search_many
from assistant.protocols import Embedder as EmbedderProtocol


def make_kb(tmp_path: Path, articles: Sequence[Article] = ARTICLES) -> Path:
    kb = tmp_path / "kb"
    kb.mkdir(exist_ok=True)
    for a in articles:
        write_article(kb, a)
    return kb


def test_fake_embedder_implements_the_protocol() -> None:
    assert isinstance(FakeEmbedder(), EmbedderProtocol)


def test_build_counts_and_search_ranks_the_right_article(tmp_path: Path) -> None:
    kb, emb = make_kb(tmp_path), FakeEmbedder()
    index, report = build_index(load_articles(kb)[0], tmp_path / "idx", emb)
    assert (report.articles, report.added, report.changed, report.removed) == (3, 3, 0, 0)
    assert report.index_kind == "flat" and not report.head
    result = search_many(["renew my driving licence please"], SearchOptions(k=3), index=index, embedder=emb)[
        0
    ]
    assert not result.abstained
    top = result.hits[0]
    assert top.article_id == "renew-licence" and 0 <= top.score <= 1
    assert top.owner == "dmv" and top.effective == dt.date(2025, 1, 1) and top.program == "licences"
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)


def test_unrelated_query_abstains(tmp_path: Path) -> None:
    kb, emb = make_kb(tmp_path), FakeEmbedder()
    index, _ = build_index(load_articles(kb)[0], tmp_path / "idx", emb)
    result = search_many(["weather forecast tomorrow sunny"], SearchOptions(), index=index, embedder=emb)[0]
    assert result.abstained and "below the threshold" in result.reason


def test_program_filter(tmp_path: Path) -> None:
    kb, emb = make_kb(tmp_path), FakeEmbedder()
    index, _ = build_index(load_articles(kb)[0], tmp_path / "idx", emb)
    result = search_many(["how do i pay"], SearchOptions(program="city"), index=index, embedder=emb)[0]
    assert {h.article_id for h in result.hits} == {"report-pothole"}
    none = search_many(["how do i pay"], SearchOptions(program="nope"), index=index, embedder=emb)[0]
    assert none.abstained and none.hits == () and "filters" in none.reason


def test_rebuild_embeds_only_the_changed_article(tmp_path: Path) -> None:
    kb, emb = make_kb(tmp_path), FakeEmbedder()
    build_index(load_articles(kb)[0], tmp_path / "idx", emb)
    changed = Article(**{**ARTICLES[1].__dict__, "body": "Pay property tax at the town hall.", "path": ""})
    write_article(kb, changed)
    emb2 = FakeEmbedder()
    _, report = build_index(load_articles(kb)[0], tmp_path / "idx", emb2)
    assert (report.added, report.changed, report.removed) == (0, 1, 0)
    assert emb2.seen == ["Pay property tax at the town hall."]
    # A metadata-only change counts as changed but embeds nothing.
    write_article(kb, Article(**{**changed.__dict__, "owner": "treasury"}))
    emb3 = FakeEmbedder()
    _, report = build_index(load_articles(kb)[0], tmp_path / "idx", emb3)
    assert report.changed == 1 and emb3.calls == 0
    # Removing a file is counted; nothing embedded.
    (kb / "report-pothole.md").unlink()
    _, report = build_index(load_articles(kb)[0], tmp_path / "idx", FakeEmbedder())
    assert (report.articles, report.removed, report.embedded) == (2, 1, 0)
    assert len(list((tmp_path / "idx").glob("vectors-*.npy"))) == 1


def test_stale_index_is_refreshed(tmp_path: Path) -> None:
    kb, emb = make_kb(tmp_path), FakeEmbedder()
    _, report = ensure_index(kb, tmp_path / "idx", emb)
    assert report is not None
    _, report = ensure_index(kb, tmp_path / "idx", emb)
    assert report is None  # current: loaded, not rebuilt
    write_article(kb, Article(id="dog-licence", title="Dog licence", questions=("license my dog",)))
    index, report = ensure_index(kb, tmp_path / "idx", emb)
    assert report is not None and report.added == 1
    hit = search_many(["license my dog"], SearchOptions(), index=index, embedder=emb)[0].hits[0]
    assert hit.article_id == "dog-licence"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: {**m, "model": "another-model"},
        lambda m: {**m, "format_version": m["format_version"] + 1},
        lambda m: {**m, "dimension": 3},
    ],
)
def test_index_from_another_model_or_newer_format_is_rebuilt(tmp_path: Path, tamper) -> None:
    kb, emb = make_kb(tmp_path), FakeEmbedder()
    build_index(load_articles(kb)[0], tmp_path / "idx", emb)
    path = tmp_path / "idx" / MANIFEST
    path.write_text(json.dumps(tamper(json.loads(path.read_text()))))
    assert load_index(tmp_path / "idx", emb)[0] is None
    emb2 = FakeEmbedder()
    index, report = ensure_index(kb, tmp_path / "idx", emb2)
    assert report is not None and report.rebuilt_reason and emb2.calls > 0
    assert search_many(["pothole"], SearchOptions(), index=index, embedder=emb2)[0].hits


def test_garbage_manifest_is_rebuilt(tmp_path: Path) -> None:
    kb, emb = make_kb(tmp_path), FakeEmbedder()
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / MANIFEST).write_text("{not json")
    _, report = ensure_index(kb, tmp_path / "idx", emb)
    assert report is not None and report.articles == 3


def test_zero_published_articles_abstains_with_reason(tmp_path: Path) -> None:
    kb = make_kb(tmp_path, [Article(id="draft-only", title="Draft", status="draft", questions=("q",))])
    emb = FakeEmbedder()
    index, report = ensure_index(kb, tmp_path / "idx", emb)
    assert report is not None and report.articles == 0
    result = search_many(["anything"], SearchOptions(), index=index, embedder=emb)[0]
    assert result.abstained and result.hits == () and "no published articles" in result.reason


def test_drafts_and_retired_are_not_searchable(tmp_path: Path) -> None:
    kb = make_kb(tmp_path, [*ARTICLES, Article(id="old", title="Old pothole rules", status="retired")])
    emb = FakeEmbedder()
    index, _ = ensure_index(kb, tmp_path / "idx", emb)
    hits = search_many(["old pothole rules"], SearchOptions(k=5), index=index, embedder=emb)[0].hits
    assert "old" not in {h.article_id for h in hits}


@pytest.mark.parametrize("query", ["", "   \n\t"])
def test_empty_query_is_input_error(tmp_path: Path, query: str) -> None:
    kb, emb = make_kb(tmp_path), FakeEmbedder()
    index, _ = ensure_index(kb, tmp_path / "idx", emb)
    with pytest.raises(InputError):
        search(query, index=index, embedder=emb)


def test_very_long_query_is_shortened_not_rejected(tmp_path: Path) -> None:
    kb, emb = make_kb(tmp_path), FakeEmbedder()
    index, _ = ensure_index(kb, tmp_path / "idx", emb)
    result = search("pothole " * 1250, index=index, embedder=emb)  # 10,000 characters
    assert len(result.query) <= 2000 and result.hits[0].article_id == "report-pothole"


def test_search_reads_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant import config

    kb = make_kb(tmp_path)
    monkeypatch.setenv("ASSISTANT_KB_DIR", str(kb))
    monkeypatch.setenv("ASSISTANT_SEARCH_K", "2")
    config.reset()
    result = search("report road damage pothole", embedder=FakeEmbedder())
    assert len(result.hits) == 2 and result.hits[0].article_id == "report-pothole"


def test_head_is_trained_with_many_questions(tmp_path: Path) -> None:
    words = {"alpha": "river boat fish", "beta": "mountain snow ski"}
    arts = [
        Article(id=k, title=k, questions=tuple(f"{v} question {i} {k}" for i in range(12)))
        for k, v in words.items()
    ]
    emb = FakeEmbedder()
    index, report = build_index(arts, tmp_path / "idx", emb)
    assert report.head
    assert (
        search_many(["ski on snow"], SearchOptions(), index=index, embedder=emb)[0].hits[0].article_id
        == "beta"
    )
    loaded, _ = load_index(tmp_path / "idx", emb)
    assert loaded is not None and loaded.head is not None


def test_lint_finds_errors_and_warnings(tmp_path: Path) -> None:
    kb = make_kb(tmp_path)
    (kb / "broken.md").write_text("---\nid: broken\n---\n")
    write_article(
        kb,
        Article(
            id="hard",
            title="Hard",
            body="Notwithstanding aforementioned jurisdictional considerations, applicants necessitating "
            "supplementary documentation must substantiate eligibility determinations comprehensively.",
            review_by=dt.date(2020, 1, 1),
        ),
    )
    write_article(kb, Article(**{**ARTICLES[2].__dict__, "id": "report-pothole-copy", "path": ""}))
    problems = lint(kb, embedder=FakeEmbedder(), today=dt.date(2026, 1, 1))
    kinds = {(p.article_id, p.field, p.severity) for p in problems}
    assert (None, "title", "error") in kinds
    assert ("hard", "review_by", "warning") in kinds
    assert ("hard", "body", "warning") in kinds  # reading grade
    assert ("hard", "questions", "warning") in kinds
    assert any("near-duplicate" in p.message for p in problems)


@pytest.fixture(scope="module")
def minilm():
    from assistant.knowledge.search import Embedder

    return Embedder()


@pytest.mark.models
def test_minilm_paraphrase_first_and_unrelated_abstains(tmp_path: Path, minilm) -> None:
    kb = make_kb(tmp_path)
    index, _ = ensure_index(kb, tmp_path / "idx", minilm)
    results = search_many(
        ["my driver's license ran out, how can I get a new one?", "what is the capital of France"],
        SearchOptions(),
        index=index,
        embedder=minilm,
    )
    assert results[0].hits[0].article_id == "renew-licence" and not results[0].abstained
    assert results[1].abstained


def test_ivf_index_agrees_with_flat() -> None:
    from assistant.knowledge.index import make_faiss

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    flat, ivf = make_faiss(vectors, "flat"), make_faiss(vectors, "ivf")
    _, exact = flat.search(vectors[:50], 1)
    _, approx = ivf.search(vectors[:50], 1)
    assert (exact[:, 0] == np.arange(50)).all() and (approx[:, 0] == np.arange(50)).all()


def test_large_knowledge_base_uses_the_approximate_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("assistant.knowledge.index.APPROX_MIN_PASSAGES", 300)
    arts = [
        Article(id=f"a{i}", title=f"topic{i} word{i}", questions=(f"question about topic{i}",))
        for i in range(200)
    ]
    emb = FakeEmbedder()
    index, report = build_index(arts, tmp_path / "idx", emb)
    assert report.index_kind == "ivf"
    hit = search_many(["question about topic17"], SearchOptions(), index=index, embedder=emb)[0].hits[0]
    assert hit.article_id == "a17"
    loaded, _ = load_index(tmp_path / "idx", emb)
    assert loaded is not None and loaded.index_kind == "ivf"


# -- callers in their own language (issue 32) --------------------------------------------------


class GlossingEncoder(FakeEmbedder):
    """A fake multilingual encoder: a few Spanish words land where their English ones do."""

    model_name = "fake-multilingual"
    WORDS = {"renovar": "renew", "licencia": "licence", "conducir": "driving", "bache": "pothole"}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return super().embed([" ".join(self.WORDS.get(w, w) for w in t.lower().split()) for t in texts])


class BilingualEmbedder(FakeEmbedder):
    """The English fake with a multilingual encoder beside it, as the real `Embedder` has."""

    def __init__(self) -> None:
        super().__init__()
        self.multilingual = GlossingEncoder()


SPANISH_LICENCE = Article(
    id="renew-licence-es",
    title="Renovar la licencia de conducir",
    body="Renueve su licencia en línea con el formulario DL-1.",
    questions=("como puedo renovar mi licencia de conducir",),
    language="es",
    translation_of="renew-licence",
    program="licences",
)
SPANISH_QUERY = "¿Cómo puedo renovar mi licencia de conducir que ya venció el mes pasado?"


def test_route_sends_english_to_the_english_embedder_and_other_languages_to_the_multilingual_one() -> None:
    from assistant.knowledge import encoder

    english = encoder.route("How do I renew my driving licence online this year?")
    assert (english.language, english.english, english.multilingual) == ("en", True, False)
    spanish = encoder.route(SPANISH_QUERY)
    assert (spanish.language, spanish.english, spanish.multilingual) == ("es", False, True)
    assert encoder.route("ok", "fr") == encoder.Route("fr", False, True)  # a call's language: no detection
    unsure = encoder.route("EBT")
    assert unsure.english and unsure.multilingual


def test_spanish_query_finds_the_english_article_and_says_no_spanish_version_exists(tmp_path: Path) -> None:
    from assistant import config
    from assistant.knowledge import encoder

    emb = BilingualEmbedder()
    index, _ = build_index(load_articles(make_kb(tmp_path))[0], tmp_path / "idx", emb)
    assert index.ml_vectors is not None and emb.multilingual.calls > 0
    result = search_many([SPANISH_QUERY], SearchOptions(k=3), index=index, embedder=emb)[0]
    assert (result.language, result.encoder) == ("es", "multilingual")
    assert result.threshold == encoder.threshold_for("es")
    top = result.hits[0]
    assert top.article_id == "renew-licence" and top.native_missing and top.language == "en"
    english = search_many(["how do i renew my driving licence"], SearchOptions(), index=index, embedder=emb)[
        0
    ]
    assert english.encoder == "english" and english.threshold == config.get().search_threshold
    assert english.hits[0].article_id == "renew-licence" and not english.hits[0].native_missing


def test_the_native_version_is_the_suggestion_with_the_original_linked(tmp_path: Path) -> None:
    emb = BilingualEmbedder()
    kb = make_kb(tmp_path, [*ARTICLES, SPANISH_LICENCE])
    index, _ = build_index(load_articles(kb)[0], tmp_path / "idx", emb)
    result = search_many([SPANISH_QUERY], SearchOptions(k=3), index=index, embedder=emb)[0]
    ids = [h.article_id for h in result.hits]
    assert ids[0] == "renew-licence-es" and "renew-licence" not in ids  # one entry per article family
    assert result.hits[0].translation_of == "renew-licence" and not result.hits[0].native_missing
    # An English caller who matches the Spanish version's words gets the English original.
    english = search_many(["renew licence driving form"], SearchOptions(k=3), index=index, embedder=emb)[0]
    assert english.hits[0].article_id == "renew-licence"


def test_an_index_without_multilingual_vectors_is_rebuilt_for_a_multilingual_embedder(tmp_path: Path) -> None:
    kb = make_kb(tmp_path)
    build_index(load_articles(kb)[0], tmp_path / "idx", FakeEmbedder())
    index, report = ensure_index(kb, tmp_path / "idx", BilingualEmbedder())
    assert report is not None and "multilingual" in report.rebuilt_reason
    assert index.ml_vectors is not None
    again, report = ensure_index(kb, tmp_path / "idx", BilingualEmbedder())
    assert (
        report is None and again.ml_vectors is not None and again.ml_vectors.shape == index.ml_vectors.shape
    )


@pytest.mark.models
def test_real_encoder_answers_spanish_callers_from_the_sample_knowledge_base(tmp_path: Path) -> None:
    from assistant.knowledge.search import Embedder

    repo_kb = Path(__file__).resolve().parent.parent / "knowledge_base"
    emb = Embedder()
    index, _ = build_index(load_articles(repo_kb)[0], tmp_path / "idx", emb)
    questions = [
        "Se me perdió la tarjeta EBT de la comida, ¿cómo pido otra?",
        "Necesito renovar mi licencia de manejar porque ya está vencida.",
        "¿Cuál es la receta de la paella valenciana?",
    ]
    native, english, unrelated = search_many(questions, SearchOptions(k=3), index=index, embedder=emb)
    # Ranking only: real Spanish paraphrases are still sometimes refused (docs/retrieval.md);
    # abstention is checked on the unrelated question.
    assert native.encoder == "multilingual"
    assert native.hits[0].article_id == "snap-ebt-card-replace-es"
    assert native.hits[0].translation_of == "snap-ebt-card-replace"
    assert english.hits[0].article_id == "dl-renew" and english.hits[0].native_missing
    assert unrelated.abstained


def test_search_caller_takes_the_better_supported_of_the_callers_words_and_the_english(
    tmp_path: Path,
) -> None:
    from assistant.knowledge.search import search_caller

    emb = BilingualEmbedder()
    kb = make_kb(tmp_path, [*ARTICLES, SPANISH_LICENCE])
    index, _ = build_index(load_articles(kb)[0], tmp_path / "idx", emb)
    options = SearchOptions(k=3)
    # The translation carries the need: it wins, and the answer is the caller's-language version.
    by_english = search_caller(
        "pues mire usted señorita",
        "how do i renew my driving licence",
        "es",
        options,
        index=index,
        embedder=emb,
    )
    assert by_english.language == "en" and by_english.hits[0].article_id == "renew-licence-es"
    # The caller's own words carry it (a poor translation): they win.
    by_own = search_caller(SPANISH_QUERY, "the thing of the paper", "es", options, index=index, embedder=emb)
    assert by_own.language == "es" and by_own.hits[0].article_id == "renew-licence-es"
    assert not by_own.abstained
