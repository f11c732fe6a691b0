"""Bitbucket Server and Cloud payloads normalised, and a signed delivery accepted over HTTP.

The shared corpus has no Bitbucket payload, so these bodies are written here, trimmed to the
fields we read, in the shapes Atlassian documents for `repo:refs_changed` and `pr:merged`
(Data Center event payloads) and `repo:push` (Cloud event payloads).
"""

from __future__ import annotations

from typing import Any

import orjson

from services.shared import topics
from services.shared.bus.memory import MemoryBus
from services.webhook.providers import PROVIDERS
from tests.webhook.conftest import MakeClient, read_topic
from tests.webhook.hooks import bitbucket_headers

SERVER_USER = {"name": "gopher", "slug": "gopher", "displayName": "Foo Bar", "emailAddress": "gopher@example.com"}
SERVER_REPOSITORY = {"slug": "webhook-test", "name": "webhook-test", "project": {"key": "PRJ"}, "public": False}
REFS_CHANGED: dict[str, Any] = {
    "eventKey": "repo:refs_changed",
    "date": "2019-03-01T10:37:14+0100",
    "actor": SERVER_USER,
    "repository": SERVER_REPOSITORY,
    "changes": [
        {
            "ref": {"id": "refs/heads/main", "displayId": "main", "type": "BRANCH"},
            "refId": "refs/heads/main",
            "fromHash": "32a0b8a740c2963c6f56bd8baf3dc05683d299e0",
            "toHash": "cde6c45a4210afe81638aa1f3aa960d633c66a90",
            "type": "UPDATE",
        },
        {
            "ref": {"id": "refs/tags/v1", "displayId": "v1", "type": "TAG"},
            "refId": "refs/tags/v1",
            "fromHash": "0000000000000000000000000000000000000000",
            "toHash": "cde6c45a4210afe81638aa1f3aa960d633c66a90",
            "type": "ADD",
        },
    ],
}
PR_MERGED: dict[str, Any] = {
    "eventKey": "pr:merged",
    "actor": SERVER_USER,
    "pullRequest": {
        "id": 5,
        "state": "MERGED",
        "fromRef": {"id": "refs/heads/feature/wip", "displayId": "feature/wip", "repository": SERVER_REPOSITORY},
        "toRef": {"id": "refs/heads/main", "displayId": "main", "repository": SERVER_REPOSITORY},
        "links": {"self": [{"href": "https://bitbucket.example/projects/PRJ/repos/webhook-test/pull-requests/5"}]},
    },
}
CLOUD_PUSH: dict[str, Any] = {
    "actor": {"display_name": "Emma", "nickname": "emmap1", "uuid": "{a54f16da-24e9-4d7f-a3a7-b1ba2cd98aa3}"},
    "repository": {
        "full_name": "team_name/repo_name",
        "is_private": True,
        "workspace": {"slug": "team_name"},
        "links": {"html": {"href": "https://bitbucket.org/team_name/repo_name"}},
    },
    "push": {
        "changes": [
            {
                "new": {
                    "type": "branch",
                    "name": "main",
                    "target": {"hash": "709d658dc5b6d6afcd46049c2f332ee3f515a67d"},
                },
                "old": {
                    "type": "branch",
                    "name": "main",
                    "target": {"hash": "1e65c05c1d5171631d92438a13901ca7dae9618c"},
                },
                "created": False,
                "forced": True,
                "closed": False,
                "commits": [
                    {"hash": "03f4a727", "author": {"raw": "Emma <emma@example.com>", "user": {"nickname": "emmap1"}}}
                ],
            }
        ]
    },
}


def test_a_server_push_reports_every_changed_ref() -> None:
    """repo:refs_changed: the first ref in detail, every ref in `refs`, the actor's user name."""
    facts = PROVIDERS["bitbucket"].normalise("repo:refs_changed", REFS_CHANGED)
    assert (facts.dataset, facts.action, facts.actor) == ("repo", "repo.refs_changed", "gopher")
    assert facts.git == {
        "repository": "PRJ/webhook-test",
        "owner": "PRJ",
        "visibility": "private",
        "ref": "refs/heads/main",
        "branch": "main",
        "before": "32a0b8a740c2963c6f56bd8baf3dc05683d299e0",
        "after": "cde6c45a4210afe81638aa1f3aa960d633c66a90",
        "created": False,
        "deleted": False,
        "refs": ["refs/heads/main", "refs/tags/v1"],
    }


def test_a_server_merge_names_the_merger() -> None:
    """pr:merged: the pull request is merged, by the actor, from head into base."""
    facts = PROVIDERS["bitbucket"].normalise("pr:merged", PR_MERGED)
    assert facts.git["pull_request"] == {
        "number": 5,
        "state": "merged",
        "merged": True,
        "merged_by": "gopher",
        "base": "main",
        "head": "feature/wip",
    }
    assert facts.url == "https://bitbucket.example/projects/PRJ/repos/webhook-test/pull-requests/5"


def test_a_cloud_push_reports_a_forced_push() -> None:
    """Cloud repo:push: branch, before/after, forced, commit authors, the workspace."""
    facts = PROVIDERS["bitbucket"].normalise("repo:push", CLOUD_PUSH)
    assert facts.actor == "emmap1"
    assert {
        k: facts.git[k] for k in ("repository", "owner", "visibility", "branch", "forced", "commits", "authors")
    } == {
        "repository": "team_name/repo_name",
        "owner": "team_name",
        "visibility": "private",
        "branch": "main",
        "forced": True,
        "commits": 1,
        "authors": ["emmap1"],
    }


async def test_a_signed_bitbucket_delivery_is_accepted(make_client: MakeClient, bus: MemoryBus) -> None:
    """X-Hub-Signature: sha256=<hex> over the body, X-Event-Key and X-Request-Id: 202 and one envelope."""
    body = orjson.dumps(REFS_CHANGED)
    client = await make_client()
    response = await client.post("/webhook/bitbucket", data=body, headers=bitbucket_headers(body, "repo:refs_changed"))
    assert response.status == 202
    (message,) = await read_topic(bus, topics.EVENTS)
    envelope = orjson.loads(message.value)
    assert envelope["logsource"] == {"product": "bitbucket", "service": "webhook", "category": None}
    assert (envelope["event"]["dataset"], envelope["git"]["branch"]) == ("bitbucket.repo", "main")
