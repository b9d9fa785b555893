"""The service's answers to hostile or odd requests, through Flask's test client: one rate
budget per key across routes, batches refused before they are charged, ids with a trailing
newline, chunked bodies over the cap, invisible text, bounded metric labels, and matches
that name deleted articles."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from service import close_app, create_app
from service.auth import KeyStore, KeyStoreError
from test_service import ARTICLE_TEXT, OTHER_TEXT, add, app, assert_error, auth, client, keys  # noqa: F401

@contextmanager
def limited(tmp_path: Path, rate: str, **config: Any) -> Iterator[tuple[FlaskClient, str, str]]:
    """An app with ``rate`` per key: (client, key, a second key of another tenant)."""
    app_ = create_app({"CLEANER_DB": str(tmp_path / "rl.db"), "AUDIT_LOG": "", "RATE_LIMIT": rate, **config})
    try:
        store: KeyStore = app_.extensions["cleaner.keys"]
        yield app_.test_client(), store.create_key("rl-1")[0], store.create_key("rl-2")[0]
    finally:
        close_app(app_)


# -- one rate budget per key, whatever the route ----------------------------------------

def test_the_rate_budget_is_shared_by_every_v1_route(tmp_path: Path) -> None:
    with limited(tmp_path, "4 per minute") as (client, key, other):
        codes = [client.get("/v1/stories", headers=auth(key)).status_code,
                 client.get("/v1/articles/nope", headers=auth(key)).status_code,
                 client.post("/v1/clean", json={"text": ARTICLE_TEXT}, headers=auth(key)).status_code,
                 client.get("/v1/stories/s_0123", headers=auth(key)).status_code]
        assert codes == [200, 404, 200, 404]  # four requests on four routes: the whole budget
        for method, path, body in [("GET", "/v1/stories", None), ("DELETE", "/v1/articles/x", None),
                                   ("POST", "/v1/articles", {"text": ARTICLE_TEXT}),
                                   ("POST", "/v1/articles/batch", {"articles": [{"text": ARTICLE_TEXT}]})]:
            assert_error(client.open(path, method=method, json=body, headers=auth(key)), 429, "rate_limited")
        assert client.get("/v1/stories", headers=auth(other)).status_code == 200  # another key's budget


def test_a_batch_over_the_cap_is_422_not_429_and_costs_one_request(tmp_path: Path) -> None:
    # 601 articles against a budget of 600 was a 429: the cost was charged before validation.
    with limited(tmp_path, "5 per minute", MAX_BATCH_ARTICLES=3) as (client, key, _):
        too_many = {"articles": [{"text": ARTICLE_TEXT}] * 6}
        assert_error(client.post("/v1/articles/batch", json=too_many, headers=auth(key)), 422, field="articles")
        for bad in [{"articles": "x"}, {"articles": []}, {"articles": [{"text": "x"}], "extra": 1}]:
            assert_error(client.post("/v1/articles/batch", json=bad, headers=auth(key)), 422)
        # four refused batches cost one each: one request is left
        assert client.get("/v1/stories", headers=auth(key)).status_code == 200
        assert_error(client.get("/v1/stories", headers=auth(key)), 429)


def test_a_good_batch_still_costs_one_request_per_article(tmp_path: Path) -> None:
    with limited(tmp_path, "4 per minute", MAX_BATCH_ARTICLES=3) as (client, key, _):
        batch = {"articles": [{"text": ARTICLE_TEXT}, {"text": OTHER_TEXT}, {"text": ""}]}
        assert client.post("/v1/articles/batch", json=batch, headers=auth(key)).status_code == 200
        assert client.get("/v1/stories", headers=auth(key)).status_code == 200
        assert_error(client.get("/v1/stories", headers=auth(key)), 429)


# -- a trailing newline is part of the value --------------------------------------------

@pytest.mark.parametrize("bad_id", ["nl1\n", "batch\n", "a\n", "\na", "a\r\n"])
def test_an_id_with_a_newline_is_422(client: FlaskClient, keys: dict[str, str], bad_id: str) -> None:
    assert_error(add(client, keys["a"], id=bad_id), 422, "invalid_field", "id")
    resp = client.post("/v1/articles/batch", json={"articles": [{"text": ARTICLE_TEXT, "id": bad_id}]},
                       headers=auth(keys["a"]))
    assert resp.get_json()["results"][0]["error"]["field"] == "articles[0].id"
    assert client.get("/v1/stories", headers=auth(keys["a"])).get_json()["stories"] == []


@pytest.mark.parametrize("path", ["/v1/articles/nl1%0A", "/v1/articles/batch%0A"])
def test_a_path_id_with_a_newline_is_an_unknown_article(client: FlaskClient, keys: dict[str, str],
                                                        path: str) -> None:
    assert add(client, keys["a"], id="nl1").status_code == 201
    assert_error(client.get(path, headers=auth(keys["a"])), 404, "not_found")
    assert_error(client.delete(path, headers=auth(keys["a"])), 404, "not_found")
    assert client.get("/v1/articles/nl1", headers=auth(keys["a"])).status_code == 200


def test_key_store_names_and_keys_with_a_newline_are_refused(app: Flask, keys: dict[str, str]) -> None:
    store: KeyStore = app.extensions["cleaner.keys"]
    with pytest.raises(KeyStoreError):
        store.create_key("acme\n")
    assert store.authenticate(keys["a"]) is not None
    assert store.authenticate(keys["a"] + "\n") is None


# -- a chunked body over the cap is refused, not cut off --------------------------------

def _chunked_post(client: FlaskClient, key: str, raw: bytes, path: str = "/v1/clean") -> Any:
    """POST ``raw`` with no Content-Length, the body ending where the server says: the environ
    gunicorn builds for a ``Transfer-Encoding: chunked`` body."""
    environ = EnvironBuilder(path, method="POST", input_stream=io.BytesIO(raw), content_type="application/json",
                             headers={**auth(key), "Transfer-Encoding": "chunked"}).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    return client.open(Request(environ))


@pytest.mark.parametrize("path", ["/v1/clean", "/v1/articles", "/v1/articles/batch"])
def test_a_chunked_body_over_the_cap_is_413(tmp_path: Path, path: str) -> None:
    with limited(tmp_path, "100 per minute", MAX_CONTENT_LENGTH=2000) as (client, key, _):
        text = ARTICLE_TEXT.replace("\n\n", " ")
        body = {"articles": [{"text": text}] * 8} if path.endswith("batch") else {"text": text * 8}
        raw = json.dumps(body).encode()
        assert len(raw) > 2000
        assert_error(_chunked_post(client, key, raw, path), 413, "payload_too_large")
        assert client.get("/v1/stories", headers=auth(key)).get_json()["stories"] == []


def test_a_chunked_body_up_to_the_cap_is_read_whole(tmp_path: Path) -> None:
    with limited(tmp_path, "100 per minute", MAX_CONTENT_LENGTH=2000) as (client, key, _):
        raw = json.dumps({"text": ARTICLE_TEXT}).encode()
        raw += b" " * (2000 - len(raw))  # exactly the cap
        resp = _chunked_post(client, key, raw)
        assert resp.status_code == 200 and "city council" in resp.get_json()["text"]
        assert_error(_chunked_post(client, key, raw + b" "), 413)  # one byte more


# -- invisible input is no article ------------------------------------------------------

INVISIBLE = ["\ufeff", "\u200b", "\u200b\u200c\u200d\u2060\ufeff", " \u3164 \n\u2800\u00a0", "\u0301\u0301"]


@pytest.mark.parametrize("text", INVISIBLE)
@pytest.mark.parametrize("path", ["/v1/clean", "/v1/articles"])
def test_invisible_text_is_422_empty_input(client: FlaskClient, keys: dict[str, str], path: str, text: str) -> None:
    assert_error(client.post(path, json={"text": text, "id": "inv"} if path == "/v1/articles" else {"text": text},
                             headers=auth(keys["a"])), 422, "empty_input", "text")
    assert_error(client.get("/v1/articles/inv", headers=auth(keys["a"])), 404)


@pytest.mark.parametrize("path", ["/v1/clean", "/v1/articles"])
def test_input_that_cleans_to_nothing_is_422_no_article_on_both_routes(client: FlaskClient, keys: dict[str, str],
                                                                       path: str) -> None:
    assert_error(client.post(path, json={"text": "xxxxxxxxxx"}, headers=auth(keys["a"])), 422, "no_article", "text")


def test_invisible_batch_items_are_422_each(client: FlaskClient, keys: dict[str, str]) -> None:
    items = [{"text": t} for t in INVISIBLE] + [{"text": ARTICLE_TEXT}]
    results = client.post("/v1/articles/batch", json={"articles": items}, headers=auth(keys["a"])).get_json()["results"]
    assert [r["status"] for r in results] == [422] * len(INVISIBLE) + [201]
    assert {r["error"]["field"] for r in results[:-1]} == {f"articles[{i}].text" for i in range(len(INVISIBLE))}


def test_text_with_some_visible_words_among_invisible_characters_is_kept(client: FlaskClient,
                                                                          keys: dict[str, str]) -> None:
    resp = client.post("/v1/clean", json={"text": "\ufeff" + ARTICLE_TEXT + "\u200b"}, headers=auth(keys["a"]))
    assert resp.status_code == 200 and "city council" in resp.get_json()["text"]


# -- metric labels and audit routes stay bounded ----------------------------------------

def test_unknown_methods_and_paths_get_constant_labels(app: Flask, client: FlaskClient, keys: dict[str, str]) -> None:
    for method in ["FOOA", "FOOB", "PROPFIND"]:
        assert_error(client.open("/v1/stories", method=method, headers=auth(keys["a"])), 405)
        assert_error(client.open("/no/such/path-" + method, method=method), 404)
    client.post("/v1/no/such/route-secret-ish", json={}, headers=auth(keys["a"]))
    text = client.get("/metrics").get_data(as_text=True)
    series = [line for line in text.splitlines() if line.startswith("cleaner_http_requests_total{")]
    assert any('method="other"' in line and 'route="<unmatched>"' in line for line in series)
    for raw in ["FOOA", "FOOB", "PROPFIND", "/no/such", "route-secret-ish"]:
        assert raw not in text
    lines = [json.loads(x) for x in Path(app.config["AUDIT_LOG"]).read_text(encoding="utf-8").splitlines()]
    assert [(x["method"], x["route"], x["status"]) for x in lines] == [("POST", "<unmatched>", 404)]


# -- matches never name a deleted article -----------------------------------------------

def test_matches_leave_out_articles_deleted_since(client: FlaskClient, keys: dict[str, str]) -> None:
    add(client, keys["a"], id="f1")
    add(client, keys["a"], id="f2")
    f3 = add(client, keys["a"], id="f3").get_json()
    assert {m["id"] for m in f3["matches"]} == {"f1", "f2"}
    assert client.delete("/v1/articles/f1", headers=auth(keys["a"])).status_code == 204
    for resp in [client.get("/v1/articles/f3", headers=auth(keys["a"])), add(client, keys["a"], id="f3")]:
        assert resp.status_code == 200
        assert [m["id"] for m in resp.get_json()["matches"]] == ["f2"]  # f2 is still there
    assert client.get("/v1/articles/f2", headers=auth(keys["a"])).get_json()["matches"] == []
    assert client.delete("/v1/articles/f2", headers=auth(keys["a"])).status_code == 204
    assert client.get("/v1/articles/f3", headers=auth(keys["a"])).get_json()["matches"] == []


def test_a_refused_batch_costs_nothing(tmp_path: Path) -> None:
    # A batch larger than the budget left is a 429, and the budget it did not use stays: with
    # a fixed window the refused batch was charged anyway and locked the key out.
    with limited(tmp_path, "5 per minute", MAX_BATCH_ARTICLES=5) as (client, key, _):
        assert client.get("/v1/stories", headers=auth(key)).status_code == 200
        assert client.get("/v1/stories", headers=auth(key)).status_code == 200  # 3 left
        batch = {"articles": [{"text": ARTICLE_TEXT}] * 4}
        resp = client.post("/v1/articles/batch", json=batch, headers=auth(key))
        assert_error(resp, 429, "rate_limited")
        assert resp.headers["X-RateLimit-Remaining"] == "3"
        small = {"articles": [{"text": ARTICLE_TEXT}, {"text": OTHER_TEXT}, {"text": ""}]}
        assert client.post("/v1/articles/batch", json=small, headers=auth(key)).status_code == 200
        assert_error(client.get("/v1/stories", headers=auth(key)), 429)


def test_the_sqlite_rate_store_keeps_a_moving_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The store itself, on a clock the test moves: what a window holds, what leaves it and
    # when, and that a refused request leaves no trace.
    from service import ratelimit

    clock = [1000.0]
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    store = ratelimit.SQLiteStorage(f"sqlite:///{tmp_path / 'rl.db'}")
    try:
        assert store.acquire_entry("k", 5, 60, 3)
        clock[0] = 1020.0
        assert not store.acquire_entry("k", 5, 60, 3)  # 3 + 3 > 5: refused, nothing recorded
        assert store.acquire_entry("k", 5, 60, 2)
        assert store.get_moving_window("k", 5, 60) == (1000.0, 5)
        assert not store.acquire_entry("k", 5, 60, 1)
        assert not store.acquire_entry("other", 5, 60, 6)  # more than the whole budget
        assert store.acquire_entry("other", 5, 60, 5)  # another key's own budget
        clock[0] = 1060.0  # the first 3 leave the window (let through at 1000, 60 s)
        assert store.get_moving_window("k", 5, 60) == (1020.0, 2)
        assert store.acquire_entry("k", 5, 60, 3)
        assert not store.acquire_entry("k", 5, 60, 1)
        clock[0] = 1200.0
        assert store.get_moving_window("k", 5, 60) == (1200.0, 0)
        store.clear("other")
        assert store.get_moving_window("other", 5, 60)[1] == 0
    finally:
        store.close()
