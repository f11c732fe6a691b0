"""Hot reload: a new rule set swaps in on a file change or SIGHUP; a broken file keeps its old rules."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import orjson

from services.correlator.reload import reload_rules
from services.correlator.rules.config import RulesConfig
from services.correlator.ruleset import RuleSet
from tests.infra import SiemProcess, http_json, wait_until

RULE = """\
title: {title}
id: {rule_id}
logsource: {{product: generic}}
detection:
  selection: {{event.action: {action}}}
  condition: selection
level: medium
"""


def _rule(folder: Path, name: str, action: str, rule_id: str | None = None) -> str:
    rule_id = rule_id or str(uuid.uuid4())
    (folder / name).write_text(RULE.format(title=f"Rule {action}", rule_id=rule_id, action=action))
    return rule_id


def test_a_broken_file_keeps_its_previous_rules_and_the_rest_reloads(tmp_path: Path) -> None:
    """After one file breaks, its old rule keeps running, a new file's rule loads, and the error is reported."""
    a = _rule(tmp_path, "a.yml", "alpha")
    b = _rule(tmp_path, "b.yml", "beta")
    current = RuleSet.load([tmp_path])
    (tmp_path / "b.yml").write_text("title: [broken\n")
    c = _rule(tmp_path, "c.yml", "gamma")
    fresh = reload_rules(current, [tmp_path], RulesConfig())
    assert sorted(r.ref.id for r in fresh.detections) == sorted([a, b, c])
    [error] = fresh.errors
    assert error.location.startswith(f"{tmp_path / 'b.yml'}:")


def test_a_removed_rule_is_gone_after_reload(tmp_path: Path) -> None:
    """A rule whose file was deleted no longer runs after the reload."""
    _rule(tmp_path, "a.yml", "alpha")
    current = RuleSet.load([tmp_path])
    (tmp_path / "a.yml").unlink()
    assert reload_rules(current, [tmp_path], RulesConfig()).detections == []


def _post(siem: SiemProcess, action: str, event_id: str) -> None:
    body = orjson.dumps({"id": event_id, "event": {"action": action}})
    status, _ = http_json("POST", siem.url("ingest") + "/v1/events", body)
    assert status == 202


def _alerted(alerts_file: Path, event_id: str) -> bool:
    if not alerts_file.exists():
        return False
    return any(event_id in orjson.loads(line)["event_ids"] for line in alerts_file.read_text().splitlines())


def test_a_rule_added_while_running_alerts_without_a_restart(tmp_path: Path) -> None:
    """`siem run all` picks up a rule file written while it runs, and alerts with it."""
    rules, var = tmp_path / "rules", tmp_path / "var"
    rules.mkdir()
    _rule(rules, "existing.yml", "existing")
    siem = SiemProcess("all", {"SIEM_RULES_DIRS": str(rules), "SIEM_VAR_DIR": str(var)}, tmp_path / "siem.log")
    try:
        siem.wait_ready("ingest")
        _rule(rules, "new.yml", "added-later")
        wait_until(lambda: "rules_reloaded" in siem.log(), 30, "the file watcher to reload the rules")
        _post(siem, "added-later", "after-reload")
        wait_until(lambda: _alerted(var / "alerts.jsonl", "after-reload"), 30, "the new rule's alert")
    finally:
        assert siem.terminate() == 0, siem.log()


def test_sighup_reloads_the_rules(tmp_path: Path) -> None:
    """With file watching off, SIGHUP alone makes the service load a rule written meanwhile."""
    rules, var = tmp_path / "rules", tmp_path / "var"
    rules.mkdir()
    env = {"SIEM_RULES_DIRS": str(rules), "SIEM_VAR_DIR": str(var), "SIEM_RULES_RELOAD": "false"}
    siem = SiemProcess("all", env, tmp_path / "siem.log")
    try:
        siem.wait_ready("ingest")
        _rule(rules, "hup.yml", "on-hangup")
        _post(siem, "on-hangup", "before-hup")
        siem.process.send_signal(signal.SIGHUP)
        wait_until(lambda: "rules_reloaded" in siem.log(), 30, "the SIGHUP reload")
        _post(siem, "on-hangup", "after-hup")
        wait_until(lambda: _alerted(var / "alerts.jsonl", "after-hup"), 30, "the alert after SIGHUP")
        assert not _alerted(var / "alerts.jsonl", "before-hup")
    finally:
        assert siem.terminate() == 0, siem.log()
