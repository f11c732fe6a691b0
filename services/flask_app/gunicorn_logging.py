"""gunicorn's own lines and its access log, as the app's JSON: `logger_class` in gunicorn.conf.py.

The access line is the canonical line of a request, in ECS names (`http.*`, `url.path`,
`source.ip`, `event.duration` in nanoseconds). It is written after the app answered, so the
request id is read from the response's `X-Request-ID`, which the app always sets.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

from services.flask_app.auth import MAX_USER_AGENT_CHARS
from services.flask_app.logs import configure_process_logging, get_logger

_access = get_logger("flask_app.access")


class JsonLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        configure_process_logging(cfg.loglevel)
        # gunicorn's loggers keep no handlers of their own: their records reach the root's JSON handler.
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        status = resp.status_code
        headers = {name.lower(): value for name, value in resp.headers}
        request_id = headers.get("x-request-id")
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        _access.info(
            f"{method} {path} {status}",
            ecs_event={
                "module": "app",
                "dataset": "flask_app.access",
                "action": "http_request",
                "category": ["web"],
                "outcome": "failure" if status is None or status >= 400 else "success",
                "duration": int(request_time.total_seconds() * 1e9),
            },
            source={"ip": environ.get("REMOTE_ADDR")},
            url={"path": path},  # never the query string: callers put secrets there
            http={
                "version": environ.get("SERVER_PROTOCOL", "").removeprefix("HTTP/"),
                "request": {"method": method, **({"id": request_id} if request_id else {})},
                "response": {"status_code": status, "body": {"bytes": getattr(resp, "sent", None)}},
            },
            user_agent={"original": environ.get("HTTP_USER_AGENT", "")[:MAX_USER_AGENT_CHARS]},
        )
