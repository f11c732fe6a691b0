"""The Sigma specification's modifiers, wildcards, special values and conditions as one table of match/no-match cases.

Sources: the Sigma rules specification v2.0.0 (sections General, String Wildcard, Escaping,
Lists, Maps, Special Field Values, Field Existence, Placeholders, Keywords search, Condition)
and the modifiers appendix v2.1.0. Each row is a detection, one event and the verdict the
specification gives; every rule goes through the real loader (`load_rules` on a file).
Keyword (field-less) detections search the envelope's `message` (DESIGN.md), which is how
this project reads the specification's "keywords across an entire event".
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.correlator.rules.config import RulesConfig
from services.correlator.rules.loader import load_rules
from services.shared.envelope import Envelope, FieldReader
from services.shared.event import Event, LogSource

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LOGSOURCE = LogSource(product="linux")
CONFIG = RulesConfig(placeholders={"admins": ["root", "adm*"]})
STAMP = "2024-05-01T12:30:45Z"  # minute 30, hour 12, day 1, ISO week 18, month 5, year 2024

# Every modifier the modifiers appendix v2.1.0 names (the regex flags by their short names).
SPEC_MODIFIERS = (
    "contains startswith endswith all cased exists neq re i m s cidr base64 base64offset "
    "utf16le utf16be utf16 wide windash lt lte gt gte fieldref expand minute hour day week month year"
).split()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def case(
    name: str,
    detection: dict[str, Any],
    expected: bool,
    *,
    raw: Any = None,
    message: str | None = None,
    bug: str | None = None,
) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
    return pytest.param(detection, raw, message, expected, id=name, marks=marks)


def sel(**fields: Any) -> dict[str, Any]:
    """A detection with one selection map of these fields (`__` in a name stands for the `|` of a modifier)."""
    return {"sel": {name.replace("__", "|"): value for name, value in fields.items()}, "condition": "sel"}


def one(field: str, value: Any) -> dict[str, Any]:
    """A detection with one selection of one field (for names Python keywords cannot carry)."""
    return {"sel": {field: value}, "condition": "sel"}


ABC = {"a": {"fa": "1"}, "b": {"fb": "1"}, "c": {"fc": "1"}}

CASES = [
    # General: values are case-insensitive strings and match the whole field.
    case("plain-any-case", sel(CommandLine="whoami"), True, raw={"CommandLine": "WhoAmI"}),
    case("plain-whole-value-only", sel(CommandLine="whoami"), False, raw={"CommandLine": "whoami /all"}),
    case("plain-missing-field", sel(CommandLine="whoami"), False, raw={"Other": "whoami"}),
    case("plain-non-ascii-case", sel(City="Été"), True, raw={"City": "éTÉ"}),
    case("nested-field-dotted-path", one("objectRef.resource", "pods"), True, raw={"objectRef": {"resource": "pods"}}),
    case("nested-field-other-value", one("objectRef.resource", "pods"), False, raw={"objectRef": {"resource": "x"}}),
    # contains / startswith / endswith
    case("contains", one("Image|contains", "temp"), True, raw={"Image": "C:\\Users\\TEMP\\x.exe"}),
    case("contains-absent", one("Image|contains", "temp"), False, raw={"Image": "C:\\Windows\\x.exe"}),
    case("contains-inner-wildcard", one("f|contains", "a*z"), True, raw={"f": "xxaMIDzxx"}),
    case("startswith", one("Image|startswith", "C:\\Windows\\"), True, raw={"Image": "c:\\windows\\cmd.exe"}),
    case("startswith-elsewhere", one("Image|startswith", "C:\\Windows\\"), False, raw={"Image": "D:\\C:\\Windows\\"}),
    case("startswith-single-wildcard", one("f|startswith", "a?c"), True, raw={"f": "AXCdef"}),
    case("endswith", one("Image|endswith", ".exe"), True, raw={"Image": "C:\\a.EXE"}),
    case("endswith-elsewhere", one("Image|endswith", ".exe"), False, raw={"Image": "C:\\a.exe.txt"}),
    # all: a list of values becomes AND (for fields and for keywords)
    case("all-every-value", one("CommandLine|contains|all", ["-a", "-b"]), True, raw={"CommandLine": "x -b -a"}),
    case("all-one-missing", one("CommandLine|contains|all", ["-a", "-b"]), False, raw={"CommandLine": "x -a"}),
    case("all-keywords", {"k": {"|all": ["foo", "bar"]}, "condition": "k"}, True, message="bar, then foo"),
    case("all-keywords-one-missing", {"k": {"|all": ["foo", "bar"]}, "condition": "k"}, False, message="foo only"),
    # cased
    case("cased-same-case", one("f|cased", "Evil"), True, raw={"f": "Evil"}),
    case("cased-other-case", one("f|cased", "Evil"), False, raw={"f": "evil"}),
    case("cased-contains", one("f|contains|cased", "Evil"), True, raw={"f": "an Evil one"}),
    case("cased-contains-other-case", one("f|contains|cased", "Evil"), False, raw={"f": "an EVIL one"}),
    case("cased-wildcard", one("f|cased", "A*c"), True, raw={"f": "Axxc"}),
    case("cased-wildcard-other-case", one("f|cased", "A*c"), False, raw={"f": "axxc"}),
    # exists: presence of the field, whatever its value
    case("exists-true-present", one("f|exists", True), True, raw={"f": "x"}),
    case("exists-true-empty-string", one("f|exists", True), True, raw={"f": ""}),
    case("exists-true-null-value", one("f|exists", True), True, raw={"f": None}),
    case("exists-true-absent", one("f|exists", True), False, raw={"g": 1}),
    case("exists-false-absent", one("f|exists", False), True, raw={"g": 1}),
    case("exists-false-present", one("f|exists", False), False, raw={"f": "x"}),
    case("exists-false-null-value", one("f|exists", False), False, raw={"f": None}),
    # neq: the field differs from every value (strings case-insensitively, or numbers)
    case("neq-string-differs", one("f|neq", "a"), True, raw={"f": "b"}),
    case("neq-string-same-other-case", one("f|neq", "a"), False, raw={"f": "A"}),
    case("neq-number-differs", one("f|neq", 5), True, raw={"f": 6}),
    case("neq-number-equal", one("f|neq", 5), False, raw={"f": 5}),
    case("neq-list-none-equal", one("f|neq", ["a", "b"]), True, raw={"f": "c"}),
    case("neq-list-one-equal", one("f|neq", ["a", "b"]), False, raw={"f": "b"}),
    # re, case-sensitive by default, searched anywhere; i, m, s flags
    case("re", one("f|re", "^ab.d$"), True, raw={"f": "abcd"}),
    case("re-case-sensitive", one("f|re", "^ab.d$"), False, raw={"f": "ABCD"}),
    case("re-unanchored-searches", one("f|re", "b[c-e]"), True, raw={"f": "abcd"}),
    case("re-i", one("f|re|i", "^ab.d$"), True, raw={"f": "ABCD"}),
    case("re-i-no-match", one("f|re|i", "^ab.d$"), False, raw={"f": "XBCD"}),
    case("re-m", one("f|re|m", "^b$"), True, raw={"f": "a\nb\nc"}),
    case("re-m-no-line", one("f|re|m", "^b$"), False, raw={"f": "a\nbc"}),
    case("re-without-m", one("f|re", "^b$"), False, raw={"f": "a\nb\nc"}),
    case("re-s", one("f|re|s", "a.c"), True, raw={"f": "a\nc"}),
    case("re-s-one-character", one("f|re|s", "a.c"), False, raw={"f": "a\n\nc"}),
    case("re-without-s", one("f|re", "a.c"), False, raw={"f": "a\nc"}),
    case("re-i-m-s", one("f|re|i|m|s", "^B.C$"), True, raw={"f": "a\nb\nc"}),
    # cidr
    case("cidr-v4", one("ip|cidr", "10.0.0.0/8"), True, raw={"ip": "10.1.2.3"}),
    case("cidr-v4-outside", one("ip|cidr", "10.0.0.0/8"), False, raw={"ip": "11.0.0.1"}),
    case("cidr-v4-not-an-address", one("ip|cidr", "10.0.0.0/8"), False, raw={"ip": "10.example"}),
    case("cidr-v6", one("ip|cidr", "2001:db8::/32"), True, raw={"ip": "2001:DB8::1"}),
    case("cidr-v6-outside", one("ip|cidr", "2001:db8::/32"), False, raw={"ip": "2001:db9::1"}),
    # base64 and base64offset
    case("base64", one("f|base64", "abc"), True, raw={"f": b64(b"abc")}),
    case("base64-other-text", one("f|base64", "abc"), False, raw={"f": b64(b"abd")}),
    *(
        case(
            f"base64offset-shift-{n}",
            one("f|base64offset|contains", "hello"),
            True,
            raw={"f": b64(b"x" * n + b"hello")},
        )
        for n in range(3)
    ),
    case("base64offset-other-text", one("f|base64offset|contains", "hello"), False, raw={"f": b64(b"help me")}),
    # utf16le / utf16be / utf16 (with BOM) / wide, as one finds them: base64-encoded
    case("utf16le", one("f|utf16le|base64", "cmd"), True, raw={"f": b64("cmd".encode("utf-16-le"))}),
    case("utf16le-other-encoding", one("f|utf16le|base64", "cmd"), False, raw={"f": b64(b"cmd")}),
    case("utf16be", one("f|utf16be|base64", "cmd"), True, raw={"f": b64("cmd".encode("utf-16-be"))}),
    case("utf16be-other-encoding", one("f|utf16be|base64", "cmd"), False, raw={"f": b64("cmd".encode("utf-16-le"))}),
    case("utf16", one("f|utf16|base64", "cmd"), True, raw={"f": b64(b"\xff\xfe" + "cmd".encode("utf-16-le"))}),
    case("utf16-without-bom", one("f|utf16|base64", "cmd"), False, raw={"f": b64("cmd".encode("utf-16-le"))}),
    case("wide", one("f|wide|base64", "cmd"), True, raw={"f": b64("cmd".encode("utf-16-le"))}),
    case("wide-other-encoding", one("f|wide|base64", "cmd"), False, raw={"f": b64(b"cmd")}),
    case(
        "wide-base64offset",
        one("f|wide|base64offset|contains", "ping"),
        True,
        raw={"f": b64("ping -n".encode("utf-16-le"))},
    ),
    # windash: - / – — ― are interchangeable
    *(
        case(f"windash-{hex(ord(dash))}", one("f|windash|contains", " -enc "), True, raw={"f": f"ps {dash}enc x"})
        for dash in "-/\u2013\u2014\u2015"
    ),
    case("windash-other-character", one("f|windash|contains", " -enc "), False, raw={"f": "ps +enc x"}),
    # lt / lte / gt / gte, numerically
    case("lt-below", one("n|lt", 5), True, raw={"n": 4}),
    case("lt-equal", one("n|lt", 5), False, raw={"n": 5}),
    case("lte-equal", one("n|lte", 5), True, raw={"n": 5}),
    case("lte-above", one("n|lte", 5), False, raw={"n": 6}),
    case("gt-above", one("n|gt", 5), True, raw={"n": 6}),
    case("gt-equal", one("n|gt", 5), False, raw={"n": 5}),
    case("gte-equal", one("n|gte", 5), True, raw={"n": 5}),
    case("gte-below", one("n|gte", 5), False, raw={"n": 4.99}),
    case("gt-numeric-text", one("n|gt", 5), True, raw={"n": "10"}),
    case("gt-not-a-number", one("n|gt", 5), False, raw={"n": "many"}),
    # fieldref: compare with another field of the same event
    case("fieldref", one("f|fieldref", "g"), True, raw={"f": "Alice", "g": "alice"}),
    case("fieldref-differs", one("f|fieldref", "g"), False, raw={"f": "alice", "g": "bob"}),
    case("fieldref-other-absent", one("f|fieldref", "g"), False, raw={"f": "alice"}),
    case("fieldref-contains", one("f|fieldref|contains", "g"), True, raw={"f": "xAx", "g": "a"}),
    case("fieldref-contains-absent", one("f|fieldref|contains", "g"), False, raw={"f": "xyz", "g": "a"}),
    case("fieldref-startswith", one("f|fieldref|startswith", "g"), True, raw={"f": "abc", "g": "AB"}),
    case("fieldref-startswith-elsewhere", one("f|fieldref|startswith", "g"), False, raw={"f": "cab", "g": "ab"}),
    case("fieldref-endswith", one("f|fieldref|endswith", "g"), True, raw={"f": "abc", "g": "BC"}),
    case("fieldref-endswith-elsewhere", one("f|fieldref|endswith", "g"), False, raw={"f": "bca", "g": "bc"}),
    case("fieldref-neq", one("f|fieldref|neq", "g"), True, raw={"f": "abc", "g": "abd"}),
    case("fieldref-neq-equal", one("f|fieldref|neq", "g"), False, raw={"f": "abc", "g": "ABC"}),
    # expand: placeholders take the rules config's values (OR), wildcards included
    case("expand-value", one("User|expand", "%admins%"), True, raw={"User": "root"}),
    case("expand-wildcard-value", one("User|expand", "%admins%"), True, raw={"User": "ADMIN7"}),
    case("expand-no-value", one("User|expand", "%admins%"), False, raw={"User": "guest"}),
    case("expand-inside-text", one("User|expand", "corp-%admins%"), True, raw={"User": "corp-root"}),
    case("expand-inside-text-no-prefix", one("User|expand", "corp-%admins%"), False, raw={"User": "root"}),
    case("no-expand-is-literal", one("User", "%admins%"), True, raw={"User": "%ADMINS%"}),
    # time parts of a timestamp field
    *(
        case(f"{part}", one(f"ts|{part}", value), True, raw={"ts": STAMP})
        for part, value in (("minute", 30), ("hour", 12), ("day", 1), ("week", 18), ("month", 5), ("year", 2024))
    ),
    *(
        case(f"{part}-other", one(f"ts|{part}", value), False, raw={"ts": STAMP})
        for part, value in (("minute", 31), ("hour", 13), ("day", 2), ("week", 19), ("month", 6), ("year", 2023))
    ),
    case("minute-of-a-plain-number", one("ts|minute", 30), False, raw={"ts": 30}),
    # ISO 8601 weeks (the spec's 1..52): 2023-01-01, a Sunday, is in week 52 of 2022
    case("week-at-year-boundary", one("ts|week", 52), True, raw={"ts": "2023-01-01T10:00:00Z"}),
    # wildcards and their escapes
    case("wildcard-star", one("f", "ab*yz"), True, raw={"f": "abXXyz"}),
    case("wildcard-star-empty", one("f", "ab*"), True, raw={"f": "AB"}),
    case("wildcard-star-suffix-missing", one("f", "ab*yz"), False, raw={"f": "abXXy"}),
    case("wildcard-question", one("f", "a?c"), True, raw={"f": "abc"}),
    case("wildcard-question-needs-one", one("f", "a?c"), False, raw={"f": "ac"}),
    case("wildcard-question-only-one", one("f", "a?c"), False, raw={"f": "abbc"}),
    case("wildcard-star-only", one("f", "*"), True, raw={"f": ""}),
    case("wildcard-star-only-absent", one("f", "*"), False, raw={"g": "x"}),
    case("regex-characters-are-literal", one("f", "a.b+"), True, raw={"f": "a.b+"}),
    case("regex-characters-are-literal-no-match", one("f", "a.b+"), False, raw={"f": "axbb"}),
    case("escaped-star", one("f", "a\\*b"), True, raw={"f": "a*b"}),
    case("escaped-star-is-literal", one("f", "a\\*b"), False, raw={"f": "axb"}),
    case("escaped-question", one("f", "a\\?b"), True, raw={"f": "a?b"}),
    case("escaped-question-is-literal", one("f", "a\\?b"), False, raw={"f": "axb"}),
    case("plain-backslash", one("f", "C:\\Windows"), True, raw={"f": "c:\\windows"}),
    case("double-backslash-is-one", one("f", "C:\\\\Windows"), True, raw={"f": "c:\\windows"}),
    case("backslash-then-wildcard", one("f", "a\\\\*"), True, raw={"f": "a\\xyz"}),
    case("backslash-then-wildcard-needs-backslash", one("f", "a\\\\*"), False, raw={"f": "axyz"}),
    case("three-backslashes-star", one("f", "a\\\\\\*"), True, raw={"f": "a\\*"}),
    case("three-backslashes-star-is-literal", one("f", "a\\\\\\*"), False, raw={"f": "a\\x"}),
    case("four-backslashes-are-two", one("f", "a\\\\\\\\b"), True, raw={"f": "a\\\\b"}),
    case("four-backslashes-not-one", one("f", "a\\\\\\\\b"), False, raw={"f": "a\\b"}),
    # null and the empty string
    case("null-absent", one("f", None), True, raw={"g": 1}),
    case("null-null", one("f", None), True, raw={"f": None}),
    case("null-value", one("f", None), False, raw={"f": "x"}),
    case("null-empty-string", one("f", None), False, raw={"f": ""}),
    case("empty-string", one("f", ""), True, raw={"f": ""}),
    case("empty-string-value", one("f", ""), False, raw={"f": "x"}),
    case("empty-string-absent", one("f", ""), False, raw={"g": 1}),
    # keywords search the message
    case("keyword", {"k": ["needle"], "condition": "k"}, True, message="hay Needle hay"),
    case("keyword-absent", {"k": ["needle"], "condition": "k"}, False, message="hay"),
    case("keyword-list-is-or", {"k": ["alpha", "beta"], "condition": "k"}, True, message="x beta y"),
    case("keyword-not-in-other-fields", {"k": ["needle"], "condition": "k"}, False, raw={"f": "needle"}),
    case(
        "keyword-wildcard",
        {"k": ["chown root*chmod 4777"], "condition": "k"},
        True,
        message="a chown root; chmod 4777 b",
    ),
    case("keyword-escaped-star", {"k": ["x\\*y"], "condition": "k"}, False, message="a xzy b"),
    # lists are OR, maps are AND, a list of maps is an OR of ANDs
    case("list-or", sel(verb=["create", "delete"]), True, raw={"verb": "delete"}),
    case("list-or-none", sel(verb=["create", "delete"]), False, raw={"verb": "get"}),
    case("map-and", sel(verb="delete", resource="pods"), True, raw={"verb": "delete", "resource": "pods"}),
    case("map-and-one-differs", sel(verb="delete", resource="pods"), False, raw={"verb": "delete", "resource": "x"}),
    case("list-of-maps", {"s": [{"a": "1", "b": "2"}, {"c": "3"}], "condition": "s"}, True, raw={"c": "3"}),
    case("list-of-maps-partial", {"s": [{"a": "1", "b": "2"}, {"c": "3"}], "condition": "s"}, False, raw={"a": "1"}),
    # a list-valued event field matches when any element does
    case("list-field-any-element", sel(groups="system:masters"), True, raw={"groups": ["x", "SYSTEM:masters"]}),
    case("list-field-no-element", sel(groups="system:masters"), False, raw={"groups": ["x", "y"]}),
    case("list-field-empty", sel(groups="system:masters"), False, raw={"groups": []}),
    case("list-field-number", sel(code=403), True, raw={"code": [401, 403]}),
    case("list-field-compare", one("code|gte", 500), True, raw={"code": [200, 503]}),
    case("list-field-compare-none", one("code|gte", 500), False, raw={"code": [200, 404]}),
    # numbers and numeric strings are the same value; other numbers are not
    case("number-vs-number", sel(port=22), True, raw={"port": 22}),
    case("number-vs-numeric-string", sel(port=22), True, raw={"port": "22"}),
    case("numeric-string-vs-number", sel(port="22"), True, raw={"port": 22}),
    case("number-vs-other-number", sel(port=22), False, raw={"port": 222}),
    case("number-vs-text", sel(port=22), False, raw={"port": "ssh"}),
    # booleans
    case("bool-true", sel(privileged=True), True, raw={"privileged": True}),
    case("bool-true-text", sel(privileged=True), True, raw={"privileged": "true"}),
    case("bool-true-vs-false", sel(privileged=True), False, raw={"privileged": False}),
    case("bool-false", sel(privileged=False), True, raw={"privileged": False}),
    case("bool-false-absent", sel(privileged=False), False, raw={}),
    # conditions: and / or / not, parentheses, precedence (or < and < not < x of < parentheses)
    case("and", {**ABC, "condition": "a and b"}, True, raw={"fa": "1", "fb": "1"}),
    case("and-one-missing", {**ABC, "condition": "a and b"}, False, raw={"fa": "1"}),
    case("or", {**ABC, "condition": "a or b"}, True, raw={"fb": "1"}),
    case("or-none", {**ABC, "condition": "a or b"}, False, raw={"fc": "1"}),
    case("not", {**ABC, "condition": "not a"}, True, raw={"fb": "1"}),
    case("not-matching", {**ABC, "condition": "not a"}, False, raw={"fa": "1"}),
    case("and-not", {**ABC, "condition": "a and not b"}, True, raw={"fa": "1"}),
    case("and-not-excluded", {**ABC, "condition": "a and not b"}, False, raw={"fa": "1", "fb": "1"}),
    case("parentheses", {**ABC, "condition": "(a or b) and c"}, True, raw={"fb": "1", "fc": "1"}),
    case("parentheses-bind", {**ABC, "condition": "(a or b) and c"}, False, raw={"fa": "1"}),
    case("and-binds-tighter-than-or", {**ABC, "condition": "a or b and c"}, True, raw={"fa": "1"}),
    case("and-binds-tighter-than-or-no", {**ABC, "condition": "a or b and c"}, False, raw={"fb": "1"}),
    case("not-binds-tighter-than-and", {**ABC, "condition": "not a and b"}, True, raw={"fb": "1"}),
    case("not-binds-tighter-than-and-no", {**ABC, "condition": "not a and b"}, False, raw={"fa": "1", "fb": "1"}),
    case("not-binds-tighter-than-or", {**ABC, "condition": "not a or b"}, True, raw={"fc": "1"}),
    case("not-binds-tighter-than-or-no", {**ABC, "condition": "not a or b"}, False, raw={"fa": "1"}),
    case("not-parentheses", {**ABC, "condition": "not (a or b)"}, True, raw={"fc": "1"}),
    case("not-parentheses-no", {**ABC, "condition": "not (a or b)"}, False, raw={"fb": "1"}),
    case("condition-list-is-or", {**ABC, "condition": ["a", "b"]}, True, raw={"fb": "1"}),
    case("condition-list-is-or-none", {**ABC, "condition": ["a", "b"]}, False, raw={"fc": "1"}),
]

SELECTIONS = {"sel_1": {"f1": "1"}, "sel_2": {"f2": "1"}, "filter_1": {"g": "1"}, "_private": {"p": "1"}}
CASES += [
    case("1-of-pattern", {**SELECTIONS, "condition": "1 of sel_*"}, True, raw={"f2": "1"}),
    case("1-of-pattern-none", {**SELECTIONS, "condition": "1 of sel_*"}, False, raw={"g": "1"}),
    case("all-of-pattern", {**SELECTIONS, "condition": "all of sel_*"}, True, raw={"f1": "1", "f2": "1"}),
    case("all-of-pattern-one-missing", {**SELECTIONS, "condition": "all of sel_*"}, False, raw={"f2": "1"}),
    case("1-of-them", {**SELECTIONS, "condition": "1 of them"}, True, raw={"g": "1"}),
    case("1-of-them-skips-underscore", {**SELECTIONS, "condition": "1 of them"}, False, raw={"p": "1"}),
    case("all-of-them", {**SELECTIONS, "condition": "all of them"}, True, raw={"f1": "1", "f2": "1", "g": "1"}),
    case("all-of-them-one-missing", {**SELECTIONS, "condition": "all of them"}, False, raw={"f1": "1", "f2": "1"}),
    case(
        "1-of-and-not-1-of",
        {**SELECTIONS, "condition": "1 of sel_* and not 1 of filter_*"},
        True,
        raw={"f1": "1"},
    ),
    case(
        "1-of-and-not-1-of-filtered",
        {**SELECTIONS, "condition": "1 of sel_* and not 1 of filter_*"},
        False,
        raw={"f1": "1", "g": "1"},
    ),
    case("x-of-binds-tighter-than-not", {**SELECTIONS, "condition": "not 1 of sel_*"}, True, raw={"g": "1"}),
    case("x-of-binds-tighter-than-not-no", {**SELECTIONS, "condition": "not 1 of sel_*"}, False, raw={"f2": "1"}),
]


def verdict(tmp_path: Path, detection: dict[str, Any], raw: Any, message: str | None) -> bool:
    """Load a rule with this detection through the real loader and evaluate it on one event."""
    rule = {
        "title": "Specification case",
        "id": "0f6c4b8e-5f55-4c3e-9a1e-2d9f3a7b8c61",
        "logsource": {"product": LOGSOURCE.product},
        "detection": detection,
    }
    (tmp_path / "rule.yml").write_text(yaml.safe_dump(rule, allow_unicode=True), encoding="utf-8")
    loaded = load_rules([tmp_path], CONFIG)
    assert [e.reason for e in loaded.errors] == []
    (compiled,) = loaded.rules
    event = Event(id="e1", time=T0, ingested=T0, logsource=LOGSOURCE, raw=raw, message=message)
    return compiled.matches(FieldReader(Envelope.of(event)))


@pytest.mark.parametrize(("detection", "raw", "message", "expected"), CASES)
def test_specification_case(
    tmp_path: Path, detection: dict[str, Any], raw: Any, message: str | None, expected: bool
) -> None:
    """The rule matches the event exactly when the Sigma specification says it does."""
    assert verdict(tmp_path, detection, raw, message) is expected


def _modifiers(detection: dict[str, Any]) -> Iterator[str]:
    for name, selection in detection.items():
        if name == "condition":
            continue
        maps = selection if isinstance(selection, list) else [selection]
        for item in maps:
            if isinstance(item, dict):
                for key in item:
                    yield from str(key).split("|")[1:]


def test_every_modifier_has_a_matching_and_a_non_matching_case() -> None:
    """The table holds, for every modifier of the specification, a case that matches and one that does not."""
    seen: dict[str, set[bool]] = {name: set() for name in SPEC_MODIFIERS}
    for param in CASES:
        detection, _, _, expected = param.values
        for modifier in _modifiers(detection):
            seen.setdefault(modifier, set()).add(expected)
    assert {name: sorted(verdicts) for name, verdicts in seen.items() if verdicts != {True, False}} == {}
