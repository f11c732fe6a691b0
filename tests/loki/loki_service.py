"""A real Grafana Loki for the tests: built from its published Go module, run on 127.0.0.1 with throw-away storage.

`go install github.com/grafana/loki/v3/cmd/loki@…` is refused because Loki's go.mod has
replace directives, so the build uses a throw-away main module that carries Loki's go.mod
(its requirements and replaces) and builds Loki's cmd/loki from it. About 9 minutes on two
cores the first time; the binary is cached under ${SIEM_CACHE_DIR:-~/.cache/siem}.

    .venv/bin/python -m tests.loki.loki_service build     # what `make test-services` should run
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.infra import ServiceDidNotStart, free_port

LOKI_VERSION = "v3.7.8"
LOKI_MODULE = "github.com/grafana/loki/v3"
CACHE = Path(os.environ.get("SIEM_CACHE_DIR", Path.home() / ".cache" / "siem")) / f"loki-{LOKI_VERSION}"
BINARY = CACHE / "loki"
BUILD_TIMEOUT_SECONDS = 40 * 60
# Tenants with limits of their own (runtime overrides): one for tests of Loki's 429, and one
# sized as operators size a SIEM's tenant (a whole pipeline's volume), for the benchmarks:
# Loki's default of 4 MB/s per tenant would measure that limit, not the pipeline.
SLOW_TENANT = "slow-tenant"
BULK_TENANT = "bulk-tenant"
_OVERRIDES = f"""\
overrides:
  {SLOW_TENANT}:
    ingestion_rate_mb: 0.01
    ingestion_burst_size_mb: 0.02
  {BULK_TENANT}:
    ingestion_rate_mb: 512
    ingestion_burst_size_mb: 1024
    per_stream_rate_limit: 512MB
    per_stream_rate_limit_burst: 1GB
"""


def build_loki() -> Path:
    """The cached Loki binary, built first if it is not there yet (once, under a lock)."""
    if BINARY.exists():
        return BINARY
    go = shutil.which("go")
    if go is None:
        raise ServiceDidNotStart("`go` is not on PATH: Loki is built from its Go module")
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if BINARY.exists():
            return BINARY
        with tempfile.TemporaryDirectory(prefix="loki-build-") as work:
            _prepare_main_module(go, Path(work))
            env = {**os.environ, "GOFLAGS": "-mod=mod"}
            built = subprocess.run(
                [go, "build", "-o", str(BINARY.with_suffix(".partial")), f"{LOKI_MODULE}/cmd/loki"],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_SECONDS,
            )
            if built.returncode != 0:
                raise ServiceDidNotStart(f"building Loki {LOKI_VERSION} failed:\n{built.stderr[-4000:]}")
            BINARY.with_suffix(".partial").rename(BINARY)
    return BINARY


def _prepare_main_module(go: str, work: Path) -> None:
    """Loki's own go.mod as a main module's, minus what only makes sense inside Loki's repository."""
    fetched = subprocess.run(
        [go, "mod", "download", "-json", f"{LOKI_MODULE}@{LOKI_VERSION}"], capture_output=True, text=True, timeout=600
    )
    if fetched.returncode != 0:
        raise ServiceDidNotStart(f"go mod download {LOKI_MODULE}@{LOKI_VERSION} failed:\n{fetched.stderr[-2000:]}")
    lines = []
    for line in Path(json.loads(fetched.stdout)["GoMod"]).read_text().splitlines():
        if line.startswith("module "):
            line = "module siem.test/lokibuild"
        # `ignore` names a folder of Loki's repository; the pkg/push replace points into it too
        # (the published pkg/push module at the required version is used instead).
        if line.startswith("ignore ") or "=> ./pkg/push" in line:
            continue
        lines.append(line)
    lines.append(f"require {LOKI_MODULE} {LOKI_VERSION}")
    (work / "go.mod").write_text("\n".join(lines) + "\n")
    (work / "tools.go").write_text(f'//go:build tools\n\npackage tools\n\nimport _ "{LOKI_MODULE}/cmd/loki"\n')


class LokiService:
    """One Loki process: multi-tenant (X-Scope-OrgID), default limits, filesystem storage in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.grpc_port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> LokiService:
        binary = build_loki()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "loki.yml"
        config.write_text(self._config())
        (self.data_dir / "overrides.yml").write_text(_OVERRIDES)
        log = (self.data_dir / "loki.log").open("wb")
        self._process = subprocess.Popen(
            [str(binary), f"-config.file={config}"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServiceDidNotStart(f"Loki exited {self._process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise ServiceDidNotStart(f"Loki not ready on {self.url} after {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def log(self) -> str:
        return (self.data_dir / "loki.log").read_text(errors="replace")[-4000:]

    def _config(self) -> str:
        data = self.data_dir
        return textwrap.dedent(f"""\
            # Throw-away Loki for tests: one process, every component, multi-tenant, Loki's default limits.
            auth_enabled: true
            server:
              http_listen_address: 127.0.0.1
              http_listen_port: {self.port}
              grpc_listen_address: 127.0.0.1
              grpc_listen_port: {self.grpc_port}
              log_level: warn
            common:
              instance_addr: 127.0.0.1
              path_prefix: {data}
              storage:
                filesystem:
                  chunks_directory: {data}/chunks
                  rules_directory: {data}/rules
              replication_factor: 1
              ring:
                kvstore:
                  store: inmemory
            ingester:
              lifecycler:
                min_ready_duration: 0s
                final_sleep: 0s
            schema_config:
              configs:
                - from: 2020-10-24
                  store: tsdb
                  object_store: filesystem
                  schema: v13
                  index:
                    prefix: index_
                    period: 24h
            runtime_config:
              file: {data}/overrides.yml
            analytics:
              reporting_enabled: false
            """)


@dataclass(frozen=True)
class LokiEntry:
    labels: dict[str, str]  # stream labels (and structured metadata, as Loki returns them)
    timestamp_ns: int
    line: str


def query_range(
    url: str, tenant: str, query: str, *, since_seconds: float = 7200, limit: int = 5000
) -> list[LokiEntry]:
    """Every entry `query` selects for `tenant` from `since_seconds` ago to 10 minutes ahead, oldest first."""
    now = time.time_ns()
    params = urllib.parse.urlencode(
        {
            "query": query,
            "start": now - int(since_seconds * 1e9),
            "end": now + 600 * 10**9,
            "limit": limit,
            "direction": "forward",
        }
    )
    request = urllib.request.Request(f"{url}/loki/api/v1/query_range?{params}", headers={"X-Scope-OrgID": tenant})
    with urllib.request.urlopen(request, timeout=30) as answer:
        result = json.loads(answer.read())["data"]["result"]
    entries = [LokiEntry(s["stream"], int(ts), line) for s in result for ts, line in s["values"]]
    if len(entries) >= limit:
        raise AssertionError(f"query_range hit its limit of {limit} entries: narrow the query")
    return sorted(entries, key=lambda e: e.timestamp_ns)


def count_entries(url: str, tenant: str, selector: str) -> int:
    """How many entries `selector` holds for `tenant` within an hour either side of now (a metric query: no lines)."""
    params = urllib.parse.urlencode(
        {"query": f"sum(count_over_time({selector}[2h]))", "time": time.time_ns() + 3600 * 10**9}
    )
    request = urllib.request.Request(f"{url}/loki/api/v1/query?{params}", headers={"X-Scope-OrgID": tenant})
    with urllib.request.urlopen(request, timeout=30) as answer:
        result = json.loads(answer.read())["data"]["result"]
    return int(result[0]["value"][1]) if result else 0


@functools.cache
def session_loki() -> LokiService:
    """The Loki every test of the session shares (tests isolate themselves by tenant); stopped at exit."""
    service = LokiService(Path(tempfile.mkdtemp(prefix="loki-")))
    atexit.register(service.stop)
    return service.start()


if __name__ == "__main__":
    if sys.argv[1:] != ["build"]:
        raise SystemExit("usage: python -m tests.loki.loki_service build")
    print(build_loki())
