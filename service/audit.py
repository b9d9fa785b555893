"""JSON audit lines for every write and delete, on the ``cleaner.audit`` logger.

One line per request: time, tenant name, key id, route, method, status and the article
id(s) touched. Never the key, never article text: the audit log may be shipped to
places the articles may not go.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from flask import Flask, Response, g, request

from .metrics import route_label

logger = logging.getLogger("cleaner.audit")

#: Methods that change a tenant's data and therefore get an audit line.
AUDITED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Routes whose writes are stateless (nothing stored) and need no audit line.
STATELESS_ROUTES = frozenset({"/v1/clean"})

_installed: dict[str, logging.Handler] = {}


def _configure(dest: str) -> None:
    """Send audit lines to ``dest`` ("-" = stderr, a path = append to that file, "" = nowhere extra).

    Idempotent per destination, so building several apps in one process (tests) does not
    duplicate lines; a handler for an old destination is closed and dropped.
    """
    for old_dest, handler in list(_installed.items()):
        if old_dest != dest:
            logger.removeHandler(handler)
            handler.close()
            del _installed[old_dest]
    logger.setLevel(logging.INFO)
    if not dest or dest in _installed:
        return
    handler: logging.Handler
    handler = logging.StreamHandler(sys.stderr) if dest == "-" else logging.FileHandler(dest, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    _installed[dest] = handler


def note_articles(*ids: str) -> None:
    """Record the article ids a request touched, for its audit line."""
    g.setdefault("audit_ids", []).extend(ids)


def init_app(app: Flask) -> None:
    """Write an audit line after every write or delete under ``/v1`` (including refused ones)."""
    _configure(app.config.get("AUDIT_LOG", "-"))

    @app.after_request
    def _audit(resp: Response) -> Response:
        if request.method not in AUDITED_METHODS or not request.path.startswith("/v1/"):
            return resp
        route = route_label()  # a constant for unmatched paths: never the raw path
        if route in STATELESS_ROUTES:
            return resp
        principal = g.get("principal")
        ids = g.get("audit_ids", [])
        line = {
            "ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "tenant": principal.tenant_name if principal else None,
            "key_id": principal.key_id if principal else None,
            "route": route,
            "method": request.method,
            "status": resp.status_code,
            "article_ids": ids,
        }
        logger.info(json.dumps(line, ensure_ascii=False))
        return resp
