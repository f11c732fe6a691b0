"""sudo's log line: `alice : [reason ; ]TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls`.

The `KEY=value` parts keep sudo's own names in `raw` (`USER`, `TTY`, `PWD`, `COMMAND`), the names
SigmaHQ's `linux/sudo` rules use. COMMAND is always last and may itself contain ` ; `.
"""

from __future__ import annotations

import re

from services.ingest.syslog import pam
from services.ingest.syslog.details import Details, user_name

_LINE = re.compile(r"\s*(\S+) : (.*)", re.S)
_KEY = re.compile(r"([A-Z_]+)=(.*)", re.S)


def parse(message: str) -> Details:
    line = _LINE.match(message)
    if not line:
        return pam.parse(message) or Details()
    actor, rest = line.groups()
    before, found_command, command = rest.partition("COMMAND=")
    fields: dict[str, object] = {}
    problems: list[str] = []
    for part in before.split(" ; "):
        part = part.strip(" ;")
        if key_value := _KEY.fullmatch(part):
            fields[key_value.group(1)] = key_value.group(2)
        elif part:
            problems.append(part)
    if found_command:
        fields["COMMAND"] = command
    user = user_name(actor)
    if "USER" in fields:
        user["effective"] = {"name": fields["USER"]}
    if problems:
        # "user NOT in sudoers", "3 incorrect password attempts", "command not allowed", …
        fields["sudo_error"] = "; ".join(problems)
        return Details("sudo_denied", "failure", ["process"], user=user, fields=fields)
    return Details(
        "sudo_command" if found_command else None,
        "success" if found_command else "unknown",
        ["process"],
        user=user,
        fields=fields,
    )
