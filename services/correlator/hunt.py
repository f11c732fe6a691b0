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
# The same less the backslash, which is escaped first so that the escapes added after it stay single.
_SPECIAL_CHARS = ".^$*+?{}[]|()"


def hunt_query(modules: list[str], event_ids: list[str]) -> str:
    # A backtick string in LogQL is raw: the regular expression needs no second layer of escaping.
    ids = "|".join(map(_literal, event_ids[:MAX_IDS_IN_QUERY]))
    return f"{{{_selector(tuple(sorted(set(modules))))}}} | json | id=~`{ids}`"


def event_hunt(module: str, event_id: str) -> str:
    """The hunt query of an alert about one event: `hunt_query([module], [event_id])` without the lists.

    Stage 1 asks it once per alert. Not memoised: an event raises about one alert, and a cache
    that misses costs more than this does (0.4-0.9 us against 1.3-1.8 us with the cache).
    """
    return f"{{{_selector((module,))}}} | json | id=~`{_literal(event_id)}`"


@lru_cache(maxsize=1024)  # modules are a handful of names: every alert asks for the same few selectors
def _selector(modules: tuple[str, ...]) -> str:
    wanted = modules or ("generic",)
    return f'module="{_escape(wanted[0])}"' if len(wanted) == 1 else f'module=~"{_escape("|".join(wanted))}"'


def _literal(event_id: str) -> str:
    # A replace per metacharacter present: a few C scans, where `re.sub` with a template costs a
    # Python call per id (k8s audit ids all hold dots). `str.translate` to two-character strings
    # measured slower still.
    if _REGEX_SPECIAL.search(event_id) is not None:
        event_id = event_id.replace("\\", "\\\\")
        for char in _SPECIAL_CHARS:
            if char in event_id:
                event_id = event_id.replace(char, "\\" + char)
    return event_id.replace("`", "")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
