"""What the numbers were measured on: CPU model and cores (lscpu), memory, load, versions."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cpus: int
    cores_per_socket: str
    hypervisor: str
    memory_gib: float
    load_average: str
    python: str
    kernel: str
    code: str  # the commit, and which files under services/ differed from it when the run started

    def rows(self) -> list[tuple[str, str]]:
        return [
            ("CPU model (lscpu)", self.cpu_model),
            ("CPUs / cores per socket", f"{self.cpus} / {self.cores_per_socket}"),
            ("hypervisor", self.hypervisor),
            ("memory", f"{self.memory_gib:.1f} GiB"),
            ("load average at start (1, 5, 15 min)", self.load_average),
            ("Python", self.python),
            ("kernel", self.kernel),
            ("code under test", self.code),
        ]


def _lscpu() -> dict[str, str]:
    if shutil.which("lscpu") is None:
        return {}
    output = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout  # noqa: S607
    fields = {}
    for line in output.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _memory_gib() -> float:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def code_state(root: Path) -> str:
    """`git` commit and the files under services/ with uncommitted changes (read only)."""
    if shutil.which("git") is None:
        return "unknown (no git)"

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=root, check=False)  # noqa: S603, S607
        return done.stdout.rstrip()

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain", "--", "services").splitlines()]
    if not changed:
        return f"commit {commit}, services/ as committed"
    return f"commit {commit} plus uncommitted changes in {len(changed)} files under services/: {', '.join(changed)}"


def describe(root: Path) -> Machine:
    cpu = _lscpu()
    model = cpu.get("Model name") or platform.processor() or "unknown"
    family = f" (family {cpu['CPU family']}, model {cpu['Model']})" if "CPU family" in cpu and "Model" in cpu else ""
    return Machine(
        cpu_model=model + family,
        cpus=os.cpu_count() or 0,
        cores_per_socket=cpu.get("Core(s) per socket", "?"),
        hypervisor=cpu.get("Hypervisor vendor", "none"),
        memory_gib=_memory_gib(),
        load_average=", ".join(f"{x:.2f}" for x in os.getloadavg()),
        python=platform.python_version(),
        kernel=platform.release(),
        code=code_state(root),
    )
