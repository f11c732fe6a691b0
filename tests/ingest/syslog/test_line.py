"""Real Linux logs from the shared corpus become envelopes with the exact ECS fields and raw names rules use."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.ingest.syslog import LineContext, parse_line, syslog_event
from services.shared.envelope import Envelope, FieldReader
from services.shared.event import Event

RECEIVED = datetime(2025, 6, 1, tzinfo=UTC)
CONTEXT = LineContext(received=RECEIVED, zone=UTC, id="fixed-id")


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_bytes().decode("utf-8", "backslashreplace").split("\n") if line.strip()]


def _line(corpus: Path, relative: str, containing: str) -> str:
    return next(line for line in _lines(corpus / "linux" / relative) if containing in line)


def _event(line: str, context: LineContext = CONTEXT) -> Event:
    event = parse_line(line, context)
    assert event is not None, line
    return event


def _ecs(event: Event) -> dict[str, Any]:
    return event.normalised()


def test_every_linux_corpus_file_parses_without_an_exception(corpus: Path) -> None:
    """Every line of every file under corpus/linux gives an event; of the .log files, only one truncated
    audit record (`type=UNKNOWN[1329] msg=?`) is not recognised as syslog, audit or dpkg, and is kept whole."""
    unrecognised: list[str] = []
    files = sorted(p for p in (corpus / "linux").rglob("*") if p.is_file())
    assert len(files) >= 20
    for path in files:
        for line in _lines(path):
            event = syslog_event(line, CONTEXT)  # never raises, never drops
            assert event.message is not None
            if path.suffix == ".log" and parse_line(line, CONTEXT) is None:
                unrecognised.append(line.strip())
    assert unrecognised == ["type=UNKNOWN[1329] msg=?"]


def test_sshd_accepted_publickey(corpus: Path) -> None:
    """beats auth test.log: an accepted publickey login gives user, source address and port, success."""
    event = _event(_line(corpus, "auth/beats/test.log", "Accepted publickey"))
    assert _ecs(event) == {
        "id": "fixed-id",
        "time": "2025-02-21T21:54:44Z",
        "ingested": "2025-06-01T00:00:00Z",
        "event.module": "system",
        "event.dataset": "system.auth",
        "event.action": "ssh_login",
        "event.outcome": "success",
        "event.category": ["authentication", "session"],
        "logsource.product": "linux",
        "logsource.service": "sshd",
        "message": "Accepted publickey for vagrant from 10.0.2.2 port 63673 ssh2: RSA "
        "39:33:99:e9:a0:dc:f2:33:a3:e5:72:3b:7c:3a:56:84",
        "user.name": "vagrant",
        "source.ip": "10.0.2.2",
        "source.port": 63673,
        "host.name": "localhost",
        "process.name": "sshd",
        "process.pid": 3402,
        "labels": {},
    }
    assert event.raw["ssh_method"] == "publickey"


def test_sshd_failed_password_and_invalid_user(corpus: Path) -> None:
    """A failed password is a failed ssh_login from the source; an invalid user names the user tried."""
    failed = _event(_line(corpus, "auth/beats/test.log", "Failed password for root"))
    assert (failed.event.action, failed.event.outcome) == ("ssh_login", "failure")
    assert failed.user is not None and failed.user.name == "root"
    assert failed.source is not None and (failed.source.ip, failed.source.port) == ("216.160.83.57", 29160)
    invalid = _event(_line(corpus, "auth/beats/test.log", "Invalid user test"))
    assert (invalid.event.action, invalid.event.outcome) == ("ssh_invalid_user", "failure")
    assert invalid.user is not None and invalid.user.name == "test"
    assert invalid.source is not None and invalid.source.ip == "10.0.2.2"


def test_sudo_command_keeps_sudo_field_names(corpus: Path) -> None:
    """A sudo command: the user, the target user as user.effective.name, and TTY/PWD/USER/COMMAND in raw."""
    event = _event(_line(corpus, "auth/beats/test.log", "COMMAND=/bin/cat /var/log/secure"))
    assert (event.logsource.product, event.logsource.service) == ("linux", "sudo")
    assert (event.event.action, event.event.outcome) == ("sudo_command", "success")
    reader = FieldReader(Envelope.of(event))
    assert (reader.get("user.name"), reader.get("user.effective.name")) == ("vagrant", "root")
    assert [reader.get(k) for k in ("TTY", "PWD", "USER", "COMMAND")] == [
        "pts/1",
        "/home/vagrant",
        "root",
        "/bin/cat /var/log/secure",
    ]


def test_sudo_not_in_sudoers_is_a_failure(corpus: Path) -> None:
    """`user NOT in sudoers` is a denied sudo with the reason kept."""
    event = _event(_line(corpus, "auth/beats/test.log", "NOT in sudoers"))
    assert (event.event.action, event.event.outcome) == ("sudo_denied", "failure")
    assert event.user is not None and event.user.name == "tsg"
    assert event.raw["sudo_error"] == "user NOT in sudoers"
    assert event.raw["COMMAND"] == "/bin/ls"


def test_useradd_and_groupadd(corpus: Path) -> None:
    """useradd gives the new user's name, uid and gid; groupadd the new group (in raw.group)."""
    user = _event(_line(corpus, "auth/beats/test.log", "new user:"))
    assert (user.logsource.service, user.event.action, user.event.category) == ("auth", "user_created", ["iam"])
    assert user.user is not None and (user.user.name, user.user.id) == ("apache", "48")
    assert user.raw["shell"] == "/sbin/nologin" and user.raw["home"] == "/usr/share/httpd"
    group = _event(_line(corpus, "auth/beats/test.log", "new group:"))
    assert (group.event.action, group.raw["group"]) == ("group_created", {"name": "apache", "id": "48"})


def test_pam_session_with_iso_timestamp(corpus: Path) -> None:
    """beats timestamp.log: a zone-less ISO time takes the configured zone; the PAM session names the user."""
    context = LineContext(received=RECEIVED, zone=ZoneInfo("America/New_York"))
    event = _event(_line(corpus, "auth/beats/timestamp.log", "session opened"), context)
    assert event.time == datetime(2019, 6, 14, 14, 40, 20, 912134, tzinfo=UTC)
    assert (event.event.action, event.user.name if event.user else None) == ("session_opened", "root")
    assert event.raw["pam_service"] == "sudo-i"


def test_dpkg_install_line(corpus: Path) -> None:
    """A dpkg.log install line: package, architecture and versions, in the configured zone."""
    context = LineContext(received=RECEIVED, zone=ZoneInfo("Europe/Berlin"))
    event = _event(_line(corpus, "dpkg/plaso/dpkg.log", " install "), context)
    assert (event.logsource.service, event.event.action, event.event.outcome) == ("dpkg", "package_install", "success")
    assert event.time == datetime(2016, 8, 6, 15, 35, 39, tzinfo=UTC)
    assert {k: event.raw[k] for k in ("package", "architecture", "old_version", "version")} == {
        "package": "base-passwd",
        "architecture": "amd64",
        "old_version": "<none>",
        "version": "3.5.33",
    }


def test_auditd_execve_arguments_are_decoded(corpus: Path) -> None:
    """EXECVE arguments, quoted or hex-encoded, come out as text in a0… and in process.args."""
    event = _event(_line(corpus, "auditd/go-libaudit/audit-rhel7.log", 'a0="jq"'))
    assert (event.logsource.service, event.event.action) == ("auditd", "execve")
    assert event.raw["type"] == "EXECVE" and event.raw["a0"] == "jq" and event.raw["a1"] == "."
    assert event.raw["a2"].startswith('{\n        "dev": "08:01",')
    assert event.process is not None and event.process.model_extra is not None
    assert event.process.model_extra["args"][:2] == ["jq", "."]
    assert event.time == datetime(2017, 4, 11, 21, 34, 31, 575000, tzinfo=UTC)


def test_auditd_hex_fields_and_user_space_message(corpus: Path) -> None:
    """Hex `acct`, `cmd`, `name`, `proctitle` and multi-key `key` are decoded; msg='…' fields join the record."""
    login = _event(_line(corpus, "auditd/go-libaudit/audit-ubuntu16.log", "acct=28696E"))
    assert (login.event.action, login.event.outcome, login.raw["acct"]) == ("user_login", "failure", "(invalid user)")
    assert login.source is not None and login.source.ip == "179.38.151.221"
    command = _event(_line(corpus, "auditd/go-libaudit/audit-rhel6.log", "USER_CMD"))
    assert command.raw["cmd"] == "/usr/lib64/nagios/plugins/check_asterisk_sip_peers -p 107"
    path = _event(_line(corpus, "auditd/go-libaudit/audit-ubuntu14.log", "type=PATH"))
    assert path.raw["name"] == "/share/general/path_redacted"
    title = _event(_line(corpus, "auditd/go-libaudit/test3.log", "proctitle=737368"))
    assert title.raw["proctitle"] == "sshd: burn [priv]"
    keys = _event(_line(corpus, "auditd/go-libaudit/audit-ubuntu17.log", "type=SYSCALL"))
    assert keys.raw["key"] == ["exec", "64bit"]


def test_auditd_ids_are_stable_and_distinct(corpus: Path) -> None:
    """An audit record's id comes from the record: the same line twice gives one id, other lines others."""
    lines = _lines(corpus / "linux/auditd/go-libaudit/normal.log")
    first = [_event(line).id for line in lines]
    again = [_event(line).id for line in lines]
    assert first == again
    assert len(set(first)) == len(lines)


# loghub's own template of each OpenSSH line, and the action we must read from it.
OPENSSH_ACTIONS = {
    "E1": "ssh_login", "E9": "ssh_login", "E10": "ssh_login", "E8": "ssh_login", "E14": "ssh_login",
    "E13": "ssh_invalid_user", "E12": "ssh_invalid_user_request", "E19": "authentication_failure",
    "E20": "authentication_failure", "E15": "authentication_failure", "E16": "authentication_failure",
    "E17": "authentication_failure", "E21": "unknown_user", "E24": "ssh_disconnect", "E25": "ssh_disconnect",
    "E26": "ssh_disconnect", "E7": "ssh_disconnect", "E6": "ssh_disconnect", "E2": "ssh_connection_closed",
    "E3": "ssh_no_identification", "E27": "ssh_reverse_mapping_failed", "E4": "ssh_too_many_failures",
    "E5": "ssh_too_many_failures", "E22": "session_closed", "E23": "session_opened", "E18": None, "E11": None,
}  # fmt: skip


def test_openssh_2k_agrees_with_loghub_templates(corpus: Path) -> None:
    """Each of the 2,000 OpenSSH lines gets the action its loghub template implies; failed passwords name
    exactly the user, address and port written in the line."""
    folder = corpus / "linux/loghub/OpenSSH"
    lines = _lines(folder / "OpenSSH_2k.log")
    rows = list(csv.DictReader((folder / "OpenSSH_2k.log_structured.csv").open(encoding="utf-8")))
    assert len(lines) == len(rows) == 2000
    for line, row in zip(lines, rows, strict=True):
        event = _event(line)
        assert event.event.action == OPENSSH_ACTIONS[row["EventId"]], line
        assert event.process is not None and event.process.pid == int(row["Pid"])
        assert event.message == row["Content"].strip() or event.message.rstrip() == row["Content"].rstrip()
        if row["EventId"] in ("E9", "E10"):
            assert event.user is not None and event.source is not None and event.event.outcome == "failure"
            invalid = "invalid user " if row["EventId"] == "E10" else ""
            written = f"Failed password for {invalid}{event.user.name} from {event.source.ip} port {event.source.port}"
            assert row["Content"].startswith(written)


def test_linux_2k_agrees_with_loghub_fields(corpus: Path) -> None:
    """Each of the 2,000 /var/log/messages lines has loghub's host, program, pid and message; the eight whose
    'program' has a space (`syslogd 1.4.1`, `-- root`) are not RFC 3164 tags and are kept whole as the message."""
    folder = corpus / "linux/loghub/Linux"
    lines = _lines(folder / "Linux_2k.log")
    rows = list(csv.DictReader((folder / "Linux_2k.log_structured.csv").open(encoding="utf-8")))
    assert len(lines) == len(rows) == 2000
    kept_whole = 0
    for line, row in zip(lines, rows, strict=True):
        event = _event(line)
        assert event.host is not None and event.host.name == row["Level"] == "combo"
        if " " in row["Component"]:
            kept_whole += 1
            assert event.process is None and event.message.endswith(row["Content"].strip())
            continue
        assert event.process is not None and event.process.name == row["Component"].partition("(")[0]
        assert event.process.pid == (int(row["PID"]) if row["PID"] else None)
        assert event.message.strip() == row["Content"].strip()
    assert kept_whole == 8


def test_pam_failures_from_linux_2k_feed_brute_force_rules(corpus: Path) -> None:
    """loghub's `sshd(pam_unix)` failures carry the remote host and the user, under ECS and PAM names."""
    event = _event(_line(corpus, "loghub/Linux/Linux_2k.log", "rhost=220-135-151-1.hinet-ip.hinet.net  user=root"))
    assert (event.logsource.service, event.event.action, event.event.outcome) == (
        "sshd",
        "authentication_failure",
        "failure",
    )
    assert event.user is not None and event.user.name == "root"
    assert event.source is not None and event.source.model_extra == {"domain": "220-135-151-1.hinet-ip.hinet.net"}
    assert (event.raw["pam_user"], event.raw["pam_rhost"]) == ("root", "220-135-151-1.hinet-ip.hinet.net")


def test_line_without_header_is_kept_as_a_syslog_message() -> None:
    """Text with no header is not lost: syslog_event keeps it whole as a linux/syslog message."""
    assert parse_line("hello there", CONTEXT) is None
    event = syslog_event("hello there", LineContext(received=RECEIVED, host="10.1.2.3"))
    assert (event.message, event.logsource.service, event.time) == ("hello there", "syslog", RECEIVED)
    assert event.host is not None and event.host.name == "10.1.2.3"


@pytest.mark.parametrize(
    ("message", "action", "user", "ip", "port"),
    [
        ("Accepted password for bob from 192.0.2.1 port 22 ssh2", "ssh_login", "bob", "192.0.2.1", 22),
        ("Failed password for invalid user a b from 2001:db8::1 port 4 ssh2", "ssh_login", "a b", "2001:db8::1", 4),
        ("Disconnected from invalid user x 192.0.2.2 port 5 [preauth]", "ssh_disconnect", "x", "192.0.2.2", 5),
        ("Connection closed by authenticating user root 192.0.2.3 port 6 [preauth]", "ssh_connection_closed",
         "root", "192.0.2.3", 6),
        ("Invalid user admin from 192.0.2.4 port 7", "ssh_invalid_user", "admin", "192.0.2.4", 7),
    ],
)  # fmt: skip
def test_current_openssh_message_forms(message: str, action: str, user: str, ip: str, port: int) -> None:
    """Newer OpenSSH wordings (ports everywhere, IPv6, user names with spaces) read the same fields."""
    event = _event(f"<38>1 2025-01-01T00:00:00Z host sshd 9 - - {message}")
    assert (event.event.action, event.user.name if event.user else None) == (action, user)
    assert event.source is not None and (event.source.ip, event.source.port) == (ip, port)


def test_dpkg_and_audit_lines_forwarded_inside_syslog(corpus: Path) -> None:
    """rsyslog's imfile wraps dpkg.log and audit.log lines in a syslog header: they are still read as such."""
    dpkg_line = _line(corpus, "dpkg/plaso/dpkg.log", " install ")
    audit_line = _line(corpus, "auditd/beats/useradd.log", "ADD_USER")
    dpkg_event = _event(f"<134>1 2025-01-01T00:00:00Z web-1 dpkg - - - {dpkg_line}")
    audit_event = _event(f"<134>Jan  1 00:00:00 web-1 auditd: {audit_line}")
    assert (dpkg_event.logsource.service, dpkg_event.raw["package"]) == ("dpkg", "base-passwd")
    assert dpkg_event.host is not None and dpkg_event.host.name == "web-1"
    assert (audit_event.logsource.service, audit_event.raw["type"]) == ("auditd", "ADD_USER")
    assert audit_event.host is not None and audit_event.host.name == "web-1"
