"""The webhook receiver's HTTP app: `POST /webhook/<provider>` → verify, deduplicate, normalise, enqueue, answer.

Order matters: method, rate, size and signature are checked before anything reads the
payload; the delivery id is remembered only once its event is on the bus; and the bus gets
a bounded wait, so a host hears 202, 200 (duplicate) or 503 well within its 10 seconds.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from services.shared import topics
from services.shared.bus import Bus, Record
from services.shared.dlq import dead_letter
from services.shared.errors import ParseError
from services.shared.http import Readiness, create_probe_app, json_error
from services.shared.metrics import BYTES_RECEIVED, ERRORS, EVENTS_RECEIVED, MESSAGES_PRODUCED
from services.webhook.envelope import build_event, envelope_id
from services.webhook.metrics import DELIVERIES, REFUSALS
from services.webhook.providers import PROVIDERS, Delivery, Keys, Provider, Refusal
from services.webhook.ratelimit import SourceRateLimit
from services.webhook.replay import Claim, ReplayCache
from services.webhook.settings import WebhookSettings

log = structlog.get_logger()

STAGE = "webhook"
_RETRY_LATER = {"Retry-After": "5"}
# What the access log may say about a request: ids and codes we validated, never headers or bodies.
_LOG_FIELDS = web.RequestKey("webhook_log_fields", dict)
_HTTP_ERRORS = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}


def create_app(settings: WebhookSettings, bus: Bus, readiness: Readiness) -> web.Application:
    """Routes for every enabled provider; a provider without keys stops the start (ConfigError)."""
    keys = settings.provider_keys()
    app = create_probe_app(
        readiness, client_max_size=settings.webhook_max_body_bytes, middlewares=[_json_errors, _access_log]
    )
    replay = ReplayCache(settings.webhook_replay_ttl_seconds, settings.webhook_replay_max_entries)
    limiter = SourceRateLimit(settings.rate_limit(), settings.trusted_proxy_networks())
    for name, provider_keys in keys.items():
        endpoint = HookEndpoint(PROVIDERS[name], provider_keys, bus, replay, limiter, settings)
        app.router.add_route("*", f"/webhook/{name}", endpoint.handle)
    return app


class HookEndpoint:
    """One provider's path. Every answer is counted; every refusal by its reason code."""

    def __init__(
        self,
        provider: Provider,
        keys: Keys,
        bus: Bus,
        replay: ReplayCache,
        limiter: SourceRateLimit,
        settings: WebhookSettings,
    ) -> None:
        self._provider = provider
        self._name = provider.name
        self._keys = keys
        self._bus = bus
        self._replay = replay
        self._limiter = limiter
        self._max_body_bytes = settings.webhook_max_body_bytes
        self._timeout = settings.webhook_enqueue_timeout_seconds

    async def handle(self, request: web.Request) -> web.Response:
        fields: dict[str, Any] = {"provider": self._name}
        request[_LOG_FIELDS] = fields
        if request.method != "POST":
            refusal = Refusal("method_not_allowed", "only POST is accepted on this path", 405)
            return self._refuse(fields, refusal, {"Allow": "POST"})
        fields["client"] = client = self._limiter.client(request.remote, request.headers.get("X-Forwarded-For"))
        if not await self._limiter.allow(client):
            refusal = Refusal("rate_limited", "too many requests from this address", 429)
            return self._refuse(fields, refusal, {"Retry-After": "1"})
        body = await self._read_body(request)
        if isinstance(body, Refusal):
            return self._refuse(fields, body)
        BYTES_RECEIVED.labels(self._name).inc(len(body))
        unverified = self._provider.verify(body, request.headers, self._keys, time.time())
        if unverified is not None:
            return self._refuse(fields, unverified)
        delivery = self._provider.delivery(request.headers)
        if isinstance(delivery, Refusal):
            return self._refuse(fields, delivery)
        fields.update(delivery_id=delivery.delivery_id, event_type=delivery.event)
        try:
            payload = decode_payload(body, request.content_type)
        except ParseError as exc:
            return await self._dead_letter(fields, exc.error_type, exc.reason, body, status=400)
        return await self._emit(fields, delivery, payload, body)

    async def _emit(
        self, fields: dict[str, Any], delivery: Delivery, payload: dict[str, Any], body: bytes
    ) -> web.Response:
        key = fields["envelope_id"] = envelope_id(self._name, delivery)
        claim = self._replay.claim(key)
        if claim is Claim.SEEN:
            DELIVERIES.labels(self._name, "duplicate").inc()
            return web.json_response({"status": "duplicate", "id": key}, status=200)
        if claim is Claim.IN_FLIGHT:
            refusal = Refusal("in_flight", "this delivery is being handled right now; retry later", 503)
            return self._refuse(fields, refusal, _RETRY_LATER)
        on_bus = False
        try:
            try:
                facts = self._provider.normalise(delivery.event, payload)
                event = build_event(self._name, delivery, payload, facts, datetime.now(UTC))
            except Exception as exc:  # a bug of ours: the delivery is kept, and the host hears it failed
                log.error("normalise_failed", provider=self._name, error_type=type(exc).__name__, where=_where(exc))
                return await self._dead_letter(fields, "normalise_failed", type(exc).__name__, body, status=500)
            record = Record(value=event.model_dump_json().encode(), key=event.id.encode())
            await asyncio.wait_for(self._bus.send(topics.EVENTS, record), self._timeout)
            on_bus = True
        except TimeoutError:
            return self._busy(fields)
        except Exception as exc:  # the bus failed for good: nothing was acknowledged
            return self._bus_failed(fields, exc)
        finally:
            (self._replay.commit if on_bus else self._replay.release)(key)
        MESSAGES_PRODUCED.labels(topics.EVENTS).inc()
        EVENTS_RECEIVED.labels(self._name).inc()
        DELIVERIES.labels(self._name, "accepted").inc()
        return web.json_response({"status": "accepted", "id": key}, status=202)

    async def _read_body(self, request: web.Request) -> bytes | Refusal:
        too_large = Refusal("body_too_large", f"the body exceeds {self._max_body_bytes} bytes", 413)
        if request.content_length is not None and request.content_length > self._max_body_bytes:
            return too_large
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            return too_large

    async def _dead_letter(
        self, fields: dict[str, Any], error_type: str, reason: str, body: bytes, *, status: int
    ) -> web.Response:
        """Keep the original on the dead-letter topic (which counts it), then refuse."""
        try:
            await asyncio.wait_for(
                dead_letter(
                    self._bus, stage=STAGE, error_type=error_type, reason=reason, original=body, source=self._name
                ),
                self._timeout,
            )
        except TimeoutError:
            return self._busy(fields)
        except Exception as exc:
            return self._bus_failed(fields, exc)
        message = reason if status < 500 else "the delivery could not be handled; it was kept for inspection"
        refusal = Refusal(error_type if status < 500 else "internal_error", message, status)
        return self._refuse(fields, refusal, counted=False)

    def _busy(self, fields: dict[str, Any]) -> web.Response:
        return self._refuse(fields, Refusal("backpressure", "the pipeline is busy; retry later", 503), _RETRY_LATER)

    def _bus_failed(self, fields: dict[str, Any], exc: Exception) -> web.Response:
        log.error("enqueue_failed", provider=self._name, error_type=type(exc).__name__)
        refusal = Refusal("bus_unavailable", "the pipeline cannot take events now; retry later", 503)
        return self._refuse(fields, refusal, _RETRY_LATER)

    def _refuse(
        self,
        fields: dict[str, Any],
        refusal: Refusal,
        headers: Mapping[str, str] | None = None,
        *,
        counted: bool = True,
    ) -> web.Response:
        fields["reason"] = refusal.reason
        REFUSALS.labels(self._name, refusal.reason).inc()
        DELIVERIES.labels(self._name, "refused").inc()
        if counted:
            ERRORS.labels(STAGE, refusal.reason).inc()
        response = json_error(refusal.status, refusal.reason, refusal.message)
        response.headers.update(headers or {})
        return response


def decode_payload(body: bytes, content_type: str) -> dict[str, Any]:
    """The JSON object of a body sent as JSON or as GitHub/Gitea's form (`payload=<json>`)."""
    if content_type == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(body.decode("utf-8"), max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            raise ParseError("malformed_form", "the form body cannot be decoded") from None
        if len(form.get("payload", ())) != 1:
            raise ParseError("malformed_form", "the form has no single 'payload' field")
        body = form["payload"][0].encode()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ParseError("malformed_json", f"not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ParseError("invalid_payload", f"expected a JSON object, got {type(payload).__name__}")
    return payload


def _where(exc: BaseException) -> str:
    """File and line where `exc` was raised: enough to find the bug, without any value that was in play."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "unknown"


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error answer is JSON with a code; nothing of our internals ever reaches a response."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = json_error(exc.status, _HTTP_ERRORS.get(exc.status, "http_error"), exc.reason)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        log.error("request_failed", path=request.path, error_type=type(exc).__name__, where=_where(exc))
        return json_error(500, "internal_error", "the request could not be handled")


@web.middleware
async def _access_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One line per hook request (and per error anywhere): path without query, validated ids, the outcome."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        if request.path.startswith("/webhook/") or status >= 400:
            fields = request.get(_LOG_FIELDS) or {"client": request.remote}
            log.info(
                "webhook_request",
                method=request.method,
                path=request.path,
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                **fields,
            )
