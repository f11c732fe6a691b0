"""The notes API: anyone reads, only a bearer token writes (so there are auth failures to detect)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.flask_app.auth import auth_failure, auth_failure_fields
from services.flask_app.errors import json_error
from services.flask_app.logs import get_logger
from services.flask_app.metrics import ERRORS
from services.flask_app.store import NoteStore

log = get_logger("flask_app.api")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class NewNote(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    body: str = Field("", max_length=10_000)


def _audit(action: str, note_id: int) -> dict[str, Any]:
    return {
        "ecs_event": {
            "module": "app",
            "dataset": "flask_app.audit",
            "action": action,
            "category": ["database"],
            "outcome": "success",
        },
        "labels": {"note_id": str(note_id)},
    }


def notes_blueprint(store: NoteStore, tokens: list[bytes]) -> Blueprint:
    notes = Blueprint("notes", __name__, url_prefix="/api/notes")

    def requires_token(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            reason = auth_failure(request.headers.get("Authorization"), tokens)
            if reason is None:
                return view(*args, **kwargs)
            ERRORS.labels("unauthorized").inc()
            log.warning("authentication_failed", **auth_failure_fields(request, reason))
            response = json_error(401, "unauthorized", "a valid 'Authorization: Bearer <token>' header is required")
            response.headers["WWW-Authenticate"] = 'Bearer realm="flask-app"'
            return response

        return guarded

    @notes.get("")
    def list_notes() -> Response:
        text = request.args.get("limit", str(DEFAULT_LIMIT))
        limit = int(text) if text.isdecimal() and len(text) <= 3 else 0
        if not 1 <= limit <= MAX_LIMIT:
            ERRORS.labels("invalid_query").inc()
            return json_error(400, "invalid_query", f"limit must be a whole number from 1 to {MAX_LIMIT}")
        return jsonify({"notes": [note.as_json() for note in store.newest(limit)]})

    @notes.get("/<int:note_id>")
    def get_note(note_id: int) -> Response:
        note = store.get(note_id)
        if note is None:
            return json_error(404, "not_found", f"no note {note_id}")
        return jsonify(note.as_json())

    @notes.post("")
    @requires_token
    def create_note() -> tuple[Response, int]:
        document = request.get_json()  # not JSON: 415; malformed: 400; over the cap: 413 (errors.http_exception)
        try:
            new = NewNote.model_validate(document)
        except ValidationError as exc:
            ERRORS.labels("invalid_body").inc()
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            return json_error(400, "invalid_body", f"{where}: {first['msg']} (a JSON object with title, body)"), 400
        note = store.add(new.title, new.body)
        log.info("note_created", **_audit("note_created", note.id))
        response = jsonify(note.as_json())
        response.headers["Location"] = url_for("notes.get_note", note_id=note.id)
        return response, 201

    @notes.delete("/<int:note_id>")
    @requires_token
    def delete_note(note_id: int) -> Response | tuple[str, int]:
        if not store.delete(note_id):
            return json_error(404, "not_found", f"no note {note_id}")
        log.info("note_deleted", **_audit("note_deleted", note_id))
        return "", 204

    return notes
