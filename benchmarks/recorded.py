"""The recorded event set: corpus payloads parsed once by our real parsers, resampled to envelopes.

Kubernetes audit events (one Event per line), Linux log lines (sshd, messages, auditd, dpkg,
auth) and GitHub webhook payloads are read in place from ../shared/corpus and parsed with the
same parsers `siem replay` and the services use. The parsed envelopes are then drawn with
fixed weights per kind (MIX) and a fixed seed, each copy with an id of its own, and written as:

- envelopes.ndjson: what stage 1 reads from `siem.events` (one envelope per line);
- documents.ndjson: the same events as peers see them (the original payload, plus `message`
  for text lines, plus the logsource as `_product`/`_service`): RSigma and the SQLite backend read these;
- generic.ndjson: the same events as `POST /v1/events` objects (the payload with id, time,
  logsource and message at top level), for the ingest and end-to-end benchmarks. Events the
  generic source refuses are left out of this file and counted (`refused_generic`): some GitHub
  payloads carry `user.id` as a number where the ECS `user` set wants text.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from services.correlator.replay_formats import FORMATS, LineOrigin
from services.ingest.sources.generic import to_event
from services.shared.errors import ParseError
from services.shared.event import Event

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
MIX = {"k8s_audit": 0.5, "linux": 0.4, "github": 0.1}  # share of each kind in the recorded set
SEED = 10
_RECEIVED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class RecordedSet:
    folder: Path
    count: int
    kinds: dict[str, int]  # distinct parsed corpus events per kind
    refused_generic: int = 0  # distinct corpus events `POST /v1/events` refuses (left out of generic.ndjson)

    @property
    def envelopes(self) -> Path:
        return self.folder / "envelopes.ndjson"

    @property
    def documents(self) -> Path:
        return self.folder / "documents.ndjson"

    @property
    def generic(self) -> Path:
        return self.folder / "generic.ndjson"


def _lines(path: Path) -> Iterator[bytes]:
    for line in path.read_bytes().splitlines():
        if line.strip():
            yield line.strip()


def _parse(kind: str, lines: Iterator[bytes], key: str) -> list[Event]:
    parse = FORMATS[kind]
    events: list[Event] = []
    for number, line in enumerate(lines, start=1):
        try:
            events.extend(parse(line, LineOrigin(_RECEIVED, key, number)))
        except (ParseError, ValueError):
            continue  # a line our parsers refuse is not part of a recorded set the services would see
    return events


def corpus_events(corpus: Path = CORPUS) -> dict[str, list[Event]]:
    """Every corpus event of the three kinds, parsed once with the services' parsers."""
    if not corpus.is_dir():
        raise FileNotFoundError(f"{corpus} is missing: the benchmarks read ../shared/corpus in place")
    kinds: dict[str, list[Event]] = {"k8s_audit": [], "linux": [], "github": []}
    for path in sorted((corpus / "k8s-audit").rglob("*")):
        if path.suffix in (".json", ".log") and path.is_file():
            kinds["k8s_audit"] += _parse("k8s_audit", _lines(path), str(path))
    for path in sorted((corpus / "linux").rglob("*.log")):
        kinds["linux"] += _parse("syslog", _lines(path), str(path))
    for path in sorted((corpus / "github").glob("*.json")):
        event_name = path.name.split(".", 1)[0]
        line = orjson.dumps({"event": event_name, "payload": orjson.loads(path.read_bytes())})
        kinds["github"] += _parse("github", iter([line]), str(path))
    return kinds


def peer_document(event: Event, *, logsource: bool = False) -> dict[str, Any]:
    """The event as a peer reads it: the original payload, and the text line as `message`.

    With `logsource`, the event's Sigma logsource rides along as `_product`/`_service`, so a peer
    that routes by logsource (RSigma's --logsource-routing) can skip rules as our index does.
    """
    document: dict[str, Any] = dict(event.raw) if isinstance(event.raw, dict) else {}
    if event.message is not None:
        document["message"] = event.message
    if logsource:
        document["_product"] = event.logsource.product
        document["_service"] = event.logsource.service
    return document


def generic_object(event: Event, *, time: str | None = None) -> dict[str, Any]:
    """The event as a `POST /v1/events` object: the payload with our keys on top."""
    item = peer_document(event)
    item.update(
        {
            "id": event.id,
            "time": time or event.time.isoformat(),
            "logsource": event.logsource.model_dump(exclude_none=True),
        }
    )
    return item


def build(folder: Path, count: int, corpus: Path = CORPUS) -> RecordedSet:
    """Draw `count` events (MIX by kind, fixed seed) and write the three files into `folder`."""
    kinds = corpus_events(corpus)
    rng = random.Random(SEED)  # noqa: S311 - a reproducible sample, not a secret
    names = list(MIX)
    weights = [MIX[name] for name in names]
    folder.mkdir(parents=True, exist_ok=True)
    refused: set[str] = set()
    for events in kinds.values():
        for event in events:
            try:
                to_event(generic_object(event), _RECEIVED)
            except (ValueError, TypeError):
                refused.add(event.id)
    with (
        (folder / "envelopes.ndjson").open("wb") as envelopes,
        (folder / "documents.ndjson").open("wb") as documents,
        (folder / "generic.ndjson").open("wb") as generic,
    ):
        for number in range(count):
            kind = rng.choices(names, weights)[0]
            original = rng.choice(kinds[kind])
            event = original.model_copy(update={"id": f"{original.id[:200]}-{number}"})
            envelopes.write(event.model_dump_json().encode() + b"\n")
            documents.write(orjson.dumps(peer_document(event, logsource=True)) + b"\n")
            if original.id not in refused:
                generic.write(orjson.dumps(generic_object(event)) + b"\n")
    return RecordedSet(folder, count, {name: len(events) for name, events in kinds.items()}, len(refused))


def read_lines(path: Path, limit: int | None = None) -> list[bytes]:
    lines = path.read_bytes().splitlines()
    return lines if limit is None else lines[:limit]
