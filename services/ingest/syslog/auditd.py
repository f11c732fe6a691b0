"""Linux audit records: `[node=H ]type=T msg=audit(EPOCH:SERIAL): key=value …`, from audit.log or syslog.

Every field lands in `raw` under auditd's own name (`type`, `a0`, `exe`, `key`, …), decoded the way
auditd encodes it (hex for untrusted strings, quoted otherwise), which is what SigmaHQ's
`linux/auditd` rules expect. The `msg='…'` of user-space records is opened up into the same level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.ingest.syslog.details import Details, endpoint
from services.shared.event import Outcome

_RECORD = re.compile(r"(?:node=(\S+) )?type=(\S+) msg=audit\((\d{1,12})(?:\.(\d{1,9}))?:(\d{1,20})\):? ?(.*)", re.S)
# The kernel's own form when auditd is not running (`kernel: audit: type=1400 audit(…): …`).
_KERNEL = re.compile(r"(?:audit: )?type=(\d{3,4}) audit\((\d{1,12})(?:\.(\d{1,9}))?:(\d{1,20})\):? ?(.*)", re.S)
_FIELD = re.compile(r"""([A-Za-z_][\w\-\[\]]*)=("[^"]*"|'[^']*'|\S*)""")
_HEX = re.compile(r"(?:[0-9A-F]{2})+")
_ARG = re.compile(r"a(\d+)(?:\[(\d+)\])?")
# Fields auditd hex-encodes when the value holds a space, a quote or a control character.
_ENCODED = frozenset(
    "acct cmd comm cwd data dir exe file grp key name new new_group ocomm old path proctitle vm watch".split()
)
_KERNEL_TYPES = {
    "1300": "SYSCALL",
    "1302": "PATH",
    "1305": "CONFIG_CHANGE",
    "1306": "SOCKADDR",
    "1307": "CWD",
    "1309": "EXECVE",
    "1326": "SECCOMP",
    "1327": "PROCTITLE",
    "1400": "AVC",
    "1107": "USER_AVC",
    "1130": "SERVICE_START",
    "1131": "SERVICE_STOP",
}
_CATEGORIES = {
    "authentication": frozenset(
        "USER_AUTH USER_LOGIN USER_LOGOUT USER_ACCT USER_ERR CRED_ACQ CRED_DISP CRED_REFR USER_START USER_END LOGIN "
        "ANOM_LOGIN_FAILURES".split()
    ),
    "iam": frozenset(
        "ADD_USER DEL_USER ADD_GROUP DEL_GROUP USER_CHAUTHTOK USER_MGMT GRP_MGMT ACCT_LOCK ACCT_UNLOCK ROLE_ASSIGN "
        "ROLE_REMOVE".split()
    ),
    "process": frozenset("SYSCALL EXECVE PROCTITLE USER_CMD SERVICE_START SERVICE_STOP BPRM_FCAPS".split()),
    "file": frozenset("PATH CWD".split()),
    "configuration": frozenset("CONFIG_CHANGE DAEMON_START DAEMON_END DAEMON_CONFIG DAEMON_ABORT".split()),
    "intrusion_detection": frozenset("AVC USER_AVC SELINUX_ERR ANOM_ABEND ANOM_PROMISCUOUS SECCOMP".split()),
}
_UNSET_ID = "4294967295"  # (uid_t)-1: auid of a process no login started


@dataclass(frozen=True, slots=True)
class AuditRecord:
    node: str | None
    type: str
    time: datetime
    serial: str
    text: str  # the record from `type=` on, what its id is derived from
    details: Details


def parse(text: str) -> AuditRecord | None:
    """One audit record, or None when the text is not one."""
    if match := _RECORD.match(text):
        node, kind, seconds, fraction, serial, body = match.groups()
        start = match.start(2) - len("type=")
    elif match := _KERNEL.match(text):
        node = None
        number, seconds, fraction, serial, body = match.groups()
        kind, start = _KERNEL_TYPES.get(number, number), match.start(1) - len("type=")
    else:
        return None
    try:
        when = datetime.fromtimestamp(int(seconds), UTC).replace(microsecond=int((fraction or "0")[:6].ljust(6, "0")))
    except (OverflowError, OSError, ValueError):
        return None
    fields = _fields(body.replace("\x1d", " "))  # GS separates the interpreted fields of the enriched format
    if kind == "EXECVE":
        _join_arguments(fields)
    fields = {"type": kind, **fields, "audit_serial": serial}
    return AuditRecord(node, kind, when, serial, text[start:], _details(kind, fields))


def _fields(body: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in _FIELD.findall(body):
        if value.startswith("'"):
            found.update({k: v for k, v in _fields(value[1:-1]).items() if k not in found})
            continue
        found[key] = _decode(key, value)
    return found


def _decode(key: str, value: str) -> Any:
    if value.startswith('"'):
        return value[1:-1]
    value = value.rstrip('"')  # some kernels leave a stray closing quote after a hex value
    bare_arg = _ARG.fullmatch(key) is not None  # EXECVE arguments are quoted or hex, nothing else
    if (bare_arg or key in _ENCODED) and _HEX.fullmatch(value):
        text = bytes.fromhex(value)
        if key == "proctitle":
            return text.replace(b"\x00", b" ").decode("utf-8", "backslashreplace")
        if key == "key" and b"\x01" in text:  # several rule keys, separated by ^A
            return [k.decode("utf-8", "backslashreplace") for k in text.split(b"\x01")]
        return text.decode("utf-8", "backslashreplace")
    return value


def _join_arguments(fields: dict[str, Any]) -> None:
    """Long arguments come in chunks (`a1_len=…`, `a1[0]=…`, `a1[1]=…`): put each back whole as `a1`."""
    chunks: dict[int, list[tuple[int, str]]] = {}
    for key in [k for k in fields if "[" in k]:
        match = _ARG.fullmatch(key)
        if match and match.group(2) is not None:
            chunks.setdefault(int(match.group(1)), []).append((int(match.group(2)), str(fields.pop(key))))
    for index, parts in chunks.items():
        fields[f"a{index}"] = "".join(part for _, part in sorted(parts))
        fields.pop(f"a{index}_len", None)


def _details(kind: str, fields: dict[str, Any]) -> Details:
    category = [name for name, kinds in _CATEGORIES.items() if kind in kinds]
    result = str(fields.get("res", fields.get("success", ""))).lower()
    outcome: Outcome = "unknown"
    if result in ("success", "yes", "1"):
        outcome = "success"
    elif result in ("failed", "no", "0"):
        outcome = "failure"
    user: dict[str, Any] = {}
    if (uid := fields.get("uid")) is not None:
        user["id"] = str(uid)
    if name := fields.get("acct") or fields.get("UID"):
        user["name"] = str(name)
    if (auid := fields.get("auid")) not in (None, _UNSET_ID, "-1", "unset"):
        user["audit"] = {"id": str(auid)}
    if (euid := fields.get("euid")) is not None:
        user["effective"] = {"id": str(euid)}
    process: dict[str, Any] = {}
    if str(fields.get("pid", "")).isdecimal():
        process["pid"] = int(fields["pid"])
    if str(fields.get("ppid", "")).isdecimal():
        process["parent"] = {"pid": int(fields["ppid"])}
    if isinstance(fields.get("comm"), str):
        process["name"] = fields["comm"]
    if isinstance(fields.get("exe"), str):
        process["executable"] = fields["exe"]
    if kind == "EXECVE":
        arguments = [str(fields[f"a{i}"]) for i in range(_argc(fields)) if f"a{i}" in fields]
        process["args"] = arguments
        process["command_line"] = " ".join(arguments)
    source = endpoint(fields.get("addr") if isinstance(fields.get("addr"), str) else None)
    if isinstance(fields.get("hostname"), str) and fields["hostname"] not in ("?", "") and "domain" not in source:
        source.setdefault("address", fields["hostname"])
    return Details(kind.lower(), outcome, category, user=user, source=source, process=process, fields=fields)


def _argc(fields: dict[str, Any]) -> int:
    argc = str(fields.get("argc", ""))
    return min(int(argc), 4096) if argc.isdecimal() else sum(1 for k in fields if _ARG.fullmatch(k))
