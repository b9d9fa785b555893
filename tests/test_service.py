"""The HTTP service through Flask's test client: every endpoint, every error, tenant isolation."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from flask import Flask
from flask.testing import FlaskClient

from service import close_app, create_app
from service.auth import KeyStore

ARTICLE_TEXT = (
    "The city council approved a new budget on Tuesday after a long debate about school funding.\n\n"
    "Council members voted seven to two in favour of the plan, which raises spending on libraries and parks.\n\n"
    "The mayor said the budget balances the needs of residents with the limits of the tax base.\n\n"
    "Opponents argued that the plan leaves too little in reserve for an economic downturn next year."
)
OTHER_TEXT = (
    "A rare comet will be visible to the naked eye this weekend, astronomers at the observatory said.\n\n"
    "The comet last passed close to the Sun more than six thousand years ago, long before written records.\n\n"
    "Viewers should look low on the western horizon shortly after sunset, away from city lights."
)
HTML_PAGE = (
    "<html><head><title>Harbour reopens after storm</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/sport'>Sport</a></nav>"
    "<article><h1>Harbour reopens after storm</h1>"
    "<p>The harbour reopened on Monday after crews cleared debris left by the weekend storm.</p>"
    "<p>Fishing boats returned to their moorings and the ferry service resumed its normal timetable.</p>"
    "<p>Port officials said repairs to the outer wall would take several more weeks to complete.</p>"
    "</article><footer>Copyright 2024. All rights reserved.</footer></body></html>"
)


@pytest.fixture()
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app({
        "CLEANER_DB": str(tmp_path / "service.db"),
        "AUDIT_LOG": str(tmp_path / "audit.log"),
        "RATE_LIMIT": "1000 per minute",
        "TESTING": True,
    })
    yield app
    close_app(app)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture()
def keys(app: Flask) -> dict[str, str]:
    store: KeyStore = app.extensions["cleaner.keys"]
    return {"a": store.create_key("tenant-a")[0], "b": store.create_key("tenant-b")[0]}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_error(resp: Any, status: int, code: str | None = None, field: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    err = resp.get_json()["error"]
    assert set(err) <= {"code", "message", "field"} and err["message"]
    if code is not None:
        assert err["code"] == code
    if field is not None:
        assert err.get("field") == field
    return err


def add(client: FlaskClient, key: str, text: str = ARTICLE_TEXT, **fields: Any) -> Any:
    return client.post("/v1/articles", json={"text": text, **fields}, headers=auth(key))


# (method, path, json body) for every authenticated route
V1_ROUTES = [
    ("POST", "/v1/clean", {"text": ARTICLE_TEXT}),
    ("POST", "/v1/articles", {"text": ARTICLE_TEXT}),
    ("POST", "/v1/articles/batch", {"articles": [{"text": ARTICLE_TEXT}]}),
    ("GET", "/v1/articles/x1", None),
    ("DELETE", "/v1/articles/x1", None),
    ("GET", "/v1/stories", None),
    ("GET", "/v1/stories/s_0123", None),
]
POST_ROUTES = [r for r in V1_ROUTES if r[0] == "POST"]


# -- auth -------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body"), V1_ROUTES)
@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz",
                                    "Bearer ck_000000000000_" + "A" * 43])
def test_v1_routes_refuse_missing_or_bad_keys(client: FlaskClient, method: str, path: str, body: Any,
                                              header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    resp = client.open(path, method=method, json=body, headers=headers)
    assert_error(resp, 401, "unauthorized")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_key_stops_working_at_once(app: Flask, client: FlaskClient) -> None:
    store: KeyStore = app.extensions["cleaner.keys"]
    key, key_id = store.create_key("tenant-r")
    assert client.get("/v1/stories", headers=auth(key)).status_code == 200
    assert store.revoke(key_id)
    assert_error(client.get("/v1/stories", headers=auth(key)), 401)


def test_key_with_right_id_but_wrong_secret_is_refused(client: FlaskClient, keys: dict[str, str]) -> None:
    forged = keys["a"][:-4] + ("AAAA" if not keys["a"].endswith("AAAA") else "BBBB")
    assert_error(client.get("/v1/stories", headers=auth(forged)), 401)


def test_only_the_hash_of_a_key_is_stored(app: Flask, keys: dict[str, str]) -> None:
    raw = Path(app.config["CLEANER_DB"]).read_bytes()
    assert keys["a"].encode() not in raw
    assert keys["a"].split("_", 2)[2].encode() not in raw


# -- clean ------------------------------------------------------------------------------

def test_clean_text_returns_the_cleaned_article(client: FlaskClient, keys: dict[str, str]) -> None:
    resp = client.post("/v1/clean", json={"text": ARTICLE_TEXT}, headers=auth(keys["a"]))
    assert resp.status_code == 200
    body = resp.get_json()
    assert "city council approved a new budget" in body["text"]
    assert len(body["paragraphs"]) == 4
    assert isinstance(body["removed"], list)
    assert set(body) >= {"text", "paragraphs", "removed", "title", "url", "language"}


def test_clean_html_drops_navigation_and_keeps_the_url(client: FlaskClient, keys: dict[str, str]) -> None:
    resp = client.post("/v1/clean", json={"html": HTML_PAGE, "url": "https://example.org/harbour"},
                       headers=auth(keys["a"]))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert "harbour reopened on Monday" in body["text"]
    assert "Sport" not in body["text"]
    assert body["url"] == "https://example.org/harbour"


def test_clean_stores_nothing(client: FlaskClient, keys: dict[str, str]) -> None:
    client.post("/v1/clean", json={"text": ARTICLE_TEXT}, headers=auth(keys["a"]))
    assert client.get("/v1/stories", headers=auth(keys["a"])).get_json()["stories"] == []


# -- request errors ---------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "body"), POST_ROUTES)
def test_malformed_json_is_400(client: FlaskClient, keys: dict[str, str], method: str, path: str, body: Any) -> None:
    resp = client.post(path, data='{"text": "unterminated', content_type="application/json", headers=auth(keys["a"]))
    assert_error(resp, 400, "malformed_json")


@pytest.mark.parametrize(("method", "path", "body"), POST_ROUTES)
@pytest.mark.parametrize("raw", ["[" * 100_000 + "]" * 100_000, b'{"text": "caf\xe9"}', b"", b"\xff\xfe\x00"])
def test_undecodable_or_absurdly_nested_json_is_400(client: FlaskClient, keys: dict[str, str], method: str,
                                                    path: str, body: Any, raw: Any) -> None:
    resp = client.post(path, data=raw, content_type="application/json", headers=auth(keys["a"]))
    assert_error(resp, 400, "malformed_json")


@pytest.mark.parametrize("field", ["text", "id", "source", "url", "published"])
def test_unpaired_surrogates_are_422_not_500(client: FlaskClient, keys: dict[str, str], field: str) -> None:
    body = {"text": ARTICLE_TEXT, "id": "sur", "published": "2024-05-01"}
    raw = json.dumps(body)[:-1] + f', "{field}": "x\\ud800"}}'
    if field in body:
        raw = json.dumps({k: v for k, v in body.items() if k != field})[:-1] + f', "{field}": "x\\ud800"}}'
    resp = client.post("/v1/articles", data=raw, content_type="application/json", headers=auth(keys["a"]))
    assert_error(resp, 422, "invalid_field", field)


@pytest.mark.parametrize(("method", "path", "body"), POST_ROUTES)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client: FlaskClient, keys: dict[str, str], method: str, path: str, body: Any,
                                   content_type: str | None) -> None:
    kwargs: dict[str, Any] = {"data": json.dumps(body), "headers": auth(keys["a"])}
    if content_type:
        kwargs["content_type"] = content_type
    assert_error(client.post(path, **kwargs), 415, "unsupported_media_type")


@pytest.mark.parametrize(("method", "path", "body"), POST_ROUTES)
def test_body_over_the_cap_is_413(client: FlaskClient, keys: dict[str, str], method: str, path: str, body: Any) -> None:
    big = json.dumps({"text": "word " * (1_100_000)})  # ~5.5 MB
    resp = client.post(path, data=big, content_type="application/json", headers=auth(keys["a"]))
    assert_error(resp, 413, "payload_too_large")


@pytest.mark.parametrize(("body", "field"), [
    ({}, "text"),
    ([], "body"),
    ("just a string", "body"),
    ({"text": None}, "text"),
    ({"text": 42}, "text"),
    ({"html": ["<p>x</p>"]}, "html"),
    ({"text": "a", "html": "<p>b</p>"}, "html"),
    ({"text": ARTICLE_TEXT, "url": 7}, "url"),
    ({"text": ARTICLE_TEXT, "url": "u" * 3000}, "url"),
    ({"text": ARTICLE_TEXT, "colour": "red"}, "colour"),
    ({"text": ""}, "text"),
    ({"text": "   \n  "}, "text"),
    ({"text": "\x00\x01\x02\x03\x04\x05" * 50}, "text"),
])
def test_bad_clean_input_is_422_naming_the_field(client: FlaskClient, keys: dict[str, str], body: Any,
                                                field: str) -> None:
    assert_error(client.post("/v1/clean", json=body, headers=auth(keys["a"])), 422, field=field)


@pytest.mark.parametrize(("extra", "field"), [
    ({"id": ""}, "id"),
    ({"id": "has space"}, "id"),
    ({"id": "x" * 200}, "id"),
    ({"id": 5}, "id"),
    ({"published": "yesterday"}, "published"),
    ({"published": 20240501}, "published"),
    ({"source": ["a"]}, "source"),
    ({"id": "batch"}, "id"),
])
def test_bad_article_fields_are_422_naming_the_field(client: FlaskClient, keys: dict[str, str], extra: dict[str, Any],
                                                     field: str) -> None:
    assert_error(add(client, keys["a"], **extra), 422, "invalid_field", field)


def test_page_with_nothing_but_boilerplate_is_not_indexed(client: FlaskClient, keys: dict[str, str]) -> None:
    page = "<html><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav></body></html>"
    resp = client.post("/v1/articles", json={"html": page, "id": "nav"}, headers=auth(keys["a"]))
    assert_error(resp, 422, field="html")
    assert resp.get_json()["error"]["code"] in {"no_article", "empty_input"}
    assert client.get("/v1/articles/nav", headers=auth(keys["a"])).status_code == 404


def test_unknown_route_and_wrong_method_answer_json(client: FlaskClient, keys: dict[str, str]) -> None:
    assert_error(client.get("/nope"), 404, "not_found")
    assert_error(client.get("/v1/nope", headers=auth(keys["a"])), 404, "not_found")
    resp = client.put("/v1/clean", json={}, headers=auth(keys["a"]))
    assert_error(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]
    assert_error(client.post("/healthz"), 405)
    # A doubled slash is no route either: JSON, not Werkzeug's HTML redirect.
    assert_error(client.post("/v1//articles", json={"id": "x", "text": "Some text."},
                             headers=auth(keys["a"])), 404, "not_found")


# -- articles ---------------------------------------------------------------------------

def test_add_article_returns_verdict_and_cleaned_fields(client: FlaskClient, keys: dict[str, str]) -> None:
    resp = add(client, keys["a"], id="budget-1", source="Daily", published="2024-05-01T10:00:00Z")
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["id"] == "budget-1" and body["story_id"] and body["duplicate_of"] is None
    assert body["matches"] == [] and body["source"] == "Daily" and body["published"] == "2024-05-01T10:00:00Z"
    assert "city council" in body["text"] and isinstance(body["removed"], list)
    got = client.get("/v1/articles/budget-1", headers=auth(keys["a"]))
    assert got.status_code == 200 and got.get_json() == body


def test_html_article_without_published_is_dated_as_the_page_states(client: FlaskClient,
                                                                    keys: dict[str, str]) -> None:
    dated = HTML_PAGE.replace("<head>", "<head><meta property='article:published_time' content='2024-03-07'>")
    body = client.post("/v1/articles", json={"html": dated, "id": "h1"}, headers=auth(keys["a"])).get_json()
    assert body["date"] == "2024-03-07" and body["published"] == "2024-03-07"
    given = client.post("/v1/articles", json={"html": dated, "id": "h2", "published": "2024-03-09"},
                        headers=auth(keys["a"])).get_json()
    assert given["published"] == "2024-03-09"  # the caller's date wins


def test_add_article_without_id_gets_a_fresh_one(client: FlaskClient, keys: dict[str, str]) -> None:
    first = add(client, keys["a"]).get_json()
    second = add(client, keys["a"]).get_json()
    assert first["id"] != second["id"]
    assert second["duplicate_of"] == first["id"]  # the same text twice is a copy


def test_repeat_id_returns_the_stored_verdict_without_duplicating(client: FlaskClient, keys: dict[str, str]) -> None:
    first = add(client, keys["a"], id="rep")
    again = add(client, keys["a"], text=OTHER_TEXT, id="rep")
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json() == first.get_json()
    story = client.get(f"/v1/stories/{first.get_json()['story_id']}", headers=auth(keys["a"])).get_json()
    assert story["members"] == ["rep"]


def test_copy_and_unrelated_article_get_the_right_stories(client: FlaskClient, keys: dict[str, str]) -> None:
    a = add(client, keys["a"], id="orig").get_json()
    copy = add(client, keys["a"], id="copy").get_json()
    other = add(client, keys["a"], text=OTHER_TEXT, id="comet").get_json()
    assert copy["story_id"] == a["story_id"] and copy["duplicate_of"] == "orig"
    assert copy["matches"][0]["id"] == "orig" and copy["matches"][0]["kind"] == "duplicate"
    assert other["story_id"] != a["story_id"]


def test_delete_removes_the_article_from_storage_and_story(client: FlaskClient, keys: dict[str, str]) -> None:
    a = add(client, keys["a"], id="d1").get_json()
    add(client, keys["a"], id="d2")
    resp = client.delete("/v1/articles/d1", headers=auth(keys["a"]))
    assert resp.status_code == 204 and resp.data == b""
    assert_error(client.get("/v1/articles/d1", headers=auth(keys["a"])), 404, "not_found")
    assert_error(client.delete("/v1/articles/d1", headers=auth(keys["a"])), 404, "not_found")
    story = client.get(f"/v1/stories/{a['story_id']}", headers=auth(keys["a"])).get_json()
    assert "d1" not in story["members"] and "d2" in story["members"]


def test_batch_path_is_not_an_article_lookup(client: FlaskClient, keys: dict[str, str]) -> None:
    resp = client.get("/v1/articles/batch", headers=auth(keys["a"]))
    assert_error(resp, 405, "method_not_allowed")
    assert {m.strip() for m in resp.headers["Allow"].split(",")} == {"OPTIONS", "POST"}


@pytest.mark.parametrize("bad_id", ["missing", "a%20b", "..", "x" * 300, "a/b"])
def test_unknown_article_ids_are_404(client: FlaskClient, keys: dict[str, str], bad_id: str) -> None:
    assert_error(client.get(f"/v1/articles/{bad_id}", headers=auth(keys["a"])), 404, "not_found")
    assert_error(client.delete(f"/v1/articles/{bad_id}", headers=auth(keys["a"])), 404, "not_found")


# -- batch ------------------------------------------------------------------------------

def test_batch_answers_each_article_on_its_own(client: FlaskClient, keys: dict[str, str]) -> None:
    body = {"articles": [{"id": "b1", "text": ARTICLE_TEXT}, {"id": "b2", "text": ""},
                         {"id": "bad id", "text": OTHER_TEXT}, {"id": "b1", "text": OTHER_TEXT},
                         {"html": HTML_PAGE, "url": "https://example.org/h"}]}
    resp = client.post("/v1/articles/batch", json=body, headers=auth(keys["a"]))
    assert resp.status_code == 200
    results = resp.get_json()["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["status"] for r in results] == [201, 422, 422, 200, 201]
    assert results[1]["error"]["field"] == "articles[1].text"
    assert results[2]["error"]["field"] == "articles[2].id"
    assert results[3]["article"]["id"] == "b1" and "city council" in results[3]["article"]["text"]
    assert client.get("/v1/articles/b1", headers=auth(keys["a"])).status_code == 200


@pytest.mark.parametrize(("body", "field"), [
    ({}, "articles"), ({"articles": []}, "articles"), ({"articles": "x"}, "articles"),
    ({"articles": [{"text": "x"}], "extra": 1}, "extra"), ([1], "body"),
])
def test_bad_batch_shape_is_422(client: FlaskClient, keys: dict[str, str], body: Any, field: str) -> None:
    assert_error(client.post("/v1/articles/batch", json=body, headers=auth(keys["a"])), 422, "invalid_field", field)


def test_batch_over_the_cap_is_422(app: Flask, client: FlaskClient, keys: dict[str, str]) -> None:
    cap = app.config["MAX_BATCH_ARTICLES"]
    body = {"articles": [{"text": ARTICLE_TEXT}] * (cap + 1)}
    err = assert_error(client.post("/v1/articles/batch", json=body, headers=auth(keys["a"])), 422, field="articles")
    assert str(cap) in err["message"]


# -- stories ----------------------------------------------------------------------------

def test_stories_are_listed_and_paginated(client: FlaskClient, keys: dict[str, str]) -> None:
    a = add(client, keys["a"], id="p1").get_json()
    add(client, keys["a"], id="p2")
    c = add(client, keys["a"], text=OTHER_TEXT, id="p3").get_json()
    page = client.get("/v1/stories?limit=1", headers=auth(keys["a"])).get_json()
    assert page["limit"] == 1 and page["offset"] == 0 and len(page["stories"]) == 1
    everything = client.get("/v1/stories", headers=auth(keys["a"])).get_json()["stories"]
    assert {s["id"] for s in everything} == {a["story_id"], c["story_id"]}
    second = client.get("/v1/stories?limit=1&offset=1", headers=auth(keys["a"])).get_json()["stories"]
    assert second[0]["id"] != page["stories"][0]["id"]
    story = client.get(f"/v1/stories/{a['story_id']}", headers=auth(keys["a"])).get_json()
    assert story["members"] == ["p1", "p2"] and story["size"] == 2
    assert [m["id"] for m in story["articles"]] == ["p1", "p2"]
    assert story["articles"][1]["duplicate_of"] == "p1"


@pytest.mark.parametrize("query", [
    "limit=0", "limit=101", "limit=x", "offset=-1", "offset=1.5", "limit=",
    # past SQLite's 64-bit integers (was a 500), and past the documented maximum
    "offset=9223372036854775808", "offset=1000000001", "offset=" + "9" * 5000, "limit=" + "1" * 30,
    # what int() takes but a query string should not: underscores, spaces, signs, other digits
    "offset=1_0", "offset=%201", "limit=5%20", "offset=%2B5", "offset=-0", "limit=%EF%BC%95", "offset=%D9%A3",
    "limit=%C2%B2", "offset=0x10", "offset=1e3", "offset=%0A1",
    # parameters the route does not take are not silently ignored
    "page=2", "Limit=5", "=", "=false",
])
def test_bad_pagination_is_422(client: FlaskClient, keys: dict[str, str], query: str) -> None:
    field = query.split("=")[0]
    assert_error(client.get(f"/v1/stories?{query}", headers=auth(keys["a"])), 422, "invalid_field", field)


@pytest.mark.parametrize(("query", "limit", "offset"), [
    ("limit=007&offset=000", 7, 0), ("offset=1000000000", 20, 1_000_000_000), ("offset=" + "0" * 5000 + "3", 20, 3),
])
def test_pagination_takes_plain_digits_up_to_the_maximum(client: FlaskClient, keys: dict[str, str], query: str,
                                                         limit: int, offset: int) -> None:
    page = client.get(f"/v1/stories?{query}", headers=auth(keys["a"]))
    assert page.status_code == 200
    assert page.get_json() == {"stories": [], "limit": limit, "offset": offset}


@pytest.mark.parametrize("story_id", ["s_0000000000000000", "nonsense", "x" * 300])
def test_unknown_story_is_404(client: FlaskClient, keys: dict[str, str], story_id: str) -> None:
    assert_error(client.get(f"/v1/stories/{story_id}", headers=auth(keys["a"])), 404, "not_found")


# -- tenant isolation -------------------------------------------------------------------

def test_tenants_cannot_read_delete_list_or_infer_each_others_articles(client: FlaskClient,
                                                                        keys: dict[str, str]) -> None:
    a = add(client, keys["a"], id="secret-1", source="A-only").get_json()
    unknown_get = client.get("/v1/articles/never-existed", headers=auth(keys["b"]))
    other_get = client.get("/v1/articles/secret-1", headers=auth(keys["b"]))
    assert other_get.status_code == unknown_get.status_code == 404
    assert other_get.get_data() == unknown_get.get_data().replace(b"never-existed", b"secret-1")
    other_del = client.delete("/v1/articles/secret-1", headers=auth(keys["b"]))
    unknown_del = client.delete("/v1/articles/never-existed", headers=auth(keys["b"]))
    assert other_del.status_code == 404 and other_del.get_data() == unknown_del.get_data()
    assert client.get("/v1/articles/secret-1", headers=auth(keys["a"])).status_code == 200  # still there
    # B cannot see A's story, nor list it
    assert_error(client.get(f"/v1/stories/{a['story_id']}", headers=auth(keys["b"])), 404, "not_found")
    assert client.get("/v1/stories", headers=auth(keys["b"])).get_json()["stories"] == []
    # B posting the same text is not matched against A's copy: no inference by verdict
    b = add(client, keys["b"], id="b-copy").get_json()
    assert b["duplicate_of"] is None and b["matches"] == [] and b["story_id"] != a["story_id"]


def test_same_id_from_two_tenants_is_two_articles(client: FlaskClient, keys: dict[str, str]) -> None:
    a = add(client, keys["a"], id="shared-id")
    b = add(client, keys["b"], text=OTHER_TEXT, id="shared-id")
    assert a.status_code == 201 and b.status_code == 201
    assert "city council" in client.get("/v1/articles/shared-id", headers=auth(keys["a"])).get_json()["text"]
    assert "comet" in client.get("/v1/articles/shared-id", headers=auth(keys["b"])).get_json()["text"]
    assert client.delete("/v1/articles/shared-id", headers=auth(keys["b"])).status_code == 204
    assert client.get("/v1/articles/shared-id", headers=auth(keys["a"])).status_code == 200


def test_no_response_names_a_tenant(app: Flask, client: FlaskClient, keys: dict[str, str]) -> None:
    import sqlite3

    with sqlite3.connect(app.config["CLEANER_DB"]) as conn:
        tenant_ids = [r[0] for r in conn.execute("SELECT id FROM service_tenants")]
    conn.close()
    bodies = [add(client, keys["a"], id="n1").get_data(), client.get("/v1/stories", headers=auth(keys["a"])).get_data(),
              client.get("/metrics").get_data(), client.get("/readyz").get_data(), client.get("/openapi.json").get_data()]
    for body in bodies:
        for secret in [*tenant_ids, b"tenant-a", b"tenant-b"]:
            assert (secret if isinstance(secret, bytes) else secret.encode()) not in body


# -- rate limit -------------------------------------------------------------------------

def test_rate_limit_is_per_key_and_answers_429_with_retry_after(tmp_path: Path) -> None:
    app = create_app({"CLEANER_DB": str(tmp_path / "rl.db"), "AUDIT_LOG": "", "RATE_LIMIT": "3 per minute"})
    try:
        store: KeyStore = app.extensions["cleaner.keys"]
        k1, k2 = store.create_key("rl-1")[0], store.create_key("rl-2")[0]
        client = app.test_client()
        codes = [client.get("/v1/stories", headers=auth(k1)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        resp = client.get("/v1/stories", headers=auth(k1))
        assert_error(resp, 429, "rate_limited")
        assert 0 < int(resp.headers["Retry-After"]) <= 60
        assert "Retry-After" not in client.get("/v1/stories", headers=auth(k2)).headers  # only on a 429
        assert client.get("/v1/stories", headers=auth(k2)).status_code == 200  # another key has its own budget
        assert client.get("/healthz").status_code == 200  # unauthenticated routes are not limited
    finally:
        close_app(app)


def test_a_batch_costs_one_request_per_article(tmp_path: Path) -> None:
    app = create_app({"CLEANER_DB": str(tmp_path / "rl.db"), "AUDIT_LOG": "", "RATE_LIMIT": "5 per minute"})
    try:
        key = app.extensions["cleaner.keys"].create_key("rl-batch")[0]
        client = app.test_client()
        batch = {"articles": [{"text": ARTICLE_TEXT}, {"text": OTHER_TEXT}, {"text": ""}, {"text": ""}]}
        assert client.post("/v1/articles/batch", json=batch, headers=auth(key)).status_code == 200  # 4 of 5 used
        assert client.get("/v1/stories", headers=auth(key)).status_code == 200  # the 5th
        assert_error(client.post("/v1/articles/batch", json=batch, headers=auth(key)), 429, "rate_limited")
    finally:
        close_app(app)


# -- health, metrics, docs, audit -------------------------------------------------------

def test_healthz_and_readyz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"keys": "ok", "index": "ok", "ratelimit": "ok"}


def test_readyz_is_503_when_the_store_is_gone(tmp_path: Path) -> None:
    db = tmp_path / "gone" / "x.db"
    db.parent.mkdir()
    app = create_app({"CLEANER_DB": str(db), "AUDIT_LOG": ""})
    try:
        shutil.rmtree(db.parent)
        resp = app.test_client().get("/readyz")
        assert resp.status_code == 503 and resp.get_json()["status"] == "unavailable"
    finally:
        close_app(app)


def _metric(client: FlaskClient, prefix: str) -> float:
    total = 0.0
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(prefix):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_requests_articles_and_removals(client: FlaskClient, keys: dict[str, str]) -> None:
    route = 'cleaner_http_requests_total{method="POST",route="/v1/articles",status="201"}'
    before = (_metric(client, route), _metric(client, "cleaner_articles_indexed_total"),
              _metric(client, "cleaner_removals_total"))
    add(client, keys["a"], id="m1")
    client.post("/v1/clean", json={"html": HTML_PAGE}, headers=auth(keys["a"]))
    after = (_metric(client, route), _metric(client, "cleaner_articles_indexed_total"),
             _metric(client, "cleaner_removals_total"))
    assert after[0] == before[0] + 1 and after[1] == before[1] + 1
    assert after[2] >= before[2]
    text = client.get("/metrics").get_data(as_text=True)
    assert "cleaner_http_request_duration_seconds_bucket" in text


def test_metrics_are_for_the_operator_only(tmp_path: Path) -> None:
    app = create_app({"CLEANER_DB": str(tmp_path / "m.db"), "AUDIT_LOG": ""})
    tokened = create_app({"CLEANER_DB": str(tmp_path / "m.db"), "AUDIT_LOG": "", "METRICS_TOKEN": "s3cret"})
    try:
        remote = {"REMOTE_ADDR": "203.0.113.9"}
        assert app.test_client().get("/metrics").status_code == 200  # loopback
        assert_error(app.test_client().get("/metrics", environ_base=remote), 403, "forbidden")
        client = tokened.test_client()
        assert_error(client.get("/metrics"), 403)
        assert_error(client.get("/metrics", headers={"Authorization": "Bearer nope"}), 403)
        ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret"}, environ_base=remote)
        assert ok.status_code == 200 and b"cleaner_http_requests_total" in ok.data
    finally:
        close_app(app)
        close_app(tokened)


def test_openapi_describes_every_route_and_docs_page_lists_them(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<article_id:article_id>", "{id}").replace("<story_id>", "{id}")
        served |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented
    page = client.get("/docs")
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "<script" not in html and "http" not in html.split("</style>")[0].lower().replace("http-equiv", "")
    for _, path in documented:
        assert f"<code>{path}</code>" in html


def test_audit_lines_name_tenant_key_route_and_id_but_never_the_key_or_text(
        app: Flask, client: FlaskClient, keys: dict[str, str]) -> None:
    add(client, keys["a"], id="aud-1")
    client.delete("/v1/articles/aud-1", headers=auth(keys["a"]))
    client.post("/v1/clean", json={"text": ARTICLE_TEXT}, headers=auth(keys["a"]))
    client.post("/v1/articles", json={"text": ARTICLE_TEXT}, headers=auth("bad"))
    raw = Path(app.config["AUDIT_LOG"]).read_text(encoding="utf-8")
    lines = [json.loads(line) for line in raw.splitlines()]
    assert [(x["method"], x["route"], x["status"]) for x in lines] == [
        ("POST", "/v1/articles", 201), ("DELETE", "/v1/articles/<article_id:article_id>", 204), ("POST", "/v1/articles", 401)]
    assert lines[0]["tenant"] == "tenant-a" and lines[0]["article_ids"] == ["aud-1"]
    assert lines[0]["key_id"] == keys["a"].split("_")[1] and lines[2]["tenant"] is None
    assert all(set(x) == {"ts", "tenant", "key_id", "route", "method", "status", "article_ids"} for x in lines)
    assert keys["a"] not in raw and "city council" not in raw


# -- PostgreSQL store -------------------------------------------------------------------

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_up() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.postgres
@pytest.mark.skipif(not _postgres_up(), reason="no PostgreSQL server on 127.0.0.1:5432")
def test_service_runs_on_a_postgresql_store(tmp_path: Path) -> None:
    import secrets

    import psycopg

    schema = "service_test_" + secrets.token_hex(6)  # a fresh schema: the database is shared
    app = create_app({"CLEANER_DB": PG_DSN, "DB_SCHEMA": schema, "AUDIT_LOG": "",
                      "RATELIMIT_STORAGE_URI": f"sqlite:///{tmp_path / 'rl.db'}"})
    try:
        store: KeyStore = app.extensions["cleaner.keys"]
        ka = store.create_key("pg-a")[0]
        kb = store.create_key("pg-b")[0]
        client = app.test_client()
        assert add(client, ka, id="pg-1").status_code == 201
        assert add(client, ka, id="pg-1").status_code == 200
        assert client.get("/v1/articles/pg-1", headers=auth(ka)).get_json()["id"] == "pg-1"
        assert_error(client.get("/v1/articles/pg-1", headers=auth(kb)), 404, "not_found")
        assert client.get("/readyz").status_code == 200
        assert client.delete("/v1/articles/pg-1", headers=auth(ka)).status_code == 204
        assert_error(client.get("/v1/articles/pg-1", headers=auth(ka)), 404)
    finally:
        close_app(app)
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# -- fuzz: no input gives a 500 ---------------------------------------------------------

_ANY_CHAR = st.characters(blacklist_categories=())  # includes lone surrogates and controls
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(_ANY_CHAR, max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(_ANY_CHAR, max_size=8), inner, max_size=4),
    max_leaves=12)
_FIELDS = ["html", "text", "url", "id", "source", "published", "articles"]
_ARTICLE_LIKE = st.dictionaries(st.sampled_from(_FIELDS), _JSON | st.text(_ANY_CHAR, max_size=200), max_size=5)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(path=st.sampled_from([r[1] for r in POST_ROUTES]),
       body=_ARTICLE_LIKE | st.fixed_dictionaries({"articles": st.lists(_ARTICLE_LIKE, max_size=3)}) | _JSON)
def test_no_json_body_gives_a_server_error(client: FlaskClient, keys: dict[str, str], path: str, body: Any) -> None:
    raw = json.dumps(body, ensure_ascii=True)  # ascii escapes carry lone surrogates through
    resp = client.post(path, data=raw, content_type="application/json", headers=auth(keys["a"]))
    assert resp.status_code < 500, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"


THIRD_TEXT = (
    "The regional orchestra announced its winter season, opening with a programme of Baltic composers.\n\n"
    "Tickets go on sale next month, and students will again be offered seats at half price."
)


@pytest.mark.parametrize(("settings", "bad"), [({"STORY_WINDOW": 0}, "STORY_WINDOW (CLEANER_STORY_WINDOW)"),
                                               ({"MAX_BATCH_ARTICLES": "10"}, "MAX_BATCH_ARTICLES")])
def test_create_app_refuses_a_bad_number_setting(tmp_path: Path, settings: dict[str, Any], bad: str) -> None:
    from service.config import ConfigError

    with pytest.raises(ConfigError, match=re.escape(bad)):
        create_app({"CLEANER_DB": str(tmp_path / "c.db"), "AUDIT_LOG": "", **settings})


@pytest.mark.parametrize(("window", "copy_of"), [(None, "a1"), ("2", None)])
def test_the_story_window_comes_from_the_environment(tmp_path: Path, monkeypatch, window: str | None,
                                                     copy_of: str | None) -> None:  # type: ignore[no-untyped-def]
    # CLEANER_STORY_WINDOW=2: each worker keeps only a tenant's two newest articles as
    # candidates, so a copy of an older one is no longer found.
    if window is not None:
        monkeypatch.setenv("CLEANER_STORY_WINDOW", window)
    app = create_app({"CLEANER_DB": str(tmp_path / "w.db"), "AUDIT_LOG": "", "TESTING": True})
    try:
        key = app.extensions["cleaner.keys"].create_key("tenant-w")[0]
        client = app.test_client()
        for id_, text in (("a1", ARTICLE_TEXT), ("o1", OTHER_TEXT), ("t1", THIRD_TEXT)):
            assert add(client, key, text, id=id_).status_code == 201
        resp = add(client, key, ARTICLE_TEXT + "\n\nShare this story.", id="a2")
        assert resp.status_code == 201 and resp.get_json()["duplicate_of"] == copy_of
    finally:
        close_app(app)
