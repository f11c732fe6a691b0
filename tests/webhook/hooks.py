"""What a Git host does, for tests: sign a body the way each host signs it, and name the event of a corpus file.

The corpus holds request bodies only (SOURCES.md): the event header each file goes with is
derived from its name here, and the signature is computed from a test secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from pathlib import Path
from typing import Any

from tests.conftest import CORPUS

GITHUB_SECRET = b"github-test-secret"
GITLAB_TOKEN = b"gitlab-test-token"
GITLAB_SIGNING_KEY = bytes(range(32))
GITLAB_SIGNING_TOKEN = "whsec_" + base64.b64encode(GITLAB_SIGNING_KEY).decode()
GITEA_SECRET = b"gitea-test-secret"
BITBUCKET_SECRET = b"bitbucket-test-secret"

TEST_SETTINGS: dict[str, Any] = {
    "webhook_github_secrets": [GITHUB_SECRET.decode()],
    "webhook_gitlab_tokens": [GITLAB_TOKEN.decode()],
    "webhook_gitea_secrets": [GITEA_SECRET.decode()],
    "webhook_bitbucket_secrets": [BITBUCKET_SECRET.decode()],
}


def hex_hmac(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def standard_signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def github_headers(
    body: bytes, event: str, delivery: str | None = None, secret: bytes = GITHUB_SECRET
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + hex_hmac(secret, body),
    }


def gitlab_headers(event: str, delivery: str | None = None, token: bytes = GITLAB_TOKEN) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Gitlab-Event": event,
        "Idempotency-Key": delivery or str(uuid.uuid4()),
        "X-Gitlab-Token": token.decode(),
    }


def gitea_headers(
    body: bytes, event: str, delivery: str | None = None, secret: bytes = GITEA_SECRET, *, forgejo: bool = False
) -> dict[str, str]:
    prefix = "X-Forgejo" if forgejo else "X-Gitea"
    return {
        "Content-Type": "application/json",
        f"{prefix}-Event": event,
        f"{prefix}-Delivery": delivery or str(uuid.uuid4()),
        f"{prefix}-Signature": hex_hmac(secret, body),
    }


def bitbucket_headers(
    body: bytes, event: str, delivery: str | None = None, secret: bytes = BITBUCKET_SECRET
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Event-Key": event,
        "X-Request-Id": delivery or str(uuid.uuid4()),
        "X-Hub-Signature": "sha256=" + hex_hmac(secret, body),
    }


def signed_headers(provider: str, body: bytes, event: str, delivery: str | None = None) -> dict[str, str]:
    """Headers as the host sends them, signed with the test secret of `provider`."""
    if provider == "github":
        return github_headers(body, event, delivery)
    if provider == "gitlab":
        return gitlab_headers(event, delivery)
    if provider == "gitea":
        return gitea_headers(body, event, delivery)
    return bitbucket_headers(body, event, delivery)


# GitLab: ordered (substring of the file's path, X-Gitlab-Event); the first match wins.
_GITLAB_EVENTS = (
    ("systemhooks/", "System Hook"),
    ("/system-", "System Hook"),
    ("tag", "Tag Push Hook"),
    ("push", "Push Hook"),
    ("branch", "Push Hook"),
    ("confidential-comment", "Confidential Note Hook"),
    ("comment", "Note Hook"),
    ("note", "Note Hook"),
    ("merge", "Merge Request Hook"),
    ("pull_request", "Merge Request Hook"),
    ("pipeline", "Pipeline Hook"),
    ("build", "Job Hook"),
    ("job", "Job Hook"),
    ("deployment", "Deployment Hook"),
    ("confidential-issue", "Confidential Issue Hook"),
    ("issue", "Issue Hook"),
    ("release", "Release Hook"),
    ("wiki", "Wiki Page Hook"),
    ("feature_flag", "Feature Flag Hook"),
    ("resource_access_token", "Resource Access Token Hook"),
    ("subgroup", "Subgroup Hook"),
    ("member", "Member Hook"),
)


def event_header(provider: str, path: Path) -> str:
    """The event header the host sends with the corpus file at `path`."""
    if provider == "github":  # <event>.<name>.json
        return path.name.split(".", 1)[0]
    if provider == "gitea":  # push-event.json, pull-request-event.json, branch_create.json, tag_delete.json
        stem = path.stem.removesuffix("-event").replace("-", "_")
        if stem.endswith(("_create", "_delete")) and stem.startswith(("branch", "tag")):
            return stem.rsplit("_", 1)[1]
        return "pull_request" if stem.startswith("pull_request") else stem
    relative = "/".join(path.parts[-2:])
    for fragment, header in _GITLAB_EVENTS:
        if fragment in ("/" + relative if fragment.startswith("/") else relative):
            return header
    raise AssertionError(f"no GitLab event header known for {relative}")


def corpus_payloads(corpus: Path, provider: str) -> list[Path]:
    """Every JSON payload the corpus holds for `provider`, licences left out."""
    return sorted(corpus.joinpath(provider).rglob("*.json"))


# Collected at import, for parametrisation; the `corpus` fixture still guards each test.
CORPUS_FILES = [
    (provider, path.relative_to(CORPUS).as_posix())
    for provider in ("github", "gitlab", "gitea")
    for path in (corpus_payloads(CORPUS, provider) if CORPUS.is_dir() else [])
]
