"""Linux rules on real logs through `siem replay --format syslog` (the syslog, auditd and dpkg parsers of ingest)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.rules.conftest import SiemRun

Replay = Callable[..., SiemRun]
OPENSSH = Path("linux/loghub/OpenSSH/OpenSSH_2k.log")
ATTACKER = "183.62.140.253"  # 286 failed passwords for root in OpenSSH_2k.log


def test_ssh_brute_force_fires_for_the_attacking_address(corpus: Path, replay: Replay) -> None:
    """The loghub sshd log raises the brute force alert for 183.62.140.253, grouped on that address alone."""
    fired = replay("syslog", corpus / OPENSSH).fired("SSH Brute Force From One Address")
    assert {"source.ip": ATTACKER} in [alert.group for alert in fired]
    first = next(alert for alert in fired if alert.group == {"source.ip": ATTACKER})
    assert first.count >= 10 and first.rule.level == "medium"
    assert [t.id for t in first.attack] == ["T1110", "T1110.001"]


def test_ssh_password_spray_fires_for_an_address_trying_many_accounts(corpus: Path, replay: Replay) -> None:
    """187.141.143.180 tries many invalid user names in OpenSSH_2k.log: the spray alert names it."""
    groups = [a.group for a in replay("syslog", corpus / OPENSSH).fired("SSH Password Spray From One Address")]
    assert {"source.ip": "187.141.143.180"} in groups


def test_login_after_brute_force_needs_the_success_from_the_same_address(
    corpus: Path, replay: Replay, tmp_path: Path
) -> None:
    """The real log alone raises no brute-force-then-success alert; one accepted login from the attacker does."""
    title = "SSH Login After Brute Force From Same Address"
    assert replay("syslog", corpus / OPENSSH).fired(title) == []

    lines = (corpus / OPENSSH).read_bytes().splitlines()
    last_attempt = max(
        i for i, line in enumerate(lines) if f"Failed password for root from {ATTACKER}".encode() in line
    )
    stamp = lines[last_attempt][:15]  # the attacker's last failure's own `Dec 10 hh:mm:ss`
    success = stamp + f" LabSZ sshd[31337]: Accepted password for root from {ATTACKER} port 40022 ssh2".encode()
    compromised = tmp_path / "OpenSSH_compromised.log"
    compromised.write_bytes(b"\n".join([*lines[: last_attempt + 1], success, *lines[last_attempt + 1 :]]))

    (alert,) = replay("syslog", compromised).fired(title)
    assert alert.group == {"source.ip": ATTACKER}
    assert alert.rule.level == "high" and alert.count > 10


def test_sudo_by_a_user_not_in_sudoers_fires_on_the_real_line(corpus: Path, replay: Replay) -> None:
    """beats' auth log has `tsg : user NOT in sudoers`; that line alerts, its ordinary sudo commands do not."""
    result = replay("syslog", corpus / "linux/auth/beats/test.log")
    (alert,) = result.fired("Sudo Denied User Not In Sudoers")
    assert len(alert.event_ids) == 1
    assert result.fired("Sudo To Root By Unexpected User") == []  # vagrant is an ordinary administrator


def test_account_and_group_creation_fire_from_auditd_and_the_auth_log(corpus: Path, replay: Replay) -> None:
    """auditd ADD_USER (useradd.log) alerts; the auth log's `useradd apache … shell=/sbin/nologin` is filtered."""
    audit = replay("syslog", corpus / "linux/auditd/beats/useradd.log")
    assert len(audit.fired("Linux User Account Created")) == 1
    assert len(audit.fired("Linux Group Created")) >= 1
    auth = replay("syslog", corpus / "linux/auth/beats/test.log")
    assert auth.fired("Linux User Account Created") == []
    assert len(auth.fired("Linux Group Created")) == 1


def test_auditd_halt_fires_the_audit_disabled_rule(corpus: Path, replay: Replay) -> None:
    """`DAEMON_END … auditd normal halt` in the RHEL 7 audit log alerts; its CONFIG_CHANGE add_rule does not."""
    (alert,) = replay("syslog", corpus / "linux/auditd/go-libaudit/audit-rhel7.log").fired(
        "Auditd Audit Logging Disabled Or Rules Deleted"
    )
    assert len(alert.event_ids) == 1


def test_package_install_outside_the_window_fires_on_dpkg_log(corpus: Path, replay: Replay) -> None:
    """plaso's dpkg.log installs base-passwd at 17:35: one alert; its status and conffile lines are not installs."""
    (alert,) = replay("syslog", corpus / "linux/dpkg/plaso/dpkg.log").fired(
        "Package Installed Outside Maintenance Window"
    )
    assert alert.first_seen.hour == 17
