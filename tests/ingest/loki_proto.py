"""Loki's own push protocol definition, for tests that must speak exactly what Alloy, Promtail and Loki speak.

Loki cannot run here, so the contract is checked with Loki's own `push.proto`: fetched at test
time through the Go module proxy (`go mod download`, with gogoproto which it imports), compiled
with `grpc_tools.protoc` into a temporary folder, and imported. Nothing is vendored. If `go` is
missing or the download fails, the fixture fails the test (it never skips).

The file is compiled as `grafana_loki/push.proto` rather than `push.proto`: protobuf keeps one
process-wide pool of files by name, and our codec's own `push.proto` already holds that name.

Use elsewhere: import the fixture into that folder's conftest.py
(`from tests.ingest.loki_proto import loki_push  # noqa: F401`) and take `loki_push` as an argument,
then build `loki_push.PushRequest()`; or call `compile_loki_push(tmp_dir)` directly.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path
from types import ModuleType

import pytest

LOKI_PUSH_MODULE = "github.com/grafana/loki/pkg/push@v0.0.0-20250630054201-94c0ba7b0952"
GOGO_PROTOBUF_MODULE = "github.com/gogo/protobuf@v1.3.2"
PACKAGE = "grafana_loki"


class LokiProtoUnavailable(RuntimeError):
    """Loki's push.proto could not be fetched or compiled: the test that needs it fails with the reason."""


def go_module_dir(module: str) -> Path:
    """The unpacked source folder of `module@version`, downloaded through the Go module proxy."""
    go = shutil.which("go")
    if go is None:
        raise LokiProtoUnavailable("the `go` command is not installed; it fetches Loki's push.proto")
    result = subprocess.run(
        [go, "mod", "download", "-json", module], capture_output=True, text=True, timeout=600, check=False
    )
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        info = {}
    if result.returncode != 0 or info.get("Error") or not info.get("Dir"):
        raise LokiProtoUnavailable(
            f"go mod download {module} failed (exit {result.returncode}): {info.get('Error') or result.stderr[-2000:]}"
        )
    return Path(info["Dir"])


def compile_loki_push(workdir: Path) -> ModuleType:
    """Loki's `push_pb2` (messages PushRequest, StreamAdapter, EntryAdapter, LabelPairAdapter)."""
    push_dir, gogo_dir = go_module_dir(LOKI_PUSH_MODULE), go_module_dir(GOGO_PROTOBUF_MODULE)
    source, generated = workdir / "proto", workdir / "generated"
    (source / PACKAGE).mkdir(parents=True, exist_ok=True)
    generated.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(push_dir / "push.proto", source / PACKAGE / "push.proto")
    well_known = Path(str(files("grpc_tools") / "_proto"))
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{source}", f"-I{gogo_dir}", f"-I{well_known}",
         f"--python_out={generated}", f"{PACKAGE}/push.proto", "gogoproto/gogo.proto"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise LokiProtoUnavailable(f"protoc could not compile Loki's push.proto: {result.stderr[-2000:]}")
    sys.path.insert(0, str(generated))
    try:
        return importlib.import_module(f"{PACKAGE}.push_pb2")
    finally:
        sys.path.remove(str(generated))


@pytest.fixture(scope="session")
def loki_push(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """Loki's own generated push protocol module, compiled once per test session."""
    already = sys.modules.get(f"{PACKAGE}.push_pb2")
    return already if already is not None else compile_loki_push(tmp_path_factory.mktemp("loki-proto"))
