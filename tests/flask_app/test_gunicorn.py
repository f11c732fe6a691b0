"""The app under real gunicorn with two workers on 127.0.0.1: metrics add up across workers, every line is JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.flask_app.conftest import TOKEN
from tests.infra import ROOT, ServiceDidNotStart, free_port, http_json, wait_until

CONF = ROOT / "services" / "flask_app" / "gunicorn.conf.py"
MAX_REQUESTS = 400  # the loop that waits for both workers to serve stops here, whatever happens


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]


@contextmanager
def gunicorn(tmp_path: Path, workers: int = 2) -> Iterator[Gunicorn]:
    """gunicorn as in production (its conf file), on a free loopback port, stopped with SIGTERM at the end."""
    port = free_port()
    env = {
        **os.environ,
        "SIEM_HOST": "127.0.0.1",
        "SIEM_FLASK_APP_PORT": str(port),
        "SIEM_FLASK_APP_WORKERS": str(workers),
        "SIEM_FLASK_APP_TOKENS": TOKEN,
        "SIEM_FLASK_APP_DB_PATH": str(tmp_path / "notes.sqlite3"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(CONF)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    server = Gunicorn(process, f"http://127.0.0.1:{port}", log_path)
    try:

        def booted() -> bool:
            if process.poll() is not None:
                raise ServiceDidNotStart(f"gunicorn exited {process.returncode}:\n{log_path.read_text()[-3000:]}")
            return sum("Booting worker" in line for line in server.lines()) >= workers and (
                http_json("GET", server.url + "/ready")[0] == 200
            )

        wait_until(booted, 30, "gunicorn and its workers to serve /ready")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return int(response.status)


def _counter(url: str, name: str, labels: dict[str, str]) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def _pids_serving(server: Gunicorn, path: str) -> set[int]:
    return {
        line["process"]["pid"]
        for line in server.json_lines()
        if line["log"]["logger"] == "flask_app.access" and line["url"]["path"] == path
    }


def test_metrics_count_every_request_across_two_workers(tmp_path: Path) -> None:
    """Requests served by both workers are all in one scrape: counter and histogram equal the requests sent."""
    labels = {"method": "GET", "endpoint": "/api/notes", "status": "200"}
    with gunicorn(tmp_path, workers=2) as server:
        sent = 0
        with ThreadPoolExecutor(4) as pool:
            # Keep going until both workers have served some: only then could a per-worker count be wrong.
            while sent < MAX_REQUESTS and len(_pids_serving(server, "/api/notes")) < 2:
                statuses = list(pool.map(_get, [server.url + "/api/notes"] * 20))
                assert statuses == [200] * 20
                sent += 20
        assert len(_pids_serving(server, "/api/notes")) == 2, f"one worker served all {sent} requests"
        assert _counter(server.url, "flask_requests_total", labels) == sent
        histogram_labels = {"method": "GET", "endpoint": "/api/notes"}
        assert _counter(server.url, "flask_request_duration_seconds_count", histogram_labels) == sent


def test_every_line_is_json_and_every_access_line_has_the_request_id(tmp_path: Path) -> None:
    """From start to shutdown every line gunicorn and the app print is JSON; access lines carry the response's id."""
    paths = ["/", "/health", "/nowhere", "/api/notes?limit=2"]
    with gunicorn(tmp_path, workers=2) as server:
        ids = []
        for path in paths:
            with _open(server.url + path) as response:
                ids.append(response.headers["X-Request-ID"])
    assert server.process.returncode == 0
    lines = server.lines()
    parsed = [json.loads(line) for line in lines]  # fails on the first line that is not JSON
    assert len(parsed) == len(lines) > 0
    messages = [line["message"] for line in parsed]
    assert any(m.startswith("Starting gunicorn") for m in messages)
    assert any(m == "Shutting down: Master" for m in messages)
    access = [line for line in parsed if line["log"]["logger"] == "flask_app.access"]
    assert all(line["http"]["request"]["id"] for line in access)
    # Two workers append to one stream, so lines need not come in request order: match them by id.
    by_id = {line["http"]["request"]["id"]: line for line in access if line["url"]["path"] != "/ready"}
    assert set(by_id) == set(ids)
    answered = [(by_id[i]["url"]["path"], by_id[i]["http"]["response"]["status_code"]) for i in ids]
    assert answered == [("/", 200), ("/health", 200), ("/nowhere", 404), ("/api/notes", 200)]  # no query string
    for line in access:
        assert line["event"]["dataset"] == "flask_app.access" and line["event"]["duration"] > 0
        assert line["source"]["ip"] == "127.0.0.1"


def _open(url: str) -> Any:
    """urlopen that hands back 4xx answers instead of raising, so their headers can be read."""
    import urllib.error

    try:
        return urllib.request.urlopen(url, timeout=10)
    except urllib.error.HTTPError as error:
        return error


def test_a_bad_token_under_gunicorn_is_401_with_an_auth_line_and_an_access_line(tmp_path: Path) -> None:
    """A wrong token is refused 401; the auth failure line and the access line share the request id."""
    with gunicorn(tmp_path, workers=2) as server:
        status, body = http_json(
            "POST",
            server.url + "/api/notes",
            b'{"title": "x"}',
            {"Authorization": "Bearer wrong", "Content-Type": "application/json", "X-Request-ID": "bad-token-1"},
        )
        assert (status, body) == (401, {"error": "unauthorized", "reason": body["reason"]})  # type: ignore[index]
        ok, _ = http_json(
            "POST",
            server.url + "/api/notes",
            b'{"title": "x"}',
            {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        assert ok == 201
        lines = [line for line in server.json_lines() if _has_request_id(line, "bad-token-1")]
    assert [line["log"]["logger"] for line in lines] == ["flask_app.api", "flask_app.access"]
    auth, access = lines
    assert auth["event"]["outcome"] == "failure" and auth["event"]["reason"] == "invalid_token"
    assert access["http"]["response"]["status_code"] == 401 and access["event"]["outcome"] == "failure"
    assert "wrong" not in json.dumps(lines)


def _has_request_id(line: dict[str, Any], request_id: str) -> bool:
    return bool(line.get("http", {}).get("request", {}).get("id") == request_id)
