"""Ingest's HTTP API: `POST /v1/events` (JSON object, array or NDJSON) onto `siem.events`."""

from __future__ import annotations

import asyncio
import hmac

import structlog
from aiohttp import web

from services.ingest.settings import IngestSettings
from services.ingest.sources import SOURCES, Parsed, Source
from services.shared import topics
from services.shared.bus import Bus, Record
from services.shared.dlq import dead_letter
from services.shared.http import Readiness, create_probe_app, json_error
from services.shared.metrics import BYTES_RECEIVED, ERRORS, EVENTS_RECEIVED, MESSAGES_PRODUCED
from services.shared.settings import secret_values

log = structlog.get_logger()

SETTINGS = web.AppKey("settings", IngestSettings)
BUS = web.AppKey("bus", Bus)
TOKENS = web.AppKey("tokens", list)
STAGE = "ingest"


class _BodyTooLarge(Exception):
    pass


def create_app(settings: IngestSettings, bus: Bus, readiness: Readiness) -> web.Application:
    app = create_probe_app(readiness, client_max_size=settings.ingest_max_body_bytes)
    app[SETTINGS] = settings
    app[BUS] = bus
    app[TOKENS] = secret_values(settings.ingest_tokens)
    app.router.add_post("/v1/events", _handler(SOURCES["generic"]))
    return app


def _handler(source: Source):  # type: ignore[no-untyped-def]
    async def handle(request: web.Request) -> web.Response:
        return await _accept(request, source)

    return handle


async def _accept(request: web.Request, source: Source) -> web.Response:
    settings = request.app[SETTINGS]
    if not _authorised(request, request.app[TOKENS]):
        ERRORS.labels(STAGE, "unauthorized").inc()
        return json_error(401, "unauthorized", "a valid 'Authorization: Bearer <token>' header is required")
    try:
        body = await _read_capped(request, settings.ingest_max_body_bytes)
    except _BodyTooLarge:
        ERRORS.labels(STAGE, "body_too_large").inc()
        return json_error(413, "body_too_large", f"the body exceeds {settings.ingest_max_body_bytes} bytes")
    BYTES_RECEIVED.labels(source.name).inc(len(body))

    parsed = source.parse(body, request.headers)
    if len(parsed.events) + len(parsed.rejected) > settings.ingest_max_batch_events:
        ERRORS.labels(STAGE, "batch_too_large").inc()
        return json_error(413, "batch_too_large", f"more than {settings.ingest_max_batch_events} events in one request")
    try:
        await asyncio.wait_for(_enqueue(request.app[BUS], parsed, source.name), settings.ingest_enqueue_timeout_seconds)
    except TimeoutError:
        ERRORS.labels(STAGE, "backpressure").inc()
        response = json_error(503, "backpressure", "the pipeline is busy; retry later")
        response.headers["Retry-After"] = "5"
        return response

    rejected = [{"line": r.line, "error": r.error_type, "reason": r.reason} for r in parsed.rejected]
    if not parsed.events:
        first = parsed.rejected[0]
        return json_error(400, first.error_type, first.reason, rejected=rejected)
    EVENTS_RECEIVED.labels(source.name).inc(len(parsed.events))
    return web.json_response(
        {"accepted": len(parsed.events), "ids": [e.id for e in parsed.events], "rejected": rejected}, status=202
    )


async def _enqueue(bus: Bus, parsed: Parsed, source: str) -> None:
    records = [Record(value=e.model_dump_json().encode(), key=e.id.encode()) for e in parsed.events]
    if records:
        await bus.send_many(topics.EVENTS, records)
        MESSAGES_PRODUCED.labels(topics.EVENTS).inc(len(records))
    for item in parsed.rejected:
        await dead_letter(
            bus, stage=STAGE, error_type=item.error_type, reason=item.reason, original=item.original, source=source
        )


def _authorised(request: web.Request, tokens: list[bytes]) -> bool:
    if not tokens:
        return True  # settings refuse this unless the listener is loopback-only or explicitly opened
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    candidate = presented.strip().encode()
    # Compare against every token, without stopping early, so timing says nothing about which one is close.
    matches = [hmac.compare_digest(candidate, token) for token in tokens]
    return any(matches)


async def _read_capped(request: web.Request, cap: int) -> bytes:
    """The body, refusing before reading it all when it is (or turns out to be) over `cap`."""
    if request.content_length is not None and request.content_length > cap:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
