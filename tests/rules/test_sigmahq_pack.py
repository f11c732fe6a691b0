"""The optional SigmaHQ pack (rules-optional/sigmahq): unmodified, attributed, loads and raises alerts on real logs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.rules.conftest import OPTIONAL_PACK, RULES, Siem, SiemRun

Replay = Callable[..., SiemRun]
PACK_RULES = 54


def pack_files() -> list[Path]:
    return sorted(OPTIONAL_PACK.rglob("*.yml"))


def test_the_pack_is_the_upstream_files_with_their_licence(corpus: Path) -> None:
    """Every rule is byte-identical to SigmaHQ's file at the same path, keeps its author, and the DRL 1.1 text ships."""
    assert len(pack_files()) == PACK_RULES
    for path in pack_files():
        relative = path.relative_to(OPTIONAL_PACK)
        assert path.read_bytes() == (corpus / "sigma" / relative).read_bytes(), relative
        assert yaml.safe_load(path.read_text())["author"], relative
    licence = OPTIONAL_PACK / "LICENSE.Detection.Rules.md"
    assert licence.read_bytes() == (corpus / "sigma/LICENSE.Detection.Rules.md").read_bytes()
    assert "Detection Rule License (DRL) 1.1" in licence.read_text()


def test_lint_loads_every_rule_alone_and_beside_the_pack(siem: Siem) -> None:
    """`siem rules lint` loads all 54 rules, alone and together with rules/ (no id collides)."""
    alone = siem("rules", "lint", OPTIONAL_PACK)
    assert alone.code == 0 and alone.out == ""
    assert f"{PACK_RULES} detection and 0 correlation rules loaded, 0 refused" in alone.err
    together = siem("rules", "lint", RULES, OPTIONAL_PACK)
    assert together.code == 0 and together.out == "", together.out


@pytest.mark.parametrize(
    ("format_name", "log", "title"),
    [
        (
            "k8s_audit",
            "k8s-audit/falco-trace-files/attach_cluster_admin_role.json",
            "Kubernetes Rolebinding Modification",
        ),
        ("k8s_audit", "k8s-audit/falco-trace-files/create_secret.json", "Kubernetes Secrets Modified or Deleted"),
        ("k8s_audit", "k8s-audit/audit2rbac/demo.log", "Kubernetes Unauthorized or Unauthenticated Access"),
        ("syslog", "linux/auditd/beats/useradd.log", "Creation Of An User Account"),
        ("syslog", "linux/auditd/go-libaudit/audit-rhel7.log", "Linux Keylogging with Pam.d"),
    ],
)
def test_replay_with_the_pack_raises_alerts_on_real_logs(
    format_name: str, log: str, title: str, corpus: Path, replay: Replay
) -> None:
    """`siem replay --rules rules-optional/sigmahq` raises the SigmaHQ rule's alert on the corpus log."""
    result = replay(format_name, corpus / log, OPTIONAL_PACK)
    assert result.fired(title), result.err


def test_category_application_rules_run_on_audit_events(corpus: Path, replay: Replay) -> None:
    """SigmaHQ's `category: application` Kubernetes rules apply: its exec rule fires on Falco's exec_pod.json."""
    result = replay("k8s_audit", corpus / "k8s-audit/falco-trace-files/exec_pod.json", OPTIONAL_PACK)
    assert [alert.rule.title for alert in result.alerts()] == ["Potential Remote Command Execution In Pod Container"]
