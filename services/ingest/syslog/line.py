"""One log line to one envelope: syslog (RFC 5424/3164) with sshd, sudo, PAM, shadow-utils and auditd
messages understood, raw audit.log records, and dpkg.log lines.

Shared by the syslog listeners, the Loki push endpoint and replay, so a line means the same
wherever it arrives. Pure: the receive time, zone and fallback id come in through `LineContext`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from services.ingest.ids import content_id
from services.ingest.syslog import accounts, auditd, dpkg, pam, sshd, sudo
from services.ingest.syslog.details import Details
from services.ingest.syslog.header import SyslogHeader, parse_header
from services.shared.event import Event

_AUTH_SERVICES = frozenset({"sshd", "sudo", "auth"})
# Program name -> the Sigma `linux` service whose rules apply (Sigma's log source taxonomy).
_SERVICES = {
    "sshd": "sshd",
    "sudo": "sudo",
    "cron": "cron",
    "crond": "cron",
    "anacron": "cron",
    "vsftpd": "vsftpd",
    "clamd": "clamav",
    "freshclam": "clamav",
    "guacd": "guacamole",
    "auditd": "auditd",
    "audispd": "auditd",
    "audisp-syslog": "auditd",
    "su": "auth",
    "login": "auth",
    "pkexec": "auth",
    "polkitd": "auth",
    "systemd-logind": "auth",
    **dict.fromkeys(accounts.PROGRAMS, "auth"),
}
_MAX_PID = 2**31


@dataclass(frozen=True, slots=True)
class LineContext:
    """What the line itself may not say: when it arrived, the zone of zone-less times, who sent it."""

    received: datetime
    zone: tzinfo = UTC
    host: str | None = None  # the sender, when the line names none (peer address, a Loki label)
    labels: Mapping[str, str] = field(default_factory=dict)
    id: str | None = None  # the event id when the line carries none of its own (default: random)


def parse_line(line: str, context: LineContext) -> Event | None:
    """The event for one line, or None when it is neither syslog, an audit record nor a dpkg.log line."""
    text = line.rstrip("\r\n")
    if not text.strip():
        return None
    if package := dpkg.parse(text, context.zone):
        return _event(context, package.details, "dpkg", text, package.time, None, {"message": text})
    if record := auditd.parse(text):
        return _audit_event(context, record, None)
    header = parse_header(text, context.received, context.zone)
    return _header_event(header, context) if header else None


def parse_journal(entry: Mapping[str, Any], context: LineContext) -> Event | None:
    """A systemd journal entry as JSON (Alloy's and Promtail's `format_as_json`/`json`), read like syslog:
    SYSLOG_IDENTIFIER is the program, _PID its pid, _HOSTNAME the host. None without a MESSAGE."""
    message = entry.get("MESSAGE")
    if not isinstance(message, str):
        return None

    def text(*keys: str) -> str | None:
        return next((str(entry[k]) for k in keys if isinstance(entry.get(k), (str, int))), None)

    facility, severity = text("SYSLOG_FACILITY"), text("PRIORITY")
    header = SyslogHeader(
        format="journal",
        message=message,
        time=None,
        timestamp=text("__REALTIME_TIMESTAMP"),
        facility=int(facility) if facility and facility.isdecimal() and len(facility) < 4 else None,
        severity=int(severity) if severity and severity.isdecimal() and len(severity) < 4 else None,
        hostname=text("_HOSTNAME"),
        appname=text("SYSLOG_IDENTIFIER", "_COMM"),
        procid=text("_PID", "SYSLOG_PID"),
    )
    return _header_event(header, context)


def _header_event(header: SyslogHeader, context: LineContext) -> Event:
    if record := auditd.parse(header.message):
        return _audit_event(context, record, header)
    raw = {"syslog": header.fields(), "message": header.message}
    if package := dpkg.parse(header.message, context.zone):  # dpkg.log forwarded by rsyslog's imfile
        return _event(context, package.details, "dpkg", header.message, package.time, header, raw)
    tag = header.appname or ""
    program = tag.partition("(")[0].lower()
    details = _details(program, tag, header.message)
    # PAM writes to the auth log whichever program called it (gdm, login, su …).
    service = _SERVICES.get(program) or ("auth" if "pam_module" in details.fields else "syslog")
    return _event(context, details, service, header.message, header.time, header, raw)


def syslog_event(line: str, context: LineContext) -> Event:
    """Like `parse_line`, but a line with no recognisable header is still kept, whole, as a message."""
    event = parse_line(line, context)
    if event is not None:
        return event
    text = line.rstrip("\r\n")
    return _event(context, Details(), "syslog", text, None, None, {"message": text})


def _details(program: str, tag: str, message: str) -> Details:
    if program == "sshd":
        return sshd.parse(message, tag)
    if program == "sudo":
        return sudo.parse(message)
    if program in accounts.PROGRAMS:
        details = accounts.parse(message)
        if details.action:
            return details
        # passwd and chpasswd also log through PAM (`pam_unix(passwd:chauthtok): password changed for root`).
    module = tag[tag.index("(") + 1 : tag.rindex(")")] if "(pam_" in tag and tag.endswith(")") else None
    return pam.parse(message, module) or Details()


def _audit_event(context: LineContext, record: auditd.AuditRecord, header: SyslogHeader | None) -> Event:
    host = record.node or (header.hostname if header else None) or context.host
    raw: dict[str, Any] = {"message": record.text, **record.details.fields}
    if header:
        raw["syslog"] = header.fields()
    event_id = content_id("auditd", host or "", record.text)  # a record is unique per host; a resend is no new event
    return _event(context, record.details, "auditd", record.text, record.time, header, raw, host, event_id)


def _event(
    context: LineContext,
    details: Details,
    service: str,
    message: str,
    when: datetime | None,
    header: SyslogHeader | None,
    raw: dict[str, Any],
    host: str | None = None,
    event_id: str | None = None,
) -> Event:
    process = dict(details.process)
    if header and header.appname and "name" not in process:
        process["name"] = header.appname.partition("(")[0]
    if header and header.procid and header.procid.isdecimal() and int(header.procid) < _MAX_PID:
        process.setdefault("pid", int(header.procid))
    info: dict[str, Any] = {"type": details.type} if details.type else {}
    host_name = host or (header.hostname if header else None) or context.host
    document: dict[str, Any] = {
        "id": event_id or context.id or uuid.uuid4().hex,
        "time": when or context.received,
        "ingested": context.received,
        "event": {
            "module": "system",
            "dataset": "system.auth" if service in _AUTH_SERVICES else f"system.{service}",
            "action": details.action,
            "outcome": details.outcome,
            "category": details.category,
            **info,
        },
        "logsource": {"product": "linux", "service": service},
        "message": message,
        "labels": dict(context.labels),
        "raw": {**raw, **{k: v for k, v in details.fields.items() if k not in raw}},
    }
    for name, value in (
        ("user", details.user),
        ("source", details.source),
        ("destination", details.destination),
        ("process", process),
        ("host", {"name": host_name} if host_name else {}),
    ):
        if value:
            document[name] = value
    return Event.model_validate(document)
