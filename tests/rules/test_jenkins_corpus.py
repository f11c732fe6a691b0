"""Jenkins rules on real Notification plugin payloads through `siem replay --format jenkins`.

The corpus wraps each payload as `{"headers": {}, "body": …}`; a replay line is the body. The corpus has no
audit events: those lines are written in the documented form our init script posts (docs/ingest/jenkins/).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.rules.conftest import SiemRun

Replay = Callable[..., SiemRun]
GITTER = Path("jenkins/gitter-services")
RECEIVED = 1_790_000_000  # the replay file's modification time: notifications without a timestamp happen then


def notification(corpus: Path, name: str) -> dict[str, Any]:
    return json.loads((corpus / GITTER / f"{name}.json").read_text())["body"]  # type: ignore[no-any-return]


def audit(action: str, seconds_before: int, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "audit",
        "id": f"{action}-{seconds_before}",
        "action": action,
        "time": (RECEIVED - seconds_before) * 1000,
        "jenkins_url": "http://example.com/",
        **fields,
    }


def lines_file(tmp_path: Path, name: str, items: list[dict[str, Any]]) -> Path:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    os.utime(path, (RECEIVED, RECEIVED))
    return path


def titles(result: SiemRun) -> list[str]:
    return [alert.rule.title for alert in result.alerts()]


def test_ten_failed_builds_fire_the_spike(corpus: Path, replay: Replay, tmp_path: Path) -> None:
    """The recorded FAILURE notification for ten build numbers raises one spike alert; nine raise none."""
    failure = notification(corpus, "failure")

    def build(number: int) -> dict[str, Any]:
        body = copy.deepcopy(failure)
        body["build"] |= {"number": number, "full_url": f"http://beta-internal:8080/job/webhooks-handler/{number}/"}
        return body

    title = "Jenkins Builds Failing In A Spike"
    (alert,) = replay("jenkins", lines_file(tmp_path, "ten", [build(n) for n in range(10)])).fired(title)
    assert alert.count == 10 and alert.group == {}
    assert titles(replay("jenkins", lines_file(tmp_path, "nine", [build(n) for n in range(9)]))) == []


def test_job_change_then_a_pull_request_branch_build_fires(corpus: Path, replay: Replay, tmp_path: Path) -> None:
    """A job reconfigured ten minutes before the recorded ghprb build of `pr-branch` raises the sequence alert."""
    change = audit("job_config_changed", 600, user="mallory", source_ip="203.0.113.9", target="job/webhooks-handler/")
    started = notification(corpus, "ghprb")
    title = "Jenkins Config Change Followed By Build From New Branch"
    assert titles(replay("jenkins", lines_file(tmp_path, "sequence", [change, started]))) == [title]


def test_job_change_then_a_build_without_a_branch_is_a_near_miss(corpus: Path, replay: Replay, tmp_path: Path) -> None:
    """The same change before the recorded STARTED notification that names no branch raises nothing."""
    change = audit("job_config_changed", 600, user="mallory", source_ip="203.0.113.9", target="job/webhooks-handler/")
    assert titles(replay("jenkins", lines_file(tmp_path, "quiet", [change, notification(corpus, "started")]))) == []


def test_script_console_and_login_burst_fire_from_audit_events(replay: Replay, tmp_path: Path) -> None:
    """A script console run alerts on its own; five failed logins from one address raise one burst alert."""
    events = [audit("login_failure", 60 - i, user="admin", source_ip="203.0.113.9", target="/login") for i in range(5)]
    events.append(
        audit(
            "script_console",
            1,
            user="admin",
            source_ip="203.0.113.9",
            target="/scriptText",
            details={"script_length": 9},
        )
    )
    result = replay("jenkins", lines_file(tmp_path, "audit", events))
    assert sorted(titles(result)) == ["Jenkins Login Failures In Burst", "Jenkins Script Console Used"]
    (burst,) = result.fired("Jenkins Login Failures In Burst")
    assert burst.group == {"source.ip": "203.0.113.9"} and burst.count == 5


def test_the_recorded_notifications_raise_nothing(corpus: Path, replay: Replay, tmp_path: Path) -> None:
    """All six recorded notifications (one failure among them) replay without an alert."""
    bodies = [notification(corpus, p.stem) for p in sorted((corpus / GITTER).glob("*.json"))]
    assert titles(replay("jenkins", lines_file(tmp_path, "recorded", bodies))) == []
