"""Every real payload of the shared corpus, posted as its host would post it, becomes one envelope on siem.events.

The corpus has bodies only: the event header comes from the file name and the signature
from a test secret (tests/webhook/hooks.py). A sample of each event type is checked field
by field; every file is checked for what every envelope must carry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from services.shared import topics
from services.shared.bus.memory import MemoryBus
from services.shared.event import Event
from services.webhook.envelope import envelope_id
from services.webhook.providers import Delivery
from tests.webhook.conftest import MakeClient, read_topic
from tests.webhook.hooks import CORPUS_FILES, corpus_payloads, event_header, signed_headers

# Exact values of the normalised (flattened) envelope, for one file of each event type.
SAMPLES: dict[str, dict[str, Any]] = {
    "github/push.with-new-branch.payload.json": {
        "event.dataset": "github.push",
        "event.action": "push",
        "event.outcome": "success",
        "user.name": "Codertocat",
        "git.repository": "Codertocat/Hello-World",
        "git.branch": "master",
        "git.created": True,
        "git.forced": False,
        "git.before": "0000000000000000000000000000000000000000",
        "git.after": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "git.commits": 1,
        "git.authors": ["Codertocat"],
        "git.files.added": ["README.md"],
    },
    "github/push.payload.json": {
        "git.tag": "simple-tag",
        "git.deleted": True,
        "git.commits": 0,
        "user.name": "Codertocat",
    },
    "github/pull_request.closed.payload.json": {
        "event.action": "pull_request.closed",
        "git.pull_request.number": 2,
        "git.pull_request.state": "closed",
        "git.pull_request.merged": False,
        "git.pull_request.base": "master",
        "git.pull_request.head": "changes",
        "url.full": "https://github.com/Codertocat/Hello-World/pull/2",
    },
    "github/branch_protection_rule.deleted.payload.json": {
        "event.action": "branch_protection_rule.deleted",
        "event.category": ["configuration"],
        "git.repository": "octo-org/octo-repo",
        "git.owner": "octo-org",
        "user.name": "Codertocat",
    },
    "github/repository.publicized.payload.json": {
        "event.action": "repository.publicized",
        "git.visibility": "public",
    },
    "github/repository.privatized.payload.json": {
        "event.action": "repository.privatized",
        "git.visibility": "private",
    },
    "github/repository.transferred.payload.json": {
        "event.action": "repository.transferred",
        "git.changed": ["owner"],
    },
    "github/member.edited.payload.json": {
        "event.action": "member.edited",
        "event.category": ["iam"],
        "user.name": "Codertocat",
        "user.target.name": "octocat",
    },
    "github/organization.member_added.payload.json": {
        "event.action": "organization.member_added",
        "user.name": "Codertocat",
        "user.target.name": "hacktocat",
        "git.owner": "Octocoders",
    },
    "github/team.added_to_repository.payload.json": {
        "event.action": "team.added_to_repository",
        "git.team": "github",
    },
    "github/deploy_key.created.payload.json": {
        "event.action": "deploy_key.created",
        "git.deploy_key.title": "hey-its-a-deploy-key",
        "git.deploy_key.read_only": True,
    },
    "github/secret_scanning_alert.reopened.payload.json": {
        "event.action": "secret_scanning_alert.reopened",
        "event.category": ["vulnerability"],
    },
    "github/workflow_run.completed.payload.json": {
        "event.action": "workflow_run.completed",
        "event.outcome": "success",
        "git.run.conclusion": "success",
        "git.branch": "master",
    },
    "github/workflow_run.requested.payload.json": {"event.outcome": "unknown", "git.run.status": "queued"},
    "github/ping.payload.json": {"event.action": "ping", "git.hook_id": 109948940},
    "github/org_block.blocked.payload.json": {"event.action": "org_block.blocked", "user.target.name": "hacktocat"},
    "github/create.payload.json": {"event.action": "create", "git.tag": "simple-tag"},
    "gitlab/go-gitlab/webhooks/push.json": {
        "event.dataset": "gitlab.push",
        "event.action": "push",
        "event.code": "Push Hook",
        "user.name": "jsmith",
        "git.repository": "mike/diaspora",
        "git.branch": "master",
        "git.commits": 4,
        "git.visibility": "private",
    },
    "gitlab/go-gitlab/webhooks/tag_push.json": {
        "event.action": "tag_push",
        "git.tag": "v1.0.0",
        "git.created": True,
    },
    "gitlab/drone-go-scm/pull_request_merge.json": {
        "event.action": "merge_request.merge",
        "git.pull_request.merged": True,
        "git.pull_request.merged_by": "sytses",
        "git.pull_request.base": "master",
        "git.pull_request.head": "feature",
    },
    "gitlab/go-gitlab/webhooks/pipeline.json": {
        "event.action": "pipeline.success",
        "event.outcome": "success",
        "git.run.status": "success",
    },
    "gitlab/go-gitlab/webhooks/job.json": {
        "event.dataset": "gitlab.build",
        "event.action": "build.success",
        "event.code": "Job Hook",
        "git.run.name": "auto_deploy:start",
    },
    "gitlab/go-gitlab/systemhooks/user_failed_login.json": {
        "event.dataset": "gitlab.user_failed_login",
        "event.code": "System Hook",
        "event.outcome": "failure",
        "event.category": ["authentication"],
        "user.name": "user4",
    },
    "gitlab/go-gitlab/systemhooks/user_add_to_group.json": {
        "event.action": "user_add_to_group",
        "event.category": ["iam"],
        "user.target.name": "johnsmith",
        "git.group_access": "Maintainer",
    },
    "gitlab/go-gitlab/systemhooks/project_transfer.json": {
        "event.action": "project_transfer",
        "event.category": ["configuration"],
        "git.old_repository": "jsmith/overscore",
    },
    "gitlab/go-gitlab/systemhooks/key_create.json": {"event.action": "key_create", "user.name": "root"},
    "gitea/go-playground-webhooks/push-event.json": {
        "event.dataset": "gitea.push",
        "event.provider": "gitea",
        "user.name": "example",
        "git.repository": "example/example",
        "git.branch": "master",
        "git.created": True,
        "git.files.added": ["example"],
    },
    "gitea/drone-go-scm/pull_request_merged.json": {
        "event.action": "pull_request.closed",
        "git.pull_request.merged": True,
        "git.pull_request.merged_by": "jcitizen",
    },
    "gitea/go-playground-webhooks/repository-event.json": {
        "event.action": "repository.created",
        "event.category": ["configuration"],
    },
    "gitea/drone-go-scm/branch_delete.json": {"event.action": "delete", "git.branch": "feature"},
}


def test_the_corpus_has_payloads_of_every_host(corpus: Path) -> None:
    """The corpus is there with payloads for GitHub, GitLab and Gitea (so the tests below cannot all vanish)."""
    counts = {provider: len(corpus_payloads(corpus, provider)) for provider in ("github", "gitlab", "gitea")}
    assert all(count > 0 for count in counts.values()), counts
    assert len(CORPUS_FILES) == sum(counts.values())
    assert set(SAMPLES) <= {relative for _, relative in CORPUS_FILES}


@pytest.mark.parametrize(("provider", "relative"), CORPUS_FILES, ids=[r for _, r in CORPUS_FILES])
async def test_a_corpus_payload_becomes_one_envelope(
    corpus: Path, provider: str, relative: str, make_client: MakeClient, bus: MemoryBus
) -> None:
    """A signed corpus payload answers 202 and puts one envelope with the module's fields on siem.events."""
    path = corpus / relative
    body, event = path.read_bytes(), event_header(provider, path)
    delivery = f"delivery-{path.stem}"
    client = await make_client()
    response = await client.post(
        f"/webhook/{provider}", data=body, headers=signed_headers(provider, body, event, delivery)
    )
    answer = await response.json()
    assert response.status == 202, answer
    expected_id = envelope_id(provider, Delivery(event=event, delivery_id=delivery, host=provider))
    assert answer == {"status": "accepted", "id": expected_id}

    (message,) = await read_topic(bus, topics.EVENTS)
    envelope = Event.model_validate_json(message.value)
    flat = envelope.normalised()
    assert (envelope.id, message.key) == (expected_id, expected_id.encode())
    assert (flat["logsource.product"], flat["logsource.service"]) == (provider, "webhook")
    assert (flat["event.module"], flat["event.code"], flat["event.id"]) == ("git", event, delivery)
    assert flat["event.dataset"].startswith(f"{provider}.")
    assert flat["event.action"].startswith(flat["event.dataset"].removeprefix(f"{provider}."))
    payload = orjson.loads(body)
    assert envelope.raw == {k: v for k, v in payload.items() if k != "secret"}
    for field, value in SAMPLES.get(relative, {}).items():
        assert flat.get(field) == value, field


async def test_a_hook_secret_in_a_gitea_body_is_not_forwarded(
    corpus: Path, make_client: MakeClient, bus: MemoryBus
) -> None:
    """Older Gitea put the hook secret in the body: the envelope's raw payload leaves it out."""
    body = (corpus / "gitea/drone-go-scm/pull_request_opened.json").read_bytes()
    assert b'"secret"' in body
    client = await make_client()
    response = await client.post("/webhook/gitea", data=body, headers=signed_headers("gitea", body, "pull_request"))
    assert response.status == 202
    (message,) = await read_topic(bus, topics.EVENTS)
    assert b"12345" not in message.value
