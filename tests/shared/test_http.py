"""The shared JSON answers: what `web.json_response` would answer, written by orjson."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from services.shared.http import json_answer, json_error


@pytest.mark.parametrize(
    "data",
    [
        {"accepted": 2, "rejected": [], "ids": ["a", "é☃\u2028"]},
        {"error": "invalid_event", "reason": "line 2: time: not RFC 3339: 'x\\x00'", "rejected": [{"line": None}]},
        {"reason": "a lone surrogate \ud800 orjson refuses"},
    ],
)
def test_json_answer_is_the_json_and_headers_of_json_response(data: Any) -> None:
    """json_answer's body decodes to the same data, under the same status and Content-Type, as json_response's."""
    ours, theirs = json_answer(data, status=202), web.json_response(data, status=202)
    assert isinstance(ours.body, bytes) and isinstance(theirs.body, bytes)
    assert json.loads(ours.body) == json.loads(theirs.body) == data
    assert (ours.status, ours.headers["Content-Type"]) == (theirs.status, theirs.headers["Content-Type"])


def test_json_error_carries_code_reason_and_extras() -> None:
    """json_error answers `{"error", "reason", **extra}` with the status given."""
    response = json_error(413, "body_too_large", "the body exceeds 10 bytes", limit=10)
    assert isinstance(response.body, bytes)
    assert response.status == 413
    assert json.loads(response.body) == {"error": "body_too_large", "reason": "the body exceeds 10 bytes", "limit": 10}
