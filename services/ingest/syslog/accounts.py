"""shadow-utils messages (useradd, usermod, userdel, groupadd, groupmod, groupdel, passwd, chage).

`name=`, `UID=`, `GID=` and the quoted names keep their meaning in `raw`; the user they act on is
`user.name` (the envelope has no ECS `group` set yet, so a group lives in `raw.group`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from services.ingest.syslog.details import Details

PROGRAMS = frozenset(
    "useradd usermod userdel groupadd groupmod groupdel gpasswd passwd chpasswd chage chsh chfn newusers".split()
)
_IAM = ["iam"]
_KEY_VALUES = re.compile(r"(\w+)=([^,]*)")
_NEW_USER = re.compile(r"new user: (.*)")
_NEW_GROUP = re.compile(r"(?:new group|group added to \S+): (.*)")
_ADD_TO_GROUP = re.compile(r"add '([^']*)' to (?:shadow )?group '([^']*)'")
_REMOVE_FROM_GROUP = re.compile(r"delete '([^']*)' from (?:shadow )?group '([^']*)'")
_CHANGE_USER = re.compile(r"change user '([^']*)' (\w+)(?: from '([^']*)' to '([^']*)')?")
_DELETE_USER = re.compile(r"delete user '([^']*)'")
_DELETE_GROUP = re.compile(r"(?:removed group '([^']*)'|group '([^']*)' removed)")
_LOCK = re.compile(r"(lock|unlock) user '([^']*)' password")
_PASSWORD = re.compile(r"password for '([^']*)' changed")


def parse(message: str) -> Details:
    for pattern, build in _PATTERNS:
        if match := pattern.match(message):
            return build(match)
    return Details(category=_IAM)


def _new_user(m: re.Match[str]) -> Details:
    fields = dict(_KEY_VALUES.findall(m.group(1)))
    user: dict[str, object] = {k: v for k, v in (("name", fields.get("name")), ("id", fields.get("UID"))) if v}
    if fields.get("GID"):
        user["group"] = {"id": fields["GID"]}
    return Details("user_created", "success", _IAM, user=user, fields=fields)


def _new_group(m: re.Match[str]) -> Details:
    fields = dict(_KEY_VALUES.findall(m.group(1)))
    return Details(
        "group_created",
        "success",
        _IAM,
        fields={**fields, "group": {"name": fields.get("name"), "id": fields.get("GID")}},
    )


def _add_to_group(m: re.Match[str]) -> Details:
    return Details(
        "user_added_to_group", "success", _IAM, user={"name": m.group(1)}, fields={"group": {"name": m.group(2)}}
    )


def _remove_from_group(m: re.Match[str]) -> Details:
    return Details(
        "user_removed_from_group", "success", _IAM, user={"name": m.group(1)}, fields={"group": {"name": m.group(2)}}
    )


def _change_user(m: re.Match[str]) -> Details:
    fields = {"changed": m.group(2)} | ({"from": m.group(3), "to": m.group(4)} if m.group(3) is not None else {})
    return Details("user_changed", "success", _IAM, user={"name": m.group(1)}, fields=fields)


def _delete_user(m: re.Match[str]) -> Details:
    return Details("user_deleted", "success", _IAM, user={"name": m.group(1)})


def _delete_group(m: re.Match[str]) -> Details:
    return Details("group_deleted", "success", _IAM, fields={"group": {"name": m.group(1) or m.group(2)}})


def _lock(m: re.Match[str]) -> Details:
    return Details(f"user_{m.group(1)}ed", "success", _IAM, user={"name": m.group(2)})


def _password(m: re.Match[str]) -> Details:
    return Details("password_changed", "success", _IAM, user={"name": m.group(1)})


_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Details]]] = [
    (_NEW_USER, _new_user),
    (_NEW_GROUP, _new_group),
    (_ADD_TO_GROUP, _add_to_group),
    (_REMOVE_FROM_GROUP, _remove_from_group),
    (_CHANGE_USER, _change_user),
    (_DELETE_USER, _delete_user),
    (_DELETE_GROUP, _delete_group),
    (_LOCK, _lock),
    (_PASSWORD, _password),
]
