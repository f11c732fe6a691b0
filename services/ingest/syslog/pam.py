"""PAM lines (`pam_unix(sshd:auth): authentication failure; … rhost=… user=…`) from any program.

The fields keep PAM's names with a `pam_` prefix (`pam_user`, `pam_rhost`, `pam_message`), the
names older Sigma rules for `linux/auth` use.
"""

from __future__ import annotations

import re

from services.ingest.syslog.details import Details, endpoint, user_name

_PREFIX = re.compile(r"(pam_[a-z0-9_]+)\(([^:()\s]+):([^()\s]+)\): ")
_KEY_VALUE = re.compile(r"(\w+)=(\S*)")
_SESSION = re.compile(r"session (opened|closed) for user (\S+?)(?:\(uid=\d+\))?(?: by (\S*?)(?:\(uid=(\d+)\))?)?\s*$")
_PASSWORD_CHANGED = re.compile(r"password changed for (\S+)")
_MORE_FAILURES = re.compile(r"PAM (\d+) more authentication failures?; (.*)")


def parse(message: str, module: str | None = None) -> Details | None:
    """A PAM message, with its `pam_x(service:type): ` prefix or, when the tag named the module, without."""
    prefix = _PREFIX.match(message)
    if prefix:
        module, text = prefix.group(1), message[prefix.end() :]
        found: dict[str, str] = {"pam_module": module, "pam_service": prefix.group(2), "pam_type": prefix.group(3)}
    elif module:
        text, found = message, {"pam_module": module}
    elif more := _MORE_FAILURES.match(message):
        details = _key_values(more.group(2), {"pam_message": "more authentication failures"})
        details.action, details.outcome, details.category = "authentication_failure", "failure", ["authentication"]
        details.fields["pam_failures"] = int(more.group(1)) + 1
        return details
    else:
        return None

    head, _, tail = text.partition(";")
    found["pam_message"] = head.strip()
    if head.startswith("authentication failure"):
        details = _key_values(tail, found)
        details.action, details.outcome, details.category = "authentication_failure", "failure", ["authentication"]
        return details
    if head.startswith("check pass") and "user unknown" in tail:
        return Details("unknown_user", "failure", ["authentication"], fields={**found, "pam_message": head.strip()})
    if session := _SESSION.match(text):
        found["pam_user"] = session.group(2)
        if session.group(3):
            found["pam_by"] = session.group(3)
        return Details(
            f"session_{session.group(1)}",
            "success",
            ["session"],
            user=user_name(session.group(2)),
            fields={**found, "pam_message": f"session {session.group(1)}"},
        )
    if changed := _PASSWORD_CHANGED.match(text):
        return Details("password_changed", "success", ["iam"], user=user_name(changed.group(1)), fields=found)
    return Details(fields=found)


def _key_values(text: str, found: dict[str, str]) -> Details:
    for key, value in _KEY_VALUE.findall(text):
        found[f"pam_{key}"] = value
    return Details(
        user=user_name(found.get("pam_user")),
        source=endpoint(found.get("pam_rhost")),
        fields=found,
    )
