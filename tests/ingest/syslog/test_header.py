"""Syslog headers: RFC 5424 fields and structured data, RFC 3164 times resolved against a zone and the receive time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from services.ingest.syslog.header import parse_header

RECEIVED = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def test_rfc5424_example_from_the_rfc() -> None:
    """RFC 5424 §6.5 example 3: PRI, every header field, structured data and the BOM-prefixed message."""
    line = (
        '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
        'eventSource="Application" eventID="1011"] \ufeffAn application event log entry...'
    )
    header = parse_header(line, RECEIVED, UTC)
    assert header is not None
    assert (header.format, header.facility, header.severity) == ("rfc5424", 20, 5)
    assert (header.hostname, header.appname, header.procid, header.msgid) == (
        "mymachine.example.com",
        "evntslog",
        None,
        "ID47",
    )
    assert header.time == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)
    assert header.structured_data == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"}
    }
    assert header.message == "An application event log entry..."


def test_rfc5424_structured_data_escapes_and_nil_fields() -> None:
    """Escaped `\\"`, `\\\\` and `\\]` inside a PARAM-VALUE are unescaped; `-` fields are absent."""
    line = r'<13>1 - - - - - [a@1 x="q\"uo\\te\]d"][b@2] hello'
    header = parse_header(line, RECEIVED, UTC)
    assert header is not None
    assert header.structured_data == {"a@1": {"x": 'q"uo\\te]d'}, "b@2": {}}
    assert (header.time, header.hostname, header.appname, header.message) == (None, None, None, "hello")


def test_rfc5424_malformed_structured_data_stays_in_the_message() -> None:
    """Structured data that does not close is not guessed at: the text is kept as the message."""
    header = parse_header('<13>1 2024-01-01T00:00:00Z h app 1 - [broken x="1" rest', RECEIVED, UTC)
    assert header is not None
    assert header.structured_data == {}
    assert header.message == '[broken x="1" rest'


def test_rfc3164_time_takes_the_configured_zone_and_this_year() -> None:
    """`Feb 21 21:54:44` received in March 2025 in Europe/Berlin is 2025-02-21 20:54:44 UTC."""
    header = parse_header("Feb 21 21:54:44 localhost sshd[3402]: hi", RECEIVED, BERLIN)
    assert header is not None
    assert header.time == datetime(2025, 2, 21, 20, 54, 44, tzinfo=UTC)
    assert (header.hostname, header.appname, header.procid, header.message) == ("localhost", "sshd", "3402", "hi")


def test_rfc3164_december_line_received_in_january_is_last_year() -> None:
    """A line from Dec 31 that arrives on Jan 1 belongs to the previous year, not the coming December."""
    header = parse_header("Dec 31 23:59:58 h cron: x", datetime(2025, 1, 1, 0, 0, 5, tzinfo=UTC), UTC)
    assert header is not None and header.time == datetime(2024, 12, 31, 23, 59, 58, tzinfo=UTC)


def test_rfc3164_new_year_ahead_of_a_utc_receiver() -> None:
    """Jan 1 00:30 in Berlin arrives at 23:31 UTC on Dec 31: it is the coming year's January, in the zone."""
    header = parse_header("Jan  1 00:30:00 h cron: x", datetime(2024, 12, 31, 23, 31, tzinfo=UTC), BERLIN)
    assert header is not None and header.time == datetime(2024, 12, 31, 23, 30, tzinfo=UTC)


def test_rfc3164_february_29_walks_back_to_a_leap_year() -> None:
    """Feb 29 received in 2025 (no Feb 29) resolves to 2024-02-29."""
    header = parse_header("Feb 29 10:00:00 h app: x", RECEIVED, UTC)
    assert header is not None and header.time == datetime(2024, 2, 29, 10, tzinfo=UTC)


def test_rfc3164_without_hostname_over_the_network() -> None:
    """`<13>Mar 10 11:00:00 sshd[1]: msg` (no hostname, allowed on the wire) reads the tag, not a host."""
    header = parse_header("<13>Mar 10 11:00:00 sshd[1]: msg", RECEIVED, UTC)
    assert header is not None
    assert (header.facility, header.severity, header.hostname, header.appname, header.procid) == (
        1,
        5,
        None,
        "sshd",
        "1",
    )


def test_iso_timestamp_with_and_without_zone() -> None:
    """An ISO 8601 time keeps its offset; without one it takes the configured zone."""
    with_zone = parse_header("2019-06-14T13:01:15.412+01:30 localhost pam: x", RECEIVED, BERLIN)
    without = parse_header("2019-06-14T10:40:20.912134 localhost sudo: y", RECEIVED, BERLIN)
    assert with_zone is not None and without is not None
    assert with_zone.time == datetime(2019, 6, 14, 11, 31, 15, 412000, tzinfo=UTC)
    assert without.time == datetime(2019, 6, 14, 8, 40, 20, 912134, tzinfo=UTC)


@pytest.mark.parametrize("line", ["just text", "<999>text", "Foo 12 10:00:00 h x", "2015-02-18 19:33:20 install a b c"])
def test_lines_without_a_syslog_header(line: str) -> None:
    """Text with no recognisable header (or an invalid PRI / month / a dpkg line) gives None, not a guess."""
    assert parse_header(line, RECEIVED, UTC) is None
