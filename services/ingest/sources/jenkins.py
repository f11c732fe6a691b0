"""Jenkins: the Notification plugin's build events, and the audit form our Groovy hook posts.

Notification (jenkinsci/notification-plugin, JSON format): `{"name", "url", "build": {"full_url",
"number", "queue_id", "phase", "status", "timestamp", "scm", "parameters", …}}`, one per phase
(QUEUED, STARTED, COMPLETED, FINALIZED; older releases said FINISHED). Its id is the build and
the phase, so the plugin's retries make no new event.

Audit (docs/ingest/jenkins.md): `{"kind": "audit", "action": "login_failure", "user": "…",
"source_ip": "…", "target": "…", "time": …}` for logins, configuration and credential changes and
script console use, which the Notification plugin does not report.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from services.ingest.ids import content_id
from services.ingest.sources.parsed import Parsed, Rejected, describe, json_documents
from services.ingest.sources.times import epoch_time, text_time
from services.shared.event import Event, Outcome

_PHASES = frozenset({"QUEUED", "STARTED", "COMPLETED", "FINALIZED", "FINISHED", "NONE"})
_OUTCOMES: dict[str, Outcome] = {
    "SUCCESS": "success",
    "UNSTABLE": "failure",
    "FAILURE": "failure",
    "ABORTED": "failure",
    "NOT_BUILT": "failure",
}
_AUDIT_ACTIONS: dict[str, tuple[list[str], Outcome]] = {
    "login": (["authentication"], "success"),
    "login_failure": (["authentication"], "failure"),
    "logout": (["authentication"], "success"),
    "job_config_changed": (["configuration"], "success"),
    "job_created": (["configuration"], "success"),
    "job_deleted": (["configuration"], "success"),
    "credentials_changed": (["iam"], "success"),
    "system_config_changed": (["configuration"], "success"),
    "script_console": (["process"], "success"),
}
# The plugin writes `yyyy-MM-dd'T'HH:mm:ss.S+00:00`: the fraction is a millisecond count, not a decimal.
_PLUGIN_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{1,3})([+-]\d{2}:\d{2}|Z)")


class JenkinsSource:
    name = "jenkins"

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Parsed:
        return parse_jenkins(body, datetime.now(UTC))


def parse_jenkins(body: bytes, received: datetime) -> Parsed:
    """One notification or audit object per body (the plugin posts one per phase), or NDJSON of them."""
    parsed = Parsed()
    items = json_documents(body, parsed)
    for number, item, original in items:
        try:
            parsed.accept(to_event(item, received), original)
        except (ValueError, TypeError) as exc:
            where = f"line {number}: " if number else ""
            parsed.rejected.append(Rejected("invalid_jenkins_event", where + describe(exc), original, number))
    return parsed


def to_event(item: Any, received: datetime) -> Event:
    if not isinstance(item, dict):
        raise ValueError(f"expected a JSON object, got {type(item).__name__}")
    if item.get("kind") == "audit":
        return _audit(item, received)
    if isinstance(item.get("build"), dict):
        return _notification(item, item["build"], received)
    raise ValueError('expected a Notification plugin object (with "build") or {"kind": "audit", …}')


def _notification(item: dict[str, Any], build: dict[str, Any], received: datetime) -> Event:
    phase, status = build.get("phase"), build.get("status")
    if phase not in _PHASES:
        raise ValueError(f"build.phase {str(phase)[:32]!r} is not one of {sorted(_PHASES)}")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("name (the job) is missing")
    build_ref = build.get("full_url") or f"{item.get('url') or name}#{build.get('number')}"
    document: dict[str, Any] = {
        "id": content_id("jenkins", str(build_ref), str(phase)),
        "time": _time(build.get("timestamp"), "build.timestamp") or received,
        "ingested": received,
        "event": {
            "module": "jenkins",
            "dataset": "jenkins.build",
            "action": f"build_{str(phase).lower()}",
            "outcome": _OUTCOMES.get(str(status), "unknown") if status else "unknown",
            "category": ["process"],
        },
        "logsource": {"product": "jenkins", "service": "build"},
        "raw": item,
    }
    if isinstance(build.get("full_url"), str) or isinstance(build.get("url"), str):
        document["url"] = {k: v for k, v in (("original", build.get("full_url")), ("path", build.get("url"))) if v}
    return Event.model_validate(document)


def _audit(item: dict[str, Any], received: datetime) -> Event:
    action = item.get("action")
    if action not in _AUDIT_ACTIONS:
        raise ValueError(f"action {str(action)[:48]!r} is not one of {sorted(_AUDIT_ACTIONS)}")
    category, outcome = _AUDIT_ACTIONS[action]
    document: dict[str, Any] = {
        # The hook's own uuid is in the object, so a resend is byte-identical and keeps its id.
        "id": content_id("jenkins-audit", orjson.dumps(item, option=orjson.OPT_SORT_KEYS)),
        "time": _time(item.get("time"), "time") or received,
        "ingested": received,
        "event": {
            "module": "jenkins",
            "dataset": "jenkins.audit",
            "action": action,
            "outcome": outcome,
            "category": category,
        },
        "logsource": {"product": "jenkins", "service": "audit"},
        "raw": item,
    }
    if isinstance(item.get("user"), str) and item["user"]:
        document["user"] = {"name": item["user"]}
    if isinstance(item.get("source_ip"), str):
        try:
            document["source"] = {"ip": str(ipaddress.ip_address(item["source_ip"]))}
        except ValueError:
            raise ValueError(f"source_ip {item['source_ip'][:64]!r} is not an IP address") from None
    if isinstance(item.get("target"), str):
        document["url"] = {"path": item["target"]}
    return Event.model_validate(document)


def _time(value: Any, where: str) -> datetime | None:
    """Epoch milliseconds (older plugins, our hook) or the plugin's RFC 3339 text."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return epoch_time(value, where)
    if isinstance(value, str):
        if plugin := _PLUGIN_TIME.fullmatch(value):
            value = f"{plugin.group(1)}.{int(plugin.group(2)):03d}{plugin.group(3)}"
        return text_time(value, where, "RFC 3339 or epoch milliseconds")
    raise ValueError(f"{where}: expected epoch milliseconds or RFC 3339 text, got {type(value).__name__}")
