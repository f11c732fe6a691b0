"""Constant-time checks the providers share: hex HMAC-SHA256 headers, shared tokens, Standard Webhooks.

Every comparison goes through `hmac.compare_digest`, and every accepted key is compared
(no early exit), so timing says neither how close a guess was nor which key matched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping

from services.webhook.providers.base import Refusal

_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_MESSAGE_ID = re.compile(r"[A-Za-z0-9._:{}\-]{1,128}")


def parse_hex_digest(value: str, prefix: str = "") -> bytes | None:
    """The 32 bytes of `prefix` + 64 hex digits, or None for anything else."""
    if not value.startswith(prefix):
        return None
    digits = value[len(prefix) :]
    return bytes.fromhex(digits) if _HEX_SHA256.fullmatch(digits) else None


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def any_digest_matches(expected: Iterable[bytes], presented: Iterable[bytes]) -> bool:
    """Whether any presented digest equals any expected one, comparing every pair."""
    presented = list(presented)
    matched = False
    for digest in expected:
        for candidate in presented:
            matched |= hmac.compare_digest(digest, candidate)
    return matched


def verify_hex_signature(
    body: bytes, headers: Mapping[str, str], secrets: tuple[bytes, ...], header: str, prefix: str = ""
) -> Refusal | None:
    """GitHub, Gitea/Forgejo and Bitbucket: `header` holds `prefix` + hex HMAC-SHA256 of the raw body."""
    value = headers.get(header)
    if not value:
        return Refusal("missing_signature", f"the {header} header is required")
    presented = parse_hex_digest(value, prefix)
    if presented is None:
        return Refusal("malformed_signature", f"the {header} header is not {prefix or ''}<64 hex digits>")
    if not any_digest_matches((hmac_sha256(secret, body) for secret in secrets), [presented]):
        return Refusal("signature_mismatch", f"the {header} signature does not match the body")
    return None


def verify_token(headers: Mapping[str, str], tokens: tuple[bytes, ...], header: str) -> Refusal | None:
    """A shared token sent as is: compared as SHA-256 digests, so even its length does not leak."""
    value = headers.get(header)
    if not value:
        return Refusal("missing_token", f"the {header} header is required")
    presented = hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
    if not any_digest_matches((hashlib.sha256(token).digest() for token in tokens), [presented]):
        return Refusal("token_mismatch", f"the {header} header does not match")
    return None


def verify_standard_webhook(
    body: bytes, headers: Mapping[str, str], keys: tuple[bytes, ...], now: float, tolerance_seconds: float
) -> Refusal | None:
    """Standard Webhooks (standardwebhooks.com): `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

    The signed content covers the message id and the time, so, unlike a body-only HMAC, a
    captured request cannot be replayed under another id or after `tolerance_seconds`.
    """
    message_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (message_id and timestamp and signatures):
        return Refusal(
            "missing_signature", "the webhook-id, webhook-timestamp and webhook-signature headers are required"
        )
    if not (_MESSAGE_ID.fullmatch(message_id) and _TIMESTAMP.fullmatch(timestamp)):
        return Refusal("malformed_signature", "webhook-id or webhook-timestamp is malformed")
    if abs(now - int(timestamp)) > tolerance_seconds:
        return Refusal("stale_timestamp", f"webhook-timestamp is more than {tolerance_seconds:.0f}s from now")
    presented = _standard_signatures(signatures)
    if not presented:
        return Refusal("malformed_signature", "webhook-signature holds no v1,<base64> entry")
    signed = f"{message_id}.{timestamp}.".encode() + body
    if not any_digest_matches((hmac_sha256(key, signed) for key in keys), presented):
        return Refusal("signature_mismatch", "the webhook-signature does not match")
    return None


def _standard_signatures(header: str) -> list[bytes]:
    """The v1 entries of a space-separated `v1,<base64> v1a,<…>` list; other versions are not ours."""
    found = []
    for entry in header.split(" "):
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


def decode_standard_secret(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (the prefix is optional); ValueError when malformed."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not whsec_<base64>") from None
    if not key:
        raise ValueError("empty key")
    return key
