"""GitLab webhooks (project, group and system hooks): `X-Gitlab-Token` and/or a Standard-Webhooks signature.

`X-Gitlab-Token` is the hook's secret token sent as is. Newer GitLab can also sign with a
`whsec_` signing token (`webhook-id`, `webhook-timestamp`, `webhook-signature`), which covers
the id and the time too. With both configured, both must pass. System hooks all arrive as
`X-Gitlab-Event: System Hook`; the payload's `object_kind` or `event_name` says what happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.shared.event import Outcome
from services.webhook.providers.base import Delivery, Keys, Normalised, Refusal, read_delivery
from services.webhook.providers.payload import (
    compact,
    dig,
    first_text,
    integer,
    push_facts,
    ref_facts,
    run_outcome,
    text,
)
from services.webhook.providers.signature import verify_standard_webhook, verify_token

_CI_KINDS = ("pipeline", "build", "deployment")
_MEMBER_EVENTS = ("user_add_to_group", "user_remove_from_group", "user_update_for_group")
_VISIBILITY_LEVELS = {0: "private", 10: "internal", 20: "public"}


class GitLabProvider:
    name = "gitlab"

    def verify(self, body: bytes, headers: Mapping[str, str], keys: Keys, now: float) -> Refusal | None:
        if not keys:
            return Refusal("not_configured", "no token or signing token is configured for GitLab")
        if keys.tokens and (refused := verify_token(headers, keys.tokens, "X-Gitlab-Token")):
            return refused
        if keys.secrets:
            return verify_standard_webhook(body, headers, keys.secrets, now, keys.tolerance_seconds)
        return None

    def delivery(self, headers: Mapping[str, str]) -> Delivery | Refusal:
        # Idempotency-Key stays the same across GitLab's retries; the older event UUID is the fallback.
        return read_delivery(
            headers,
            event_headers=("X-Gitlab-Event",),
            id_headers=("Idempotency-Key", "X-Gitlab-Event-UUID", "webhook-id"),
            host="gitlab",
        )

    def normalise(self, event: str, payload: dict[str, Any]) -> Normalised:
        kind = first_text(payload.get("object_kind"), payload.get("event_name")) or _kind_of_header(event)
        detail = first_text(
            dig(payload, "object_attributes", "action"),
            payload.get("action"),
            dig(payload, "object_attributes", "status"),
            payload.get("build_status"),
            payload.get("status"),
        )
        event_name = text(payload.get("event_name"))
        if detail is None and event_name and event_name != kind:
            detail = event_name
        return Normalised(
            dataset=kind,
            action=f"{kind}.{detail}" if detail else kind,
            actor=_actor(kind, payload),
            target=_target(kind, payload),
            outcome=_outcome(kind, detail),
            category=_category(kind),
            url=first_text(dig(payload, "object_attributes", "url"), dig(payload, "project", "web_url")),
            git=_git_facts(kind, payload),
        )


def _kind_of_header(event: str) -> str:
    """`Merge Request Hook` → `merge_request`, for a payload that does not name itself."""
    return event.lower().removesuffix(" hook").replace(" ", "_") or "unknown"


def _actor(kind: str, payload: dict[str, Any]) -> str | None:
    if kind == "user_failed_login" or kind.startswith("key_"):
        return text(payload.get("username"))  # the user's own act (a key is added by its owner)
    if kind.startswith("user_"):
        return None  # the user named is the one acted upon; GitLab does not say by whom
    return first_text(payload.get("user_username"), dig(payload, "user", "username"), payload.get("user_name"))


def _target(kind: str, payload: dict[str, Any]) -> str | None:
    if kind.startswith("user_") and kind != "user_failed_login":
        return first_text(payload.get("username"), payload.get("user_username"))
    return None


def _outcome(kind: str, detail: str | None) -> Outcome:
    if kind == "user_failed_login":
        return "failure"
    if kind in _CI_KINDS:
        return run_outcome(detail)
    return "success"


def _category(kind: str) -> tuple[str, ...]:
    if kind == "user_failed_login":
        return ("authentication",)
    if kind.startswith(("user_", "key_")) or kind in ("access_token", "member"):
        return ("iam",)
    if kind.startswith(("project_", "group_", "subgroup_")) or kind in ("repository_update", "feature_flag"):
        return ("configuration",)
    return ()


def _git_facts(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    project = payload.get("project")
    facts: dict[str, Any] = {
        "repository": first_text(dig(project, "path_with_namespace"), payload.get("path_with_namespace")),
        "owner": first_text(
            dig(project, "namespace"), payload.get("group_path"), payload.get("full_path"), payload.get("owner_name")
        ),
        "visibility": first_text(_visibility(dig(project, "visibility_level")), payload.get("project_visibility")),
        "old_repository": text(payload.get("old_path_with_namespace")),
    }
    if kind in ("push", "tag_push"):
        facts.update(push_facts(payload))
    attributes = payload.get("object_attributes")
    if kind == "merge_request" and isinstance(attributes, dict):
        facts["pull_request"] = _merge_request_facts(attributes, payload)
    if kind == "pipeline" and isinstance(attributes, dict):
        facts["run"] = compact({"status": text(attributes.get("status")), "trigger": text(attributes.get("source"))})
        facts.update(ref_facts(text(attributes.get("ref")), "tag" if attributes.get("tag") is True else "branch"))
    if kind == "build":
        facts["run"] = compact(
            {
                "name": text(payload.get("build_name")),
                "stage": text(payload.get("build_stage")),
                "status": text(payload.get("build_status")),
            }
        )
        facts.update(ref_facts(text(payload.get("ref")), "tag" if payload.get("tag") is True else "branch"))
    if kind in _MEMBER_EVENTS:
        facts["group_access"] = text(payload.get("group_access"))
    return compact(facts)


def _visibility(level: Any) -> str | None:
    number = integer(level)
    return None if number is None else _VISIBILITY_LEVELS.get(number)


def _merge_request_facts(attributes: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    merging = text(attributes.get("action")) == "merge"
    return compact(
        {
            "number": integer(attributes.get("iid")),
            "state": text(attributes.get("state")),
            "merged": merging or text(attributes.get("state")) == "merged",
            # GitLab names no merger; on the merge event itself, the user who triggered it merged it.
            "merged_by": text(dig(payload, "user", "username")) if merging else None,
            "base": text(attributes.get("target_branch")),
            "head": text(attributes.get("source_branch")),
            "head_repository": text(dig(attributes, "source", "path_with_namespace")),
        }
    )
