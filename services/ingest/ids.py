"""Deterministic event ids for sources whose items carry no id of their own, or an id a sender can forge."""

from __future__ import annotations

import hashlib


def content_id(prefix: str, *parts: str | bytes) -> str:
    """`prefix-<32 hex>`: a BLAKE2b digest of the parts, each length-prefixed so no two splits collide."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return f"{prefix}-{digest.hexdigest()}"
