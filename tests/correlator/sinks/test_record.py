"""The enriched record as the event sinks take it: its text as consumed, a few fields decoded, bad records refused."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from services.correlator.sinks.record import decode_enriched, one_line
from services.shared.errors import ParseError

VALID = {"id": "evt-1", "time": "2026-11-26T06:00:00.5+01:00", "ingested": "2026-11-26T05:00:01Z"}


def test_the_fields_sinks_read_are_decoded_and_the_text_is_kept() -> None:
    """id, time (aware), event, logsource, labels and matches' ids and levels; the line is the value's text."""
    value = orjson.dumps(
        {
            **VALID,
            "event": {"module": "system", "dataset": "system.auth", "action": "ssh_login"},
            "logsource": {"product": "linux", "service": "sshd", "category": None},
            "labels": {"env": "prod"},
            "raw": {"anything": [1, 2, {"deep": None}]},
            "matches": [{"id": "r-1", "title": "T", "level": "high", "tags": []}, {"id": "r-2", "title": "U"}],
        }
    )
    record = decode_enriched(value)
    assert record.line == value.decode() and record.size == len(value)
    fields = record.fields
    assert fields.id == "evt-1" and fields.time == datetime(2026, 11, 26, 5, 0, 0, 500000, tzinfo=UTC)
    assert (fields.event.module, fields.event.dataset) == ("system", "system.auth")
    assert (fields.logsource.product, fields.logsource.service) == ("linux", "sshd")
    assert fields.labels == {"env": "prod"}
    assert [(m.id, m.level) for m in fields.matches] == [("r-1", "high"), ("r-2", "medium")]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (b"not json", "malformed"),
        (b"[1, 2]", "Expected `object`"),
        (orjson.dumps({"id": "evt-1"}), "`time`"),
        (orjson.dumps({**VALID, "time": "2026-11-26T06:00:00"}), "timezone"),
        (orjson.dumps({**VALID, "id": ""}), "`$.id`"),
        (orjson.dumps({**VALID, "id": "i" * 257}), "`$.id`"),
        (orjson.dumps({**VALID, "labels": {"env": 7}}), "`$.labels"),
        (orjson.dumps({**VALID, "matches": [{"title": "no id"}]}), "`id`"),
        (b'{"id":"evt-1","time":"2026-11-26T06:00:00Z","message":"\xff"}', "UTF-8"),
    ],
)
def test_a_record_that_is_not_an_enriched_event_is_refused_with_the_reason(value: bytes, says: str) -> None:
    """Not JSON, not an object, a missing or naive time, a bad id, label or match: ParseError("invalid_record")."""
    with pytest.raises(ParseError) as refused:
        decode_enriched(value)
    assert refused.value.error_type == "invalid_record"
    assert says in refused.value.reason


def test_the_reason_never_carries_the_record_content() -> None:
    """Reasons name the field, not its value: a secret in a bad field does not reach the dead-letter headers."""
    with pytest.raises(ParseError) as refused:
        decode_enriched(orjson.dumps({**VALID, "labels": {"token": ["s3cr3t-value"]}}))
    assert "s3cr3t" not in refused.value.reason


def test_one_line_keeps_a_compact_record_and_folds_an_indented_one() -> None:
    """The events file gets one line per record, even from a producer that indents its JSON."""
    compact = decode_enriched(orjson.dumps(VALID))
    assert one_line(compact) is compact.line
    indented = decode_enriched(orjson.dumps(VALID, option=orjson.OPT_INDENT_2))
    assert "\n" not in one_line(indented) and orjson.loads(one_line(indented)) == VALID
