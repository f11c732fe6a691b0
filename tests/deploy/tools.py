"""Helpers of the deployment tests: render a chart with helm, walk its manifests, install checkov."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.infra import ROOT

CHARTS = ROOT / "charts"
NAMESPACES = {"siem": "siem", "flask-app": "apps"}
RELEASES = {"siem": "siem", "flask-app": "flask-app"}
CHECKOV_VERSION = "3.3.30"
CHECKOV_HOME = Path.home() / ".cache" / "siem" / f"checkov-{CHECKOV_VERSION}"


@dataclass
class Rendered:
    """One `helm template` run: its command, its output and the manifests in it."""

    chart: str
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    documents: list[dict[str, Any]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.documents if d["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        (document,) = [d for d in self.of_kind(kind) if d["metadata"]["name"] == name]
        return document

    def containers(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(workload, container) for every container of every pod template, init containers included."""
        for workload in self.documents:
            pod = workload.get("spec", {}).get("template", {}).get("spec")
            if pod:
                for container in pod.get("initContainers", []) + pod["containers"]:
                    yield workload, container

    def env(self, deployment: str) -> dict[str, str]:
        (container,) = self.named("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
        return {item["name"]: item["value"] for item in container.get("env", [])}


def helm_template_args(chart: str, files: Sequence[str | Path], namespace: str | None = None) -> list[str]:
    args = ["template", RELEASES[chart], str(CHARTS / chart), "--namespace", namespace or NAMESPACES[chart]]
    for values in files:
        args += ["--values", str(values if Path(values).is_absolute() else CHARTS / chart / values)]
    return args


def render(
    helm: Path,
    chart: str,
    files: Sequence[str | Path] = (),
    *,
    extra: dict[str, Any] | None = None,
    check: bool = True,
) -> Rendered:
    """`helm template` of a chart under its usual release name and namespace; `extra` goes last, as a file."""
    with tempfile.TemporaryDirectory() as scratch:
        paths = list(files)
        if extra is not None:
            extra_file = Path(scratch) / "extra-values.yaml"
            extra_file.write_text(json.dumps(extra))
            paths.append(extra_file)
        args = helm_template_args(chart, paths)
        result = subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=120)
    rendered = Rendered(chart, args, result.returncode, result.stdout, result.stderr)
    if check:
        assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stderr}"
    if result.returncode == 0:
        rendered.documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    return rendered


def install_checkov() -> Path:
    """checkov CHECKOV_VERSION in ~/.cache/siem/checkov-VERSION (a virtualenv of its own); its binary's path."""
    binary = CHECKOV_HOME / "bin" / "checkov"
    marker = CHECKOV_HOME / ".install-complete"
    if binary.is_file() and marker.is_file():
        return binary
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(CHECKOV_HOME)],
        [str(CHECKOV_HOME / "bin" / "pip"), "install", "--quiet", f"checkov=={CHECKOV_VERSION}"],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=1200)
        if result.returncode != 0:
            raise RuntimeError(f"installing checkov failed at {step[:3]}:\n{result.stderr[-3000:]}")
    marker.write_text(CHECKOV_VERSION)
    return binary


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))
