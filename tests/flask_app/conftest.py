"""Fixtures for the sample app: settings over a throw-away database, a test client, captured JSON log lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import SecretStr

from services.flask_app.app import create_app
from services.flask_app.logs import configure_process_logging
from services.flask_app.settings import FlaskAppSettings

TOKEN = "test-write-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def settings(tmp_path: Path) -> FlaskAppSettings:
    return FlaskAppSettings(flask_app_db_path=tmp_path / "notes.sqlite3", flask_app_tokens=[SecretStr(TOKEN)])


@pytest.fixture
def app(settings: FlaskAppSettings) -> Flask:
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every line the process logs from now on, each parsed as JSON (a line that is not JSON fails the test)."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_process_logging("debug", stream)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    try:
        yield lines
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
