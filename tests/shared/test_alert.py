"""Alert ids are fingerprints of rule, group and evidence, so a replay gives the same id."""

from __future__ import annotations

import re

from services.shared.alert import alert_id

RULE = "5d0b3f2e-1c2a-4d7e-9a6b-3f1e2d4c5b6a"
OTHER_RULE = "0f6c1b7a-2e3d-4c5b-8a9f-1e2d3c4b5a69"
GROUP = {"source.ip": "203.0.113.7", "user.name": "root"}


def test_same_inputs_give_the_same_id() -> None:
    """Two computations over equal inputs (built separately) give the same id."""
    assert alert_id(RULE, dict(GROUP), ["e1", "e2"]) == alert_id(RULE, dict(GROUP), ["e1", "e2"])


def test_id_is_a_short_hex_fingerprint() -> None:
    """The id is 32 lowercase hex characters, usable as a label or a file name."""
    assert re.fullmatch(r"[0-9a-f]{32}", alert_id(RULE, GROUP, ["e1"]))


def test_order_of_event_ids_does_not_matter() -> None:
    """The same evidence in another order gives the same id."""
    assert alert_id(RULE, GROUP, ["e1", "e2", "e3"]) == alert_id(RULE, GROUP, ["e3", "e1", "e2"])


def test_order_of_group_keys_does_not_matter() -> None:
    """A group-by mapping built in another key order gives the same id."""
    reordered = {"user.name": "root", "source.ip": "203.0.113.7"}
    assert alert_id(RULE, GROUP, ["e1"]) == alert_id(RULE, reordered, ["e1"])


def test_a_different_rule_gives_a_different_id() -> None:
    """The same group and events under another rule are another alert."""
    assert alert_id(RULE, GROUP, ["e1"]) != alert_id(OTHER_RULE, GROUP, ["e1"])


def test_a_different_group_gives_a_different_id() -> None:
    """Another group-by value (or none at all) is another alert."""
    base = alert_id(RULE, GROUP, ["e1"])
    assert base != alert_id(RULE, {**GROUP, "source.ip": "198.51.100.1"}, ["e1"])
    assert base != alert_id(RULE, {}, ["e1"])


def test_different_events_give_a_different_id() -> None:
    """Other evidence, one more event, or one fewer event is another alert."""
    base = alert_id(RULE, GROUP, ["e1", "e2"])
    assert base != alert_id(RULE, GROUP, ["e1", "e3"])
    assert base != alert_id(RULE, GROUP, ["e1", "e2", "e3"])
    assert base != alert_id(RULE, GROUP, ["e1"])


def test_parts_cannot_be_shifted_between_fields() -> None:
    """Moving text between rule id and event id does not collide (the parts are encoded separately)."""
    assert alert_id("ab", {}, ["c"]) != alert_id("a", {}, ["bc"])
