"""Syslog lines in a body (one message per line): what `siem replay --format syslog` and any file of
auth.log, messages, audit.log or dpkg.log lines go through. The listeners parse message by message
with the same `syslog_event`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo

from services.ingest.sources.parsed import Parsed, Rejected, describe
from services.ingest.syslog import LineContext, syslog_event


class SyslogSource:
    name = "syslog"

    def __init__(self, zone: tzinfo = UTC) -> None:
        self.zone = zone

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Parsed:
        return parse_lines(body, LineContext(received=datetime.now(UTC), zone=self.zone))


def parse_lines(body: bytes, context: LineContext) -> Parsed:
    """Every non-blank line becomes an event; undecodable bytes are kept as `\\xNN` escapes, not dropped."""
    parsed = Parsed()
    for number, raw_line in enumerate(body.split(b"\n"), start=1):
        if not raw_line.strip():
            continue
        try:
            parsed.accept(syslog_event(raw_line.decode("utf-8", "backslashreplace"), context))
        except ValueError as exc:
            parsed.rejected.append(Rejected("invalid_line", f"line {number}: {describe(exc)}", raw_line, number))
    if not parsed.ids and not parsed.rejected:
        parsed.rejected.append(Rejected("empty_body", "the body holds no lines", body))
    return parsed
