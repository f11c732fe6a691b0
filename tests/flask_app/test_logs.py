"""The app's log lines: JSON, a request id on each request's lines, no secrets, and an auth failure the SIEM matches."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from services.correlator.rules.loader import load_rules
from services.flask_app.logs import get_logger
from services.ingest.sources.generic import GenericSource
from services.shared.envelope import Envelope, FieldReader
from tests.flask_app.conftest import AUTH, TOKEN

LogLines = Callable[[], list[dict[str, Any]]]

# The detection the SIEM runs on these lines (proposed for rules/app/, which this change does not own).
AUTH_FAILURE_RULE = """\
title: Flask App Write Refused For A Bad Token
id: 6f1d9a52-3c1e-4b8e-9a07-2f5e8c4d7b10
status: experimental
description: The sample app refused a write because the bearer token was missing or wrong.
logsource:
  product: generic
detection:
  selection:
    event.module: app
    event.dataset: flask_app.auth
    event.outcome: failure
    http.response.status_code: 401
  condition: selection
level: medium
tags:
  - attack.credential-access
  - attack.t1110
"""


def _request_id_of(line: dict[str, Any]) -> str | None:
    return line.get("http", {}).get("request", {}).get("id")


def test_each_request_line_carries_that_requests_id(client: FlaskClient, log_lines: LogLines) -> None:
    """Every line logged while a request is handled is JSON with `http.request.id` equal to the response's id."""
    responses = [
        client.post("/api/notes", json={"title": "a"}, headers=AUTH),
        client.post("/api/notes", json={"title": "a"}, headers={"X-Request-ID": "caller-id-1"}),
        client.delete("/api/notes/1", headers=AUTH),
    ]
    lines = log_lines()
    assert [line["message"] for line in lines] == ["note_created", "authentication_failed", "note_deleted"]
    assert [_request_id_of(line) for line in lines] == [r.headers["X-Request-ID"] for r in responses]
    assert _request_id_of(lines[1]) == "caller-id-1"
    for line in lines:
        assert line["@timestamp"].endswith("Z")
        assert line["log"]["level"] in {"info", "warning"}
        assert line["service"] == {"name": "flask-app"}


def test_lines_outside_a_request_have_no_request_id(client: FlaskClient, log_lines: LogLines) -> None:
    """A line logged after a request ended does not inherit that request's id."""
    client.get("/")
    get_logger("flask_app.test").info("between_requests")
    logging.getLogger("some.library").warning("plain %s record", "stdlib")
    lines = log_lines()
    assert [line["message"] for line in lines] == ["between_requests", "plain stdlib record"]
    assert [_request_id_of(line) for line in lines] == [None, None]
    assert lines[1]["log"] == {"level": "warning", "logger": "some.library"}


def test_an_unexpected_error_is_logged_with_its_request_id(client: FlaskClient, log_lines: LogLines) -> None:
    """A bug answers 500 without details and leaves one error line with the traceback and the request id."""
    client.application.add_url_rule("/boom", "boom", lambda: 1 / 0)
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.json is not None and response.json["error"] == "internal_error"
    assert b"ZeroDivisionError" not in response.data
    (line,) = log_lines()
    assert line["message"] == "unhandled_error" and line["log"]["level"] == "error"
    assert "ZeroDivisionError" in line["exception"]
    assert _request_id_of(line) == response.headers["X-Request-ID"]


def test_a_bad_token_leaves_an_ecs_line_and_never_the_token(client: FlaskClient, log_lines: LogLines) -> None:
    """The 401 line names the failure in ECS fields (event, source, url, http) and holds no presented token."""
    presented = "guessed-" + TOKEN[::-1]
    response = client.post("/api/notes", json={"title": "x"}, headers={"Authorization": f"Bearer {presented}"})
    assert response.status_code == 401
    (line,) = log_lines()
    assert line["event"] == {
        "module": "app",
        "dataset": "flask_app.auth",
        "action": "authenticate",
        "category": ["authentication"],
        "outcome": "failure",
        "reason": "invalid_token",
    }
    assert line["source"] == {"ip": "127.0.0.1"}
    assert line["url"] == {"path": "/api/notes"}
    assert line["http"]["request"]["method"] == "POST"
    assert line["http"]["response"] == {"status_code": 401}
    text = json.dumps(line)
    assert presented not in text and TOKEN not in text


def test_the_auth_failure_line_posted_to_ingest_matches_the_siem_rule(
    client: FlaskClient, log_lines: LogLines, tmp_path: Path
) -> None:
    """Parsed by ingest's generic source, the 401 line keeps its ECS fields and matches the rule; others do not."""
    client.post("/api/notes", json={"title": "x"}, headers={"Authorization": "Bearer nope"})
    client.post("/api/notes", json={"title": "x"}, headers=AUTH)
    failure, created = log_lines()
    (tmp_path / "flask_app_auth_failure.yml").write_text(AUTH_FAILURE_RULE)
    loaded = load_rules([tmp_path])
    assert loaded.errors == []
    (rule,) = loaded.rules

    parsed = GenericSource().parse("\n".join(json.dumps(x) for x in (failure, created)).encode(), {})
    assert parsed.rejected == []
    failure_event, created_event = parsed.read_back()
    assert failure_event.time == datetime.fromisoformat(failure["@timestamp"]).astimezone(UTC)
    assert failure_event.message == "authentication_failed"
    flat = failure_event.normalised()
    assert flat["event.module"] == "app" and flat["event.outcome"] == "failure"
    assert flat["source.ip"] == "127.0.0.1" and flat["url.path"] == "/api/notes"
    assert flat["http.request.method"] == "POST" and flat["http.response.status_code"] == 401
    assert rule.matches(FieldReader(Envelope.of(failure_event)))
    assert not rule.matches(FieldReader(Envelope.of(created_event)))
