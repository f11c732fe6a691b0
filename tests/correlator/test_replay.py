"""The rule commands through `siem` itself: `replay --format event`, `rules test` and `rules lint`."""

from __future__ import annotations

import contextlib
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.cli import main
from services.shared.alert import Alert
from services.shared.event import Event, LogSource

T0 = datetime(2019, 6, 1, 8, 0, tzinfo=UTC)  # long ago: replay runs on event time, not on the clock
CHAIN = Path("sigma/sigma-specification/spec-examples/example_failed_logins_followed_by_successful_login.yml")
OUTER_ID = "b180ead8-d58f-40b2-ae54-c8940995b9b6"
WINDOWS = LogSource(product="windows", service="security")


def uid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"siem-test:{name}"))


def logins(user: str, codes: list[int], step: float = 20.0, start: float = 0.0) -> list[Event]:
    return [
        Event(
            id=f"{user}-{i}",
            time=T0 + timedelta(seconds=start + i * step),
            ingested=T0,
            logsource=WINDOWS,
            raw={"EventID": code, "User": user},
        )
        for i, code in enumerate(codes)
    ]


def write_events(path: Path, events: list[Event], extra_lines: dict[int, str] | None = None) -> Path:
    """One envelope per line; `extra_lines` puts raw text at given 1-based line numbers."""
    lines = [e.model_dump_json() for e in events]
    for number, text in sorted((extra_lines or {}).items()):
        lines.insert(number - 1, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_replay_writes_to_the_current_stdout(tmp_path: Path, corpus: Path) -> None:
    """`siem replay` prints its alerts to sys.stdout as it is when the command runs."""
    path = write_events(tmp_path / "events.jsonl", logins("bob", [4625] * 10 + [4624]))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["replay", "--rules", str(corpus / CHAIN), "--format", "event", str(path)]) == 0
    assert len(out.getvalue().splitlines()) == 1
    assert "replayed 11 events" in err.getvalue()


def replay(rules: Path, events_file: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["replay", "--rules", str(rules), "--format", "event", str(events_file)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- siem replay --------------------------------------------------------------------------------


def test_replay_prints_each_alert_as_one_json_line(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Replaying the spec's chained example prints the one outer alert as a JSON line in the alert shape."""
    events = logins("bob", [4625] * 10 + [4624]) + logins("alice", [4625] * 3, start=5)
    events.sort(key=lambda e: e.time)
    code, out, err = replay(corpus / CHAIN, write_events(tmp_path / "events.jsonl", events), capsys)
    assert code == 0
    (line,) = out.splitlines()
    alert = Alert.model_validate_json(line)
    assert alert.rule.id == OUTER_ID and alert.group == {"User": "bob"}
    assert set(alert.event_ids) == {e.id for e in events if e.raw["User"] == "bob"}
    assert "replayed 14 events" in err


def test_replaying_a_file_twice_prints_the_same_alerts(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two replays of the same file with the same rules print byte-identical alerts."""
    events = logins("bob", [4625] * 10 + [4624]) + logins("carol", [4625] * 10 + [4624], start=7)
    events.sort(key=lambda e: e.time)
    path = write_events(tmp_path / "events.jsonl", events)
    first = replay(corpus / CHAIN, path, capsys)
    second = replay(corpus / CHAIN, path, capsys)
    assert first[0] == second[0] == 0
    assert len(first[1].splitlines()) == 2
    assert first[1] == second[1]


def test_replay_measures_the_timespan_in_event_time(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ten failures spread over 630s of event time miss the 10m timespan, though the replay takes no time at all."""
    spread = write_events(tmp_path / "spread.jsonl", logins("bob", [4625] * 10 + [4624], step=70))
    assert replay(corpus / CHAIN, spread, capsys)[1] == ""
    close = write_events(tmp_path / "close.jsonl", logins("bob", [4625] * 10 + [4624], step=59))
    assert len(replay(corpus / CHAIN, close, capsys)[1].splitlines()) == 1


def test_replay_reports_bad_lines_and_goes_on(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A line that is not an envelope is reported as FILE:LINE on stderr and exits 1; the other lines still run."""
    events = logins("bob", [4625] * 10 + [4624])
    bad = {3: "not json", 6: '{"id": "x", "ingested": "2019-06-01T08:00:00Z"}'}
    path = write_events(tmp_path / "events.jsonl", events, bad)
    code, out, err = replay(corpus / CHAIN, path, capsys)
    assert code == 1
    assert len(out.splitlines()) == 1
    assert f"{path}:3: " in err
    assert f"{path}:6: time" in err
    assert "2 lines refused" in err


def test_replay_counts_late_hits_with_the_configured_lateness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With SIEM_ALLOWED_LATENESS_SECONDS=5, a failure 6s behind the newest is late, reported, and not counted."""
    monkeypatch.setenv("SIEM_ALLOWED_LATENESS_SECONDS", "5")
    events = logins("bob", [4625] * 10 + [4624], step=10)
    late_failure = events.pop(0)
    events.insert(1, late_failure.model_copy(update={"time": events[0].time - timedelta(seconds=6)}))
    code, out, err = replay(corpus / CHAIN, write_events(tmp_path / "events.jsonl", events), capsys)
    assert code == 0
    assert out == ""  # nine failures on time: the inner event_count (gte 10) never fires
    assert "1 late hits" in err


def test_replay_of_a_missing_file_exits_2(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A FILE that does not exist is named on stderr and exits 2."""
    code, out, err = replay(corpus / CHAIN, tmp_path / "absent.jsonl", capsys)
    assert (code, out) == (2, "")
    assert "absent.jsonl: no such file" in err


# --- siem rules test ----------------------------------------------------------------------------


def rule_file(path: Path, *documents: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False), encoding="utf-8")
    return path


def line_of(path: Path, key: str, occurrence: int = 1) -> int:
    """1-based line of the `occurrence`-th top-level `key:` in the file."""
    hits = [n for n, text in enumerate(path.read_text().splitlines(), start=1) if text.startswith(f"{key}:")]
    return hits[occurrence - 1]


def _detection(name: str, selection: dict[str, Any], tests: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "title": f"{name} rule",
        "id": uid(name),
        "name": name,
        "logsource": {"product": "linux", "service": "sshd"},
        "detection": {"selection": selection, "condition": "selection"},
    }
    if tests is not None:
        document["tests"] = tests
    return document


def _burst(tests: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "title": "failure burst",
        "id": uid("burst"),
        "correlation": {
            "type": "event_count",
            "rules": ["fail"],
            "group-by": ["user.name"],
            "timespan": "1m",
            "condition": {"gte": 3},
        },
        "tests": tests,
    }


FAIL = {"user": {"name": "bob"}, "event": {"outcome": "failure"}}


def _passing_rules(folder: Path) -> Path:
    root = [
        {"name": "root logs in", "match": True, "event": {"user": {"name": "root"}}},
        {"name": "alice does not", "match": False, "event": {"user": {"name": "alice"}}},
    ]
    burst = [
        {"name": "three failures", "match": True, "events": [FAIL, FAIL, FAIL]},
        {"name": "two failures", "match": False, "events": [FAIL, FAIL]},
        {
            "name": "three failures too far apart",
            "match": False,
            "events": [{**FAIL, "time": f"2026-01-01T00:0{m}:00Z"} for m in (0, 1, 2)],
        },
    ]
    return rule_file(
        folder / "rules.yml",
        _detection("root", {"user.name": "root"}, root),
        _detection("fail", {"event.outcome": "failure"}),
        _burst(burst),
    )


def test_rules_test_passes_every_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every case of a detection and of a correlation (events through both stages) reports PASS; exit 0."""
    path = _passing_rules(tmp_path / "rules")
    assert main(["rules", "test", str(tmp_path / "rules")]) == 0
    out = capsys.readouterr().out.splitlines()
    detection_at, correlation_at = f"{path}:{line_of(path, 'detection')}", f"{path}:{line_of(path, 'correlation')}"
    assert f"{detection_at}: PASS root rule / root logs in" in out
    assert f"{detection_at}: PASS root rule / alice does not" in out
    assert f"{correlation_at}: PASS failure burst / three failures" in out
    assert f"{correlation_at}: PASS failure burst / two failures" in out
    assert f"{correlation_at}: PASS failure burst / three failures too far apart" in out
    assert not [line for line in out if "FAIL" in line]


def test_rules_test_reports_a_failing_case_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A case whose expectation does not hold is reported FAIL with the reason, and the command exits 1."""
    _passing_rules(tmp_path / "good")
    wrong = [
        {"name": "alice is expected to match", "match": True, "event": {"user": {"name": "alice"}}},
        {"name": "root is expected not to", "match": False, "event": {"user": {"name": "root"}}},
    ]
    path = rule_file(tmp_path / "bad" / "wrong.yml", _detection("wrong", {"user.name": "root"}, wrong))
    assert main(["rules", "test", str(tmp_path / "good"), str(tmp_path / "bad")]) == 1
    captured = capsys.readouterr()
    at = f"{path}:{line_of(path, 'detection')}"
    out = captured.out.splitlines()
    assert f"{at}: FAIL wrong rule / alice is expected to match (expected an alert, got none)" in out
    assert f"{at}: FAIL wrong rule / root is expected not to (alerted, expected none)" in out
    assert len([line for line in out if ": PASS " in line]) == 5
    assert "5 passed, 2 failed" in captured.err


def test_rules_test_refuses_a_malformed_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A case without `match` is a failure that says what a case needs, not a silent pass."""
    path = rule_file(tmp_path / "r.yml", _detection("root", {"user.name": "root"}, [{"event": {"user": {}}}]))
    assert main(["rules", "test", str(tmp_path)]) == 1
    assert f"{path}:{line_of(path, 'detection')}: FAIL root rule / case 1 (a case needs" in capsys.readouterr().out


# --- siem rules lint ----------------------------------------------------------------------------


def test_lint_prints_file_and_line_for_each_broken_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each broken rule is one `FILE:LINE: reason` line (the key at fault), the good ones load, and lint exits 1."""
    good = rule_file(tmp_path / "good.yml", _detection("fail", {"event.outcome": "failure"}))
    modifier = rule_file(tmp_path / "modifier.yml", _detection("bad", {"user.name|nosuchmodifier": "x"}))
    unknown = dict(_burst([]), id=uid("orphan"), correlation={**_burst([])["correlation"], "rules": ["nope"]})
    orphan = rule_file(tmp_path / "orphan.yml", unknown)
    assert main(["rules", "lint", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert len(out) == 2
    assert out[0].startswith(f"{modifier}:{line_of(modifier, 'detection')}: ")
    assert "nosuchmodifier" in out[0]
    assert (
        out[1]
        == f"{orphan}:{line_of(orphan, 'correlation')}: rule 'nope' is not defined (by id or name) in the loaded rules"
    )
    assert str(good) not in captured.out
    assert "1 detection and 0 correlation rules loaded, 2 refused, from 3 files" in captured.err


def test_lint_accepts_a_range_condition(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A correlation with a range condition (`gt` with `lte`, as the spec allows) lints clean; exit 0."""
    burst = _burst([])
    burst["correlation"]["condition"] = {"gt": 100, "lte": 200}
    rule_file(tmp_path / "rules.yml", _detection("fail", {"event.outcome": "failure"}), burst)
    assert main(["rules", "lint", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "1 detection and 1 correlation rules loaded, 0 refused" in captured.err
