"""Property-based tests on every ingest parser: any input gives events or a clear rejection, never an exception.

Each event must also be a valid bus message (serialisable, and readable back by orjson, which refuses
integers wider than 64 bits). A generous per-example deadline guards against a parser that hangs
(catastrophic regex backtracking); it is not a speed requirement.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import cramjam
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.sources.generic import GenericSource
from services.ingest.sources.jenkins import parse_jenkins
from services.ingest.sources.k8s_audit import parse_audit
from services.ingest.sources.loki import parse_push
from services.ingest.sources.parsed import Parsed
from services.ingest.sources.syslog import parse_lines
from services.ingest.syslog import LineContext, syslog_event
from services.ingest.syslog.framing import Framer
from services.ingest.syslog.header import parse_header

RECEIVED = datetime(2025, 6, 1, tzinfo=UTC)
CONTEXT = LineContext(received=RECEIVED)
ERROR_TYPE = re.compile(r"[a-z][a-z_]{1,40}")
GUARD = settings(deadline=timedelta(seconds=5), max_examples=300, suppress_health_check=[HealthCheck.too_slow])


def _dumps(value: Any) -> bytes:
    """stdlib JSON, which (unlike orjson) writes integers of any size, so parsers meet them too."""
    return json.dumps(value).encode()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)

# Fragments of real syslog, so generated lines reach the program parsers and not only the fallbacks.
PRIS = st.sampled_from(["", "<13>", "<38>", "<191>", "<192>", "<0>", "<x>"])
TIMES = st.sampled_from(
    [
        "Feb 29 10:00:00 ",
        "Dec 31 23:59:59 ",
        "Jan  1 00:00:00.123 ",
        "2019-06-14T10:40:20.1 ",
        "1 2003-10-11T22:14:15.003Z ",
        "1 - ",
        "Foo 1 ",
        "",
    ]
)
HOSTS = st.sampled_from(["host ", "", "h-1 - ", "10.0.0.1 "])
TAGS = st.sampled_from(["sshd[1]: ", "sudo: ", "useradd[2]: ", "su(pam_unix)[3]: ", "kernel: ", "app - - ", ""])
BODIES = st.sampled_from(
    [
        "Accepted password for {x} from {x} port {x} ssh2",
        "Failed password for invalid user {x} from {x} port 22 ssh2",
        "Invalid user {x} from {x}",
        "message repeated 3 times: [ Failed password for {x} from {x} port {x}]",
        "{x} : TTY={x} ; PWD={x} ; USER={x} ; COMMAND={x}",
        "{x} : user NOT in sudoers ; COMMAND={x}",
        "new user: name={x}, UID={x}, GID={x}",
        '{"MESSAGE": "{x}", "SYSLOG_IDENTIFIER": "sshd", "_PID": "{x}", "PRIORITY": "{x}"}',
        "pam_unix(sshd:auth): authentication failure; rhost={x} user={x}",
        "type=EXECVE msg=audit(1.2:3): argc={x} a0={x} a1[0]={x}",
        "type=SYSCALL msg=audit({x}:{x}): key={x}",
        '[a@1 x="{x}"] {x}',
        "{x}",
    ]
)


@st.composite
def syslog_lines(draw: st.DrawFn) -> str:
    body = draw(BODIES).replace("{x}", draw(st.text(max_size=30)))
    return draw(PRIS) + draw(TIMES) + draw(HOSTS) + draw(TAGS) + body


def _check(parsed: Parsed) -> None:
    for event in parsed.read_back():
        orjson.loads(event.model_dump_json())  # a valid bus message, readable downstream
    for rejected in parsed.rejected:
        assert ERROR_TYPE.fullmatch(rejected.error_type), rejected.error_type
        assert rejected.reason and isinstance(rejected.original, bytes)


@GUARD
@given(st.one_of(st.binary(max_size=400), json_values.map(_dumps)))
def test_generic_json(body: bytes) -> None:
    """Generic JSON: any body gives events or rejections (at least one of them), never an exception."""
    parsed = GenericSource().parse(body, {})
    _check(parsed)
    assert parsed.ids or parsed.rejected


_audit_event = st.fixed_dictionaries(
    {
        "auditID": st.text(max_size=300),
        "stage": st.sampled_from(["ResponseComplete", "Panic", "x"]),
        "verb": st.text(max_size=5),
    },
    optional={
        "user": json_values,
        "sourceIPs": json_values,
        "objectRef": json_values,
        "responseStatus": json_values,
        "requestReceivedTimestamp": st.text(max_size=30) | json_values,
        "requestURI": st.text(max_size=40),
        "impersonatedUser": json_values,
        "kind": json_values,
    },
)
_audit_items = _audit_event | json_values
_audit_bodies = st.one_of(
    st.binary(max_size=300),
    _audit_items.map(_dumps),
    st.lists(_audit_items, max_size=5).map(lambda items: _dumps({"kind": "EventList", "items": items})),
)


@GUARD
@given(_audit_bodies)
def test_k8s_audit(body: bytes) -> None:
    """Kubernetes audit: any body or EventList gives events or rejections, never an exception."""
    parsed = parse_audit(body, RECEIVED)
    _check(parsed)
    assert parsed.ids or parsed.rejected


_build = st.fixed_dictionaries(
    {"phase": st.sampled_from(["STARTED", "x"])},
    optional={"timestamp": json_values | st.text(max_size=30), "status": json_values, "full_url": json_values},
)
_notification = st.fixed_dictionaries({"name": json_values, "build": _build})
_jenkins_audit = st.fixed_dictionaries(
    {"kind": st.just("audit"), "action": st.sampled_from(["login", "x"])},
    optional={"user": json_values, "source_ip": json_values, "time": json_values},
)
_jenkins_bodies = st.one_of(st.binary(max_size=300), (json_values | _notification | _jenkins_audit).map(_dumps))


@GUARD
@given(_jenkins_bodies)
def test_jenkins(body: bytes) -> None:
    """Jenkins: any notification or audit body gives events or rejections, never an exception."""
    parsed = parse_jenkins(body, RECEIVED)
    _check(parsed)
    assert parsed.ids or parsed.rejected


_labels = st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), st.text(max_size=10), max_size=3)
_entry = st.tuples(st.integers(min_value=-(2**63), max_value=2**64).map(str), syslog_lines() | st.text()).map(list)
_json_push = st.lists(st.fixed_dictionaries({"stream": _labels, "values": st.lists(_entry, max_size=4)}), max_size=3)
_snappy = st.binary(max_size=300).map(lambda b: bytes(cramjam.snappy.compress_raw(b)))
_push_cases = st.one_of(
    st.tuples(st.binary(max_size=300), st.sampled_from(["application/json", "application/x-protobuf", "text/x"])),
    st.tuples(_json_push.map(lambda streams: _dumps({"streams": streams})), st.just("application/json")),
    st.tuples(_snappy, st.just("application/x-protobuf")),
)


@GUARD
@given(_push_cases)
def test_loki_push(case: tuple[bytes, str]) -> None:
    """Loki push: any body, JSON or snappy protobuf, gives events or rejections, never an exception."""
    body, content_type = case
    _check(parse_push(body, {"Content-Type": content_type}, RECEIVED, UTC, 1 << 20))


@GUARD
@given(st.one_of(syslog_lines(), st.text(max_size=300)))
def test_syslog_line(line: str) -> None:
    """Any line, syslog-shaped or not, becomes exactly one valid event (kept whole if unrecognised)."""
    event = syslog_event(line, CONTEXT)
    orjson.loads(event.model_dump_json())
    parse_header(line, RECEIVED, UTC)


@GUARD
@given(st.lists(st.one_of(syslog_lines().map(str.encode), st.binary(max_size=100)), max_size=8))
def test_syslog_lines_body(lines: list[bytes]) -> None:
    """A body of lines gives one event per non-blank line, or a rejection, never an exception."""
    body = b"\n".join(lines)
    parsed = parse_lines(body, CONTEXT)
    _check(parsed)
    assert len(parsed.ids) + len(parsed.rejected) >= len([line for line in body.split(b"\n") if line.strip()])


@GUARD
@given(st.lists(st.binary(max_size=80), max_size=10), st.integers(min_value=1, max_value=64))
def test_framer(chunks: list[bytes], max_bytes: int) -> None:
    """The TCP framer never raises; every message it yields fits the cap."""
    framer = Framer(max_bytes)
    for chunk in chunks:
        for message in framer.feed(chunk):
            assert len(message) <= max_bytes
    framer.pending()
