"""The `hunt` LogQL an alert carries: a query that shows the events behind it in Grafana Explore.

It selects on the `module` stream label, which the Loki sink must emit (its label set is the
contract), and filters the JSON lines on the envelope ids.
"""

from __future__ import annotations

import re
from functools import lru_cache

MAX_IDS_IN_QUERY = 50  # keeps the query readable and under URL limits; the alert lists every id
# RE2's metacharacters (the same as Python's outside a class): escaping only these, not every
# punctuation mark as re.escape does, is one C scan for the usual id with none of them.
_REGEX_SPECIAL = re.compile(r"[.^$*+?{}\[\]\\|()]")


def hunt_query(modules: list[str], event_ids: list[str]) -> str:
    # A backtick string in LogQL is raw: the regular expression needs no second layer of escaping.
    ids = "|".join(map(_literal, event_ids[:MAX_IDS_IN_QUERY]))
    return f"{{{_selector(tuple(sorted(set(modules))))}}} | json | id=~`{ids}`"


@lru_cache(maxsize=1024)  # modules are a handful of names: every alert asks for the same few selectors
def _selector(modules: tuple[str, ...]) -> str:
    wanted = modules or ("generic",)
    return f'module="{_escape(wanted[0])}"' if len(wanted) == 1 else f'module=~"{_escape("|".join(wanted))}"'


def _literal(event_id: str) -> str:
    if _REGEX_SPECIAL.search(event_id) is not None:
        event_id = _REGEX_SPECIAL.sub(r"\\\g<0>", event_id)
    return event_id.replace("`", "")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
