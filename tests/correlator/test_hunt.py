"""The hunt query: a LogQL selector on the module label and a regex that finds exactly the alert's events."""

from __future__ import annotations

import re

from services.correlator.hunt import MAX_IDS_IN_QUERY, hunt_query


def _id_pattern(query: str) -> str:
    return query.split("id=~`", 1)[1].removesuffix("`")


def test_ids_with_every_regex_metacharacter_match_themselves_and_nothing_else() -> None:
    """Each id is matched literally (Python's re reads these escapes as RE2 does); a near miss is not."""
    ids = ["a.b", "x-y", "c*d", "e\\f", "(z)|[q]{1}^$+?", "4f1c2d3e-0000-4000-8000-00000000000a"]
    pattern = re.compile(_id_pattern(hunt_query(["system"], ids)))
    assert all(pattern.fullmatch(i) for i in ids)
    assert not any(pattern.fullmatch(near) for near in ("aXb", "cccd", "z", "x-yz", ""))


def test_query_selects_the_module_and_lists_at_most_the_cap_of_ids() -> None:
    """One module is an equality, several a regex; ids past the cap are left to the alert's own list."""
    assert hunt_query(["system"], ["e1"]).startswith('{module="system"} | json | ')
    assert hunt_query(["github", "system"], ["e1"]).startswith('{module=~"github|system"}')
    ids = [f"e{n}" for n in range(MAX_IDS_IN_QUERY + 10)]
    assert _id_pattern(hunt_query([], ids)).split("|") == ids[:MAX_IDS_IN_QUERY]
