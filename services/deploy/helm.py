"""Helm through pyhelm3: find the binary, merge values files as `helm -f` does, and say plainly what went wrong.

pyhelm3 runs the helm CLI and raises its own errors with helm's stderr; `DeployError` turns the ones people meet
(no helm, no cluster, values refused by the chart's schema, no such release) into one line that says what to do.
"""

from __future__ import annotations

import logging
import shutil
import subprocess  # nosec B404 - runs the helm binary the operator configured, with list arguments
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyhelm3  # type: ignore[import-untyped]  # no type information shipped
import yaml

from services.shared.errors import SiemError

# Where scripts/helm.sh builds the pinned helm: used when helm is not on PATH.
HELM_CACHE = Path.home() / ".cache" / "siem"
_UNREACHABLE = ("kubernetes cluster unreachable", "connection refused", "no such host", "i/o timeout")


class DeployError(SiemError):
    """A deploy step that failed, with what to do about it."""


@dataclass(frozen=True)
class Target:
    """Which release of which chart, where, with what values."""

    chart: Path
    release: str
    namespace: str
    values: Mapping[str, Any]


def find_helm(explicit: str | None) -> str:
    """The helm binary: --helm, else helm on PATH, else the one scripts/helm.sh built."""
    if explicit:
        path = shutil.which(explicit) or (explicit if Path(explicit).is_file() else None)
        if path is None:
            raise DeployError(f"helm not found at {explicit}")
        return path
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    built = sorted(HELM_CACHE.glob("helm-v3.*/bin/helm"))
    if built:
        return str(built[-1])
    raise DeployError(
        "helm not found: put helm 3 on PATH, build the pinned one with `scripts/helm.sh install`, or pass --helm PATH"
    )


def chart_dir(path: Path) -> Path:
    """The chart folder, absolute (pyhelm3 wants it so); a clear error when it is not one."""
    if not (path / "Chart.yaml").is_file():
        raise DeployError(f"{path}: no Chart.yaml there (run from the repository root or pass --chart)")
    return path.resolve()


def merge_values(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`helm -f a -f b`: maps merge key by key, anything else (lists too) is replaced by the later file."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_values(files: Sequence[Path]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for path in files:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DeployError(f"{path}: cannot read the values file: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            raise DeployError(f"{where}: not YAML: {getattr(exc, 'problem', exc)}") from None
        if loaded is None:
            continue
        if not isinstance(loaded, dict):
            raise DeployError(f"{path}: a values file is a YAML mapping, not a {type(loaded).__name__}")
        values = merge_values(values, loaded)
    return values


def rule_files(dirs: Iterable[Path]) -> dict[str, str]:
    """Rule files of DIRs as `rules.files` values: key = the file's path below its folder, `/` as `__`."""
    files: dict[str, str] = {}
    for folder in dirs:
        if not folder.is_dir():
            raise DeployError(f"{folder}: not a folder of rules")
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".yml", ".yaml") and path.is_file():
                files["__".join(path.relative_to(folder).parts)] = path.read_text(encoding="utf-8")
    return files


def explain(error: Exception, action: str) -> DeployError:
    """One message for a failed helm call: what helm said, and what to do."""
    stderr = getattr(error, "stderr", b"")
    raw = stderr.decode(errors="replace") if isinstance(stderr, bytes) else str(error)
    # helm notes every symbolic link it follows (charts/siem/rules, dashboards): not part of any error.
    text = "\n".join(line for line in raw.strip().splitlines() if not line.startswith("walk.go:"))
    first = text.splitlines()[0] if text else repr(error)
    lowered = text.lower()
    if isinstance(error, pyhelm3.ConnectionError) or any(sign in lowered for sign in _UNREACHABLE):
        return DeployError(
            f"{action}: cannot reach the Kubernetes cluster ({first}). Check `kubectl cluster-info`, "
            "--kube-context and --kubeconfig; `siem deploy template` renders without a cluster."
        )
    if "don't meet the specifications of the schema" in lowered:
        return DeployError(f"{action}: the chart's values.schema.json refuses the values:\n{text}")
    if isinstance(error, pyhelm3.ReleaseNotFoundError):
        return DeployError(f"{action}: no such release ({first}); `siem deploy install` creates it")
    if isinstance(error, pyhelm3.ChartNotFoundError):
        return DeployError(f"{action}: chart not found ({first})")
    return DeployError(f"{action}: helm failed: {text or error!r}")


class Helm:
    """The helm CLI through pyhelm3's client, one instance per command."""

    def __init__(
        self, executable: str, *, kubeconfig: Path | None = None, kube_context: str | None = None, timeout: str = "10m"
    ) -> None:
        self.executable = executable
        # pyhelm3 logs each failed command as a warning; the DeployError below says it better, once.
        logging.getLogger("pyhelm3").addHandler(logging.NullHandler())
        logging.getLogger("pyhelm3").propagate = False
        try:
            self._client = pyhelm3.Client(
                executable=executable, kubeconfig=kubeconfig, kubecontext=kube_context, default_timeout=timeout
            )
        except (AssertionError, OSError, ValueError, subprocess.CalledProcessError) as exc:
            # pyhelm3 asserts the file exists, then runs `helm version` and parses it.
            raise DeployError(f"{executable} does not run as helm: {exc}") from None

    @property
    def version(self) -> str:
        return str(self._client.version)

    async def chart(self, path: Path) -> Any:
        try:
            return await self._client.get_chart(path)
        except pyhelm3.Error as exc:
            raise explain(exc, f"read chart {path}") from None

    async def template(self, target: Target) -> list[dict[str, Any]]:
        chart = await self.chart(target.chart)
        try:
            documents = await self._client.template_resources(
                chart, target.release, dict(target.values), namespace=target.namespace
            )
            return [document for document in documents if document]
        except pyhelm3.Error as exc:
            raise explain(exc, f"render {target.chart}") from None

    async def current(self, release: str, namespace: str) -> Any | None:
        """The release's current revision, or None when there is no such release."""
        try:
            return await self._client.get_current_revision(release, namespace=namespace)
        except pyhelm3.ReleaseNotFoundError:
            return None
        except pyhelm3.Error as exc:
            raise explain(exc, f"read release {release} in {namespace}") from None

    async def deploy(self, target: Target, *, dry_run: bool, wait: bool) -> Any:
        chart = await self.chart(target.chart)
        try:
            return await self._client.install_or_upgrade_release(
                target.release,
                chart,
                dict(target.values),
                namespace=target.namespace,
                create_namespace=True,
                atomic=wait and not dry_run,  # a rollout that fails rolls back on its own
                wait=wait and not dry_run,
                dry_run=dry_run,
            )
        except pyhelm3.Error as exc:
            raise explain(exc, f"deploy {target.release} to {target.namespace}") from None

    async def rollback(self, release: str, namespace: str, revision: int | None, *, dry_run: bool, wait: bool) -> Any:
        current = await self.current(release, namespace)
        if current is None:
            raise DeployError(f"no release {release} in namespace {namespace}: nothing to roll back")
        try:
            return await current.release.rollback(revision, dry_run=dry_run, wait=wait and not dry_run)
        except pyhelm3.Error as exc:
            raise explain(exc, f"roll back {release} in {namespace}") from None
