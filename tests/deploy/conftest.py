"""Session fixtures for the deployment tests: the pinned helm (built by scripts/helm.sh), charts rendered once, and
checkov in its own virtualenv. A tool that cannot be installed fails the tests that need it; nothing is skipped."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.tools import CHARTS, Rendered, install_checkov, render

# (chart, values files) -> what the tests render: the defaults and the production example of both charts.
CASES = {
    "siem-default": ("siem", ()),
    "siem-production": ("siem", ("values-production.yaml",)),
    "flask-app-default": ("flask-app", ()),
    "flask-app-production": ("flask-app", ("values-production.yaml",)),
}


@pytest.fixture(scope="session")
def helm() -> Path:
    """helm built from its Go module by scripts/helm.sh (cached); the tests fail if it cannot be had."""
    result = subprocess.run(
        [str(CHARTS.parent / "scripts" / "helm.sh"), "install"], capture_output=True, text=True, timeout=1800
    )
    if result.returncode != 0:
        pytest.fail(f"scripts/helm.sh install failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    path = Path(result.stdout.strip().splitlines()[-1])
    if not path.is_file():
        pytest.fail(f"scripts/helm.sh install printed {path}, which is not a file")
    return path


@pytest.fixture(scope="session")
def rendered(helm: Path) -> dict[str, Rendered]:
    """Every case of CASES rendered by `helm template`, once per session."""
    return {name: render(helm, chart, values) for name, (chart, values) in CASES.items()}


@pytest.fixture(scope="session")
def render_with(helm: Path) -> Callable[..., Rendered]:
    """Render a chart with extra values (a dict written to a file, as `-f` takes it)."""

    def _render(chart: str, values: dict[str, Any] | None = None, *files: str, check: bool = True) -> Rendered:
        return render(helm, chart, files, extra=values, check=check)

    return _render


@pytest.fixture(scope="session")
def checkov() -> Path:
    """checkov in its own virtualenv (its pins clash with the project's), installed from PyPI on first use."""
    try:
        return install_checkov()
    except RuntimeError as exc:
        pytest.fail(str(exc))
