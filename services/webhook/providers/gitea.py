"""Gitea and Forgejo webhooks: bare hex HMAC-SHA256 in `X-Gitea-Signature` / `X-Forgejo-Signature`.

Forgejo is a Gitea fork: same payloads, its own header names (it sends the Gitea ones too).
Both answer to logsource product `gitea`; `event.provider` says which one sent it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.webhook.providers.base import Delivery, Keys, Normalised, Refusal, read_delivery
from services.webhook.providers.github import CATEGORIES, git_facts
from services.webhook.providers.payload import dig, first_text, login, text
from services.webhook.providers.signature import verify_hex_signature

_SIGNATURE_HEADERS = ("X-Forgejo-Signature", "X-Gitea-Signature")


class GiteaProvider:
    name = "gitea"

    def verify(self, body: bytes, headers: Mapping[str, str], keys: Keys, now: float) -> Refusal | None:
        # Forgejo's own header first; a Gitea instance sends only the second.
        header = next((h for h in _SIGNATURE_HEADERS if headers.get(h)), _SIGNATURE_HEADERS[1])
        return verify_hex_signature(body, headers, keys.secrets, header)

    def delivery(self, headers: Mapping[str, str]) -> Delivery | Refusal:
        host = "forgejo" if headers.get("X-Forgejo-Event") else "gitea"
        return read_delivery(
            headers,
            event_headers=("X-Gitea-Event", "X-Forgejo-Event"),
            id_headers=("X-Gitea-Delivery", "X-Forgejo-Delivery"),
            host=host,
        )

    def normalise(self, event: str, payload: dict[str, Any]) -> Normalised:
        action = text(payload.get("action"))
        return Normalised(
            dataset=event,
            action=f"{event}.{action}" if action else event,
            actor=first_text(login(payload.get("sender")), login(payload.get("pusher"))),
            target=login(payload.get("member")),
            category=CATEGORIES.get(event, ()),
            url=first_text(
                dig(payload, "pull_request", "html_url"),
                payload.get("compare_url"),
                dig(payload, "repository", "html_url"),
            ),
            git=git_facts(event, payload),
        )
