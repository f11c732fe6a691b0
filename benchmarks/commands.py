"""Commands of the benchmark's processes: pinned to a core, shown as a person would type them, run for JSON."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
WORKER_CORE = 0  # the code under test; load generators and peers' drivers take the other core
LOAD_CORE = 1


def pinned(command: list[str], core: int) -> list[str]:
    """`command` on one core (taskset), so one process = one core as the targets are stated."""
    if shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(core), *command]


def python(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def shown(command: list[str]) -> str:
    """A command as a person would type it: the venv's python and paths relative to the repository."""
    text = shlex.join(command)
    return text.replace(sys.executable, ".venv/bin/python").replace(str(ROOT) + "/", "")


def run_json(command: list[str], timeout: float) -> Any:
    """Run a worker that prints one JSON object last; its stderr comes with any failure."""
    # Commands are built by the benchmark itself from its own modules and paths, never from input.
    done = subprocess.run(command, capture_output=True, timeout=timeout, cwd=ROOT, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{shown(command)} exited {done.returncode}: {done.stderr.decode(errors='replace')[-1500:]}")
    return orjson.loads(done.stdout.strip().splitlines()[-1])
