"""Delivery guarantees, tested for real: Kafka, Alertmanager and a Loki built from its Go module.

Each test breaks one thing (Alertmanager, Loki, the sink process, the broker) mid-stream and
then checks that nothing accepted was lost and nothing was duplicated where it lands; the
Loki tests end with a reconciliation against what ingest accepted (tests/loki/reconcile.py).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from services.correlator.sinks.delivery import alert_delivery, event_delivery
from services.correlator.sinks.settings import SinksSettings
from services.shared import topics
from services.shared.alert import Alert, RuleRef, alert_id
from services.shared.bus import Record
from services.shared.bus.kafka import KafkaBus
from services.shared.event import EnrichedEvent
from tests.infra import Alertmanager, KafkaBroker, SiemProcess, alerts_in_alertmanager, free_port, http_json, wait_until
from tests.loki.gateway import LokiGateway
from tests.loki.loki_service import query_range
from tests.loki.reconcile import Reconciliation, reconcile

ALERTMANAGER_OUTAGE_SECONDS = 30  # the scenario, kept as asked


def _prefix() -> str:
    return f"g{uuid.uuid4().hex[:10]}."


def _alert(rule_id: str, source_ip: str) -> Alert:
    now = datetime.now(UTC)
    group = {"source.ip": source_ip}
    return Alert(
        id=alert_id(rule_id, group, [source_ip]),
        rule=RuleRef(id=rule_id, title="Guarantee test", level="high"),
        group=group,
        count=1,
        first_seen=now,
        last_seen=now,
        event_ids=[source_ip],
        hunt='{module="generic"}',
    )


def _event(n: int, run: str) -> EnrichedEvent:
    now = datetime.now(UTC)
    return EnrichedEvent(id=f"{run}-{n}", time=now, ingested=now, event={"module": "generic"}, labels={"env": run})


async def _until(check: Callable[[], object], what: str) -> None:
    await asyncio.to_thread(wait_until, check, 60, what)


def _wait_reconciled(ids: list[str], loki: LokiGateway, tenant: str, timeout: float = 90) -> Reconciliation:
    def complete() -> Reconciliation | None:
        result = reconcile(ids, loki, tenant)
        return result if not result.missing else None

    try:
        return wait_until(complete, timeout, "every accepted event in Loki", interval=1)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{reconcile(ids, loki, tenant).report()}") from None


async def test_alertmanager_down_for_30s_then_up_gets_every_alert_once(kafka: KafkaBroker, tmp_path: Path) -> None:
    """Alertmanager stopped for 30 s (losing its memory) then started: every alert is back, each exactly once."""
    am = Alertmanager("alertmanager.sh", tmp_path / "am", free_port())
    am.start()
    settings = SinksSettings(
        kafka_bootstrap=kafka.bootstrap,
        kafka_topic_prefix=_prefix(),
        alertmanager_url=[am.url],
        alertmanager_resend_seconds=2,
        sink_max_backoff_seconds=2,
        var_dir=tmp_path,
    )
    bus = KafkaBus(settings)
    await bus.start()
    stopping = asyncio.Event()
    stage = asyncio.create_task(alert_delivery(settings, bus, drain_on_stop=False).run(stopping))
    rule_id = str(uuid.uuid4())
    before = [_alert(rule_id, f"192.0.2.{i}") for i in range(5)]
    during = [_alert(rule_id, f"198.51.100.{i}") for i in range(5)]
    try:
        await bus.send_many(topics.ALERTS, [Record(a.model_dump_json().encode()) for a in before])
        await asyncio.to_thread(
            wait_until, lambda: len(alerts_in_alertmanager(am.url, rule_id)) == 5, 60, "the first five alerts"
        )
        await asyncio.to_thread(am.stop)
        # New alerts and two of the first five again (a redelivery) while Alertmanager is away; the other three
        # come back only through the sink's re-posts, since a restarted Alertmanager remembers no alert.
        await bus.send_many(topics.ALERTS, [Record(a.model_dump_json().encode()) for a in during + before[:2]])
        await asyncio.sleep(ALERTMANAGER_OUTAGE_SECONDS)
        await asyncio.to_thread(am.start)  # a fresh process: Alertmanager keeps alerts in memory only

        def all_ten() -> list[dict[str, object]] | None:
            held = alerts_in_alertmanager(am.url, rule_id)
            return held if len(held) >= 10 else None

        held = await asyncio.to_thread(wait_until, all_ten, 60, "all ten alerts after the outage")
        await asyncio.sleep(settings.alertmanager_resend_seconds * 2)  # re-posts must not add copies either
        held = alerts_in_alertmanager(am.url, rule_id)
        ips = sorted(str(a["labels"]["source_ip"]) for a in held)  # type: ignore[index]
        assert ips == sorted(str(a.group["source.ip"]) for a in before + during)
    finally:
        stopping.set()
        await stage
        await bus.close()
        am.stop()


async def test_loki_failing_for_a_while_loses_nothing_and_duplicates_nothing(
    kafka: KafkaBroker, loki: LokiGateway, tenant: str, tmp_path: Path
) -> None:
    """429s, then 500s after Loki had stored the push: afterwards every event is in Loki once per entry."""
    settings = SinksSettings(
        kafka_bootstrap=kafka.bootstrap,
        kafka_topic_prefix=_prefix(),
        loki_url=loki.url,
        loki_tenant=tenant,
        loki_batch_wait_seconds=0.2,
        loki_batch_max_bytes=16 * 1024,
        sink_max_backoff_seconds=0.5,
        var_dir=tmp_path,
    )
    bus = KafkaBus(settings)
    await bus.start()
    stopping = asyncio.Event()
    stage = asyncio.create_task(event_delivery(settings, bus, drain_on_stop=False).run(stopping))
    events = [_event(n, tenant) for n in range(600)]
    try:
        await bus.send_many(topics.ENRICHED, [Record(e.model_dump_json().encode()) for e in events[:200]])
        await _until(lambda: loki.stats["entries_accepted"] >= 200, "the first events in Loki")
        loki.fail(429, seconds=3)
        await bus.send_many(topics.ENRICHED, [Record(e.model_dump_json().encode()) for e in events[200:400]])
        await _until(lambda: loki.stats["faults_429"] >= 2, "429s")
        loki.fail(500, seconds=3, after_forwarding=True)  # stored by Loki, yet the sink hears 500
        await bus.send_many(topics.ENRICHED, [Record(e.model_dump_json().encode()) for e in events[400:]])
        await _until(lambda: loki.stats["faults_500"] >= 2, "500s")
        result = await asyncio.to_thread(_wait_reconciled, [e.id for e in events], loki, tenant)
    finally:
        stopping.set()
        await stage
        await bus.close()
    print(result.report())
    assert result.duplicates == {}, result.report()
    assert result.stored == len(events), result.report()


async def test_offsets_are_not_committed_while_loki_refuses_to_answer_2xx(
    kafka: KafkaBroker, loki: LokiGateway, tenant: str, tmp_path: Path
) -> None:
    """With Loki answering 500, a stopped sink has committed nothing: its group reads every event again."""
    settings = SinksSettings(
        kafka_bootstrap=kafka.bootstrap,
        kafka_topic_prefix=_prefix(),
        loki_url=loki.url,
        loki_tenant=tenant,
        loki_batch_wait_seconds=0,
        sink_max_backoff_seconds=0.2,
        var_dir=tmp_path,
    )
    bus = KafkaBus(settings)
    await bus.start()
    loki.fail(500)
    stopping = asyncio.Event()
    stage = asyncio.create_task(event_delivery(settings, bus, drain_on_stop=False).run(stopping))
    try:
        await bus.send_many(topics.ENRICHED, [Record(_event(n, tenant).model_dump_json().encode()) for n in range(5)])
        await _until(lambda: loki.stats["faults_500"] >= 3, "retries against Loki")
        stage.cancel()  # the process dies mid-retry
        await asyncio.gather(stage, return_exceptions=True)
        again = bus.consumer("siem-event-delivery", [topics.ENRICHED])
        await again.start()
        seen: list[bytes] = []
        deadline = time.monotonic() + 60
        while len(seen) < 5 and time.monotonic() < deadline:
            seen += [m.value for m in await again.getmany(timeout_ms=500, max_records=100)]
        await again.stop()
    finally:
        await bus.close()
    assert sorted(orjson.loads(v)["id"] for v in seen) == sorted(f"{tenant}-{n}" for n in range(5))


RULE = """\
title: Guarantee marker
id: 6f1c2a8e-0b7d-4c55-9d1e-3a2b4c5d6e7f
status: test
logsource:
  product: generic
detection:
  selection:
    event.action: guarantee-marker
  condition: selection
level: medium
"""


def _pipeline_env(kafka: KafkaBroker, loki: LokiGateway, tenant: str, tmp_path: Path) -> dict[str, str]:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "marker.yml").write_text(RULE)
    return {
        "SIEM_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "SIEM_KAFKA_TOPIC_PREFIX": _prefix(),
        "SIEM_LOKI_URL": loki.url,
        "SIEM_LOKI_TENANT": tenant,
        "SIEM_LOKI_SERVICE_LOGS": "false",  # only events in this tenant: the reconciliation counts entries
        "SIEM_LOKI_BATCH_MAX_BYTES": "16384",
        "SIEM_LOKI_BATCH_WAIT_SECONDS": "0.2",
        "SIEM_SINK_MAX_BACKOFF_SECONDS": "1",
        "SIEM_CONSUMER_MAX_RECORDS": "200",
        "SIEM_RULES_DIRS": str(rules),
        "SIEM_VAR_DIR": str(tmp_path / "var"),
    }


def _post(ingest_url: str, run: str, start: int, count: int) -> list[str]:
    """Post `count` events (every tenth matches the rule); the ids ingest accepted (202), none if it refused."""
    lines = [
        orjson.dumps({"id": f"{run}-{n}", "event": {"action": "guarantee-marker" if n % 10 == 0 else "noise"}})
        for n in range(start, start + count)
    ]
    try:
        status, answer = http_json("POST", ingest_url + "/v1/events", b"\n".join(lines))
    except OSError:
        return []
    return [str(i) for i in answer["ids"]] if status == 202 and isinstance(answer, dict) else []


def test_a_sink_process_killed_mid_batch_and_restarted_loses_nothing(
    kafka: KafkaBroker, loki: LokiGateway, tenant: str, tmp_path: Path, processes: list[SiemProcess]
) -> None:
    """SIGKILL of `siem run sinks` while its pushes are in flight, then a restart: every accepted event is in Loki."""
    env = _pipeline_env(kafka, loki, tenant, tmp_path)
    ingest = SiemProcess("ingest", env, tmp_path / "ingest.log")
    correlator = SiemProcess("correlator", env, tmp_path / "correlator.log")
    sinks = SiemProcess("sinks", env, tmp_path / "sinks.log")
    processes.extend([ingest, correlator, sinks])
    for process, service in ((ingest, "ingest"), (correlator, "correlator"), (sinks, "sinks")):
        process.wait_ready(service)
    loki.delay_seconds = 0.3  # each push is held after Loki stored it: the kill lands between store and commit
    accepted = [i for start in range(0, 2000, 250) for i in _post(ingest.url("ingest"), tenant, start, 250)]
    wait_until(lambda: loki.stats["pushes_accepted"] >= 3, 60, "the sink to be mid-stream")
    sinks.process.kill()
    sinks.process.wait()
    loki.delay_seconds = 0
    restarted = SiemProcess("sinks", env, tmp_path / "sinks-restarted.log")
    processes.append(restarted)
    restarted.wait_ready("sinks")
    result = _wait_reconciled(accepted, loki, tenant)
    print(result.report())
    assert len(accepted) == 2000
    assert result.duplicates == {}, result.report()
    # The matched events carry their rule's level, the others "none": the correlator's output, not just bytes.
    assert {e.labels["level"] for e in query_range(loki.loki_url, tenant, '{module="generic"}')} == {"medium", "none"}


def test_the_broker_restarted_mid_stream_loses_nothing(
    kafka: KafkaBroker, loki: LokiGateway, tenant: str, tmp_path: Path, processes: list[SiemProcess]
) -> None:
    """`siem run all` over Kafka keeps posting through a broker restart: every event ingest accepted is in Loki."""
    env = _pipeline_env(kafka, loki, tenant, tmp_path)
    siem = SiemProcess("all", env, tmp_path / "siem.log")
    processes.append(siem)
    siem.wait_ready("ingest")
    accepted: list[str] = []
    posting = threading.Event()
    posting.set()

    def keep_posting() -> None:
        start = 0
        while posting.is_set():
            accepted.extend(_post(siem.url("ingest"), tenant, start, 20))
            start += 20
            time.sleep(0.1)

    poster = threading.Thread(target=keep_posting)
    poster.start()
    try:
        wait_until(lambda: len(accepted) >= 200, 60, "events flowing before the restart")
        kafka.stop()
        time.sleep(3)
        kafka.start()
        before_restart = len(accepted)
        wait_until(lambda: len(accepted) >= before_restart + 200, 120, "events flowing after the restart")
    finally:
        posting.clear()
        poster.join()
    result = _wait_reconciled(accepted, loki, tenant, timeout=120)
    print(result.report())
    assert result.duplicates == {}, result.report()
    assert siem.process.poll() is None, siem.log()
