"""A hit on `siem.hits`: what stage 1 writes, stage 2 reads back exactly, and anything else is refused by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from services.correlator.hits import Hit

T0 = datetime(2024, 5, 1, 12, 0, 0, 1800, tzinfo=UTC)


def hit(**changes: object) -> Hit:
    fields: dict[str, object] = {
        "correlation": "c",
        "rule": "r",
        "time": T0,
        "event_ids": ["e1", "e2"],
        "group": {"source.ip": "10.0.0.1", "port": 22},
        "value": 1.5,
        "modules": ["system"],
        "count": 2,
        "first_time": T0 - timedelta(seconds=5),
    }
    return Hit(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_hit_reads_back_as_it_was_written() -> None:
    """to_json then from_json gives an equal hit, other time zones included."""
    for original in (hit(), hit(time=T0.astimezone(timezone(timedelta(hours=2))), first_time=None, value=None)):
        decoded = Hit.from_json(original.to_json())
        assert decoded == original and decoded.time.timestamp() == original.time.timestamp()


def test_defaults_fill_what_a_minimal_hit_leaves_out() -> None:
    """value, modules, count and first_time may be missing from the record."""
    decoded = Hit.from_json(
        b'{"correlation":"c","rule":"r","time":"2024-05-01T12:00:00Z","event_ids":["e"],"group":{}}'
    )
    assert (decoded.value, decoded.modules, decoded.count, decoded.first_time) == (None, [], 1, None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b'{"correlation":"c","rule":"r","time":"2024-05-01T12:00:00","event_ids":[],"group":{}}', "$.time"),
        (
            b'{"correlation":"c","rule":"r","time":"2024-05-01T12:00:00Z","event_ids":[],"group":{},"count":0}',
            "$.count",
        ),
        (b'{"correlation":"c","time":"2024-05-01T12:00:00Z","event_ids":[],"group":{}}', "`rule`"),
        (b'{"correlation":"c","rule":"r","time":"2024-05-01T12:00:00Z","event_ids":[],"group":{"a":[1]}}', "$.group"),
        (b"not json", "malformed"),
    ],
)
def test_a_bad_hit_is_refused_with_the_field_named(value: bytes, reason: str) -> None:
    """A naive time, a zero count, a missing field, a group value that is no scalar, or junk: refused, saying where."""
    with pytest.raises(msgspec.DecodeError, match=reason.replace("$", r"\$")):
        Hit.from_json(value)


def test_the_partition_key_ignores_the_order_of_group_fields() -> None:
    """Every hit of one group goes to the same partition, whatever order its group was built in."""
    assert hit(group={"a": 1, "b": 2}).key() == hit(group={"b": 2, "a": 1}).key()
