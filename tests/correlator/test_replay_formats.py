"""`siem replay` reads every input form of DESIGN.md with the live parsers, deterministically."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest

from services.cli import main
from services.shared.alert import Alert
from tests.correlator.brute_force import ssh_brute_force_rules

PUSH = """\
title: Push to {product}
id: {rule}
logsource: {{product: {product}, service: webhook}}
detection:
  selection: {{event.action: push}}
  condition: selection
level: low
"""


def _replay(rules: Path, fmt: str, path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[Alert], str]:
    code = main(["replay", "--rules", str(rules), "--format", fmt, str(path)])
    captured = capsys.readouterr()
    return code, [Alert.model_validate_json(line) for line in captured.out.splitlines()], captured.err


def test_syslog_replay_of_a_real_sshd_log_finds_brute_force_twice_alike(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """loghub's OpenSSH log, replayed as syslog, raises brute-force alerts, the same ones on a second run."""
    brute = str(uuid.uuid4())
    (tmp_path / "r.yml").write_text(ssh_brute_force_rules(brute, threshold=20))
    log = corpus / "linux" / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
    code, alerts, err = _replay(tmp_path, "syslog", log, capsys)
    assert code == 0, err
    assert alerts and {a.rule.id for a in alerts} == {brute}
    assert all(a.count >= 20 and a.group["source.ip"] for a in alerts)
    again = _replay(tmp_path, "syslog", log, capsys)[1]
    assert [a.model_dump() for a in again] == [a.model_dump() for a in alerts]


def test_k8s_audit_replay_runs_sigmahq_rules_unmodified(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The audit2rbac capture through SigmaHQ's Kubernetes rules gives alerts from its 403 responses."""
    rules = corpus / "sigma" / "rules" / "application" / "kubernetes"
    code, alerts, err = _replay(rules, "k8s_audit", corpus / "k8s-audit" / "audit2rbac" / "demo.log", capsys)
    assert code == 0, err
    assert "Kubernetes Unauthorized or Unauthenticated Access" in {a.rule.title for a in alerts}
    assert all(a.first_seen.year == 2017 for a in alerts)  # event time, from the audit events themselves


@pytest.mark.parametrize(
    ("product", "folder", "file", "header"),
    [
        ("github", "github", "push.payload.json", "push"),
        ("gitlab", "gitlab/go-playground-webhooks", "push-event.json", "Push Hook"),
        ("gitea", "gitea/go-playground-webhooks", "push-event.json", "push"),
    ],
)
def test_webhook_replay_normalises_like_the_receiver(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str], product: str, folder: str, file: str, header: str
) -> None:
    """A recorded {"event", "payload"} line of each Git host becomes the receiver's envelope and alerts once."""
    rule = str(uuid.uuid4())
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "push.yml").write_text(PUSH.format(product=product, rule=rule))
    payload = orjson.loads((corpus / folder / file).read_bytes())
    recorded = tmp_path / "hooks.jsonl"
    recorded.write_bytes(orjson.dumps({"event": header, "payload": payload}) + b"\n")
    code, alerts, err = _replay(rules, product, recorded, capsys)
    assert code == 0, err
    assert [a.rule.id for a in alerts] == [rule]


def test_jenkins_replay_reads_notifications(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Jenkins notifications replay into jenkins events that a rule on the build phase sees."""
    rule = str(uuid.uuid4())
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "j.yml").write_text(
        f"title: Build seen\nid: {rule}\nlogsource: {{product: jenkins}}\n"
        "detection:\n  selection: {event.module: jenkins}\n  condition: selection\nlevel: low\n"
    )
    samples = sorted((corpus / "jenkins").rglob("*.json"))
    recorded = tmp_path / "jenkins.jsonl"
    recorded.write_bytes(b"".join(orjson.dumps(orjson.loads(p.read_bytes())["body"]) + b"\n" for p in samples))
    code, alerts, err = _replay(rules, "jenkins", recorded, capsys)
    assert code == 0, err
    assert len(alerts) == len(samples)


def test_a_bad_line_is_reported_with_file_and_line_and_the_rest_still_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Line 2 is not a webhook recording: stderr names FILE:2, line 1 still alerts, and the exit code is 1."""
    rule = str(uuid.uuid4())
    (tmp_path / "push.yml").write_text(PUSH.format(product="github", rule=rule))
    recorded = tmp_path / "hooks.jsonl"
    recorded.write_text('{"event": "push", "payload": {"ref": "refs/heads/main"}}\n{"not": "a recording"}\n')
    code, alerts, err = _replay(tmp_path, "github", recorded, capsys)
    assert code == 1
    assert f"{recorded}:2: " in err
    assert [a.rule.id for a in alerts] == [rule]
