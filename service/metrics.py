"""Prometheus metrics: requests by route and status, latency, articles indexed, removals by reason.

Under gunicorn each worker is its own process, so the counters use prometheus_client's
multi-process mode: when ``PROMETHEUS_MULTIPROC_DIR`` is set (``cleaner serve`` and the
gunicorn config set it), each worker writes its values to files there and ``/metrics``
sums them. Without it (tests, a single process) the default registry is served.
Labels never carry a tenant: metrics are for the operator and must not profile clients.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

REQUESTS = Counter("cleaner_http_requests_total", "HTTP requests answered, by route and status",
                   ["method", "route", "status"])
LATENCY = Histogram("cleaner_http_request_duration_seconds", "Time to answer a request, by route",
                    ["method", "route"],
                    # Cleaning takes ~5-50 ms; the buckets resolve that range and the 150 ms target.
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0))
ARTICLES_INDEXED = Counter("cleaner_articles_indexed_total", "Articles added to a story index")
REMOVALS = Counter("cleaner_removals_total", "Blocks removed by the cleaner, by reason", ["reason"])


def record_removals(reasons: list[str]) -> None:
    """Count the removal reasons of one cleaned article."""
    for reason in reasons:
        REMOVALS.labels(reason=reason).inc()


#: The ``route`` label (and audit field) of a request no URL rule matched.
UNMATCHED_ROUTE = "<unmatched>"
#: Methods that get their own ``method`` label; any other (``curl -X FOOA``) counts as "other",
#: so a client cannot make new series without limit.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label() -> str:
    """The matched URL rule, not the path: ids in paths would make one series per article."""
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE


def method_label() -> str:
    """The request method when it is a standard one, else "other"."""
    return request.method if request.method in KNOWN_METHODS else "other"


def render() -> Response:
    """The Prometheus text exposition, summed over workers in multi-process mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        data = generate_latest(registry)
    else:
        data = generate_latest(REGISTRY)
    return Response(data, mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})


def init_app(app: Flask) -> None:
    """Time every request and count it by route and status."""

    @app.before_request
    def _start_timer() -> None:
        g.metrics_start = time.perf_counter()

    @app.after_request
    def _count(resp: Response) -> Response:
        start = g.get("metrics_start")
        route, method = route_label(), method_label()
        REQUESTS.labels(method=method, route=route, status=str(resp.status_code)).inc()
        if start is not None:
            LATENCY.labels(method=method, route=route).observe(time.perf_counter() - start)
        return resp
