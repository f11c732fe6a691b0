"""The sample app's endpoints through Flask's test client: API, probes, auth, errors, headers, metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient
from prometheus_client import REGISTRY

from services.flask_app.app import SECURITY_HEADERS, create_app
from services.flask_app.settings import FlaskAppSettings
from tests.flask_app.conftest import AUTH, TOKEN


def _requests(method: str, endpoint: str, status: int) -> float:
    labels = {"method": method, "endpoint": endpoint, "status": str(status)}
    return REGISTRY.get_sample_value("flask_requests_total", labels) or 0.0


def test_index_names_the_api(client: FlaskClient) -> None:
    """`/` answers JSON that points at the API and the probes."""
    response = client.get("/")
    assert response.status_code == 200
    assert response.json == {
        "name": "flask-app",
        "api": "/api/notes",
        "probes": ["/health", "/ready"],
        "metrics": "/metrics",
    }


def test_health_and_ready_answer_ok(client: FlaskClient) -> None:
    """Liveness and readiness are 200 while the database can be read."""
    assert client.get("/health").json == {"status": "ok"}
    ready = client.get("/ready")
    assert (ready.status_code, ready.json) == (200, {"status": "ready"})


def test_ready_is_503_when_the_database_is_gone(client: FlaskClient, settings: FlaskAppSettings) -> None:
    """Readiness fails, with a JSON reason, once the notes table cannot be read."""
    settings.flask_app_db_path.unlink()
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json is not None and response.json["error"] == "not_ready"
    assert client.get("/health").status_code == 200  # alive, only not ready


def test_a_note_is_created_read_listed_and_deleted(client: FlaskClient) -> None:
    """With the token, a note round-trips: 201 + Location, readable, listed newest first, deleted with 204."""
    first = client.post("/api/notes", json={"title": " first ", "body": "hello"}, headers=AUTH)
    second = client.post("/api/notes", json={"title": "second"}, headers=AUTH)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json is not None and second.json is not None
    assert first.json["title"] == "first" and first.json["body"] == "hello"
    assert first.headers["Location"] == f"/api/notes/{first.json['id']}"

    assert client.get(first.headers["Location"]).json == first.json
    listed = client.get("/api/notes").json
    assert listed is not None and [n["title"] for n in listed["notes"]] == ["second", "first"]
    limited = client.get("/api/notes?limit=1").json
    assert limited is not None and [n["title"] for n in limited["notes"]] == ["second"]

    assert client.delete(first.headers["Location"], headers=AUTH).status_code == 204
    assert client.get(first.headers["Location"]).status_code == 404
    assert client.delete(first.headers["Location"], headers=AUTH).status_code == 404


def test_notes_are_shared_through_the_database_file(settings: FlaskAppSettings) -> None:
    """Two app instances over one file (as two gunicorn workers are) see each other's notes."""
    one, two = create_app(settings).test_client(), create_app(settings).test_client()
    created = one.post("/api/notes", json={"title": "shared"}, headers=AUTH).json
    assert created is not None
    assert two.get(f"/api/notes/{created['id']}").json == created


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "malformed_header"),
        ({"Authorization": "Bearer "}, "malformed_header"),
        ({"Authorization": "Bearer wrong-token"}, "invalid_token"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "invalid_token"),
    ],
)
def test_writes_without_a_valid_token_are_401(client: FlaskClient, headers: dict[str, str], reason: str) -> None:
    """POST and DELETE without the right bearer token are refused with 401, a JSON reason and WWW-Authenticate."""
    created = client.post("/api/notes", json={"title": "kept"}, headers=AUTH).json
    assert created is not None
    for response in (
        client.post("/api/notes", json={"title": "x"}, headers=headers),
        client.delete(f"/api/notes/{created['id']}", headers=headers),
    ):
        assert response.status_code == 401
        assert response.json is not None and response.json["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(f"/api/notes/{created['id']}").status_code == 200  # the refused DELETE deleted nothing


def test_an_app_without_tokens_refuses_every_write(tmp_path: Path) -> None:
    """Refuse by default: with no token configured, even an empty bearer value never writes."""
    client = create_app(FlaskAppSettings(flask_app_db_path=tmp_path / "db.sqlite3")).test_client()
    assert client.post("/api/notes", json={"title": "x"}, headers={"Authorization": "Bearer "}).status_code == 401
    assert client.post("/api/notes", json={"title": "x"}, headers=AUTH).status_code == 401
    assert client.get("/api/notes").json == {"notes": []}


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"json": {"body": "no title"}}, 400, "invalid_body"),
        ({"json": {"title": ""}}, 400, "invalid_body"),
        ({"json": {"title": "x", "admin": True}}, 400, "invalid_body"),
        ({"json": ["not", "an", "object"]}, 400, "invalid_body"),
        ({"data": b"{not json", "content_type": "application/json"}, 400, "bad_request"),
        ({"data": b"title=x", "content_type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        ({"data": b"[" + b"1," * 40_000 + b"1]", "content_type": "application/json"}, 413, "request_entity_too_large"),
    ],
)
def test_bad_bodies_get_a_clear_json_error(
    client: FlaskClient, kwargs: dict[str, object], status: int, error: str
) -> None:
    """A body that is not a note, not JSON, or too large is refused with its status and a stable error code."""
    before = REGISTRY.get_sample_value("flask_errors_total", {"error_type": error}) or 0.0
    response = client.post("/api/notes", headers=AUTH, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status
    assert response.json is not None and response.json["error"] == error and response.json["reason"]
    assert REGISTRY.get_sample_value("flask_errors_total", {"error_type": error}) == before + 1
    assert client.get("/api/notes").json == {"notes": []}


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=ten", "limit=-1", "limit=1e3"])
def test_a_bad_limit_is_400(client: FlaskClient, query: str) -> None:
    """`limit` outside 1..100 or not a number is refused, not clamped."""
    response = client.get(f"/api/notes?{query}")
    assert response.status_code == 400
    assert response.json is not None and response.json["error"] == "invalid_query"


def test_unknown_paths_and_methods_answer_json(client: FlaskClient) -> None:
    """404 and 405 are JSON like every other error, and 405 says which methods are allowed."""
    missing = client.get("/wp-login.php")
    assert missing.status_code == 404 and missing.json is not None and missing.json["error"] == "not_found"
    wrong = client.put("/api/notes")
    assert wrong.status_code == 405 and wrong.json is not None and wrong.json["error"] == "method_not_allowed"
    assert {"GET", "POST"} <= {m.strip() for m in wrong.headers["Allow"].split(",")}


def test_every_response_carries_the_security_headers(client: FlaskClient) -> None:
    """Success, refusal and not-found answers all carry the same security headers."""
    for response in (client.get("/"), client.post("/api/notes", json={}), client.get("/nowhere")):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value


def test_the_request_id_is_taken_from_the_caller_or_generated(client: FlaskClient) -> None:
    """A plain X-Request-ID comes back unchanged; none, or one that could forge log content, gets a fresh id."""
    assert client.get("/", headers={"X-Request-ID": "abc-123.4:5"}).headers["X-Request-ID"] == "abc-123.4:5"
    generated = {client.get("/").headers["X-Request-ID"] for _ in range(3)}
    assert len(generated) == 3 and all(len(g) == 32 for g in generated)
    for hostile in ('x"}{"forged": 1', "a" * 200, " spaced", "../../etc"):
        returned = client.get("/", headers={"X-Request-ID": hostile}).headers["X-Request-ID"]
        assert returned != hostile and len(returned) == 32


def test_requests_are_counted_by_route_not_by_path(client: FlaskClient) -> None:
    """flask_requests_total counts per route template and status; unknown paths share one label value."""
    note_route = "/api/notes/<int:note_id>"
    before = (_requests("GET", note_route, 404), _requests("GET", "unmatched", 404), _requests("GET", "/", 200))
    for note_id in (7, 8, 9):
        client.get(f"/api/notes/{note_id}")
    for path in ("/a", "/b"):
        client.get(path)
    client.get("/")
    after = (_requests("GET", note_route, 404), _requests("GET", "unmatched", 404), _requests("GET", "/", 200))
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 2, 1]


def test_request_durations_are_observed(client: FlaskClient) -> None:
    """Each request adds one observation to flask_request_duration_seconds for its route."""
    labels = {"method": "GET", "endpoint": "/health"}
    before = REGISTRY.get_sample_value("flask_request_duration_seconds_count", labels) or 0.0
    client.get("/health")
    client.get("/health")
    assert REGISTRY.get_sample_value("flask_request_duration_seconds_count", labels) == before + 2


def test_metrics_are_served_in_the_prometheus_format(client: FlaskClient) -> None:
    """`/metrics` serves the text exposition with the request counter in it."""
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert b'flask_requests_total{endpoint="/health",method="GET",status="200"}' in response.data
