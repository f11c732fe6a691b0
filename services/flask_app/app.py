"""The app factory: routes, the request id on every line and response, metrics, security headers.

gunicorn runs it as `services.flask_app.app:create_app()` (see gunicorn.conf.py).
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from services.flask_app.api import notes_blueprint
from services.flask_app.errors import http_exception, json_error, unexpected
from services.flask_app.logs import bind_request_id, request_id_from, unbind_request_id
from services.flask_app.metrics import REQUEST_SECONDS, REQUESTS, UNMATCHED_ENDPOINT, exposition
from services.flask_app.settings import FlaskAppSettings
from services.flask_app.store import NoteStore
from services.shared.settings import secret_values

REQUEST_ID_HEADER = "X-Request-ID"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# Any other method is one label value, so a scanner cannot grow the metric without bound.
_KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def create_app(settings: FlaskAppSettings | None = None) -> Flask:
    settings = settings or FlaskAppSettings.load()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.flask_app_max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if settings.flask_app_trusted_proxies:
        hops = settings.flask_app_trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    store = NoteStore(settings.flask_app_db_path)
    store.create_schema()

    app.before_request(_start_request)
    app.after_request(_finish_response)
    app.teardown_request(_end_request)
    app.register_error_handler(HTTPException, http_exception)
    app.register_error_handler(Exception, unexpected)
    app.register_blueprint(notes_blueprint(store, secret_values(settings.flask_app_tokens)))

    @app.get("/")
    def index() -> Response:
        return jsonify(
            {"name": "flask-app", "api": "/api/notes", "probes": ["/health", "/ready"], "metrics": "/metrics"}
        )

    @app.get("/health")
    def health() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/ready")
    def ready() -> Response:
        if store.ping():
            return jsonify({"status": "ready"})
        return json_error(503, "not_ready", "the database cannot be read")

    @app.get("/metrics")
    def metrics() -> Response:
        body, content_type = exposition()
        return Response(body, content_type=content_type)

    return app


def _start_request() -> None:
    g.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    g.request_id_token = bind_request_id(g.request_id)
    g.started = time.perf_counter()


def _finish_response(response: Response) -> Response:
    endpoint = request.url_rule.rule if request.url_rule else UNMATCHED_ENDPOINT
    method = request.method if request.method in _KNOWN_METHODS else "other"
    REQUESTS.labels(method, endpoint, str(response.status_code)).inc()
    REQUEST_SECONDS.labels(method, endpoint).observe(time.perf_counter() - g.started)
    response.headers[REQUEST_ID_HEADER] = g.request_id
    response.headers.update(SECURITY_HEADERS)
    return response


def _end_request(_: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        unbind_request_id(token)
