"""Notes kept in one SQLite file, so every gunicorn worker sees the same data."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Note:
    id: int
    title: str
    body: str
    created: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class NoteStore:
    def __init__(self, path: Path, timeout_seconds: float = 5.0) -> None:
        self.path = path
        self.timeout_seconds = timeout_seconds

    def create_schema(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as db:
            # WAL lets readers in other workers go on while one worker writes.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    def ping(self) -> bool:
        try:
            with self._connection() as db:
                db.execute("SELECT 1 FROM notes LIMIT 1")
            return True
        except sqlite3.Error:
            return False

    def add(self, title: str, body: str) -> Note:
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with self._connection() as db:
            cursor = db.execute("INSERT INTO notes (title, body, created) VALUES (?, ?, ?)", (title, body, created))
            assert cursor.lastrowid is not None
            return Note(cursor.lastrowid, title, body, created)

    def get(self, note_id: int) -> Note | None:
        with self._connection() as db:
            row = db.execute("SELECT id, title, body, created FROM notes WHERE id = ?", (note_id,)).fetchone()
        return Note(*row) if row else None

    def newest(self, limit: int) -> list[Note]:
        with self._connection() as db:
            rows = db.execute("SELECT id, title, body, created FROM notes ORDER BY id DESC LIMIT ?", (limit,))
            return [Note(*row) for row in rows.fetchall()]

    def delete(self, note_id: int) -> bool:
        with self._connection() as db:
            return db.execute("DELETE FROM notes WHERE id = ?", (note_id,)).rowcount > 0

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # One short-lived connection per operation: nothing is shared across threads or forks.
        with closing(sqlite3.connect(self.path, timeout=self.timeout_seconds)) as db, db:
            yield db
