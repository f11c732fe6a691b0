"""What the delivery guarantees assume of Loki, checked on the real Loki, and the test gateway's own behaviour."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import cramjam

from tests.loki.gateway import LokiGateway
from tests.loki.loki_proto import loki_push_pb2
from tests.loki.loki_service import query_range

HOUR_NS = 3600 * 10**9


def _push(url: str, tenant: str, entries: list[tuple[int, str]], labels: str = '{module="test"}') -> tuple[int, str]:
    """One protobuf push built with Loki's own push.proto."""
    request = loki_push_pb2().PushRequest()
    stream = request.streams.add(labels=labels)
    for ts, line in entries:
        entry = stream.entries.add(line=line)
        entry.timestamp.seconds, entry.timestamp.nanos = divmod(ts, 10**9)
    body = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
    headers = {"Content-Type": "application/x-protobuf", "X-Scope-OrgID": tenant}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url + "/loki/api/v1/push", data=body, headers=headers), timeout=10
        ) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _lines(loki: LokiGateway, tenant: str) -> list[str]:
    return [e.line for e in query_range(loki.loki_url, tenant, '{module="test"}')]


def test_loki_keeps_one_copy_of_an_identical_entry(loki: LokiGateway, tenant: str) -> None:
    """The same (stream, timestamp, line) pushed three times is stored once; another line at that time is kept."""
    now = time.time_ns()
    for _ in range(3):
        assert _push(loki.url, tenant, [(now, "same")])[0] == 204
    assert _push(loki.url, tenant, [(now, "other")])[0] == 204
    assert sorted(_lines(loki, tenant)) == ["other", "same"]


def test_loki_takes_a_late_redelivery_within_the_hour(loki: LokiGateway, tenant: str) -> None:
    """Unordered writes (Loki's default): entries 30 minutes older than the stream's newest are still taken."""
    now = time.time_ns()
    assert _push(loki.url, tenant, [(now, "newest")])[0] == 204
    assert _push(loki.url, tenant, [(now - HOUR_NS // 2, "redelivered")])[0] == 204
    assert _lines(loki, tenant) == ["redelivered", "newest"]


def test_loki_refuses_a_line_over_256_kb_and_keeps_the_rest_of_the_push(loki: LokiGateway, tenant: str) -> None:
    """Loki's max_line_size: 400 naming the limit, while the valid entry of the same push is stored."""
    now = time.time_ns()
    status, text = _push(loki.url, tenant, [(now, "x" * (256 * 1024 + 1)), (now + 1, "fine")])
    assert status == 400 and "262144" in text
    assert _lines(loki, tenant) == ["fine"]


def test_the_gateway_fails_as_told_then_forwards(loki: LokiGateway, tenant: str) -> None:
    """`fail(500, times=2)` answers two pushes with 500 without forwarding them, then pushes reach Loki again."""
    loki.fail(500, times=2)
    statuses = [_push(loki.url, tenant, [(time.time_ns(), f"line {n}")])[0] for n in range(3)]
    assert statuses == [500, 500, 204]
    assert _lines(loki, tenant) == ["line 2"]
    assert loki.stats["entries_accepted"] == 1


def test_a_gateway_failure_after_forwarding_is_a_lost_2xx(loki: LokiGateway, tenant: str) -> None:
    """With `after_forwarding` the answer is 500 but Loki has the entry: what a retry must not duplicate."""
    loki.fail(500, times=1, after_forwarding=True)
    assert _push(loki.url, tenant, [(time.time_ns(), "kept")])[0] == 500
    assert _lines(loki, tenant) == ["kept"]
