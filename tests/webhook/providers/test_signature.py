"""Signature checks against the hosts' published vectors, and property tests: nothing escapes, no forgery passes."""

from __future__ import annotations

import hmac
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from services.webhook.providers import PROVIDERS, Delivery, Keys, Refusal
from services.webhook.providers.signature import decode_standard_secret, verify_hex_signature, verify_standard_webhook
from tests.webhook.hooks import (
    BITBUCKET_SECRET,
    GITEA_SECRET,
    GITHUB_SECRET,
    GITLAB_SIGNING_KEY,
    GITLAB_TOKEN,
    signed_headers,
    standard_signature,
)

KEYS = {
    "github": Keys(secrets=(GITHUB_SECRET,)),
    "gitlab": Keys(tokens=(GITLAB_TOKEN,)),
    "gitea": Keys(secrets=(GITEA_SECRET,)),
    "bitbucket": Keys(secrets=(BITBUCKET_SECRET,)),
}
SIGNATURE_HEADERS = {
    "github": "X-Hub-Signature-256",
    "gitlab": "X-Gitlab-Token",
    "gitea": "X-Gitea-Signature",
    "bitbucket": "X-Hub-Signature",
}
NOW = 1_800_000_000.0


def test_githubs_documented_test_vector_verifies() -> None:
    """GitHub's docs: secret "It's a Secret to Everybody", body "Hello, World!" gives sha256=757107ea…3e17."""
    secret, body = b"It's a Secret to Everybody", b"Hello, World!"
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    headers = CIMultiDict({"X-Hub-Signature-256": signature})
    assert verify_hex_signature(body, headers, (secret,), "X-Hub-Signature-256", "sha256=") is None
    refused = verify_hex_signature(body + b" ", headers, (secret,), "X-Hub-Signature-256", "sha256=")
    assert refused is not None and refused.reason == "signature_mismatch"


def test_the_standard_webhooks_test_vector_verifies() -> None:
    """The Standard Webhooks specification's vector (used by GitLab signing tokens) verifies with its secret."""
    key = decode_standard_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    headers = CIMultiDict(
        {
            "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "webhook-timestamp": "1614265330",
            "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        }
    )
    body = b'{"test": 2432232314}'
    assert verify_standard_webhook(body, headers, (key,), 1614265330 + 10, 300) is None
    stale = verify_standard_webhook(body, headers, (key,), 1614265330 + 301, 300)
    assert stale is not None and stale.reason == "stale_timestamp"


def test_standard_signatures_may_list_several_entries() -> None:
    """A header with several space-separated entries (the sender's own rotation) verifies when one matches."""
    body = b"{}"
    good = standard_signature(GITLAB_SIGNING_KEY, "msg_1", int(NOW), body)
    other = standard_signature(b"x" * 32, "msg_1", int(NOW), body)
    headers = CIMultiDict({"webhook-id": "msg_1", "webhook-timestamp": str(int(NOW))})
    headers["webhook-signature"] = f"v1a,abc {other} {good}"
    assert verify_standard_webhook(body, headers, (GITLAB_SIGNING_KEY,), NOW, 300) is None


@pytest.mark.parametrize("secret", ["not base64!", "whsec_", ""])
def test_a_malformed_signing_secret_is_refused(secret: str) -> None:
    """A signing secret that is not whsec_<base64> of a non-empty key raises ValueError."""
    with pytest.raises(ValueError):
        decode_standard_secret(secret)


def test_no_key_never_accepts() -> None:
    """With no key configured, a provider refuses even a request that carries every header."""
    body = b"{}"
    for name, provider in PROVIDERS.items():
        headers = CIMultiDict(signed_headers(name, body, "push"))
        assert provider.verify(body, headers, Keys(), NOW) is not None, name


# Header values: any text (lone surrogates too, as a decoder may leave them), signature-like and id-like tokens.
header_values = st.one_of(
    st.text(max_size=120),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=4),
    st.from_regex(r"(sha256=|v1,)?[0-9a-fA-F+/=]{0,90}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9 :._-]{1,70}", fullmatch=True),
)
headers_strategy = st.dictionaries(
    st.sampled_from(
        [
            "X-Hub-Signature-256",
            "X-Hub-Signature",
            "X-Gitea-Signature",
            "X-Forgejo-Signature",
            "X-Gitlab-Token",
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "X-GitHub-Event",
            "X-GitHub-Delivery",
            "X-Gitlab-Event",
            "Idempotency-Key",
            "X-Gitea-Event",
            "X-Forgejo-Event",
            "X-Gitea-Delivery",
            "X-Event-Key",
            "X-Request-Id",
        ]
    ),
    header_values,
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(PROVIDERS)), body=st.binary(max_size=512), headers=headers_strategy)
def test_verification_of_any_request_returns_a_verdict_and_never_passes_unsigned(
    name: str, body: bytes, headers: dict[str, str]
) -> None:
    """Whatever the headers and body, verify returns a Refusal (no exception), since nothing was signed."""
    keys = Keys(secrets=(b"a-secret",), tokens=(b"a-token",))
    verdict = PROVIDERS[name].verify(body, CIMultiDict(headers), keys, NOW)
    assert isinstance(verdict, Refusal)
    assert verdict.status == 401 and verdict.reason.isidentifier()


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(PROVIDERS)), headers=headers_strategy)
def test_delivery_headers_parse_to_plain_tokens_or_a_refusal(name: str, headers: dict[str, str]) -> None:
    """Any headers give a Delivery of short plain tokens or a 400 Refusal, never an exception."""
    result = PROVIDERS[name].delivery(CIMultiDict(headers))
    if isinstance(result, Delivery):
        assert 1 <= len(result.delivery_id) <= 128 and result.delivery_id.isascii()
        assert 1 <= len(result.event) <= 64 and result.event.isascii()
    else:
        assert result.status == 400


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(["github", "gitea", "bitbucket"]),
    body=st.binary(max_size=512),
    tampered=st.binary(max_size=512),
)
def test_a_signature_only_verifies_its_own_body(name: str, body: bytes, tampered: bytes) -> None:
    """A genuine signature verifies its body, and any other body under it is refused."""
    headers = CIMultiDict(signed_headers(name, body, "push"))
    assert PROVIDERS[name].verify(body, headers, KEYS[name], NOW) is None
    if tampered != body:
        refused = PROVIDERS[name].verify(tampered, headers, KEYS[name], NOW)
        assert refused is not None and refused.reason == "signature_mismatch"


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=256),
    tampered=st.binary(max_size=256),
    message_id=st.from_regex(r"[a-z0-9_]{1,40}", fullmatch=True),
)
def test_a_standard_signature_only_verifies_its_own_body_and_id(body: bytes, tampered: bytes, message_id: str) -> None:
    """A Standard-Webhooks signature binds body and id: changing either is refused."""
    keys = Keys(secrets=(GITLAB_SIGNING_KEY,))
    headers: dict[str, Any] = {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(NOW)),
        "webhook-signature": standard_signature(GITLAB_SIGNING_KEY, message_id, int(NOW), body),
    }
    assert PROVIDERS["gitlab"].verify(body, CIMultiDict(headers), keys, NOW) is None
    if tampered != body:
        assert PROVIDERS["gitlab"].verify(tampered, CIMultiDict(headers), keys, NOW) is not None
    other_id = CIMultiDict({**headers, "webhook-id": message_id + "x"})
    assert PROVIDERS["gitlab"].verify(body, other_id, keys, NOW) is not None


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(["github", "gitea", "bitbucket"]), digest=st.binary(min_size=32, max_size=32))
def test_a_guessed_digest_is_refused(name: str, digest: bytes) -> None:
    """A well-formed signature that is not the body's HMAC is refused as a mismatch."""
    body = b'{"a": 1}'
    expected = hmac.new(KEYS[name].secrets[0], body, "sha256").digest()
    prefix = "" if name == "gitea" else "sha256="
    headers = CIMultiDict({SIGNATURE_HEADERS[name]: prefix + digest.hex()})
    verdict = PROVIDERS[name].verify(body, headers, KEYS[name], NOW)
    assert (verdict is None) == (digest == expected)


def test_a_token_is_compared_whole() -> None:
    """GitLab's token must match exactly: a prefix, a longer value, another case are refused."""
    for guess in (GITLAB_TOKEN[:-1], GITLAB_TOKEN + b"x", GITLAB_TOKEN.upper()):
        headers = CIMultiDict({"X-Gitlab-Token": guess.decode()})
        verdict = PROVIDERS["gitlab"].verify(b"{}", headers, KEYS["gitlab"], NOW)
        assert verdict is not None and verdict.reason == "token_mismatch"
    good = CIMultiDict({"X-Gitlab-Token": GITLAB_TOKEN.decode()})
    assert PROVIDERS["gitlab"].verify(b"{}", good, KEYS["gitlab"], NOW) is None
