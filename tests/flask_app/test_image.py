"""The app's Dockerfile, checked statically (no Docker engine here): what it copies exists, it runs as non-root."""

from __future__ import annotations

import re
import shlex
import tomllib

from services.flask_app.settings import FlaskAppSettings
from tests.infra import ROOT

DOCKERFILE = ROOT / "docker" / "flask-app" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_every_copied_source_exists_in_the_build_context() -> None:
    """Each COPY from the context (the repository root, as Kaniko is given it) names files that exist."""
    copies = [shlex.split(args) for op, args in _instructions() if op == "COPY" and not args.startswith("--from")]
    sources = [source for parts in copies for source in parts[:-1]]
    assert "services/flask_app/gunicorn.conf.py" in sources
    assert [s for s in sources if not (ROOT / s).exists()] == []


def test_the_image_runs_gunicorn_with_the_copied_config_as_non_root() -> None:
    """CMD starts gunicorn with the config file the Dockerfile copies, as a numeric non-root user, on the app's port."""
    instructions = _instructions()
    (cmd,) = [args for op, args in instructions if op == "CMD"]
    config = re.search(r'"--config", "([^"]+)"', cmd)
    assert config and config.group(1) == "/etc/flask-app/gunicorn.conf.py"
    assert any(op == "COPY" and args.endswith(config.group(1)) for op, args in instructions)
    user = [args for op, args in instructions if op == "USER"][-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 10000 and (not gid or gid.isdigit())
    (exposed,) = [args for op, args in instructions if op == "EXPOSE"]
    assert int(exposed.split("/")[0]) == FlaskAppSettings.model_fields["flask_app_port"].default


def test_the_extra_the_image_installs_carries_flask_and_gunicorn() -> None:
    """The Dockerfile installs `.[app]`; pyproject.toml's `app` extra must bring flask and gunicorn."""
    assert any(op == "RUN" and '".[app]"' in args for op, args in _instructions())
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("optional-dependencies", {})
    names = {re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower() for requirement in extras.get("app", [])}
    assert {"flask", "gunicorn"} <= names
