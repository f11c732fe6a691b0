"""The stream selectors of a LogQL query: every `{…}` outside quoted strings, as (label, operator, value).

Only the selectors are read here; whether the whole query is LogQL is for Loki to say (format_query).
"""

from __future__ import annotations

import re
from typing import NamedTuple

_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)\s*(?:,|$)')
_LABEL_VALUES = re.compile(r"label_values\((?:(\{.*\})\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\)")


class Matcher(NamedTuple):
    label: str
    op: str
    value: str


def stream_selectors(query: str) -> list[list[Matcher]]:
    """Every stream selector in the query; raises ValueError on one it cannot read whole."""
    selectors = []
    position = 0
    while position < len(query):
        char = query[position]
        if char in '"`':
            position = _string_end(query, position)
        elif char == "{":
            end = position + 1
            while query[end] != "}":
                end = _string_end(query, end) if query[end] in '"`' else end + 1
            selectors.append(_matchers(query[position + 1 : end]))
            position = end + 1
        else:
            position += 1
    return selectors


def label_values(query: str) -> tuple[list[list[Matcher]], str]:
    """A Grafana `label_values([selector,] label)` variable query: its selectors and the label it lists."""
    found = _LABEL_VALUES.fullmatch(query.strip())
    if not found:
        raise ValueError(f"not a label_values() query: {query}")
    return (stream_selectors(found.group(1)) if found.group(1) else []), found.group(2)


def _string_end(query: str, start: int) -> int:
    """The position after the string literal that opens at `start` (backtick strings have no escapes)."""
    quote, position = query[start], start + 1
    while query[position] != quote:
        position += 2 if quote == '"' and query[position] == "\\" else 1
    return position + 1


def _matchers(inside: str) -> list[Matcher]:
    matchers, position = [], 0
    while position < len(inside):
        found = _MATCHER.match(inside, position)
        if not found or found.end() == position:
            raise ValueError(f"cannot read the stream selector {{{inside}}} at {position}")
        label, op, value = found.groups()
        matchers.append(Matcher(label, op, value[1:-1]))
        position = found.end()
    return matchers
