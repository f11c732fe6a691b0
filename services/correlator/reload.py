"""Hot reload: on a change under the rule folders, or on SIGHUP, a new rule set swaps in whole.

A file that no longer loads keeps its previous rules running: the reload takes every rule
that loads now, plus the old rules of each file that now has errors. The outcome is a
metric and a log line either way.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import structlog
import watchfiles

from services.correlator.metrics import RELOADS, RULES_LOADED, RULES_REFUSED
from services.correlator.rules.config import RulesConfig
from services.correlator.rules.loader import LoadedRules, load_rules
from services.correlator.ruleset import RuleSet

log = structlog.get_logger()


def reload_rules(current: RuleSet, dirs: list[Path], config: RulesConfig) -> RuleSet:
    fresh = load_rules(dirs, config)
    broken_files = {error.location.rsplit(":", 1)[0] for error in fresh.errors}
    loaded_ids = {r.ref.id for r in fresh.rules} | {c.ref.id for c in fresh.correlations}

    def kept(location: str, rule_id: str) -> bool:
        return location.rsplit(":", 1)[0] in broken_files and rule_id not in loaded_ids

    merged = LoadedRules(
        rules=fresh.rules + [r for r in current.detections if kept(r.location, r.ref.id)],
        correlations=fresh.correlations + [c for c in current.correlations.values() if kept(c.location, c.ref.id)],
        errors=fresh.errors,
        files=fresh.files,
    )
    return RuleSet(merged)


def report(rules: RuleSet) -> None:
    for error in rules.errors:
        log.error("rule_refused", location=error.location, reason=error.reason)
    RULES_LOADED.labels("detection").set(len(rules.detections))
    RULES_LOADED.labels("correlation").set(len(rules.correlations))
    RULES_REFUSED.set(len(rules.errors))


class RuleReloader:
    """A stage that watches the rule folders and SIGHUP, and hands each new rule set to `apply`."""

    name = "rules_reload"

    def __init__(
        self,
        rules: RuleSet,
        dirs: list[Path],
        config: RulesConfig,
        apply: Callable[[RuleSet], None],
        *,
        watch: bool,
    ) -> None:
        self.rules = rules
        self._dirs = [d for d in dirs if d.exists()]
        self._config = config
        self._apply = apply
        self._watch = watch
        self._requested = asyncio.Event()

    async def run(self, stopping: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self._requested.set)
        watcher = asyncio.create_task(self._watch_files(stopping)) if self._watch and self._dirs else None
        try:
            while not stopping.is_set():
                requested = asyncio.create_task(self._requested.wait())
                stop = asyncio.create_task(stopping.wait())
                await asyncio.wait([requested, stop], return_when=asyncio.FIRST_COMPLETED)
                requested.cancel()
                stop.cancel()
                if self._requested.is_set():
                    self._requested.clear()
                    self.reload()
        finally:
            loop.remove_signal_handler(signal.SIGHUP)
            if watcher is not None:
                watcher.cancel()

    async def _watch_files(self, stopping: asyncio.Event) -> None:
        async for _ in watchfiles.awatch(*self._dirs, stop_event=stopping, debounce=500, recursive=True):
            self._requested.set()

    def reload(self) -> None:
        try:
            fresh = reload_rules(self.rules, self._dirs, self._config)
        except Exception as exc:  # never let a reload take the service down
            RELOADS.labels("failed").inc()
            log.error("rules_reload_failed", error=repr(exc))
            return
        self.rules = fresh
        self._apply(fresh)
        report(fresh)
        outcome = "partial" if fresh.errors else "ok"
        RELOADS.labels(outcome).inc()
        log.info(
            "rules_reloaded",
            outcome=outcome,
            detections=len(fresh.detections),
            correlations=len(fresh.correlations),
            refused=len(fresh.errors),
        )
