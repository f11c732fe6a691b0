"""GitHub (and GitHub Enterprise Server) webhooks: `X-Hub-Signature-256`, `X-GitHub-Event`, `X-GitHub-Delivery`.

The signature is `sha256=` + hex HMAC-SHA256 of the raw body with the hook's secret. The
delivery id is a GUID that a manual "Redeliver" repeats (docs/webhook/replay.md).
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
    flag,
    integer,
    login,
    pull_request_facts,
    push_facts,
    ref_facts,
    run_outcome,
    text,
)
from services.webhook.providers.signature import verify_hex_signature

# GitHub's event names (Gitea and Forgejo reuse most of them) grouped into ECS categories.
CATEGORIES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "member",
            "membership",
            "organization",
            "team",
            "team_add",
            "org_block",
            "deploy_key",
            "github_app_authorization",
            "personal_access_token_request",
        ),
        ("iam",),
    ),
    **dict.fromkeys(
        (
            "repository",
            "public",
            "branch_protection_rule",
            "branch_protection_configuration",
            "repository_ruleset",
            "meta",
            "ping",
            "installation",
            "installation_repositories",
        ),
        ("configuration",),
    ),
    **dict.fromkeys(
        (
            "secret_scanning_alert",
            "secret_scanning_alert_location",
            "code_scanning_alert",
            "dependabot_alert",
            "repository_vulnerability_alert",
        ),
        ("vulnerability",),
    ),
}
# The object a payload is about, per event, where its name differs from the event's.
_RUNS = ("workflow_run", "workflow_job", "check_run", "check_suite")


class GitHubProvider:
    name = "github"

    def verify(self, body: bytes, headers: Mapping[str, str], keys: Keys, now: float) -> Refusal | None:
        return verify_hex_signature(body, headers, keys.secrets, "X-Hub-Signature-256", "sha256=")

    def delivery(self, headers: Mapping[str, str]) -> Delivery | Refusal:
        return read_delivery(
            headers, event_headers=("X-GitHub-Event",), id_headers=("X-GitHub-Delivery",), host="github"
        )

    def normalise(self, event: str, payload: dict[str, Any]) -> Normalised:
        action = text(payload.get("action"))
        return Normalised(
            dataset=event,
            action=f"{event}.{action}" if action else event,
            actor=first_text(login(payload.get("sender")), dig(payload, "pusher", "name")),
            target=first_text(
                login(payload.get("member")),
                login(dig(payload, "membership", "user")),
                login(payload.get("blocked_user")),
            ),
            outcome=_outcome(payload),
            category=CATEGORIES.get(event, ()),
            url=first_text(
                dig(payload, "pull_request", "html_url"),
                payload.get("compare"),
                dig(payload, "alert", "html_url"),
                *(dig(payload, run, "html_url") for run in _RUNS),
                dig(payload, "repository", "html_url"),
            ),
            git=git_facts(event, payload),
        )


def git_facts(event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The provider-neutral git summary of a GitHub-shaped payload (Gitea and Forgejo send the same shape)."""
    repository = payload.get("repository")
    facts: dict[str, Any] = {
        "repository": text(dig(repository, "full_name")),
        "owner": first_text(login(payload.get("organization")), login(dig(repository, "owner"))),
        "visibility": visibility(repository),
    }
    if event == "push":
        facts.update(push_facts(payload))
    elif event in ("create", "delete"):
        facts.update(ref_facts(text(payload.get("ref")), text(payload.get("ref_type"))))
    if isinstance(payload.get("pull_request"), dict):
        facts["pull_request"] = pull_request_facts(payload["pull_request"])
    for run in _RUNS:
        if isinstance(payload.get(run), dict):
            facts["run"] = _run_facts(payload[run])
            facts.update(ref_facts(text(dig(payload, run, "head_branch")), "branch"))
    facts["team"] = text(dig(payload, "team", "name"))
    facts["hook_id"] = integer(payload.get("hook_id")) or integer(dig(payload, "hook", "id"))
    if event == "deploy_key":
        facts["deploy_key"] = compact(
            {"title": text(dig(payload, "key", "title")), "read_only": flag(dig(payload, "key", "read_only"))}
        )
    if event == "repository" and isinstance(payload.get("changes"), dict):
        facts["changed"] = sorted(key for key in payload["changes"] if isinstance(key, str))
    return compact(facts)


def visibility(repository: Any) -> str | None:
    """`public`, `private` or `internal`. The `private` flag decides: an internal repository is private
    with `visibility: internal`, and payloads exist whose `visibility` lags behind the flag."""
    private = flag(dig(repository, "private"))
    explicit = (text(dig(repository, "visibility")) or "").lower()
    if private is None:
        return explicit or None
    if not private:
        return "public"
    return "internal" if explicit == "internal" else "private"


def _run_facts(run: dict[str, Any]) -> dict[str, Any]:
    return compact(
        {
            "name": text(run.get("name")),
            "status": text(run.get("status")),
            "conclusion": text(run.get("conclusion")),
            "trigger": text(run.get("event")),
        }
    )


def _outcome(payload: dict[str, Any]) -> Outcome:
    """A run's conclusion where the event is about a run; otherwise the action reported did happen."""
    for run in _RUNS:
        if isinstance(payload.get(run), dict):
            return run_outcome(text(payload[run].get("conclusion")))
    return "success"
