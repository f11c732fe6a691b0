"""The sample app's settings, read once at start-up from `SIEM_FLASK_APP_*` (and `*_FILE` for the tokens)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from services.shared.settings import CommonSettings


class FlaskAppSettings(CommonSettings):
    flask_app_port: int = Field(5000, ge=0, le=65535)
    flask_app_tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Bearer tokens that may write (POST/DELETE), comma-separated; none = every write is refused.",
    )
    flask_app_db_path: Path = Field(Path("var/flask_app.sqlite3"), description="SQLite file shared by the workers.")
    flask_app_max_body_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024, description="Largest request body.")
    flask_app_trusted_proxies: int = Field(
        0, ge=0, le=5, description="Reverse proxies in front whose X-Forwarded-For is believed (ingress = 1)."
    )
    flask_app_workers: int = Field(2, ge=1, le=64, description="gunicorn worker processes.")
    flask_app_timeout_seconds: int = Field(30, ge=1, description="A worker silent this long is killed and replaced.")
    flask_app_graceful_timeout_seconds: int = Field(25, ge=1, description="Time to finish requests on SIGTERM.")
    flask_app_keepalive_seconds: int = Field(5, ge=0, description="Idle keep-alive before closing a connection.")
