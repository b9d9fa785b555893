"""Every error leaves the service as JSON ``{"error": {"code", "message", "field"?}}``.

Library errors (``CleanerError`` subclasses) map to 4xx here, HTTP errors raised by Flask
and Werkzeug (404, 405, 413...) get the same shape, and anything unexpected becomes a
JSON 500 that names no internals (the traceback goes to the log only).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from cleaner.errors import (
    BinaryInputError,
    CleanerError,
    DecodeError,
    EmptyInputError,
    InputTooLargeError,
    InvalidArgumentError,
    NoArticleError,
    NotFoundError,
    StorageError,
)

log = logging.getLogger("service")


class ApiError(Exception):
    """An error answered as-is: HTTP status, a stable machine code, a message, maybe a field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            err["field"] = self.field
        return {"error": err}


def validation_error(field: str, message: str) -> ApiError:
    """422 naming the offending field (a JSON path like ``articles[3].text``)."""
    return ApiError(422, "invalid_field", message, field=field)


def not_found(what: str = "resource") -> ApiError:
    """The one 404 for unknown ids and other tenants' ids alike: same code, same message."""
    return ApiError(404, "not_found", f"{what} not found")


# Library error -> (status, code). Order matters: the first matching class wins.
_CLEANER_ERRORS: tuple[tuple[type[CleanerError], int, str], ...] = (
    (InputTooLargeError, 413, "input_too_large"),
    (EmptyInputError, 422, "empty_input"),
    (BinaryInputError, 422, "binary_input"),
    (DecodeError, 422, "undecodable_input"),
    (NoArticleError, 422, "no_article"),
    (NotFoundError, 404, "not_found"),
    (InvalidArgumentError, 422, "invalid_argument"),
    (StorageError, 503, "storage_unavailable"),
)

# Standard reason codes for HTTP errors raised by Flask/Werkzeug (and flask-limiter's 429).
_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "invalid_field", 429: "rate_limited", 503: "unavailable",
    # Only gunicorn itself answers these (a request it cannot parse: see raw_error_response).
    414: "uri_too_long", 417: "expectation_failed", 431: "headers_too_large",
    500: "internal_error", 501: "not_implemented",
}


def cleaner_error_to_api(exc: CleanerError, field: str | None = None) -> ApiError:
    """Map a library error to its HTTP answer (used per item in batches too)."""
    for cls, status, code in _CLEANER_ERRORS:
        if isinstance(exc, cls):
            if cls is NotFoundError:
                return not_found()
            if cls is StorageError:
                log.error("storage error: %s", exc)
                return ApiError(status, code, "storage is unavailable, try again later")
            return ApiError(status, code, str(exc) or code.replace("_", " "), field=field)
    return ApiError(422, "invalid_input", str(exc) or "invalid input", field=field)


def error_response(err: ApiError) -> Response:
    resp = jsonify(err.body())
    resp.status_code = err.status
    for k, v in err.headers.items():
        resp.headers[k] = v
    return resp


def raw_error_response(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP response (head and JSON body, the connection to be closed) for an error
    answered before any request reaches the app: gunicorn's own answer to a request line,
    header or body framing it cannot parse. 5xx ones name no internals."""
    api = ApiError(status, _HTTP_CODES.get(status, "http_error"),
                   message if status < 500 else reason.lower())
    body = json.dumps(api.body()).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def init_app(app: Flask) -> None:
    """Register the JSON error handlers on ``app``."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc)

    @app.errorhandler(CleanerError)
    def _cleaner_error(exc: CleanerError) -> Response:
        return error_response(cleaner_error_to_api(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        if status == 413:
            message = f"request body is larger than the {app.config['MAX_CONTENT_LENGTH']} byte cap"
        elif status == 429:
            message = f"rate limit exceeded ({exc.description}); retry after the Retry-After seconds"
        elif status == 404:
            message = "no such route"
        elif status == 405:
            message = "method not allowed on this route"
        else:
            message = exc.description or exc.name
        resp = error_response(ApiError(status, code, message))
        # Keep the headers the exception carries (Allow on 405, Retry-After on 429...).
        for k, v in exc.get_headers():
            if k.lower() != "content-type":
                resp.headers[k] = v
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(ApiError(500, "internal_error", "internal error"))
