"""OpenSSH server messages: logins accepted and failed, invalid users, disconnects, probes.

User names are attacker-chosen and may hold spaces, so they are matched up to the fixed
words that follow them (` from `, ` port `), never as a single token.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from services.ingest.syslog import pam
from services.ingest.syslog.details import Details, endpoint, user_name
from services.shared.event import Outcome

_AUTH = ["authentication"]

_LOGIN = re.compile(
    r"(Accepted|Failed|Postponed) (\S+) for (invalid user )?(.*?) from (\S+) port (\d+)(?: (ssh2?))?(?:: (.+))?\s*$"
)
_INVALID_USER = re.compile(r"[Ii]nvalid user (.*?) from (\S+)(?: port (\d+))?\s*$")
_USERAUTH_INVALID = re.compile(r"input_userauth_request: invalid user (.*?)(?: \[preauth\])?\s*$")
_REPEATED = re.compile(r"message repeated (\d+) times: \[ ?(.*?) ?\]\s*$")
_NO_IDENT = re.compile(r"Did not receive identification string from (\S+)(?: port (\d+))?")
_RECEIVED_DISCONNECT = re.compile(r"(?:error: )?Received disconnect from (\S+?)(?: port (\d+))?: ?(\d+): (.*)")
_DISCONNECTED = re.compile(
    r"Disconnected from (?:(?:invalid|authenticating) user (.*?) |user (.*?) )?(\S+) port (\d+)(?: \[preauth\])?\s*$"
)
_CLOSED = re.compile(r"Connection closed by (?:(?:invalid|authenticating) user (.*?) )?(\S+)(?: port (\d+))?")
_RESET = re.compile(r"Connection reset by (?:(?:invalid|authenticating) user (.*?) )?(\S+)(?: port (\d+))?")
_REVERSE = re.compile(r"reverse mapping checking getaddrinfo for (\S+) \[(\S+)\] failed")
_TOO_MANY = re.compile(
    r"(?:Disconnecting(?: (?:invalid|authenticating) user \S+ \S+ port \d+)?: )?"
    r"Too many authentication failures(?: for (?:invalid user )?(.*?))?(?: \[preauth\])?\s*$"
)
_MAX_ATTEMPTS = re.compile(
    r"error: maximum authentication attempts exceeded for (invalid user )?(.*?) from (\S+) port (\d+)"
)
_CONNECTION = re.compile(r"Connection from (\S+) port (\d+) on (\S+) port (\d+)")


def parse(message: str, tag: str = "sshd", *, nested: bool = False) -> Details:
    """What one sshd message says; a message we do not know still yields an (unknown-action) result."""
    if "(pam_" in tag:  # loghub's `sshd(pam_unix)[7]: authentication failure; …`
        found = pam.parse(message, module=tag[tag.index("(") + 1 : tag.rindex(")")] if ")" in tag else None)
        if found:
            return found
    for pattern, build in _PATTERNS:
        match = pattern.match(message)
        if match and not (nested and pattern is _REPEATED):
            return build(match)
    return pam.parse(message) or Details()


def _login(m: re.Match[str]) -> Details:
    word, method, invalid, user, address, port, protocol, signature = m.groups()
    fields: dict[str, object] = {"ssh_event": word, "ssh_method": method}
    if signature:
        fields["ssh_signature"] = signature
    if invalid:
        fields["ssh_invalid_user"] = True
    outcome: Outcome = "success" if word == "Accepted" else "failure"
    return Details(
        "ssh_login",
        outcome,
        [*_AUTH, "session"] if outcome == "success" else _AUTH,
        user=user_name(user),
        source=endpoint(address, port),
        fields=fields,
    )


def _invalid_user(m: re.Match[str]) -> Details:
    return Details(
        "ssh_invalid_user", "failure", _AUTH, user=user_name(m.group(1)), source=endpoint(m.group(2), m.group(3))
    )


def _userauth_invalid(m: re.Match[str]) -> Details:
    return Details("ssh_invalid_user_request", "failure", _AUTH, user=user_name(m.group(1)))


def _repeated(m: re.Match[str]) -> Details:
    inner = parse(m.group(2), nested=True)  # one level: sshd never nests repeats
    inner.fields["repeated"] = int(m.group(1))
    return inner


def _no_ident(m: re.Match[str]) -> Details:
    return Details("ssh_no_identification", "failure", ["network"], source=endpoint(m.group(1), m.group(2)))


def _received_disconnect(m: re.Match[str]) -> Details:
    fields = {"ssh_disconnect_code": int(m.group(3)), "ssh_disconnect_reason": m.group(4).removesuffix(" [preauth]")}
    return Details("ssh_disconnect", "unknown", ["session"], source=endpoint(m.group(1), m.group(2)), fields=fields)


def _disconnected(m: re.Match[str]) -> Details:
    user = m.group(1) or m.group(2)
    return Details(
        "ssh_disconnect", "unknown", ["session"], user=user_name(user), source=endpoint(m.group(3), m.group(4))
    )


def _closed(m: re.Match[str]) -> Details:
    return Details(
        "ssh_connection_closed",
        "unknown",
        ["network"],
        user=user_name(m.group(1)),
        source=endpoint(m.group(2), m.group(3)),
    )


def _reverse(m: re.Match[str]) -> Details:
    source = endpoint(m.group(2))
    source.setdefault("domain", m.group(1))
    return Details("ssh_reverse_mapping_failed", "unknown", ["network"], source=source)


def _too_many(m: re.Match[str]) -> Details:
    return Details("ssh_too_many_failures", "failure", _AUTH, user=user_name(m.group(1)))


def _max_attempts(m: re.Match[str]) -> Details:
    return Details(
        "ssh_too_many_failures", "failure", _AUTH, user=user_name(m.group(2)), source=endpoint(m.group(3), m.group(4))
    )


def _connection(m: re.Match[str]) -> Details:
    return Details(
        "ssh_connection",
        "unknown",
        ["network"],
        source=endpoint(m.group(1), m.group(2)),
        destination=endpoint(m.group(3), m.group(4)),
    )


_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Details]]] = [
    (_LOGIN, _login),
    (_INVALID_USER, _invalid_user),
    (_USERAUTH_INVALID, _userauth_invalid),
    (_REPEATED, _repeated),
    (_NO_IDENT, _no_ident),
    (_RECEIVED_DISCONNECT, _received_disconnect),
    (_DISCONNECTED, _disconnected),
    (_CLOSED, _closed),
    (_RESET, _closed),
    (_REVERSE, _reverse),
    (_TOO_MANY, _too_many),
    (_MAX_ATTEMPTS, _max_attempts),
    (_CONNECTION, _connection),
]
