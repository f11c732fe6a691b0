"""Normalisation: any JSON object becomes a valid envelope, and the computed git facts are right."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.shared.errors import ParseError
from services.shared.event import Event
from services.webhook.app import decode_payload
from services.webhook.envelope import build_event, envelope_id
from services.webhook.providers import PROVIDERS, Delivery

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)
# Keys the normalisers look for, so generated payloads reach their branches, not only the "absent" ones.
known_keys = st.sampled_from(
    [
        "action", "sender", "pusher", "repository", "organization", "commits", "ref", "ref_type", "before", "after",
        "forced", "created", "deleted", "pull_request", "member", "membership", "workflow_run", "hook", "hook_id",
        "key", "changes", "object_kind", "event_name", "object_attributes", "user", "user_username", "username",
        "project", "build_status", "status", "actor", "push", "pullRequest", "pullrequest", "commit_status",
        "total_commits_count", "team", "secret",
    ]
)  # fmt: skip
payloads = st.dictionaries(st.one_of(known_keys, st.text(max_size=8)), json_values, max_size=10)
events = st.sampled_from(
    ["push", "pull_request", "create", "delete", "repository", "workflow_run", "deploy_key", "member", "ping"]
    + ["Push Hook", "System Hook", "Merge Request Hook", "repo:refs_changed", "repo:push", "pr:merged", "x"]
)
NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(sorted(PROVIDERS)), event=events, payload=payloads)
def test_any_json_object_becomes_a_valid_envelope(name: str, event: str, payload: dict[str, Any]) -> None:
    """No payload makes a normaliser raise, and the envelope always validates and round-trips as JSON."""
    facts = PROVIDERS[name].normalise(event, payload)
    envelope = build_event(name, Delivery(event, "d-1", name), payload, facts, NOW)
    again = Event.model_validate_json(envelope.model_dump_json())
    assert again.logsource.product == name and again.event.action
    assert "secret" not in again.raw


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=256), form=st.booleans())
def test_decoding_a_body_raises_only_parse_errors(body: bytes, form: bool) -> None:
    """Any bytes decode to a JSON object or raise ParseError with a bounded error type, nothing else."""
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    try:
        assert isinstance(decode_payload(body, content_type), dict)
    except ParseError as exc:
        assert exc.error_type in {"malformed_json", "invalid_payload", "malformed_form"}


def test_the_envelope_id_depends_on_provider_delivery_and_event_only() -> None:
    """Same provider, delivery id and event: same id; change any of them: another id."""
    base = envelope_id("github", Delivery("push", "abc", "github"))
    assert base == envelope_id("github", Delivery("push", "abc", "github"))
    assert len({base, envelope_id("gitea", Delivery("push", "abc", "gitea"))}) == 2
    assert len({base, envelope_id("github", Delivery("push", "abd", "github"))}) == 2
    assert len({base, envelope_id("github", Delivery("ping", "abc", "github"))}) == 2


def test_a_push_with_sensitive_files_lists_them(corpus: Path) -> None:
    """A real GitHub push, with a key and an .env added to its commit, reports them in sensitive_files."""
    payload = orjson.loads((corpus / "github/push.with-new-branch.payload.json").read_bytes())
    payload["commits"][0]["added"] += ["deploy/.env", "certs/server.pem"]
    payload["commits"][0]["modified"] = ["home/.kube/config", "src/app.py"]
    payload["commits"][0]["removed"] = ["id_ed25519", ".env.example"]
    git = PROVIDERS["github"].normalise("push", payload).git
    assert git["files"] == {
        "added": ["README.md", "deploy/.env", "certs/server.pem"],
        "modified": ["home/.kube/config", "src/app.py"],
        "removed": ["id_ed25519", ".env.example"],
    }
    assert git["sensitive_files"] == ["deploy/.env", "certs/server.pem", "home/.kube/config", "id_ed25519"]


def test_a_gitlab_push_reports_sensitive_files_too(corpus: Path) -> None:
    """GitLab commits carry the same added/modified/removed lists, so the same facts come out."""
    payload = orjson.loads((corpus / "gitlab/go-gitlab/webhooks/push.json").read_bytes())
    payload["commits"][0]["added"].append("config/credentials.json")
    git = PROVIDERS["gitlab"].normalise("Push Hook", payload).git
    assert git["sensitive_files"] == ["config/credentials.json"]
    assert git["authors"] == ["Jordi Mallach", "GitLab dev user"]


@pytest.mark.parametrize(
    ("header", "payload", "action", "actor", "target"),
    [
        ("System Hook", {"event_name": "user_create", "username": "new"}, "user_create", None, "new"),
        ("System Hook", {"event_name": "user_failed_login", "username": "eve"}, "user_failed_login", "eve", None),
        ("Job Hook", {"object_kind": "build", "build_status": "failed"}, "build.failed", None, None),
        ("Emoji Hook", {}, "emoji", None, None),
    ],
)
def test_gitlab_actions_actors_and_targets(
    header: str, payload: dict[str, Any], action: str, actor: str | None, target: str | None
) -> None:
    """GitLab: the action comes from the payload (the header as fallback); a user_* subject is a target."""
    facts = PROVIDERS["gitlab"].normalise(header, payload)
    assert (facts.action, facts.actor, facts.target) == (action, actor, target)
