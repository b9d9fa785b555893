"""The HTTP routes: ``v1`` (authenticated, per tenant) and ``meta`` (health, metrics, docs).

A thin shell: parse and check the request, call ``cleaner.clean`` and the tenant's
``StoryIndex``, format the answer. No cleaning or dedup logic lives here.
"""

from __future__ import annotations

import hmac
import io
import ipaddress
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, cast

from flask import Blueprint, Flask, Request, Response, current_app, g, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge
from werkzeug.routing import BaseConverter
from werkzeug.utils import cached_property
from werkzeug.wsgi import get_input_stream

from cleaner import clean
from cleaner.errors import ArticleExistsError, CleanerError
from cleaner.stories import IndexedArticle
from cleaner.stories.rule import story_date

from . import audit, metrics
from .config import DEFAULT_STORIES_PAGE, MAX_ARTICLE_ID_CHARS, MAX_STORIES_OFFSET, MAX_STORIES_PAGE
from .errors import ApiError, cleaner_error_to_api, not_found, validation_error
from .index import indexes

v1 = Blueprint("v1", __name__, url_prefix="/v1")
meta = Blueprint("meta", __name__)

#: Client article ids: URL-safe, so ``/v1/articles/{id}`` needs no escaping. The pattern is
#: also the OpenAPI one (ECMA-262, where ``$`` is the end of the string); in Python it is only
#: ever used with ``fullmatch``, since ``re``'s ``$`` also matches before a final newline.
ARTICLE_ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._:~-]{{0,{MAX_ARTICLE_ID_CHARS - 1}}}$"
_ARTICLE_ID_RE = re.compile(ARTICLE_ID_PATTERN)
#: Longest ``url`` and ``source`` accepted (URLs over 2 KB are broken or hostile).
MAX_URL_CHARS = 2048
MAX_SOURCE_CHARS = 200

#: Ids that name a route under /v1/articles/ and so cannot name an article.
RESERVED_ARTICLE_IDS = frozenset({"batch"})

#: The query parameters of ``GET /v1/stories``.
STORIES_QUERY = ("limit", "offset")
CLEAN_FIELDS = frozenset({"html", "text", "url"})
ARTICLE_FIELDS = CLEAN_FIELDS | {"id", "source", "published"}


class ArticleIdConverter(BaseConverter):
    """One path segment that is not a reserved word, so ``GET /v1/articles/batch`` is a 405
    (the batch route, with an honest ``Allow: POST``), not a lookup of an article "batch"."""

    # Werkzeug matches each segment against this regex on its own, so ``\Z`` ends the segment
    # (not ``$``, which would also match before a final newline: "batch\n" must stay an id).
    regex = "(?!(?:" + "|".join(sorted(RESERVED_ARTICLE_IDS)) + r")\Z)[^/]+"
    part_isolating = True


# -- request parsing --------------------------------------------------------------------

class _TooLarge(io.RawIOBase):
    """The body of a request found to be over the cap: every read is the 413."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise RequestEntityTooLarge()


class _Unreadable(io.RawIOBase):
    """The body of a request whose framing the server could not decode: every read is a 400."""

    def __init__(self, why: str) -> None:
        super().__init__()
        self.why = why

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise BadRequest(f"the request body could not be read ({self.why}); send it with a "
                         f"Content-Length or as valid chunked transfer encoding")


class CappedRequest(Request):
    """A request whose body is capped whether or not it states its length.

    Werkzeug refuses a ``Content-Length`` over ``max_content_length``, but a chunked body
    (no ``Content-Length``) is only read up to the cap and then ends there: it would be
    processed cut off at 5 MB. Here such a body is read up to one byte past the cap, and
    one that reaches it answers 413 like any other.
    """

    @cached_property
    def stream(self) -> IO[bytes]:
        cap = self.max_content_length
        if cap is None or self.shallow or self.content_length is not None \
                or "wsgi.input_terminated" not in self.environ:
            return Request.stream.fget(self)  # type: ignore[attr-defined, no-any-return]
        try:
            data = get_input_stream(self.environ, max_content_length=cap + 1).read()
        except HTTPException:
            raise
        except Exception as exc:  # the server's own parse error (gunicorn: a bad chunk size)
            return cast(IO[bytes], _Unreadable(type(exc).__name__))
        return cast(IO[bytes], _TooLarge() if len(data) > cap else io.BytesIO(data))


def json_body() -> Any:
    """The request's JSON body: 415 unless JSON, 413 over the cap, 400 if malformed."""
    if request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type",
                       f"send the body as application/json (got {request.mimetype or 'no content type'})")
    raw = request.get_data()  # raises 413 past MAX_CONTENT_LENGTH; cached for the rate limiter
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "the body is nested too deeply") from None


def _encodable(value: str, field: str) -> str:
    # JSON may carry lone surrogates ("\ud800"); they are not text and no store accepts them.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise validation_error(field, f"{field.rsplit('.', 1)[-1]} holds an unpaired surrogate; "
                                      "send valid Unicode") from None
    return value


@dataclass(frozen=True, slots=True)
class ArticleInput:
    raw: str
    content_type: str
    url: str | None
    id: str | None = None
    source: str | None = None
    published: str | None = None


def _opt_str(obj: dict[str, Any], name: str, prefix: str, max_chars: int) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise validation_error(prefix + name, f"{name} must be a string")
    if len(value) > max_chars:
        raise validation_error(prefix + name, f"{name} is longer than {max_chars} characters")
    return _encodable(value, prefix + name)


def parse_article(obj: Any, *, prefix: str = "", with_index_fields: bool = False) -> ArticleInput:
    """Check one article object; a 422 names the first bad field (``articles[2].text``)."""
    where = prefix.rstrip(".") or "body"
    if not isinstance(obj, dict):
        raise validation_error(where, f"{where} must be a JSON object")
    allowed = ARTICLE_FIELDS if with_index_fields else CLEAN_FIELDS
    for name in obj:
        if name not in allowed:
            raise validation_error(prefix + str(name), f"unknown field {name!r}; allowed: {', '.join(sorted(allowed))}")
    given = [k for k in ("html", "text") if obj.get(k) is not None]
    if not given:
        raise validation_error(prefix + "text", "give the article as 'html' or 'text'")
    if len(given) == 2:
        raise validation_error(prefix + "html", "give either 'html' or 'text', not both")
    kind = given[0]
    raw = obj[kind]
    if not isinstance(raw, str):
        raise validation_error(prefix + kind, f"{kind} must be a string")
    _encodable(raw, prefix + kind)
    url = _opt_str(obj, "url", prefix, MAX_URL_CHARS)
    if not with_index_fields:
        return ArticleInput(raw=raw, content_type=kind, url=url)
    art_id = obj.get("id")
    if art_id is not None and (not isinstance(art_id, str) or not _ARTICLE_ID_RE.fullmatch(art_id)):
        raise validation_error(prefix + "id", f"id must be 1-{MAX_ARTICLE_ID_CHARS} characters of letters, digits "
                                              "and . _ : ~ - starting with a letter or digit")
    if art_id in RESERVED_ARTICLE_IDS:
        raise validation_error(prefix + "id", f"id {art_id!r} is reserved (it names a route); choose another")
    source = _opt_str(obj, "source", prefix, MAX_SOURCE_CHARS)
    published = _opt_str(obj, "published", prefix, 64)
    if published is not None:
        try:
            datetime.fromisoformat(published.replace("Z", "+00:00"))
        except ValueError:
            raise validation_error(prefix + "published",
                                   "published must be an ISO 8601 date or date-time, e.g. 2024-05-01T12:00:00Z") from None
    return ArticleInput(raw=raw, content_type=kind, url=url, id=art_id, source=source, published=published)


def _query_int(name: str, default: int, lo: int, hi: int) -> int:
    """A query parameter of ASCII digits only (not what ``int()`` also takes: signs, spaces,
    underscores, other scripts' digits), from ``lo`` to ``hi``; else a 422 naming it."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()):
        raise validation_error(name, f"{name} must be a whole number written in the digits 0-9")
    # Past hi's digit count the value is out of range whatever it is: no huge int is built.
    digits = raw.lstrip("0") or "0"
    value = int(digits) if len(digits) <= len(str(hi)) else hi + 1
    if not lo <= value <= hi:
        raise validation_error(name, f"{name} must be between {lo} and {hi}")
    return value


def _check_id(article_id: str) -> None:
    # Ids that could never have been stored are unknown ids: the same 404 as any other.
    if not _ARTICLE_ID_RE.fullmatch(article_id):
        raise not_found("article")


def batch_items(body: Any, cap: int) -> list[Any]:
    """The ``articles`` list of a batch body; a 422 when the body is not a batch of 1 to ``cap``.

    The rate limiter calls this too, before the route runs: a batch is charged one request
    per article only once its shape is known to be good.
    """
    if not isinstance(body, dict):
        raise validation_error("body", "body must be a JSON object with an 'articles' list")
    for name in body:
        if name != "articles":
            raise validation_error(str(name), f"unknown field {name!r}; allowed: articles")
    items = body.get("articles")
    if not isinstance(items, list) or not items:
        raise validation_error("articles", "articles must be a non-empty list")
    if len(items) > cap:
        raise validation_error("articles", f"at most {cap} articles per batch; got {len(items)}")
    return items


# -- library calls ----------------------------------------------------------------------

#: Unicode categories that put no ink on the page: controls, format characters (zero-width
#: space and joiners, the BOM, bidi marks), separators, unassigned and private-use code
#: points, surrogates, and combining marks with no base to sit on.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"})
#: Blank letters: assigned as letters or symbols, but drawn as nothing (Hangul fillers,
#: the blank Braille pattern).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def has_visible_text(text: str) -> bool:
    """True when ``text`` holds at least one character that shows: whitespace, zero-width
    and other invisible characters alone are no article."""
    return any(not ch.isspace() and ch not in _BLANK_LETTERS
               and unicodedata.category(ch) not in _INVISIBLE_CATEGORIES for ch in text)


def _clean(art: ArticleInput, field_prefix: str = "") -> dict[str, Any]:
    """Clean one article: a 422 when the input, or what cleaning leaves of it, shows nothing."""
    field = field_prefix + art.content_type
    try:  # the library's own verdicts first (binary, undecodable...), then what it let through
        cleaned = clean(art.raw, url=art.url, content_type=art.content_type,
                        max_bytes=current_app.config["MAX_CONTENT_LENGTH"])
    except CleanerError as exc:
        raise cleaner_error_to_api(exc, field=field) from None
    out = cleaned.to_dict()
    metrics.record_removals([r["reason"] for r in out["removed"]])
    if not has_visible_text(out["text"]):
        if art.content_type == "text" and not has_visible_text(art.raw):
            raise ApiError(422, "empty_input", "the text holds no visible characters", field=field)
        raise ApiError(422, "no_article", "no article text is left after cleaning", field=field)
    return out


def _live_matches(idx: Any, stored: IndexedArticle) -> list[dict[str, Any]]:
    """The matches recorded when ``stored`` was added, less the articles deleted since.

    Most matches are still members of the article's story: one lookup of its member ids
    settles them. Only the rest (deleted, or split off into another story) are looked up
    one by one.
    """
    matches = stored.matches or ()
    if not matches:
        return []
    try:
        members = set(idx.get_story(stored.story_id).members)
    except CleanerError:  # the story went away in between: check every match on its own
        members = set()
    return [m.to_dict() for m in matches if m.id in members or idx.get(m.id) is not None]


def _article_view(stored: IndexedArticle, idx: Any = None) -> dict[str, Any]:
    """The JSON of one stored article: its verdict and the cleaned article kept in ``meta``.

    With ``idx`` (a stored article read back), matches deleted since are left out; without
    it (an article just added), the matches are the fresh verdict's.
    """
    meta_ = dict(stored.meta or {})
    cleaned = meta_.get("cleaned", {})
    return {
        "id": stored.id,
        "story_id": stored.story_id,
        "duplicate_of": stored.duplicate_of,
        "matches": (_live_matches(idx, stored) if idx is not None
                    else [m.to_dict() for m in (stored.matches or ())]),
        "source": stored.source,
        "published": stored.published,
        "text": stored.text,
        "title": cleaned.get("title"),
        "paragraphs": cleaned.get("paragraphs", []),
        "removed": cleaned.get("removed", []),
        "author": cleaned.get("author"),
        "date": cleaned.get("date"),
        "url": cleaned.get("url"),
        "sitename": cleaned.get("sitename"),
        "language": cleaned.get("language"),
    }


def _index_one(art: ArticleInput, field_prefix: str = "") -> tuple[int, dict[str, Any]]:
    """Clean and add one article; (201, article) when new, (200, stored article) on a repeat id."""
    idx = indexes().for_tenant(g.principal.tenant_id)
    if art.id is not None:
        existing = idx.get(art.id)
        if existing is not None:  # idempotent: the stored verdict, nothing re-added
            audit.note_articles(art.id)
            return 200, _article_view(existing, idx)
    cleaned = _clean(art, field_prefix)
    art_id = art.id or secrets.token_hex(12)
    text = cleaned.pop("text")
    meta_ = {"cleaned": cleaned}
    published = story_date(art.published, cleaned.get("date"))
    try:
        with indexes().writing():
            verdict = idx.add(art_id, text, source=art.source, published=published, meta=meta_)
    except ArticleExistsError:
        # Another request with this id won the race; answer with what it stored.
        existing = idx.get(art_id)
        if existing is None:  # pragma: no cover - deleted in between
            raise ApiError(409, "conflict", "article id is being changed concurrently; retry") from None
        audit.note_articles(art_id)
        return 200, _article_view(existing, idx)
    except CleanerError as exc:
        raise cleaner_error_to_api(exc, field=field_prefix + art.content_type) from None
    metrics.ARTICLES_INDEXED.inc()
    audit.note_articles(art_id)
    # Built from what was just stored (no second read); GET /v1/articles/{id} returns the same.
    stored = IndexedArticle(id=art_id, text=text, source=art.source, published=published, meta=meta_,
                            story_id=verdict.story_id, duplicate_of=verdict.duplicate_of, matches=verdict.matches)
    return 201, _article_view(stored)


# -- v1 routes --------------------------------------------------------------------------

@v1.post("/clean")
def clean_article() -> Response:
    """Stateless: clean one article and return it; nothing is stored."""
    art = parse_article(json_body())
    return jsonify(_clean(art))


@v1.post("/articles")
def add_article() -> tuple[Response, int]:
    """Clean one article and add it to the caller's story index (idempotent on ``id``)."""
    art = parse_article(json_body(), with_index_fields=True)
    status, body = _index_one(art)
    return jsonify(body), status


@v1.post("/articles/batch")
def add_articles_batch() -> Response:
    """Clean and index up to MAX_BATCH_ARTICLES articles, each answered on its own."""
    items = batch_items(json_body(), current_app.config["MAX_BATCH_ARTICLES"])
    results = []
    for i, item in enumerate(items):
        prefix = f"articles[{i}]."
        try:
            art = parse_article(item, prefix=prefix, with_index_fields=True)
            status, article = _index_one(art, prefix)
            results.append({"index": i, "status": status, "article": article})
        except ApiError as err:
            results.append({"index": i, "status": err.status, **err.body()})
    return jsonify({"results": results})


@v1.get("/articles/<article_id:article_id>")
def get_article(article_id: str) -> Response:
    _check_id(article_id)
    idx = indexes().for_tenant(g.principal.tenant_id)
    stored = idx.get(article_id)
    if stored is None:
        raise not_found("article")
    return jsonify(_article_view(stored, idx))


@v1.delete("/articles/<article_id:article_id>")
def delete_article(article_id: str) -> Response:
    audit.note_articles(article_id)  # the id asked for, found or not
    _check_id(article_id)
    idx = indexes().for_tenant(g.principal.tenant_id)
    with indexes().writing():
        removed = idx.remove(article_id)
    if not removed:
        raise not_found("article")
    return Response(status=204)


@v1.get("/stories")
def list_stories() -> Response:
    for name in request.args:  # as with body fields: a misspelt parameter is not ignored
        if name not in STORIES_QUERY:
            raise validation_error(name, f"unknown query parameter {name!r}; allowed: {', '.join(STORIES_QUERY)}")
    limit = _query_int("limit", DEFAULT_STORIES_PAGE, 1, MAX_STORIES_PAGE)
    offset = _query_int("offset", 0, 0, MAX_STORIES_OFFSET)
    stories = indexes().for_tenant(g.principal.tenant_id).stories(limit=limit, offset=offset)
    return jsonify({"stories": [s.to_dict() for s in stories], "limit": limit, "offset": offset})


@v1.get("/stories/<story_id>")
def get_story(story_id: str) -> Response:
    if len(story_id) > 200:
        raise not_found("story")
    idx = indexes().for_tenant(g.principal.tenant_id)
    try:
        story = idx.get_story(story_id)
    except CleanerError:  # NotFoundError, or an id the index cannot even parse
        raise not_found("story") from None
    view = story.to_dict()
    articles = []
    for member in story.members:
        stored = idx.get(member)
        if stored is not None:
            m = stored.meta or {}
            articles.append({"id": stored.id, "title": m.get("cleaned", {}).get("title"),
                             "source": stored.source, "published": stored.published,
                             "duplicate_of": stored.duplicate_of})
    view["articles"] = articles
    return jsonify(view)


# -- meta routes ------------------------------------------------------------------------

@meta.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers."""
    return jsonify({"status": "ok"})


@meta.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: the key store, the story storage and the rate-limit store all answer."""
    from flask import current_app as app

    checks: dict[str, str] = {}
    try:
        app.extensions["cleaner.keys"].ping()
        checks["keys"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        checks["keys"] = "unavailable"
    try:
        idx = indexes().for_tenant("readyz-probe")
        idx.stories(limit=1, offset=0)
        checks["index"] = "ok"
    except Exception:  # noqa: BLE001
        checks["index"] = "unavailable"
    try:
        checks["ratelimit"] = "ok" if app.extensions["cleaner.limiter"].storage.check() else "unavailable"
    except Exception:  # noqa: BLE001
        checks["ratelimit"] = "unavailable"
    ok = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ok else "unavailable", "checks": checks}), (200 if ok else 503)


@meta.get("/metrics")
def metrics_route() -> Response:
    """Prometheus metrics, for the operator only: totals minus one's own usage would tell a
    client how much the others use. With ``METRICS_TOKEN`` set, that bearer token is needed;
    without it, only loopback callers are answered."""
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise ApiError(403, "forbidden", "send the metrics token as 'Authorization: Bearer <token>'")
    elif not _is_loopback(request.remote_addr):
        raise ApiError(403, "forbidden", "metrics are served to loopback callers only "
                                         "(set CLEANER_METRICS_TOKEN to scrape from elsewhere)")
    return metrics.render()


def _is_loopback(addr: str | None) -> bool:
    try:
        return addr is not None and ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


def init_app(app: Flask) -> None:
    """Register the capped request class, the id converter and both blueprints."""
    app.request_class = CappedRequest
    # "/v1//articles" is no route (a JSON 404), not an HTML redirect to "/v1/articles".
    app.url_map.merge_slashes = False
    app.url_map.converters["article_id"] = ArticleIdConverter
    app.register_blueprint(v1)
    app.register_blueprint(meta)
