"""Ingest's HTTP API: one POST endpoint per source, each authenticated, rate-limited and capped.

| path                 | source    | success                                      |
|----------------------|-----------|----------------------------------------------|
| `/v1/events`         | generic   | 202 `{"accepted", "ids", "rejected"}`        |
| `/v1/k8s/audit`      | k8s_audit | 200 `{"accepted", "rejected"}` (API server)  |
| `/v1/jenkins`        | jenkins   | 202 `{"accepted", "ids", "rejected"}`        |
| `/loki/api/v1/push`  | loki      | 204, as Loki answers                         |

Success is answered only once the bus holds every event and every rejected item (dead-lettered).
A request refused as a whole gets a JSON error: 400 nothing readable, 401, 413 over a cap, 429
over the rate limit, 503 when the bus stays full (both with `Retry-After`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import structlog
from aiohttp import web
from multidict import CIMultiDict

from services.ingest.auth import identify
from services.ingest.metrics import PARSE_SECONDS, REJECTED
from services.ingest.publish import STAGE, publish
from services.ingest.ratelimit import RateLimiter
from services.ingest.settings import EndpointLimits, IngestSettings
from services.ingest.sources import Parsed, Source, build_sources
from services.shared.bus import Bus
from services.shared.errors import RecordTooLarge
from services.shared.http import Readiness, create_probe_app, json_answer, json_error
from services.shared.metrics import BYTES_RECEIVED, ERRORS

log = structlog.get_logger()

BACKPRESSURE_RETRY_SECONDS = 5


@dataclass(frozen=True, slots=True)
class Route:
    path: str
    source: str
    status: int
    with_ids: bool = False


ROUTES = (
    Route("/v1/events", "generic", 202, with_ids=True),
    Route("/v1/k8s/audit", "k8s_audit", 200),
    Route("/v1/jenkins", "jenkins", 202, with_ids=True),
    Route("/loki/api/v1/push", "loki", 204),
)


class _BodyTooLarge(Exception):
    pass


@dataclass(frozen=True, slots=True)
class _Endpoint:
    route: Route
    source: Source
    limits: EndpointLimits
    client_names: list[str] | None
    limiter: RateLimiter
    bus: Bus
    enqueue_timeout_seconds: float


def create_app(settings: IngestSettings, bus: Bus, readiness: Readiness) -> web.Application:
    largest = max(settings.limits(route.source).max_body_bytes for route in ROUTES)
    app = create_probe_app(readiness, client_max_size=largest)
    sources = build_sources(settings)
    limiter = RateLimiter(settings.ingest_rate_limit or None)
    for route in ROUTES:
        certificates = route.source == "k8s_audit" and settings.ingest_tls_client_ca_file is not None
        endpoint = _Endpoint(
            route=route,
            source=sources[route.source],
            limits=settings.limits(route.source),
            client_names=list(settings.ingest_k8s_audit_client_names) if certificates else None,
            limiter=limiter,
            bus=bus,
            enqueue_timeout_seconds=settings.ingest_enqueue_timeout_seconds,
        )
        app.router.add_post(route.path, _handler(endpoint))
    return app


def _handler(endpoint: _Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        return await _accept(request, endpoint)

    return handle


def _refuse(source: str, status: int, error: str, reason: str, retry_after: int | None = None) -> web.Response:
    ERRORS.labels(STAGE, error).inc()
    REJECTED.labels(source, error).inc()
    response = json_error(status, error, reason)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


async def _accept(request: web.Request, endpoint: _Endpoint) -> web.Response:
    name, limits = endpoint.route.source, endpoint.limits
    caller = identify(request, limits.tokens, endpoint.client_names)
    if caller is None:
        return _refuse(name, 401, "unauthorized", "a valid 'Authorization: Bearer <token>' header is required")
    wait = await endpoint.limiter.retry_after_seconds(f"{name}/{caller}")
    if wait:
        return _refuse(name, 429, "rate_limited", "too many requests for this token", wait)
    try:
        body = await _read_capped(request, limits.max_body_bytes)
    except _BodyTooLarge:
        return _refuse(name, 413, "body_too_large", f"the body exceeds {limits.max_body_bytes} bytes")
    BYTES_RECEIVED.labels(name).inc(len(body))

    # aiohttp has already undone any Content-Encoding: the source must not try again.
    headers: Mapping[str, str] = request.headers
    if "Content-Encoding" in headers:  # copied only then: most requests are not compressed
        decoded = CIMultiDict(request.headers)
        decoded.popall("Content-Encoding", None)
        headers = decoded
    started = time.perf_counter()
    parsed = endpoint.source.parse(body, headers)
    PARSE_SECONDS.labels(name).observe(time.perf_counter() - started)
    if len(parsed.ids) + len(parsed.rejected) > limits.max_batch_events:
        return _refuse(name, 413, "batch_too_large", f"more than {limits.max_batch_events} events in one request")
    try:
        # A deadline on this task, not wait_for's extra task per request.
        async with asyncio.timeout(endpoint.enqueue_timeout_seconds):
            await publish(endpoint.bus, parsed, name)
    except TimeoutError:
        return _refuse(name, 503, "backpressure", "the pipeline is busy; retry later", BACKPRESSURE_RETRY_SECONDS)
    except RecordTooLarge as exc:  # none of the request's events was put on the bus
        return _refuse(name, 413, "event_too_large", f"an event is too large for the bus: {exc}")
    log.info("request_accepted", source=name, caller=caller, events=len(parsed.ids), rejected=len(parsed.rejected))
    return _answer(endpoint.route, parsed)


def _answer(route: Route, parsed: Parsed) -> web.Response:
    rejected = [{"line": r.line, "error": r.error_type, "reason": r.reason} for r in parsed.rejected]
    if not parsed.ids and parsed.rejected:
        first = parsed.rejected[0]
        return json_error(400, first.error_type, first.reason, rejected=rejected)
    if route.status == 204:
        return web.Response(status=204)
    body: dict[str, object] = {"accepted": len(parsed.ids), "rejected": rejected}
    if route.with_ids:
        body["ids"] = parsed.ids
    return json_answer(body, status=route.status)


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
