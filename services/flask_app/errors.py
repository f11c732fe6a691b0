"""JSON error answers: a stable `error` code and a human `reason`, for our refusals and Flask's own."""

from __future__ import annotations

import re

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from services.flask_app.logs import get_logger
from services.flask_app.metrics import ERRORS

log = get_logger("flask_app.errors")


def json_error(status: int, error: str, reason: str) -> Response:
    response = jsonify({"error": error, "reason": reason})
    response.status_code = status
    return response


def http_exception(exc: HTTPException) -> Response:
    """404, 405, 413 and the like, as JSON; the error code is the exception's name in snake case."""
    error = re.sub(r"\W+", "_", (exc.name or "error").lower()).strip("_")
    ERRORS.labels(error).inc()
    response = json_error(exc.code or 500, error, exc.description or "")
    for name, value in exc.get_headers():  # keeps `Allow` on a 405, `Retry-After` on a 503
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def unexpected(exc: Exception) -> Response:
    """A bug: logged with its traceback and the request id, answered 500 without details."""
    log.exception("unhandled_error", error_type=type(exc).__name__)
    ERRORS.labels("internal_error").inc()
    return json_error(500, "internal_error", "the server failed to answer; the request id identifies it in the logs")
