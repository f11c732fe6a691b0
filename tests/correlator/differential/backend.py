"""pySigma's SQLite backend run over samples: the rule's query on an in-memory table laid out as the backend expects.

The layout is Zircolite's, the backend's own consumer (zircolite/flattener.py): one column per
flattened field, named by its dotted path (`objectRef.resource`), INTEGER when every value is
an integer and `TEXT COLLATE NOCASE` otherwise (Sigma compares strings case-insensitively and
the backend leaves `=` to the column's collation); lists are stored as their text. Keyword
detections search `fulltext_field`, here the sample's `message`. SQLite has no REGEXP: the
function the backend's README asks for is registered (Python `re.search`, false for NULL).
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import ValueListPlaceholderTransformation
from sigma.rule import SigmaRule

from tests.correlator.differential.samples import Sample

TABLE = "logs"
FULLTEXT = "message"
# The backend ships no type hints; mypy --strict would refuse every call into it.
SqliteBackend: Any = sqliteBackend


def backend_queries(rule: SigmaRule, placeholders: dict[str, list[str]] | None = None) -> list[str]:
    """The backend's queries for the rule, one per condition; `expand` placeholders take these values."""
    return list(_backend(placeholders).convert_rule(rule))


def backend_matches(
    rule: SigmaRule, samples: list[Sample], placeholders: dict[str, list[str]] | None = None
) -> set[int]:
    """Positions of the samples the backend's queries select (several conditions are alternatives)."""
    # The SQL is the backend's own output for a rule; running it is the point (in-memory, test data only).
    select_all = f"SELECT * FROM {TABLE} WHERE "  # noqa: S608
    conditions = []
    for query in backend_queries(rule, placeholders):
        assert query.startswith(select_all), query
        conditions.append(f"({query[len(select_all) :]})")
    fields = sorted(set(_backend(placeholders).required_fields(rule)) | {FULLTEXT})
    rows = [_row(sample, fields) for sample in samples]
    connection = sqlite3.connect(":memory:")
    try:
        connection.create_function("regexp", 2, _regexp, deterministic=True)
        columns = ", ".join(f"{_quote(name)} {_column_type(rows, name)}" for name in fields)
        connection.execute(f"CREATE TABLE {TABLE} ({columns})")
        marks = ", ".join("?" for _ in fields)
        connection.executemany(
            f"INSERT INTO {TABLE} (rowid, {', '.join(map(_quote, fields))}) VALUES (?, {marks})",  # noqa: S608
            [(position, *(row.get(name) for name in fields)) for position, row in enumerate(rows)],
        )
        selected = connection.execute(f"SELECT rowid FROM {TABLE} WHERE " + " OR ".join(conditions))  # noqa: S608
        return {position for (position,) in selected}
    finally:
        connection.close()


def _backend(placeholders: dict[str, list[str]] | None) -> Any:
    if not placeholders:
        return SqliteBackend(fulltext_field=FULLTEXT)
    # pySigma's own way to give `expand` placeholders their values: a pipeline with variables.
    pipeline = ProcessingPipeline(items=[ProcessingItem(ValueListPlaceholderTransformation())], vars=dict(placeholders))
    return SqliteBackend(pipeline, fulltext_field=FULLTEXT)


def flatten(raw: Any) -> dict[str, Any]:
    """Nested objects become dotted column names; lists become their JSON text (one column cannot hold them)."""
    flat: dict[str, Any] = {}

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{prefix}{key}.")
        elif prefix:
            flat[prefix[:-1]] = json.dumps(value) if isinstance(value, list) else value

    walk(raw, "")
    return flat


def _row(sample: Sample, fields: list[str]) -> dict[str, Any]:
    row = flatten(sample.raw)
    # Lookup as SQLite resolves column names: case-insensitively.
    by_name = {name.lower(): value for name, value in row.items()}
    values = {name: by_name.get(name.lower()) for name in fields}
    values[FULLTEXT] = sample.message
    return values


def _column_type(rows: list[dict[str, Any]], name: str) -> str:
    present = [row[name] for row in rows if row.get(name) is not None]
    return "INTEGER" if present and all(isinstance(v, int) for v in present) else "TEXT COLLATE NOCASE"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None
