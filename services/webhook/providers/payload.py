"""Reading untrusted payloads without ever raising, and the git facts several hosts shape alike.

A verified payload is still only JSON the host chose to send: every accessor here returns
None (or an empty list) for a missing key or a value of the wrong type.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from services.shared.event import Outcome
from services.webhook.sensitive import sensitive_files

FILE_CHANGES = ("added", "modified", "removed")
_ZERO_SHAS = frozenset({"0" * 40, "0" * 64})  # git's "no commit" in SHA-1 and SHA-256 repositories


def dig(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]…`, or None as soon as a step is not a dict or lacks the key."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def text(value: Any) -> str | None:
    """A non-empty string, or an integer id as text; None otherwise."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def first_text(*values: Any) -> str | None:
    return next((found for found in map(text, values) if found is not None), None)


def flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def texts(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str) and item] if isinstance(value, list) else []


def unique(values: Any) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def compact(facts: dict[str, Any]) -> dict[str, Any]:
    """Drop what the payload did not say (None, empty lists and dicts), keep False and 0."""
    return {k: v for k, v in facts.items() if v is not None and v != [] and v != {}}


def ref_facts(ref: str | None, ref_type: str | None = None) -> dict[str, Any]:
    """`ref` as given, plus `branch` or `tag` when it names one (full `refs/…` or short with a type)."""
    if ref is None:
        return {}
    if ref.startswith("refs/heads/"):
        return {"ref": ref, "branch": ref.removeprefix("refs/heads/")}
    if ref.startswith("refs/tags/"):
        return {"ref": ref, "tag": ref.removeprefix("refs/tags/")}
    kind = (ref_type or "").lower()
    if kind == "branch":
        return {"ref": f"refs/heads/{ref}", "branch": ref}
    if kind == "tag":
        return {"ref": f"refs/tags/{ref}", "tag": ref}
    return {"ref": ref}


def push_facts(payload: dict[str, Any]) -> dict[str, Any]:
    """A push as GitHub, GitLab and Gitea all send it: ref, before/after, commits and their files."""
    commits = dicts(payload.get("commits"))
    files = {change: unique(chain.from_iterable(texts(c.get(change)) for c in commits)) for change in FILE_CHANGES}
    before, after = text(payload.get("before")), text(payload.get("after"))
    created, deleted = flag(payload.get("created")), flag(payload.get("deleted"))
    return compact(
        {
            **ref_facts(text(payload.get("ref"))),
            "before": before,
            "after": after,
            "created": created if created is not None else (before in _ZERO_SHAS if before else None),
            "deleted": deleted if deleted is not None else (after in _ZERO_SHAS if after else None),
            "forced": flag(payload.get("forced")),
            "commits": integer(payload.get("total_commits_count")) or len(commits),
            "authors": unique(first_text(dig(c, "author", "name"), dig(c, "author", "email")) for c in commits),
            "files": compact(files),
            "sensitive_files": sensitive_files(chain.from_iterable(files.values())),
        }
    )


def login(user: Any) -> str | None:
    """A user object's handle, whichever key the host uses for it."""
    return first_text(dig(user, "login"), dig(user, "username"), dig(user, "nickname"), dig(user, "name"))


def pull_request_facts(pr: dict[str, Any]) -> dict[str, Any]:
    """A GitHub-shaped pull request (Gitea and Forgejo copy the shape)."""
    return compact(
        {
            "number": integer(pr.get("number")),
            "state": text(pr.get("state")),
            "merged": flag(pr.get("merged")),
            "merged_by": login(pr.get("merged_by")),
            "base": text(dig(pr, "base", "ref")),
            "head": text(dig(pr, "head", "ref")),
            "head_repository": text(dig(pr, "head", "repo", "full_name")),
        }
    )


def run_outcome(status: str | None) -> Outcome:
    """A CI run's or a check's result as an ECS outcome."""
    if status in ("success", "succeeded", "successful", "passed"):
        return "success"
    if status in ("failure", "failed", "timed_out", "startup_failure", "error"):
        return "failure"
    return "unknown"
