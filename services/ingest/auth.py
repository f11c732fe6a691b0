"""Who is posting: a bearer token (or the password of HTTP Basic, which Jenkins' Notification plugin,
Promtail and Fluent Bit can send), or, over TLS, a client certificate signed by the configured CA.

Tokens are compared in constant time against every configured token (rotation), without stopping
at the first match. The caller's identity names no secret: it is the token's position in the list.
"""

from __future__ import annotations

import binascii
import hmac
from base64 import b64decode
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web


def presented_token(headers: Mapping[str, str]) -> bytes | None:
    """The secret a request presents: `Bearer <token>`, or the password of `Basic base64(user:token)`."""
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if not value:
        return None
    if scheme.lower() == "bearer":
        return value.encode()
    if scheme.lower() == "basic":
        try:
            _, separator, password = b64decode(value, validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return None
        return password if separator and password else None
    return None


def matching_token(candidate: bytes, tokens: Sequence[bytes]) -> int | None:
    """The position of the token `candidate` equals, compared in constant time against all of them."""
    matches = [hmac.compare_digest(candidate, token) for token in tokens]
    return matches.index(True) if any(matches) else None


def client_certificate_name(request: web.Request) -> str | None:
    """The common name of a client certificate the TLS handshake verified, if any."""
    transport = request.transport
    certificate: Any = transport.get_extra_info("peercert") if transport else None
    if not certificate:
        return None  # no TLS, no certificate presented, or not verified (then Python gives an empty dict)
    for entry in certificate.get("subject", ()):
        for key, value in entry:
            if key == "commonName":
                return str(value)
    return None


def identify(request: web.Request, tokens: Sequence[bytes], client_names: Sequence[str] | None) -> str | None:
    """A rate-limit key for an authorised caller, or None when the request must be refused.

    `client_names` None: certificates do not authenticate here; empty: any certificate the CA signed.
    """
    candidate = presented_token(request.headers)
    if candidate is not None and tokens:
        position = matching_token(candidate, tokens)
        if position is not None:
            return f"token-{position}"
    if client_names is not None:
        name = client_certificate_name(request)
        if name is not None and (not client_names or name in client_names):
            return f"cert-{name}"
    if not tokens and client_names is None:
        return f"address-{request.remote}"  # no credential configured: settings allowed it (loopback only)
    return None
