"""Knowledge-base articles: parse, validate, render and write Markdown files with YAML front matter.

One article per file under the knowledge-base folder (subfolders allowed):

    ---
    id: renew-licence
    title: How to renew a driving licence
    say: You can renew online in about ten minutes.
    questions: [How do I renew my licence?]
    program: licences
    effective: 2025-01-01
    review_by: 2026-01-01
    ---
    The answer body, in plain Markdown.

`load_articles` never stops at a bad file: each invalid file becomes a `Problem` naming its path and
field, and the other articles still load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.errors import InputError, surrogate_at
from assistant.privacy.gate import personal_data_found
from assistant.vocab import ARTICLE_STATUSES

STATUSES = ARTICLE_STATUSES
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]+)?$")
# Order in which `render_article` writes fields, so a round trip produces a stable, reviewable diff.
FIELD_ORDER = (
    "id",
    "title",
    "say",
    "questions",
    "program",
    "language",
    "owner",
    "effective",
    "review_by",
    "tags",
    "status",
    "translation_of",
)
KNOWN_FIELDS = frozenset(FIELD_ORDER)


@dataclass(frozen=True)
class Article:
    """One knowledge-base article.

    Attributes:
        id: unique identifier, lower-case letters, digits and dashes.
        title: one-line title.
        body: the answer, Markdown.
        questions: ways callers ask for this answer.
        program: the program it belongs to (used as a search filter), or None.
        language: ISO 639-1 code of the text.
        owner: who keeps the answer correct.
        effective: the date from which the answer applies.
        review_by: the date by which the owner must review it.
        tags: free labels.
        status: `published` (searchable), `draft` or `retired`.
        translation_of: id of the article this one translates, or None.
        say: one short line an agent can read out first (else the body's first sentence is used).
        path: the file, relative to the knowledge-base folder ('' for an unsaved article).
    """

    id: str
    title: str
    body: str = ""
    questions: tuple[str, ...] = ()
    program: str | None = None
    language: str = "en"
    owner: str | None = None
    effective: dt.date | None = None
    review_by: dt.date | None = None
    tags: tuple[str, ...] = ()
    status: str = "published"
    translation_of: str | None = None
    say: str | None = None
    path: str = field(default="", compare=False)

    @property
    def published(self) -> bool:
        return self.status == "published"

    def content_hash(self) -> str:
        """SHA-256 of everything that describes the article (not its path)."""
        return hashlib.sha256(render_article(self).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Problem:
    """Something wrong with a knowledge-base file.

    Attributes:
        path: the file (as given to `load_articles`, joined with its relative path).
        field: the front-matter field at fault, or '' for the whole file.
        message: one line a knowledge manager can act on.
        severity: `error` (the article is not loaded) or `warning`.
        article_id: the article's id when known.
    """

    path: str
    field: str
    message: str
    severity: str = "error"
    article_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}: {self.field}: " if self.field else f"{self.path}: "
        return f"{self.severity}: {where}{self.message}"


class ArticleError(InputError):
    """An article that fails validation; `field` names the offending front-matter field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}" if field_name else message)
        self.field = field_name
        self.detail = message


def _split_front_matter(text: str) -> tuple[str, str]:
    text = text.lstrip("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise ArticleError("", "no YAML front matter (the file must start with a '---' line)")
    for i in range(1, len(lines)):
        if lines[i].strip() in {"---", "..."}:
            return "".join(lines[1:i]), "".join(lines[i + 1 :])
    raise ArticleError("", "front matter is not closed by a '---' line")


def _as_date(name: str, value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ArticleError(name, f"{value!r} is not a date (use YYYY-MM-DD)")


def _as_text(name: str, value: Any, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ArticleError(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ArticleError(name, f"must be text, not {type(value).__name__}")
    _no_surrogate(name, str(value))
    return str(value).strip()


def _no_surrogate(name: str, text: str) -> None:
    """Text that cannot be encoded as UTF-8 (a lone surrogate) is refused before it reaches a file."""
    at = surrogate_at(text)
    if at is not None:
        raise ArticleError(name, f"contains an invalid character (a lone surrogate at position {at})")


def _no_personal_data(meta: dict[Any, Any], body: str) -> None:
    """Articles are served to agents as written, so they pass the privacy gate: a card number,
    SSN, security code, expiry date, bank account or routing number in any text field is refused."""
    fields = [(name, meta.get(name)) for name in ("title", "say", "program", "owner")]
    fields += [(name, item) for name in ("questions", "tags") for item in (meta.get(name) or [])]
    fields.append(("body", body))
    for name, value in fields:
        if isinstance(value, str | int) and not isinstance(value, bool):
            found = personal_data_found(str(value))
            if found:
                raise ArticleError(
                    name,
                    f"holds {found}; articles are shown to agents as written, so they may not hold card"
                    " numbers, security codes, SSNs or bank account numbers (replace it with a placeholder"
                    " such as [CARD], or write the example without digits)",
                )


def _as_list(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ArticleError(name, f"must be a list, not {type(value).__name__}")
    items = []
    for item in value:
        text = _as_text(name, item)
        if text:
            items.append(text)
    return tuple(items)


def article_from_mapping(meta: Any, body: str = "", path: str = "") -> Article:
    """Build and validate an `Article` from front-matter fields; raises `ArticleError`."""
    if not isinstance(meta, dict):
        raise ArticleError("", f"front matter must be a mapping of fields, not {type(meta).__name__}")
    unknown = sorted(str(k) for k in meta if k not in KNOWN_FIELDS)
    if unknown:
        raise ArticleError(unknown[0], "unknown field (known: " + ", ".join(FIELD_ORDER) + ")")
    article_id = _as_text("id", meta.get("id"), required=True)
    assert article_id is not None
    if not ID_PATTERN.match(article_id):
        raise ArticleError("id", f"{article_id!r} must use only a-z, 0-9 and single dashes")
    title = _as_text("title", meta.get("title"), required=True)
    assert title is not None
    status = _as_text("status", meta.get("status")) or "published"
    if status not in STATUSES:
        raise ArticleError("status", f"{status!r} is not one of {', '.join(STATUSES)}")
    language = _as_text("language", meta.get("language")) or "en"
    if not LANGUAGE_PATTERN.match(language):
        raise ArticleError("language", f"{language!r} is not a language code such as en or es")
    translation_of = _as_text("translation_of", meta.get("translation_of"))
    if translation_of is not None and not ID_PATTERN.match(translation_of):
        raise ArticleError("translation_of", f"{translation_of!r} is not an article id")
    if translation_of == article_id:
        raise ArticleError("translation_of", "an article cannot be a translation of itself")
    effective = _as_date("effective", meta.get("effective"))
    _no_surrogate("body", body)
    review_by = _as_date("review_by", meta.get("review_by"))
    if effective and review_by and review_by < effective:
        raise ArticleError("review_by", f"{review_by} is before effective {effective}")
    say = _as_text("say", meta.get("say"))
    if say is not None and (len(say) > SAY_MAX_CHARS or "\n" in say):
        raise ArticleError("say", f"must be one short line (at most {SAY_MAX_CHARS} characters)")
    _no_personal_data(meta, body)
    return Article(
        id=article_id,
        title=title,
        body=body.strip("\n"),
        questions=_as_list("questions", meta.get("questions")),
        program=_as_text("program", meta.get("program")),
        language=language,
        owner=_as_text("owner", meta.get("owner")),
        effective=effective,
        review_by=review_by,
        tags=_as_list("tags", meta.get("tags")),
        status=status,
        translation_of=translation_of,
        say=say,
        path=path,
    )


_LOADER: Any = None


def _loader() -> Any:
    """A SafeLoader that leaves dates as text, so `_as_date` reports a bad one against its field."""
    global _LOADER
    if _LOADER is None:
        import yaml

        class DateAsText(yaml.SafeLoader):
            pass

        DateAsText.yaml_implicit_resolvers = {
            ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }
        _LOADER = DateAsText
    return _LOADER


def parse_article(text: str, path: str = "") -> Article:
    """Parse the text of one article file; raises `ArticleError` naming the field at fault."""
    import yaml

    front, body = _split_front_matter(text)
    try:
        meta = yaml.load(front, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise ArticleError("", f"front matter is not valid YAML{where}") from None
    return article_from_mapping(meta, body, path)


def validate_article(article: Article) -> Article:
    """Check an `Article` built in code (e.g. by the console) by the same rules as a file."""
    return article_from_mapping(_to_mapping(article), article.body, article.path)


def _to_mapping(article: Article) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": article.id,
        "title": article.title,
        "say": article.say,
        "questions": list(article.questions) or None,
        "program": article.program,
        "language": article.language if article.language != "en" else None,
        "owner": article.owner,
        "effective": article.effective,
        "review_by": article.review_by,
        "tags": list(article.tags) or None,
        "status": article.status if article.status != "published" else None,
        "translation_of": article.translation_of,
    }
    return {k: values[k] for k in FIELD_ORDER if values[k] is not None}


def article_to_mapping(article: Article) -> dict[str, Any]:
    """The article's front-matter fields as its file holds them (`article_from_mapping` reads them back)."""
    return _to_mapping(article)


SAY_MAX_CHARS = 200
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def say_line(article: Article | None = None, body: str | None = None) -> str | None:
    """The short line to read out: the article's `say`, else the first sentence of its answer
    (headings skipped, list markers dropped), cut at `SAY_MAX_CHARS`."""
    if article is not None and article.say:
        return article.say
    text = body if body is not None else (article.body if article is not None else "")
    for raw in (text or "").splitlines():
        if raw.lstrip().startswith("#"):
            continue  # a heading is not a line to say
        line = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s*", "", raw).strip()
        if line:
            first = _SENTENCE_END.split(line, maxsplit=1)[0].strip()
            return first if len(first) <= SAY_MAX_CHARS else first[: SAY_MAX_CHARS - 3].rstrip() + "..."
    return None


def render_article(article: Article) -> str:
    """The file text for an article: front matter in a fixed field order, then the body."""
    import yaml

    front = yaml.safe_dump(_to_mapping(article), sort_keys=False, allow_unicode=True, width=1000)
    body = article.body.strip("\n")
    return f"---\n{front}---\n{body}\n" if body else f"---\n{front}---\n"


def read_article(path: Path, kb_dir: Path | None = None) -> Article:
    """Read and parse one file; undecodable or unreadable files raise `ArticleError`."""
    rel = str(path.relative_to(kb_dir)) if kb_dir is not None else str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ArticleError("", f"cannot read file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArticleError("", f"not UTF-8 text (bad byte at offset {exc.start})") from None
    return parse_article(text, rel)


def article_files(kb_dir: Path) -> list[Path]:
    """Every Markdown file under `kb_dir`, sorted, skipping hidden files/folders and README files."""
    files = []
    for path in sorted(Path(kb_dir).rglob("*.md")):
        rel = path.relative_to(kb_dir)
        if any(part.startswith(".") for part in rel.parts) or path.name.lower() == "readme.md":
            continue
        if path.is_file():
            files.append(path)
    return files


def load_articles(kb_dir: str | Path) -> tuple[list[Article], list[Problem]]:
    """All valid articles under `kb_dir` (any status) and the problems of the files that are not.

    A file with a duplicate id is a problem; the first file (in path order) keeps the id.
    """
    kb = Path(kb_dir)
    if not kb.is_dir():
        raise InputError(f"knowledge-base folder {kb} does not exist")
    articles: list[Article] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for path in article_files(kb):
        rel = str(path.relative_to(kb))
        try:
            article = read_article(path, kb)
        except ArticleError as exc:
            problems.append(Problem(str(path), exc.field, exc.detail))
            continue
        if article.id in seen:
            problems.append(
                Problem(
                    str(path),
                    "id",
                    f"duplicate id {article.id!r} (also in {seen[article.id]})",
                    "error",
                    article.id,
                )
            )
            continue
        seen[article.id] = rel
        articles.append(article)
    return articles, problems


def write_article(kb_dir: str | Path, article: Article) -> Path:
    """Validate `article` and write it atomically (temp file + rename); returns the file path.

    The file is `article.path` when set, else `<id>.md`. Refuses an id that another file already uses.
    """
    kb = Path(kb_dir)
    article = validate_article(article)
    rel = article.path or f"{article.id}.md"
    target = (kb / rel).resolve()
    if kb.resolve() not in target.parents or target.suffix != ".md":
        raise ArticleError("", f"article path {rel!r} must be a .md file inside the knowledge base")
    if kb.is_dir():
        existing, _ = load_articles(kb)
        for other in existing:
            if other.id == article.id and (kb / other.path).resolve() != target:
                raise ArticleError("id", f"{article.id!r} is already used by {other.path}")
    target.parent.mkdir(parents=True, exist_ok=True)
    text = render_article(article)
    # Round-trip check: what we write must read back as the same article.
    if parse_article(text, rel) != replace(article, path=rel):
        raise ArticleError("", "article does not survive a write/read round trip")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target
