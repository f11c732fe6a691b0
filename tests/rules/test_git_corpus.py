"""Git rules on real webhook payloads (octokit's GitHub examples, GitLab system hooks) through `siem replay`.

The corpus files are request bodies without headers: each replay line is `{"event": <file prefix>, "payload": …}`,
built in tmp_path. Where the corpus has no example of the dangerous variant (no force push, no admin added), the
test changes the one field that makes it so in a copy of a real payload, and keeps the original as the near miss.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.rules.conftest import SiemRun

Replay = Callable[..., SiemRun]
Hook = tuple[str, dict[str, Any]]


def payload(corpus: Path, name: str) -> dict[str, Any]:
    return json.loads((corpus / "github" / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def hook_file(tmp_path: Path, name: str, hooks: list[Hook]) -> Path:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps({"event": event, "payload": body}) + "\n" for event, body in hooks))
    return path


def titles(result: SiemRun) -> list[str]:
    return [alert.rule.title for alert in result.alerts()]


def test_force_push_to_the_default_branch_fires(corpus: Path, replay: Replay, tmp_path: Path) -> None:
    """A push to master marked `forced` alerts; the same real push without `forced` does not."""
    push = payload(corpus, "push.with-new-branch.payload")
    forced = copy.deepcopy(push) | {"forced": True, "created": False}
    title = "Git Force Push To Default Or Protected Branch"
    assert titles(replay("github", hook_file(tmp_path, "forced", [("push", forced)]))) == [title]
    assert title not in titles(replay("github", hook_file(tmp_path, "plain", [("push", push)])))


def test_secret_looking_file_in_a_push_fires(corpus: Path, replay: Replay, tmp_path: Path) -> None:
    """A real push whose commit also adds `.env` alerts; the push as recorded (README.md only) does not."""
    push = payload(corpus, "push.with-new-branch.payload")
    leaking = copy.deepcopy(push)
    leaking["commits"][0]["added"].append("config/.env")
    title = "Git Secret Looking File Committed"
    assert titles(replay("github", hook_file(tmp_path, "leak", [("push", leaking)]))) == [title]
    assert titles(replay("github", hook_file(tmp_path, "plain", [("push", push)]))) == []


@pytest.mark.parametrize(
    ("event", "name", "title"),
    [
        ("branch_protection_rule", "branch_protection_rule.deleted.payload", "Git Branch Protection Removed"),
        ("repository", "repository.publicized.payload", "Git Repository Made Public"),
        ("public", "public.payload", "Git Repository Made Public"),
        ("deploy_key", "deploy_key.created.payload", "Git Deploy Key Added"),
        ("organization", "organization.member_added.payload", "Git Organization Member Added"),
        ("secret_scanning_alert", "secret_scanning_alert.reopened.payload", "Git Secret Scanning Alert"),
    ],
)
def test_a_real_payload_fires_its_rule(
    event: str, name: str, title: str, corpus: Path, replay: Replay, tmp_path: Path
) -> None:
    """Each of these recorded deliveries raises exactly its rule's alert."""
    result = replay("github", hook_file(tmp_path, name, [(event, payload(corpus, name))]))
    assert titles(result) == [title]


def test_organization_admin_added_needs_the_admin_role(corpus: Path, replay: Replay, tmp_path: Path) -> None:
    """The recorded member_added (role member) is no admin alert; the same delivery with role admin is."""
    member = payload(corpus, "organization.member_added.payload")
    admin = copy.deepcopy(member)
    admin["membership"]["role"] = "admin"
    title = "Git Organization Admin Added"
    assert title not in titles(replay("github", hook_file(tmp_path, "member", [("organization", member)])))
    assert title in titles(replay("github", hook_file(tmp_path, "admin", [("organization", admin)])))


def test_gitlab_owner_added_to_a_group_is_an_admin(corpus: Path, replay: Replay, tmp_path: Path) -> None:
    """GitLab's system hook user_add_to_group alerts as admin only when the access level is Owner."""
    hook = json.loads((corpus / "gitlab/go-playground-webhooks/system-group-member-added.json").read_text())
    owner = hook | {"group_access": "Owner"}
    assert titles(replay("gitlab", hook_file(tmp_path, "maintainer", [("System Hook", hook)]))) == [
        "Git Organization Member Added"
    ]
    assert "Git Organization Admin Added" in titles(
        replay("gitlab", hook_file(tmp_path, "owner", [("System Hook", owner)]))
    )


def test_three_repositories_deleted_by_one_actor_fire_once(corpus: Path, replay: Replay, tmp_path: Path) -> None:
    """Three `repository.deleted` deliveries by Codertocat alert once, grouped on that actor; two do not."""
    created = payload(corpus, "repository.created.payload")

    def deleted(name: str) -> Hook:
        body = copy.deepcopy(created) | {"action": "deleted"}
        body["repository"] |= {"name": name, "full_name": f"Octocoders/{name}"}
        return ("repository", body)

    title = "Git Many Repositories Deleted By One Actor"
    three = replay("github", hook_file(tmp_path, "three", [deleted("a"), deleted("b"), deleted("c")]))
    (alert,) = [a for a in three.alerts() if a.rule.title == title]
    assert alert.group == {"user.name": "Codertocat"} and alert.count == 3
    assert alert.rule.level == "critical"
    two = replay("github", hook_file(tmp_path, "two", [deleted("a"), deleted("b")]))
    assert title not in titles(two)


def test_the_other_github_examples_raise_nothing(corpus: Path, replay: Replay, tmp_path: Path) -> None:
    """Every other octokit example (pushes, pull requests, teams, pings, privatized…) replays without an alert."""
    alerting = {
        "branch_protection_rule.deleted.payload.json",
        "repository.publicized.payload.json",
        "repository.publicized.with-organization.payload.json",
        "public.payload.json",
        "public.with-installation.payload.json",
        "deploy_key.created.payload.json",
        "organization.member_added.payload.json",
        "organization.member_added.with-installation.payload.json",
        "secret_scanning_alert.reopened.payload.json",
    }
    quiet = [p for p in sorted((corpus / "github").glob("*.json")) if p.name not in alerting]
    path = hook_file(tmp_path, "quiet", [(p.name.split(".")[0], json.loads(p.read_text())) for p in quiet])
    assert replay("github", path).alerts() == []
