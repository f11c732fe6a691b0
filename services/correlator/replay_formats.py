"""The input forms of `siem replay` (DESIGN.md), each read with the parser the live service uses.

A recorded file has no arrival times, so "received" is the file's modification time and
ids that a live service would draw at random are derived from the file and line instead:
replaying the same file always yields the same events, hence the same alerts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from services.ingest.sources.jenkins import parse_jenkins
from services.ingest.sources.k8s_audit import parse_audit
from services.ingest.sources.parsed import Parsed
from services.ingest.sources.syslog import parse_lines
from services.ingest.syslog.line import LineContext
from services.shared.errors import ParseError
from services.shared.event import Event
from services.webhook.envelope import build_event
from services.webhook.providers import PROVIDERS, Delivery


@dataclass(frozen=True)
class LineOrigin:
    received: datetime  # the file's modification time
    file_key: str  # a digest of the file's path, to make per-line ids
    number: int

    def line_id(self) -> str:
        return hashlib.sha256(f"{self.file_key}:{self.number}".encode()).hexdigest()[:32]


# One line of the file -> its events; raises ParseError (reason for the user) when it has none.
LineParser = Callable[[bytes, LineOrigin], list[Event]]


def _accepted(parsed: Parsed) -> list[Event]:
    if parsed.rejected and not parsed.ids:
        raise ParseError(parsed.rejected[0].error_type, parsed.rejected[0].reason)
    return parsed.read_back()  # what the live service would have put on `siem.events`


def _envelope(line: bytes, _: LineOrigin) -> list[Event]:
    try:
        return [Event.model_validate_json(line)]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "event"
        raise ParseError("invalid_envelope", f"{where}: {first['msg']}") from None


def _k8s_audit(line: bytes, origin: LineOrigin) -> list[Event]:
    return _accepted(parse_audit(line, origin.received))


def _jenkins(line: bytes, origin: LineOrigin) -> list[Event]:
    return _accepted(parse_jenkins(line, origin.received))


def _syslog(line: bytes, origin: LineOrigin) -> list[Event]:
    return _accepted(parse_lines(line, LineContext(received=origin.received, id=origin.line_id())))


def _webhook(provider_name: str) -> LineParser:
    provider = PROVIDERS[provider_name]

    def parse(line: bytes, origin: LineOrigin) -> list[Event]:
        try:
            document: Any = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise ParseError("malformed_json", f"not valid JSON: {exc}") from None
        if not (isinstance(document, dict) and isinstance(document.get("payload"), dict) and document.get("event")):
            raise ParseError("invalid_line", 'expected {"event": "<event header value>", "payload": {...}}')
        event, payload = str(document["event"]), document["payload"]
        # A recorded line has no delivery id: its own digest stands in, so a repeated line is one delivery.
        delivery = Delivery(event=event, delivery_id=origin.line_id(), host=provider_name)
        return [build_event(provider_name, delivery, payload, provider.normalise(event, payload), origin.received)]

    return parse


FORMATS: dict[str, LineParser] = {
    "event": _envelope,
    "k8s_audit": _k8s_audit,
    "syslog": _syslog,
    "jenkins": _jenkins,
    "github": _webhook("github"),
    "gitlab": _webhook("gitlab"),
    "gitea": _webhook("gitea"),
}
