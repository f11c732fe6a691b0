"""Syslog headers, RFC 5424 and RFC 3164 (the BSD form Linux hosts still write to files), read leniently.

A line without a recognisable header is not an error: RFC 3164 §4.3.3 asks a receiver to keep
such a message whole, so `parse_header` returns None and the caller keeps the text as it came.
RFC 3164 timestamps carry neither year nor zone: the zone is configured, the year is the one
that puts the time closest before the moment the line was received.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

_PRI = re.compile(r"<(\d{1,3})>")
_RFC5424 = re.compile(r"1 (\S{1,64}) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) ")
_BSD_TIME = re.compile(r"([A-Za-z]{3}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? +", re.ASCII)
_ISO_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?) +", re.ASCII)
# A tag is the program name, optionally its pid in brackets, then a colon: `sshd[42]:`, `kernel:`,
# `sshd(pam_unix)[7]:` (loghub), `postfix/smtpd[9]:`.
_TAG = re.compile(r"([^\s\[\]:]{1,48})(?:\[([^\]\s]{1,32})\])?: ?")
_SD_NAME = re.compile(r'[^\s="\]]{1,32}')
_MONTHS = {
    m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_CLOCK_SKEW = timedelta(days=1)  # a sender's clock a little ahead must not push its lines back a year
_NIL = "-"


@dataclass(frozen=True, slots=True)
class SyslogHeader:
    format: Literal["rfc5424", "rfc3164", "journal"]
    message: str
    time: datetime | None  # None: the header had no usable time
    timestamp: str | None  # as written
    facility: int | None = None
    severity: int | None = None
    hostname: str | None = None
    appname: str | None = None
    procid: str | None = None
    msgid: str | None = None
    structured_data: dict[str, dict[str, str]] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        """The header as the `syslog` object kept in an event's raw payload (absent parts left out)."""
        names = ("format", "timestamp", "facility", "severity", "hostname", "appname", "procid", "msgid")
        found: dict[str, Any] = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
        if self.structured_data:
            found["structured_data"] = self.structured_data
        return found


def parse_header(line: str, received: datetime, zone: tzinfo) -> SyslogHeader | None:
    """The header of one syslog message, or None when it has none we can recognise."""
    facility = severity = None
    position = 0
    pri = _PRI.match(line)
    if pri and int(pri.group(1)) <= 191:
        facility, severity = divmod(int(pri.group(1)), 8)
        position = pri.end()
        if line.startswith("1 ", position):
            header = _rfc5424(line, position, facility, severity, zone)
            if header is not None:
                return header
    return _rfc3164(line, position, facility, severity, received, zone)


def _rfc5424(line: str, position: int, facility: int, severity: int, zone: tzinfo) -> SyslogHeader | None:
    match = _RFC5424.match(line, position)
    if not match:
        return None
    timestamp, hostname, appname, procid, msgid = (None if g == _NIL else g for g in match.groups())
    structured, position = _structured_data(line, match.end())
    message = line[position + 1 :] if line.startswith(" ", position) else line[position:]
    return SyslogHeader(
        format="rfc5424",
        message=message.removeprefix("\ufeff"),  # RFC 5424 §6.4: a UTF-8 MSG may start with a BOM
        time=_iso_time(timestamp, zone) if timestamp else None,
        timestamp=timestamp,
        facility=facility,
        severity=severity,
        hostname=hostname,
        appname=appname,
        procid=procid,
        msgid=msgid,
        structured_data=structured,
    )


def _structured_data(line: str, position: int) -> tuple[dict[str, dict[str, str]], int]:
    """RFC 5424 STRUCTURED-DATA from `position`; malformed data is left in the message, not refused."""
    if line.startswith(_NIL, position):
        return {}, position + 1
    elements: dict[str, dict[str, str]] = {}
    start = position
    while line.startswith("[", position):
        name = _SD_NAME.match(line, position + 1)
        if not name:
            return {}, start
        params: dict[str, str] = {}
        position = name.end()
        while line.startswith(" ", position):
            param = _SD_NAME.match(line, position + 1)
            if not param or not line.startswith('="', param.end()):
                return {}, start
            value, position = _sd_value(line, param.end() + 2)
            if value is None:
                return {}, start
            params[param.group(0)] = value
        if not line.startswith("]", position):
            return {}, start
        elements[name.group(0)] = params
        position += 1
    return elements, position


def _sd_value(line: str, position: int) -> tuple[str | None, int]:
    """A PARAM-VALUE up to its closing quote; `\\"`, `\\\\` and `\\]` are escapes (RFC 5424 §6.3.3)."""
    out: list[str] = []
    while position < len(line):
        char = line[position]
        if char == "\\" and position + 1 < len(line) and line[position + 1] in '"\\]':
            out.append(line[position + 1])
            position += 2
        elif char == '"':
            return "".join(out), position + 1
        else:
            out.append(char)
            position += 1
    return None, position


def _rfc3164(
    line: str, position: int, facility: int | None, severity: int | None, received: datetime, zone: tzinfo
) -> SyslogHeader | None:
    when: datetime | None
    if bsd := _BSD_TIME.match(line, position):
        when = _bsd_time(bsd, received, zone)
        if when is None:
            return None
        timestamp, position = bsd.group(0).rstrip(" "), bsd.end()
    elif iso := _ISO_TIME.match(line, position):
        timestamp, position = iso.group(1), iso.end()
        when = _iso_time(timestamp, zone)
        if when is None:
            return None
    else:
        return None
    hostname = None
    first = line[position:].partition(" ")[0]
    if first and not _looks_like_tag(first):
        hostname, position = first, position + len(first) + 1
    rest = line[position:].lstrip(" ")
    appname = procid = None
    if tag := _TAG.match(rest):
        appname, procid, rest = tag.group(1), tag.group(2), rest[tag.end() :]
    return SyslogHeader(
        format="rfc3164",
        message=rest,
        time=when,
        timestamp=timestamp,
        facility=facility,
        severity=severity,
        hostname=hostname,
        appname=appname,
        procid=procid,
    )


def _looks_like_tag(token: str) -> bool:
    """`sshd[42]:` or `kernel:`: the sender left out its hostname (allowed over the network)."""
    return token.endswith(":") and _TAG.fullmatch(token) is not None


def _bsd_time(match: re.Match[str], received: datetime, zone: tzinfo) -> datetime | None:
    month = _MONTHS.get(match.group(1).lower())
    if month is None:
        return None
    day, hour, minute, second = (int(match.group(i)) for i in range(2, 6))
    micro = int((match.group(6) or "0").ljust(6, "0"))
    latest = received + _CLOCK_SKEW
    # The newest year that does not put the line in the future; Feb 29 walks back to a leap year.
    for year in range(received.astimezone(zone).year + 1, received.astimezone(zone).year - 8, -1):
        try:
            candidate = datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
        except ValueError:
            continue
        if candidate <= latest:
            return candidate
    return None


def _iso_time(text: str, zone: tzinfo) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
