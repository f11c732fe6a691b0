"""Which changed file paths count as sensitive: keys, secrets, credentials, kube configs — not templates."""

from __future__ import annotations

import pytest

from services.webhook.sensitive import is_sensitive, sensitive_files


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "app/.env.production",
        "certs/tls.PEM",
        "keys/server.key",
        "home/.ssh/id_rsa",
        "id_ed25519",
        "store.p12",
        "release.jks",
        "ops/.kube/config",
        "clusters/prod.kubeconfig",
        "kubeconfig",
        ".aws/credentials",
        "gcp/credentials.json",
        ".git-credentials",
        ".npmrc",
        ".netrc",
        "config/secrets.yml",
        "infra/prod.tfvars",
        "service-account-prod.json",
    ],
)
def test_sensitive_paths_are_flagged(path: str) -> None:
    """Private keys, .env files, credential files and kube configs are flagged, in any folder and case."""
    assert is_sensitive(path)


@pytest.mark.parametrize(
    "path", ["README.md", "src/env.py", ".env.example", "config/secrets.yml.sample", "docs/keys.md", "id_rsa.pub"]
)
def test_ordinary_paths_and_templates_are_not(path: str) -> None:
    """Source files, public keys and the usual templates of secret files are not flagged."""
    assert not is_sensitive(path)


def test_the_list_keeps_first_seen_order_without_repeats() -> None:
    """Each sensitive path is listed once, in the order it first appeared."""
    assert sensitive_files(["a.pem", "x.py", ".env", "a.pem"]) == ["a.pem", ".env"]
