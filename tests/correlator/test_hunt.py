"""The hunt query: a LogQL selector on the module label and a regex that finds exactly the alert's events."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from services.correlator.hunt import MAX_IDS_IN_QUERY, event_hunt, hunt_query


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


# The escaping as it was written first (a template substitution per metacharacter): the output must not move.
_RE2_SPECIAL = re.compile(r"[.^$*+?{}\[\]\\|()]")
_TRICKY = st.text(alphabet=st.sampled_from(".^$*+?{}[]\\|()`-_:/aZ0é\n"), max_size=24) | st.text(max_size=24)


@given(st.lists(_TRICKY, min_size=1, max_size=5))
def test_ids_are_escaped_as_a_regex_substitution_escapes_them(ids: list[str]) -> None:
    """Each metacharacter gets one backslash and a backtick is dropped, exactly as `re.sub` wrote it."""
    expected = "|".join(_RE2_SPECIAL.sub(r"\\\g<0>", i).replace("`", "") for i in ids)
    assert _id_pattern(hunt_query(["system"], ids)) == expected


_TEXT = st.text(max_size=20) | st.sampled_from(["d857.Response-1", "e1", "(z)|[q]{1}^$+?\\", 'k"8`s', ""])


@given(_TEXT, _TEXT)
def test_the_query_of_one_event_is_the_query_for_its_id_and_module(module: str, event_id: str) -> None:
    """`event_hunt` (stage 1's, once per alert) is `hunt_query` of that one id and module."""
    assert event_hunt(module, event_id) == hunt_query([module], [event_id])
