"""App rules on the sample app's own log lines, read by ingest's generic JSON source, then `siem replay --format event`.

The lines come from the real app: its 401 line from the Flask test client, and the access lines of a real
gunicorn on 127.0.0.1 (tests/flask_app/test_gunicorn.py starts it as in production).
"""

from __future__ import annotations

import io
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from services.correlator.pipeline import InProcessPipeline
from services.flask_app.app import create_app
from services.flask_app.logs import configure_process_logging
from services.flask_app.settings import FlaskAppSettings
from services.ingest.sources.generic import GenericSource
from services.ingest.sources.loki import LokiSource
from tests.flask_app.test_gunicorn import gunicorn
from tests.rules.conftest import RULES, SiemRun, loaded_rules

Replay = Callable[..., SiemRun]
TOKEN = "rules-test-token-0123456789"
REFUSED = "Flask App Write Refused For A Bad Token"
SCANNED_PATHS = [f"/{name}" for name in (".env", ".git/config", "wp-login.php", "admin", "actuator/env")] + [
    f"/backup/{n}.zip" for n in range(12)
]


@pytest.fixture
def app_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every JSON line the app logs from now on, as the app prints it to stdout."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_process_logging("info", stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def refused_write_lines(
    tmp_path: Path, app_lines: Callable[[], list[dict[str, Any]]], times: int
) -> list[dict[str, Any]]:
    """`times` writes with a wrong token and one with the right one, through the real app."""
    settings = FlaskAppSettings(flask_app_db_path=tmp_path / "notes.sqlite3", flask_app_tokens=[SecretStr(TOKEN)])
    client = create_app(settings).test_client()
    for _ in range(times):
        assert (
            client.post("/api/notes", json={"title": "x"}, headers={"Authorization": "Bearer guess"}).status_code == 401
        )
    assert (
        client.post("/api/notes", json={"title": "x"}, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 201
    )
    return app_lines()


def envelopes_file(tmp_path: Path, lines: list[dict[str, Any]]) -> Path:
    """The lines posted to ingest as NDJSON (generic source), written as the envelopes it made."""
    parsed = GenericSource().parse("\n".join(json.dumps(line) for line in lines).encode(), {})
    assert parsed.rejected == []
    path = tmp_path / "envelopes.jsonl"
    path.write_text("".join(event.model_dump_json() + "\n" for event in parsed.read_back()))
    return path


def test_the_real_401_line_fires_through_generic_json(
    tmp_path: Path, app_lines: Callable[[], list[dict[str, Any]]], replay: Replay
) -> None:
    """One refused write raises the single-refusal alert; the successful write after it raises nothing."""
    lines = refused_write_lines(tmp_path, app_lines, times=1)
    assert [line["message"] for line in lines] == ["authentication_failed", "note_created"]
    result = replay("event", envelopes_file(tmp_path, lines))
    (alert,) = result.alerts()
    assert alert.rule.title == REFUSED and alert.rule.level == "low"
    assert alert.hunt.startswith('{module="app"}')


def test_ten_refused_writes_raise_the_burst(
    tmp_path: Path, app_lines: Callable[[], list[dict[str, Any]]], replay: Replay
) -> None:
    """Ten refused writes from the test client's address raise one burst alert grouped on it."""
    result = replay("event", envelopes_file(tmp_path, refused_write_lines(tmp_path, app_lines, times=10)))
    (burst,) = result.fired("App Authentication Failures In Burst")
    assert burst.group == {"source.ip": "127.0.0.1"} and burst.count == 10
    assert len(result.fired(REFUSED)) == 10


def _status(url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None) -> int:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_scanning_guessing_and_errors_under_gunicorn_raise_their_alerts(tmp_path: Path, replay: Replay) -> None:
    """Under real gunicorn: 17 missing paths, 10 bad tokens and 10 requests on a broken database raise the
    path scanning, authentication burst and 5xx spike alerts from the access and auth lines."""
    with gunicorn(tmp_path, workers=1) as server:
        assert [_status(server.url + path) for path in SCANNED_PATHS] == [404] * len(SCANNED_PATHS)
        bad_token = {"Authorization": "Bearer guess", "Content-Type": "application/json"}
        refused = [_status(server.url + "/api/notes", "POST", bad_token, b'{"title": "x"}') for _ in range(10)]
        assert refused == [401] * 10
        for suffix in ("", "-wal", "-shm"):  # the database file stops being one: every read fails with a 500
            (tmp_path / f"notes.sqlite3{suffix}").write_bytes(b"not a database " * 512)
        assert [_status(server.url + "/api/notes") for _ in range(10)] == [500] * 10
    # Read once gunicorn has stopped: a request's access line is written after its response went out.
    result = replay("event", envelopes_file(tmp_path, server.json_lines()))
    (scan,) = result.fired("App Path Scanning From One Address")
    assert scan.group == {"source.ip": "127.0.0.1"} and scan.count == 15  # fired at the 15th distinct path
    (burst,) = result.fired("App Authentication Failures In Burst")
    assert burst.group == {"source.ip": "127.0.0.1"}
    (spike,) = result.fired("App HTTP 5xx Spike")
    assert spike.group == {"service.name": "flask-app"} and spike.count == 10


def test_the_401_line_pushed_through_loki_fires(tmp_path: Path, app_lines: Callable[[], list[dict[str, Any]]]) -> None:
    """The same 401 line shipped by an agent to ingest's Loki push endpoint raises the same alert."""
    refused, _ = refused_write_lines(tmp_path, app_lines, times=1)
    nanoseconds = str(int(datetime.now(UTC).timestamp() * 1e9))
    push = {
        "streams": [
            {"stream": {"namespace": "apps", "app": "flask-app"}, "values": [[nanoseconds, json.dumps(refused)]]}
        ]
    }
    parsed = LokiSource().parse(json.dumps(push).encode(), {"Content-Type": "application/json"})
    (event,) = parsed.read_back()
    pipeline = InProcessPipeline(loaded_rules(RULES), lateness_seconds=30)
    assert [alert.rule.title for alert in pipeline.feed(event)] == [REFUSED]
