"""Rules the corpus has no example for, on lines in each source's real wire format through the real parsers.

The lines are written here (a sudo line as sudo logs it, an audit Event as the API server posts it, …), so
the rules' field names are checked against what the parsers really fill, not against hand-made envelopes.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.rules.conftest import SiemRun

Replay = Callable[..., SiemRun]
RECEIVED = 1_790_000_000  # the file's modification time, which replay takes as the receive time


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    os.utime(path, (RECEIVED, RECEIVED))
    return path


def titles(result: SiemRun) -> list[str]:
    return sorted(alert.rule.title for alert in result.alerts())


@pytest.mark.parametrize(
    ("line", "title"),
    [
        (
            "Nov 26 10:00:01 web1 sudo: www-data : TTY=unknown ; PWD=/var/www ; USER=root ; COMMAND=/bin/sh -c id",
            "Sudo To Root By Unexpected User",
        ),
        ("Nov 26 10:00:02 web1 usermod[812]: add 'mallory' to group 'sudo'", "Linux User Added To Privileged Group"),
        (
            "Nov 26 10:00:04 web1 sshd[900]: Accepted publickey for root from 198.51.100.9 port 50022 ssh2: ED25519 x",
            "SSH Root Login Accepted",
        ),
        (
            "Nov 26 10:00:06 web1 useradd[814]: new user: name=mallory, UID=0, GID=0, home=/home/m, shell=/bin/bash",
            "Linux User Account Created",
        ),
        ("Nov 26 10:00:07 web1 passwd[815]: password for 'root' changed by 'root'", "Root Password Changed"),
        (
            'type=PATH msg=audit(1790000000.123:4242): item=0 name="/etc/shadow" inode=1234 dev=08:01 mode=0100640 '
            "ouid=0 ogid=42 rdev=00:00 nametype=NORMAL",
            "Auditd Access To Sensitive File",
        ),
        (
            "type=CONFIG_CHANGE msg=audit(1790000001.000:4243): auid=1000 ses=3 op=remove_rule key=(null) list=4 res=1",
            "Auditd Audit Logging Disabled Or Rules Deleted",
        ),
    ],
)
def test_a_syslog_or_audit_line_fires_its_rule(line: str, title: str, replay: Replay, tmp_path: Path) -> None:
    """The line, parsed by ingest's syslog parser, raises exactly its rule's alert."""
    assert titles(replay("syslog", write(tmp_path, "line.log", [line]))) == [title]


def test_the_gshadow_copy_of_a_group_change_does_not_alert_twice(replay: Replay, tmp_path: Path) -> None:
    """usermod's two lines for one change (group and gshadow) raise one alert."""
    lines = [
        "Nov 26 10:00:02 web1 usermod[812]: add 'mallory' to group 'sudo'",
        "Nov 26 10:00:02 web1 usermod[812]: add 'mallory' to shadow group 'sudo'",
    ]
    assert titles(replay("syslog", write(tmp_path, "usermod.log", lines))) == ["Linux User Added To Privileged Group"]


def test_the_pam_line_of_passwd_for_root_fires(replay: Replay, tmp_path: Path) -> None:
    """`passwd root` on a PAM system logs a pam_unix chauthtok line: it raises the root password alert."""
    line = "Nov 26 10:00:03 web1 passwd[813]: pam_unix(passwd:chauthtok): password changed for root"
    assert titles(replay("syslog", write(tmp_path, "passwd.log", [line]))) == ["Root Password Changed"]


def audit_event(
    verb: str,
    resource: str,
    user: str,
    *,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
    code: int = 200,
    group: str = "",
    second: int = 0,
    source_ip: str = "10.0.0.8",
) -> str:
    """One audit.k8s.io/v1 Event as the API server's webhook backend sends it."""
    path = f"/api/v1/namespaces/{namespace}/{resource}" if namespace else f"/api/v1/{resource}"
    path += f"/{name}" if name else ""
    path += f"/{subresource}" if subresource else ""
    moment = f"2026-11-26T10:00:{second:02d}.000000Z"
    reference: dict[str, Any] = {"resource": resource, "apiVersion": "v1", "apiGroup": group}
    reference |= {k: v for k, v in (("namespace", namespace), ("name", name), ("subresource", subresource)) if v}
    return json.dumps(
        {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "Metadata",
            "auditID": str(uuid.uuid4()),
            "stage": "ResponseComplete",
            "requestURI": path,
            "verb": verb,
            "user": {"username": user, "groups": ["system:authenticated"]},
            "sourceIPs": [source_ip],
            "objectRef": reference,
            "responseStatus": {"metadata": {}, "code": code},
            "requestReceivedTimestamp": moment,
            "stageTimestamp": moment,
        }
    )


def test_audit_events_fire_the_kubernetes_rules(replay: Replay, tmp_path: Path) -> None:
    """Secret reads by a service account, a webhook created, a token minted and denied probing each alert."""
    sa = "system:serviceaccount:prod:web"
    lines = [audit_event("get", "secrets", sa, namespace="prod", name=f"s{i}", second=i) for i in range(10)]
    lines.append(
        audit_event(
            "create", "mutatingwebhookconfigurations", "mallory", group="admissionregistration.k8s.io", second=20
        )
    )
    lines.append(
        audit_event(
            "create", "serviceaccounts", "mallory", namespace="kube-system", name="x", subresource="token", second=21
        )
    )
    lines += [audit_event("list", "nodes", "mallory", code=403, second=30 + i) for i in range(10)]
    result = replay("k8s_audit", write(tmp_path, "audit.jsonl", lines))
    assert set(titles(result)) == {
        "Kubernetes Secret Read By Service Account",
        "Kubernetes Many Secrets Read By One Identity",
        "Kubernetes Admission Webhook Or Audit Configuration Changed",
        "Kubernetes Service Account Token Created By User",
        "Kubernetes API Requests Denied In Burst",
    }
    (many,) = result.fired("Kubernetes Many Secrets Read By One Identity")
    assert many.group == {"user.name": sa} and many.count == 10
    (denied,) = result.fired("Kubernetes API Requests Denied In Burst")
    assert denied.group == {"user.name": "mallory", "source.ip": "10.0.0.8"}


def test_a_github_hook_deletion_fires(corpus: Path, replay: Replay, tmp_path: Path) -> None:
    """GitHub's last delivery from a deleted hook (`meta`, action deleted) alerts; its ping does not."""
    ping = json.loads((corpus / "github/ping.payload.json").read_text())
    deleted = {"action": "deleted", "hook_id": ping["hook_id"], "hook": ping["hook"], "repository": ping["repository"]}
    deleted["sender"] = ping["sender"]
    lines = [json.dumps({"event": "ping", "payload": ping}), json.dumps({"event": "meta", "payload": deleted})]
    assert titles(replay("github", write(tmp_path, "hooks.jsonl", lines))) == ["Git Webhook Deleted"]


def test_jenkins_audit_events_fire_their_rules(replay: Replay, tmp_path: Path) -> None:
    """Credentials and global configuration saves, as the init script posts them, each alert once."""

    def event(action: str, target: str) -> str:
        return json.dumps(
            {"kind": "audit", "id": action, "action": action, "user": "alice", "source_ip": "203.0.113.9",
             "target": target, "time": RECEIVED * 1000, "details": {}}
        )  # fmt: skip

    lines = [event("credentials_changed", "/manage/credentials/"), event("system_config_changed", "/manage/")]
    assert titles(replay("jenkins", write(tmp_path, "audit.jsonl", lines))) == [
        "Jenkins Credentials Changed",
        "Jenkins System Configuration Changed",
    ]
