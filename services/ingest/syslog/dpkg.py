"""dpkg.log lines (`2015-02-18 19:33:20 install base-passwd:amd64 <none> 3.5.33`): package changes.

dpkg writes its own file, not syslog, in local time without a zone; agents such as Promtail or
Alloy ship it line by line. The zone is the configured one, as for RFC 3164.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

from services.ingest.syslog.details import Details

_LINE = re.compile(
    r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) "
    r"(install|upgrade|remove|purge|configure|trigproc|status|startup|conffile) (.*)",
    re.S,
)
_CHANGES = {"install": "installation", "upgrade": "change", "remove": "deletion", "purge": "deletion"}


@dataclass(frozen=True, slots=True)
class DpkgLine:
    time: datetime
    details: Details


def parse(line: str, zone: tzinfo) -> DpkgLine | None:
    """The change one dpkg.log line records, or None when the line is not dpkg's."""
    match = _LINE.fullmatch(line)
    if not match:
        return None
    try:
        when = datetime.fromisoformat(match.group(1)).replace(tzinfo=zone)
    except ValueError:
        return None
    verb, words = match.group(2), match.group(3).split(" ")
    fields: dict[str, object] = {"dpkg_action": verb}
    if verb in ("install", "upgrade", "remove", "purge", "configure", "trigproc") and len(words) == 3:
        fields.update(_package(words[0]), old_version=words[1], version=words[2])
    elif verb == "status" and len(words) == 3:
        fields.update(_package(words[1]), status=words[0], version=words[2])
    elif verb == "conffile" and len(words) == 2:
        fields.update(file=words[0], decision=words[1])
    elif verb == "startup":
        fields["startup"] = " ".join(words)
    change = _CHANGES.get(verb)
    details = Details(f"package_{verb}", "success" if change else "unknown", ["package"], fields=fields)
    details.type = [change] if change else ["info"]
    return DpkgLine(when, details)


def _package(text: str) -> dict[str, str]:
    name, _, architecture = text.partition(":")
    return {"package": name, "architecture": architecture} if architecture else {"package": name}
