"""checkov scans the rendered manifests and the Dockerfiles: no check fails, and every skipped one says why.

checkov runs offline (--skip-download): it then has its checks but not the platform's severity ratings, so every
failed check counts, whatever its severity. A check is skipped only by a `checkov.io/skipN` annotation (or a
`#checkov:skip=` comment) carrying its reason, which this test requires to be non-empty.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.tools import ROOT, Rendered

DOCKERFILES = sorted((ROOT / "docker").glob("*/Dockerfile"))


@pytest.fixture(scope="module")
def scan(
    checkov: Path, rendered: dict[str, Rendered], tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    """One checkov run over every rendered case and every Dockerfile; its JSON report per framework."""
    root = tmp_path_factory.mktemp("checkov")
    for case, result in rendered.items():
        (root / f"{case}.yaml").write_text(result.stdout)
    for dockerfile in DOCKERFILES:
        target = root / "docker" / dockerfile.parent.name / "Dockerfile"
        target.parent.mkdir(parents=True)
        shutil.copy(dockerfile, target)
    result = subprocess.run(
        [str(checkov), "-d", str(root), "--framework", "kubernetes", "dockerfile", "--output", "json"]
        + ["--skip-download", "--compact"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.stdout.strip(), f"checkov printed nothing (exit {result.returncode}):\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout)
    return report if isinstance(report, list) else [report]


def _report(scan: list[dict[str, Any]], framework: str) -> dict[str, Any]:
    (report,) = [r for r in scan if r["check_type"] == framework]
    return report


@pytest.mark.parametrize("framework", ["kubernetes", "dockerfile"])
def test_no_check_fails(scan: list[dict[str, Any]], framework: str) -> None:
    """No checkov check fails on the manifests or the Dockerfiles, and checkov did scan them."""
    report = _report(scan, framework)
    failed = [
        f"{c['check_id']} {c['check_name']}: {c['resource']} ({c['file_path']})"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0


def test_every_skip_has_a_reason(scan: list[dict[str, Any]]) -> None:
    """Each skipped check was skipped on purpose, with a written reason."""
    skipped = [c for r in scan for c in r["results"].get("skipped_checks", [])]
    for check in skipped:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert reason.strip(), f"{check['check_id']} skipped on {check['resource']} without a reason"


def test_the_scan_covers_every_workload(scan: list[dict[str, Any]], rendered: dict[str, Rendered]) -> None:
    """checkov saw every Deployment of every case and every Dockerfile (nothing silently left out)."""
    kubernetes = _report(scan, "kubernetes")
    checked = {
        c["resource"]
        for key in ("passed_checks", "failed_checks", "skipped_checks")
        for c in kubernetes["results"][key]
    }
    deployments = {
        f"Deployment.{d['metadata']['namespace']}.{d['metadata']['name']}"
        for r in rendered.values()
        for d in r.of_kind("Deployment")
    }
    assert deployments <= checked
    dockerfile = _report(scan, "dockerfile")
    scanned = {c["file_path"] for c in dockerfile["results"]["passed_checks"]}
    assert len(scanned) == len(DOCKERFILES)
