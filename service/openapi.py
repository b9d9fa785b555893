"""The OpenAPI 3 document (``/openapi.json``) and a plain HTML page rendered from it (``/docs``).

The document is built from the same constants the code enforces (body cap, batch size,
id pattern), and a test checks every route of the app appears in it.
"""

from __future__ import annotations

import html
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify

from .config import DEFAULT_STORIES_PAGE, MAX_ARTICLE_ID_CHARS, MAX_STORIES_OFFSET, MAX_STORIES_PAGE

docs = Blueprint("docs", __name__)

_NULLABLE_STR = {"type": ["string", "null"]}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``app`` (its limits come from the app's config)."""
    from .api import ARTICLE_ID_PATTERN, MAX_SOURCE_CHARS, MAX_URL_CHARS

    max_body = app.config["MAX_CONTENT_LENGTH"]
    batch_cap = app.config["MAX_BATCH_ARTICLES"]
    rate = app.config["RATE_LIMIT"]

    auth_errors = {
        "401": _error_response("Missing, malformed, unknown or revoked API key"),
        "503": _error_response("A store is unavailable; retry later"),
        "429": {**_error_response(f"Rate limit exceeded ({rate} per key, over a moving window; "
                                  "a refused request is not counted); see Retry-After"),
                "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}},
    }
    body_errors = {
        "400": _error_response("Body is not valid JSON"),
        "413": _error_response(f"Body larger than {max_body} bytes"),
        "415": _error_response("Content-Type is not application/json"),
        "422": _error_response("A field is missing or wrong (error.field names it), or the article is unusable "
                               "(empty, binary, undecodable, no article text)"),
    }
    article_input_props: dict[str, Any] = {
        "html": {"type": "string", "description": "Raw HTML of the page (give html or text)"},
        "text": {"type": "string", "description": "Plain text of the article (give html or text)"},
        "url": {"type": ["string", "null"], "maxLength": MAX_URL_CHARS, "description": "Where the page came from"},
    }
    id_param = {"name": "id", "in": "path", "required": True,
                "schema": {"type": "string", "pattern": ARTICLE_ID_PATTERN, "not": {"enum": ["batch"]}}}
    reserved_id = _error_response("The id `batch` names the batch route, which only takes POST")
    story_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 200}}
    removal = {
        "type": "object", "required": ["text", "reason", "score", "position"],
        "properties": {"text": {"type": "string"}, "reason": {"type": "string"},
                       "score": {"type": "number"}, "position": {"type": "integer"}},
    }
    cleaned_props = {
        "text": {"type": "string"},
        "paragraphs": {"type": "array", "items": {"type": "string"}},
        "title": _NULLABLE_STR, "author": _NULLABLE_STR, "date": _NULLABLE_STR, "url": _NULLABLE_STR,
        "sitename": _NULLABLE_STR, "language": _NULLABLE_STR,
        "removed": {"type": "array", "items": {"$ref": "#/components/schemas/Removal"}},
    }
    match = {"type": "object", "required": ["id", "kind", "similarity"],
             "properties": {"id": {"type": "string"}, "kind": {"type": "string", "enum": ["duplicate", "same_story"]},
                            "similarity": {"type": "number"}}}
    story = {"type": "object", "required": ["id", "members", "size"],
             "properties": {"id": {"type": "string"}, "members": {"type": "array", "items": {"type": "string"}},
                            "size": {"type": "integer", "minimum": 0},
                            "created": {"type": ["number", "null"]}, "updated": {"type": ["number", "null"]}}}
    article = {
        "type": "object",
        "required": ["id", "story_id", "duplicate_of", "matches", "text", "title", "paragraphs", "removed"],
        "properties": {
            "id": {"type": "string"}, "story_id": {"type": "string"}, "duplicate_of": _NULLABLE_STR,
            "matches": {"type": "array", "items": {"$ref": "#/components/schemas/Match"}},
            "source": _NULLABLE_STR, "published": _NULLABLE_STR,
            **cleaned_props,
        },
    }
    spec: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "article-cleaner service",
            "version": "1",
            "description": ("Clean raw articles (boilerplate and in-body promos removed, every removal with a "
                            "reason) and group them into stories, per tenant. Authenticate with "
                            "`Authorization: Bearer <key>` (keys come from `cleaner keys create`). Every error is "
                            "JSON: `{\"error\": {\"code\", \"message\", \"field\"?}}`."),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ErrorDetail": {"type": "object", "required": ["code", "message"],
                                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                               "field": {"type": "string"}}},
                "Error": {"type": "object", "required": ["error"],
                          "properties": {"error": {"$ref": "#/components/schemas/ErrorDetail"}}},
                "Removal": removal,
                "Match": match,
                "Story": story,
                "CleanRequest": {"type": "object", "additionalProperties": False,
                                 "properties": article_input_props,
                                 "oneOf": [{"required": ["html"]}, {"required": ["text"]}]},
                "ArticleRequest": {
                    "type": "object", "additionalProperties": False,
                    "properties": {
                        **article_input_props,
                        "id": {"type": "string", "pattern": ARTICLE_ID_PATTERN, "not": {"enum": ["batch"]},
                               "description": "Your id for the article; a repeat returns the stored verdict"},
                        "source": {"type": ["string", "null"], "maxLength": MAX_SOURCE_CHARS,
                                   "description": "The outlet"},
                        "published": {"type": ["string", "null"], "maxLength": 64,
                                      "description": "ISO 8601 publication date or date-time, "
                                                     "e.g. 2024-05-01 or 2024-05-01T12:00:00Z; "
                                                     "when absent, the date the page states"},
                    },
                    "oneOf": [{"required": ["html"]}, {"required": ["text"]}],
                },
                "CleanedArticle": {"type": "object", "required": list(cleaned_props), "properties": cleaned_props},
                "Article": article,
                "BatchRequest": {"type": "object", "additionalProperties": False, "required": ["articles"],
                                 "properties": {"articles": {"type": "array", "minItems": 1, "maxItems": batch_cap,
                                                             "items": {"description": (
                                                                 "An ArticleRequest. Items are checked one by one: a bad item "
                                                                 "gets its own 4xx result and does not fail the batch, so "
                                                                 "any JSON value is accepted here.")}}}},
                "BatchResult": {"type": "object", "required": ["index", "status"], "properties": {
                    "index": {"type": "integer"}, "status": {"type": "integer"},
                    "article": {"$ref": "#/components/schemas/Article"},
                    "error": {"$ref": "#/components/schemas/ErrorDetail"}}},
                "StoryDetail": {"allOf": [{"$ref": "#/components/schemas/Story"}, {
                    "type": "object", "required": ["articles"],
                    "properties": {"articles": {"type": "array", "items": {
                        "type": "object", "required": ["id"],
                        "properties": {"id": {"type": "string"}, "title": _NULLABLE_STR, "source": _NULLABLE_STR,
                                       "published": _NULLABLE_STR, "duplicate_of": _NULLABLE_STR}}}}}]},
            },
        },
        "paths": {
            "/v1/clean": {"post": {
                "summary": "Clean one article (stateless, nothing stored)",
                "operationId": "cleanArticle", "security": [{"bearer": []}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/CleanRequest"}}}},
                "responses": {"200": _json("CleanedArticle", "The cleaned article"), **auth_errors, **body_errors},
            }},
            "/v1/articles": {"post": {
                "summary": "Clean one article and add it to your story index",
                "description": "Idempotent on `id`: a repeat returns the stored article with 200 and adds nothing.",
                "operationId": "addArticle", "security": [{"bearer": []}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ArticleRequest"}}}},
                "responses": {"201": _json("Article", "Added: the article with its story verdict"),
                              "200": _json("Article", "This id was already stored: the stored article"),
                              "409": _error_response("The same id is being deleted at this moment; retry"),
                              **auth_errors, **body_errors},
            }},
            "/v1/articles/batch": {"post": {
                "summary": f"Clean and index up to {batch_cap} articles, each answered on its own",
                "operationId": "addArticlesBatch", "security": [{"bearer": []}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/BatchRequest"}}}},
                "responses": {"200": {"description": "One result per article, in order (status 200/201/4xx each)",
                                      "content": {"application/json": {"schema": {
                                          "type": "object", "required": ["results"],
                                          "properties": {"results": {"type": "array", "items": {
                                              "$ref": "#/components/schemas/BatchResult"}}}}}}},
                              **auth_errors, **body_errors},
            }},
            "/v1/articles/{id}": {
                "get": {"summary": "One stored article", "operationId": "getArticle", "security": [{"bearer": []}],
                        "parameters": [id_param],
                        "responses": {"200": _json("Article", "The stored article"),
                                      "404": _error_response("No such article in your index"),
                                      "405": reserved_id, **auth_errors}},
                "delete": {"summary": "Delete an article from storage and index", "operationId": "deleteArticle",
                           "security": [{"bearer": []}], "parameters": [id_param],
                           "responses": {"204": {"description": "Deleted"},
                                         "404": _error_response("No such article in your index"),
                                         "405": reserved_id, **auth_errors}},
            },
            "/v1/stories": {"get": {
                "summary": "Your stories, most recently updated first", "operationId": "listStories",
                "security": [{"bearer": []}],
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                "maximum": MAX_STORIES_PAGE,
                                                                "default": DEFAULT_STORIES_PAGE}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                                 "maximum": MAX_STORIES_OFFSET, "default": 0}}],
                "responses": {"200": {"description": "A page of stories", "content": {"application/json": {
                    "schema": {"type": "object", "required": ["stories", "limit", "offset"], "properties": {
                        "stories": {"type": "array", "items": {"$ref": "#/components/schemas/Story"}},
                        "limit": {"type": "integer"}, "offset": {"type": "integer"}}}}}},
                    "422": _error_response("limit or offset not plain digits or out of range, or a query "
                                           "parameter the route does not take (error.field names it)"),
                    **auth_errors},
            }},
            "/v1/stories/{id}": {"get": {
                "summary": "One story and its member articles", "operationId": "getStory",
                "security": [{"bearer": []}], "parameters": [story_param],
                "responses": {"200": _json("StoryDetail", "The story"),
                              "404": _error_response("No such story in your index"), **auth_errors},
            }},
            "/healthz": {"get": {"summary": "Liveness", "operationId": "healthz", "responses": {
                "200": {"description": "The process answers", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}}}}}}},
            "/readyz": {"get": {"summary": "Readiness: key store, story storage and rate-limit store reachable",
                                "operationId": "readyz", "responses": {
                "200": {"description": "Ready", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Readiness"}}}},
                "503": {"description": "A store is unreachable", "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Readiness"}}}}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics (all workers), for the operator",
                                 "description": ("Answered to loopback callers, or to any caller with "
                                                 "`Authorization: Bearer $CLEANER_METRICS_TOKEN` when that is set."),
                                 "operationId": "metrics",
                                 "responses": {"200": {"description": "Prometheus text format",
                                                       "content": {"text/plain": {"schema": {"type": "string"}}}},
                                               "403": _error_response("Not a loopback caller, or wrong metrics token")}}},
            "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi", "responses": {
                "200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/docs": {"get": {"summary": "Human-readable API documentation", "operationId": "docs", "responses": {
                "200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}}}},
        },
    }
    spec["components"]["schemas"]["Readiness"] = {
        "type": "object", "required": ["status", "checks"],
        "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]},
                       "checks": {"type": "object", "additionalProperties": {"type": "string"}}}}
    return spec


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45 }}
code, pre {{ background: #f4f4f4; padding: 0 .2rem }} table {{ border-collapse: collapse; width: 100% }}
td, th {{ border: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: top }}
.m {{ font-weight: bold; font-family: monospace }}
</style></head><body>
<h1>{title}</h1>
<p>{description}</p>
<p>Limits: request body up to {max_body} bytes; up to {batch_cap} articles per batch;
{rate} per API key (429 with <code>Retry-After</code> past it). Machine-readable:
<a href="/openapi.json">/openapi.json</a>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>What it does</th><th>Auth</th><th>Responses</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</body></html>
"""


def render_docs(spec: dict[str, Any], app: Flask) -> str:
    """A plain HTML page listing every operation of ``spec`` (no scripts, no CDN)."""
    rows = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = ", ".join(f"{c} {html.escape(r.get('description', ''))}" for c, r in op["responses"].items())
            detail = html.escape(op.get("summary", ""))
            if op.get("description"):
                detail += "<br><small>" + html.escape(op["description"]) + "</small>"
            rows.append(f"<tr><td class=m>{method.upper()}</td><td><code>{html.escape(path)}</code></td>"
                        f"<td>{detail}</td><td>{'Bearer key' if op.get('security') else '-'}</td>"
                        f"<td><small>{codes}</small></td></tr>")
    info = spec["info"]
    return _PAGE.format(title=html.escape(info["title"]), description=html.escape(info["description"]),
                        max_body=app.config["MAX_CONTENT_LENGTH"], batch_cap=app.config["MAX_BATCH_ARTICLES"],
                        rate=html.escape(app.config["RATE_LIMIT"]), rows="\n".join(rows))


@docs.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(build_spec(current_app))


@docs.get("/docs")
def docs_page() -> Response:
    page = render_docs(build_spec(current_app), current_app)
    return Response(page, mimetype="text/html")
