"""The pySigma SQLite backend as Zircolite uses it: events into an SQLite table, then every rule's query over it.

    python -m benchmarks.sqlite_peer --rules DIR --documents documents.ndjson --limit N

Converting the rules to SQL happens before the clock starts (Zircolite ships converted rule
sets). Timed: decoding and flattening the N events, inserting them into an in-memory table
laid out as Zircolite's flattener does (one column per dotted field name, text compared
case-insensitively), and running each rule's query. The table holds only the columns some rule
reads (Zircolite keeps every field, which costs more), and the backend applies no logsource
routing: each query sees every event, as in Zircolite. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import yaml
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.rule import SigmaRule

TABLE = "logs"
FULLTEXT = "message"
SqliteBackend: Any = sqliteBackend  # the backend ships no type hints


def flatten(document: Any) -> dict[str, Any]:
    """Zircolite's flattening: nested objects become dotted names; lists are kept as their JSON text."""
    flat: dict[str, Any] = {}

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{prefix}{key}.")
        elif prefix:
            flat[prefix[:-1].lower()] = orjson.dumps(value).decode() if isinstance(value, list) else value

    walk(document, "")
    return flat


def convert(rules_dir: Path) -> tuple[list[str], set[str], int]:
    """Each rule's WHERE clause and the fields they read; rules the backend refuses are counted."""
    backend = SqliteBackend(fulltext_field=FULLTEXT)
    select_all = f"SELECT * FROM {TABLE} WHERE "  # noqa: S608 - the backend's own prefix
    conditions: list[str] = []
    fields: set[str] = {FULLTEXT}
    refused = 0
    for path in sorted(rules_dir.glob("*.yml")):
        try:
            rule = SigmaRule.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")))
            queries = backend.convert_rule(rule)
            fields |= {name.lower() for name in backend.required_fields(rule)}
        except Exception:  # a rule the backend cannot convert is left out, and counted
            refused += 1
            continue
        conditions += [query[len(select_all) :] for query in queries if query.startswith(select_all)]
    return conditions, fields, refused


def _regexp(pattern: str, value: Any) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None


def evaluate(lines: list[bytes], conditions: list[str], fields: list[str]) -> int:
    """Load the events and run every query; returns how many (rule, event) matches there were."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.create_function("regexp", 2, _regexp, deterministic=True)
        columns = ", ".join(f'"{name}" TEXT COLLATE NOCASE' for name in fields)
        connection.execute(f"CREATE TABLE {TABLE} ({columns})")
        marks = ", ".join("?" for _ in fields)
        names = ", ".join(f'"{name}"' for name in fields)
        rows = []
        for line in lines:
            flat = flatten(orjson.loads(line))
            rows.append(tuple(flat.get(name) for name in fields))
        connection.executemany(f"INSERT INTO {TABLE} ({names}) VALUES ({marks})", rows)  # noqa: S608
        matches = 0
        for condition in conditions:
            matches += len(connection.execute(f"SELECT rowid FROM {TABLE} WHERE {condition}").fetchall())  # noqa: S608
        return matches
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=Path, required=True)
    parser.add_argument("--documents", type=Path, required=True)
    parser.add_argument("--limit", type=int, required=True)
    args = parser.parse_args(argv)
    conditions, fields, refused = convert(args.rules)
    lines = args.documents.read_bytes().splitlines()[: args.limit]
    started = time.perf_counter()
    matches = evaluate(lines, conditions, sorted(fields))
    elapsed = time.perf_counter() - started
    result = {
        "events": len(lines),
        "seconds": elapsed,
        "rate": len(lines) / elapsed,
        "queries": len(conditions),
        "refused": refused,
        "columns": len(fields),
        "matches": matches,
    }
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
