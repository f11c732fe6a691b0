"""Where the time goes: py-spy's sampled stacks, reduced to the functions with the largest share.

py-spy (PyPI) samples a running process from outside, so the code under test is not touched.
Only the stacks that pass through `focus` (the measured loop) are counted, so start-up and
rule loading do not dilute the shares. Self = the function itself was on top of the stack;
inclusive = it was anywhere on it.

Stacks are sampled with `--native`: without it py-spy charged time spent in C (msgspec's decoder,
malloc, the garbage collector) to whichever Python frame it read, and put 17.6 % of stage 1 on
`with_matches`, which native stacks show at 6 %. A C frame's time is charged to the Python function
that called it (`decode` includes msgspec's work), except the garbage collector's, which is shown
as its own line: it runs on behalf of whatever allocated last.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

TOP = 15
_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
_IDLE = ("select (", "_run_once (", "poll (", "epoll_wait (")  # an event loop waiting is not work
_GC = "garbage collection (CPython's gc_collect_main)"
# A service's work runs on its event loop. Its other threads mostly wait (the rule watcher sleeps in
# watchfiles' Rust code, 6 ms of CPU a second), yet native sampling counted them busy: 17 % of the
# correlator's samples. A service's profile is therefore the loop's thread.
EVENT_LOOP = "BaseEventLoop.run_forever"
# Frames that only carry the run (interpreter start, the event loop, the CLI): never the answer to "where".
_CARRIERS = ("asyncio/", "runpy", "<frozen", "selectors.py", "threading.py", "services/cli.py", "(siem)")


@dataclass(frozen=True)
class Profile:
    samples: int
    self_share: list[tuple[str, float]]
    inclusive_share: list[tuple[str, float]]

    def markdown(self, title: str) -> list[str]:
        if not self.samples:
            return [f"#### Profile: {title}", "", "py-spy collected no samples.", ""]
        lines = [
            f"#### Profile: {title} ({self.samples} py-spy samples of the measured loop)",
            "",
            "| function (self time) | share | | function (inclusive time) | share |",
            "|---|---|---|---|---|",
        ]
        for index in range(max(len(self.self_share), len(self.inclusive_share))):
            left = self.self_share[index] if index < len(self.self_share) else ("", 0.0)
            right = self.inclusive_share[index] if index < len(self.inclusive_share) else ("", 0.0)
            lines.append(f"| `{left[0]}` | {left[1]:.1%} | | `{right[0]}` | {right[1]:.1%} |")
        return [*lines, ""]


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.prefix) / "bin" / "py-spy")  # the venv running the benchmark
    return found if Path(found).exists() else None


def _function(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    file = match["file"]
    for marker in ("site-packages/", "/work/main/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{match['name']} ({file})"


def _python_frames(frames: list[str]) -> list[str]:
    """The stack's Python functions, with the collector as a last frame where it was running."""
    functions = [_function(f) for f in frames if _is_python(f)]
    if any(frame.startswith("gc_collect") for frame in frames):
        functions.append(_GC)
    return functions


def _is_python(frame: str) -> bool:
    match = _FRAME.match(frame.strip())
    return match is not None and (".py" in match["file"] or match["file"].startswith("<"))


def reduce(collapsed: str, focus: str | None) -> Profile:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if focus is not None and not any(frame.startswith(focus + " ") for frame in frames):
            continue
        if any(frame.startswith(idle) for frame in frames[-3:] for idle in _IDLE):
            continue
        functions = _python_frames(frames)
        if not functions:
            continue
        count = int(count_text)
        total += count
        self_time[functions[-1]] += count
        for name in set(functions):
            inclusive[name] += count
    if not total:
        return Profile(0, [], [])
    # Frames (nearly) every counted stack has (the runner, the event loop, the focus) say nothing: leave them out.
    telling = [
        (name, count / total)
        for name, count in inclusive.most_common()
        if count < 0.97 * total and not any(carrier in name for carrier in _CARRIERS)
    ]
    return Profile(
        total,
        [(name, count / total) for name, count in self_time.most_common(TOP)],
        telling[:TOP],
    )


def record(command: list[str], focus: str | None, *, rate: int = 100, timeout: float = 600) -> Profile:
    """Run `command` under py-spy and reduce its stacks; raises RuntimeError when py-spy is missing."""
    spy = py_spy()
    if spy is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    with tempfile.TemporaryDirectory(prefix="bench-prof-") as work:
        out = Path(work) / "stacks.txt"
        subprocess.run(  # noqa: S603 - py-spy over our own worker command
            [spy, "record", "--native", "--format", "raw", "--rate", str(rate), "-o", str(out), "--", *command],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        return reduce(out.read_text(errors="replace") if out.exists() else "", focus)


def attach(pid: int, seconds: float, focus: str | None, *, rate: int = 100) -> Profile:
    """Sample a running process for `seconds` (the ingest server under load).

    Native stacks need the process paused while py-spy reads them (no `--nonblocking`): at 100
    samples a second that slows it a little, which is why no rate is measured while it runs.
    """
    spy = py_spy()
    if spy is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    with tempfile.TemporaryDirectory(prefix="bench-prof-") as work:
        out = Path(work) / "stacks.txt"
        subprocess.run(  # noqa: S603 - py-spy on a process we started
            [spy, "record", "--format", "raw", "--rate", str(rate), "--duration", str(max(1, int(seconds)))]
            + ["--native", "--pid", str(pid), "-o", str(out)],
            capture_output=True,
            timeout=seconds + 60,
            check=False,
        )
        return reduce(out.read_text(errors="replace") if out.exists() else "", focus)
