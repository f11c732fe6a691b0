"""Bearer tokens for writes, compared in constant time, and the ECS-shaped line a failed attempt leaves.

That line is what the SIEM's rule matches: posted to ingest as generic JSON, its `event`,
`source`, `url` and `http` objects become the envelope's ECS fields as they are.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Request

MAX_USER_AGENT_CHARS = 256


def auth_failure(authorization: str | None, tokens: list[bytes]) -> str | None:
    """None when `authorization` carries one of `tokens`; otherwise the (bounded) reason it does not."""
    if not tokens:
        return "no_tokens_configured"  # refuse by default: an app without tokens takes no writes
    if not authorization:
        return "missing_token"
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return "malformed_header"
    candidate = presented.strip().encode()
    # Compare against every token without stopping early: timing says nothing about which one is close.
    matches = [hmac.compare_digest(candidate, token) for token in tokens]
    return None if any(matches) else "invalid_token"


def auth_failure_fields(request: Request, reason: str) -> dict[str, Any]:
    """The ECS fields of the `authentication_failed` line (never the presented token)."""
    return {
        "ecs_event": {
            "module": "app",
            "dataset": "flask_app.auth",
            "action": "authenticate",
            "category": ["authentication"],
            "outcome": "failure",
            "reason": reason,
        },
        "source": {"ip": request.remote_addr},
        "url": {"path": request.path},
        "http": {"request": {"method": request.method}, "response": {"status_code": 401}},
        "user_agent": {"original": request.headers.get("User-Agent", "")[:MAX_USER_AGENT_CHARS]},
    }
