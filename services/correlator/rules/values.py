"""Sigma value semantics: each pySigma value type (what the modifiers produced) becomes a test of one value.

pySigma has already applied the transforming modifiers (contains/startswith/endswith into
wildcards, base64, base64offset, utf16*/wide, windash into expansions, `all` into AND,
`neq` into NOT); what is left here is how each resulting type compares with an event value:

- strings: case-insensitive unless `cased`; `*` and `?` wildcards, `\\*` `\\?` `\\\\` escapes
- `re`: Python regular expressions, case-sensitive unless `i`; `m` and `s` flags; search, not fullmatch
- numbers equal numerically (an event's "5" equals 5); lt/lte/gt/gte compare numerically
- `null` matches a field that is absent or null; `exists` tests presence
- `cidr` matches IPv4 and IPv6 addresses inside the network
- time parts (minute, hour, day, week, month, year) read a timestamp field
- `fieldref` compares with another field of the same event (the reader is passed along)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

from services.shared.envelope import FieldReader
from services.shared.errors import RuleError

# A value test gets the event's value and the reader (only `fieldref` needs the latter).
ValueTest = Callable[[Any, FieldReader], bool]

_COMPARE: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
}
_REGEX_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


def value_test(value: Any, *, contains: bool = False) -> ValueTest:
    """The test for one Sigma value; `contains` wraps strings in wildcards (keyword searches)."""
    if isinstance(value, SigmaNull):
        return lambda v, _: v is None
    if isinstance(value, SigmaExists):  # the compiler tests presence itself; this serves values in a list
        present = value.exists
        return lambda v, _: (v is not None) is present
    if isinstance(value, SigmaBool):
        flag = value.boolean
        return lambda v, _: v is flag or (isinstance(v, str) and v.lower() == ("true" if flag else "false"))
    if isinstance(value, SigmaTimestampPart):  # before SigmaNumber: pySigma derives it from that
        part, wanted = value.timestamp_part, value.number
        return lambda v, _: _time_part(v, part) == wanted
    if isinstance(value, SigmaNumber):
        number = value.number
        return lambda v, _: as_number(v) == number
    if isinstance(value, SigmaCompareExpression):
        compare, bound = _COMPARE[value.op], value.number.number
        return lambda v, _: (n := as_number(v)) is not None and compare(n, bound)
    if isinstance(value, SigmaString):
        return string_test(value, cased=isinstance(value, SigmaCasedString), contains=contains)
    if isinstance(value, SigmaRegularExpression):
        return _regex_test(value)
    if isinstance(value, SigmaCIDRExpression):
        network = value.network
        return lambda v, _: _in_network(v, network)
    if isinstance(value, SigmaFieldReference):
        return _fieldref_test(value)
    if isinstance(value, SigmaExpansion):
        tests = [value_test(v, contains=contains) for v in value.values]
        return lambda v, reader: any(t(v, reader) for t in tests)
    raise RuleError("", f"value type {type(value).__name__} is not supported")


def string_test(value: SigmaString, *, cased: bool, contains: bool = False) -> ValueTest:
    return strings_test([value], cased=cased, contains=contains)


def strings_test(values: list[SigmaString], *, cased: bool, contains: bool = False) -> ValueTest:
    """The test for any of `values` (an OR of strings on one field, or a keyword list), in one pass."""
    return string_match(values, cased=cased, contains=contains).test


@dataclass(frozen=True)
class StringMatch:
    """Any of several Sigma strings, as one set lookup and at most two C scans.

    Plain strings go into one set, `*literal*` searches into one alternation, other wildcard
    patterns into one anchored alternation: a list of fifty values costs one lookup and two C
    scans instead of fifty Python-level tests. The result is the OR of each value's own test.
    The parts are public so the rule compiler can write the common case (a `str` value) inline.
    """

    plain: frozenset[str]  # case-folded unless `cased`
    cased: bool
    anywhere: re.Pattern[str] | None  # `*literal*` searches, searched anywhere
    whole: re.Pattern[str] | None  # other wildcard patterns, matched whole

    def test(self, v: Any, _: FieldReader) -> bool:
        if v is None:
            return False
        text = _text(v)
        return (
            (bool(self.plain) and (text if self.cased else text.casefold()) in self.plain)
            or (self.anywhere is not None and self.anywhere.search(text) is not None)
            or (self.whole is not None and self.whole.fullmatch(text) is not None)
        )


def string_match(values: list[SigmaString], *, cased: bool, contains: bool = False) -> StringMatch:
    """The match for any of `values`; `contains` wraps each in wildcards (keyword searches)."""
    plain: set[str] = set()
    literals: list[str] = []
    patterns: list[str] = []
    for value in values:
        parts = list(value.s)
        if any(isinstance(p, Placeholder) for p in parts):
            raise RuleError("", f"placeholder in {value.original!r} has no values: define it in the rules config")
        if contains:
            parts = [SpecialChars.WILDCARD_MULTI, *parts, SpecialChars.WILDCARD_MULTI]
        inner = parts[1:-1]
        if not any(isinstance(p, SpecialChars) for p in parts):
            text = "".join(str(p) for p in parts)
            plain.add(text if cased else text.casefold())
        elif (
            len(parts) > 2
            and parts[0] is parts[-1] is SpecialChars.WILDCARD_MULTI
            and not any(isinstance(p, SpecialChars) for p in inner)
        ):
            literals.append(re.escape("".join(str(p) for p in inner)))
        else:
            patterns.append(_wildcard_pattern(tuple(parts)))
    flags = re.DOTALL if cased else re.DOTALL | re.IGNORECASE
    return StringMatch(
        plain=frozenset(plain),
        cased=cased,
        anywhere=re.compile("|".join(literals), flags) if literals else None,
        whole=re.compile("|".join(f"(?:{p})" for p in patterns), flags) if patterns else None,
    )


def _wildcard_pattern(parts: tuple[object, ...]) -> str:
    return "".join(
        ".*" if p is SpecialChars.WILDCARD_MULTI else "." if p is SpecialChars.WILDCARD_SINGLE else re.escape(str(p))
        for p in parts
    )


def _regex_test(value: SigmaRegularExpression) -> ValueTest:
    regex = compiled_regex(value)
    return lambda v, _: v is not None and regex.search(_text(v)) is not None


def compiled_regex(value: SigmaRegularExpression) -> re.Pattern[str]:
    """A `re` value's pattern with its flags; the rule compiler searches a `str` value with it directly."""
    flags = 0
    for flag in value.flags:
        flags |= _REGEX_FLAGS[flag]
    try:
        return re.compile(value.regexp.original, flags)
    except re.error as exc:
        raise RuleError("", f"invalid regular expression {value.regexp.original!r}: {exc}") from None


def _fieldref_test(value: SigmaFieldReference) -> ValueTest:
    other, starts, ends = value.field, value.starts_with, value.ends_with

    def test(v: Any, reader: FieldReader) -> bool:
        reference = reader.get(other)
        if v is None or reference is None:
            return False
        mine, theirs = _text(v).casefold(), _text(reference).casefold()
        if starts and ends:  # fieldref|contains
            return theirs in mine
        if starts:
            return mine.startswith(theirs)
        if ends:
            return mine.endswith(theirs)
        return mine == theirs

    return test


def as_number(value: Any) -> float | None:
    """The number a field holds, as Sigma compares it: `401`, `401.0` and `"401"` are one number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(str(value))
    except ValueError:
        return None


def _in_network(value: Any, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    if value is None:
        return False
    try:
        return ipaddress.ip_address(_text(value)) in network
    except ValueError:
        return False


def _time_part(value: Any, part: TimestampPart) -> int | None:
    moment = _as_datetime(value)
    if moment is None:
        return None
    if part is TimestampPart.MINUTE:
        return moment.minute
    if part is TimestampPart.HOUR:
        return moment.hour
    if part is TimestampPart.DAY:
        return moment.day
    if part is TimestampPart.WEEK:
        return moment.isocalendar().week
    if part is TimestampPart.MONTH:
        return moment.month
    return moment.year


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
