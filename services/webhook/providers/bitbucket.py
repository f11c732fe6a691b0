"""Bitbucket webhooks, Data Center/Server and Cloud: `X-Hub-Signature: sha256=<hex>` over the raw body.

The event is `X-Event-Key` (`repo:refs_changed`, `pr:merged`; Cloud: `repo:push`,
`pullrequest:fulfilled`), the delivery id `X-Request-Id` (Server) or `X-Request-UUID` (Cloud).
Server and Cloud shape their payloads differently; both are read here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.webhook.providers.base import Delivery, Keys, Normalised, Refusal, read_delivery
from services.webhook.providers.payload import (
    compact,
    dicts,
    dig,
    first_text,
    flag,
    integer,
    login,
    ref_facts,
    run_outcome,
    text,
    unique,
)
from services.webhook.providers.signature import verify_hex_signature

_CONFIGURATION = frozenset({"repo:modified", "repo:updated", "repo:created", "repo:deleted", "project:modified"})


class BitbucketProvider:
    name = "bitbucket"

    def verify(self, body: bytes, headers: Mapping[str, str], keys: Keys, now: float) -> Refusal | None:
        return verify_hex_signature(body, headers, keys.secrets, "X-Hub-Signature", "sha256=")

    def delivery(self, headers: Mapping[str, str]) -> Delivery | Refusal:
        return read_delivery(
            headers, event_headers=("X-Event-Key",), id_headers=("X-Request-Id", "X-Request-UUID"), host="bitbucket"
        )

    def normalise(self, event: str, payload: dict[str, Any]) -> Normalised:
        family = event.partition(":")[0]
        status = text(dig(payload, "commit_status", "state"))  # Cloud's build status events
        return Normalised(
            dataset=family,
            action=event.replace(":", "."),
            actor=login(payload.get("actor")),
            outcome=run_outcome(status.lower()) if status else "success",
            category=("configuration",) if event in _CONFIGURATION else (),
            url=first_text(
                dig(payload, "pullrequest", "links", "html", "href"),
                _server_link(dig(payload, "pullRequest")),
                dig(payload, "repository", "links", "html", "href"),
                _server_link(payload.get("repository")),
            ),
            git=compact(
                {
                    **_repository_facts(payload.get("repository")),
                    **_push_facts(payload),
                    "pull_request": _pull_request(event, payload),
                }
            ),
        )


def _server_link(thing: Any) -> str | None:
    """Server links are `{"self": [{"href": …}]}`."""
    links = dicts(dig(thing, "links", "self"))
    return text(links[0].get("href")) if links else None


def _repository_facts(repository: Any) -> dict[str, Any]:
    project_key = text(dig(repository, "project", "key"))
    slug = text(dig(repository, "slug"))
    cloud_private, server_public = flag(dig(repository, "is_private")), flag(dig(repository, "public"))
    if cloud_private is not None:
        visibility: str | None = "private" if cloud_private else "public"
    elif server_public is not None:
        visibility = "public" if server_public else "private"
    else:
        visibility = None
    return {
        "repository": first_text(
            dig(repository, "full_name"), f"{project_key}/{slug}" if project_key and slug else None
        ),
        "owner": first_text(dig(repository, "workspace", "slug"), login(dig(repository, "owner")), project_key),
        "visibility": visibility,
    }


def _push_facts(payload: dict[str, Any]) -> dict[str, Any]:
    """The first changed ref in detail, every changed ref in `refs` (one event may carry several)."""
    server = dicts(payload.get("changes"))
    cloud = dicts(dig(payload, "push", "changes"))
    if server:
        first = server[0]
        return {
            **ref_facts(first_text(dig(first, "ref", "id"), first.get("refId"))),
            "before": text(first.get("fromHash")),
            "after": text(first.get("toHash")),
            "created": text(first.get("type")) == "ADD",
            "deleted": text(first.get("type")) == "DELETE",
            "refs": unique(first_text(dig(c, "ref", "id"), c.get("refId")) for c in server),
        }
    if cloud:
        first = cloud[0]
        side = first.get("new") if isinstance(first.get("new"), dict) else first.get("old")
        commits = [commit for change in cloud for commit in dicts(change.get("commits"))]
        return {
            **ref_facts(text(dig(side, "name")), text(dig(side, "type"))),
            "before": text(dig(first, "old", "target", "hash")),
            "after": text(dig(first, "new", "target", "hash")),
            "created": flag(first.get("created")),
            "deleted": flag(first.get("closed")),
            "forced": any(flag(change.get("forced")) for change in cloud),
            "commits": len(commits),
            "authors": unique(login(dig(c, "author", "user")) or text(dig(c, "author", "raw")) for c in commits),
            "refs": unique(text(dig(change.get("new") or change.get("old"), "name")) for change in cloud),
        }
    return {}


def _pull_request(event: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    server, cloud = payload.get("pullRequest"), payload.get("pullrequest")
    if isinstance(server, dict):
        state = text(server.get("state"))
        return compact(
            {
                "number": integer(server.get("id")),
                "state": state.lower() if state else None,
                "merged": state == "MERGED",
                "merged_by": login(payload.get("actor")) if event == "pr:merged" else None,
                "base": text(dig(server, "toRef", "displayId")),
                "head": text(dig(server, "fromRef", "displayId")),
            }
        )
    if isinstance(cloud, dict):
        state = text(cloud.get("state"))
        return compact(
            {
                "number": integer(cloud.get("id")),
                "state": state.lower() if state else None,
                "merged": state == "MERGED",
                "merged_by": login(cloud.get("closed_by")) if state == "MERGED" else None,
                "base": text(dig(cloud, "destination", "branch", "name")),
                "head": text(dig(cloud, "source", "branch", "name")),
                "head_repository": text(dig(cloud, "source", "repository", "full_name")),
            }
        )
    return None
