"""gunicorn for the sample app: `gunicorn -c services/flask_app/gunicorn.conf.py`.

Workers, timeouts and the listen address come from the app's settings (`SIEM_FLASK_APP_*`,
`SIEM_HOST`); every line gunicorn and the app print is JSON (gunicorn_logging.JsonLogger).
prometheus-client runs in multiprocess mode: the directory is set here, before a worker
imports the client, wiped when the master starts, and a dead worker's gauges are dropped.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from services.flask_app.settings import FlaskAppSettings

_settings = FlaskAppSettings.load()
_metrics_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="flask-app-metrics-")))

wsgi_app = "services.flask_app.app:create_app()"
bind = [f"{_settings.host}:{_settings.flask_app_port}"]
workers = _settings.flask_app_workers
worker_class = "sync"
timeout = _settings.flask_app_timeout_seconds
graceful_timeout = _settings.flask_app_graceful_timeout_seconds
keepalive = _settings.flask_app_keepalive_seconds
max_requests = 10_000  # recycle workers now and then, so a slow leak never takes the app down
max_requests_jitter = 1_000
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
loglevel = _settings.log_level
logger_class = "services.flask_app.gunicorn_logging.JsonLogger"
accesslog = "-"
errorlog = "-"
# The workers' heartbeat file, in memory as gunicorn's docs advise (a slow or read-only disk stalls it).
_SHM = "/dev/shm"  # noqa: S108  # nosec B108 - not a temporary file of ours, gunicorn's heartbeat
worker_tmp_dir = _SHM if Path(_SHM).is_dir() else None
proc_name = "flask-app"
# gunicorn's control socket would live in $HOME, shared by every instance on the host; nothing here uses it.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Samples left by a previous run would be added to this one's: start from an empty directory."""
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in _metrics_dir.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
