"""`POST /loki/api/v1/push` accepts exactly what Alloy, Promtail and Fluent Bit send.

Loki cannot run here; the protobuf body is built with Loki's own `push.proto` (fetched through the
Go module proxy and compiled at test time, see tests/ingest/loki_proto.py) and snappy block
compression, the way Loki's clients build it; the JSON body follows Loki's HTTP API documentation.
"""

from __future__ import annotations

import gzip
from types import ModuleType
from typing import Any

import cramjam
import orjson

from services.shared import topics
from services.shared.bus.memory import MemoryBus
from tests.ingest.conftest import MakeClient
from tests.memory_bus import read_topic

SSHD = "Feb 21 21:54:44 web-1 sshd[3402]: Failed password for root from 203.0.113.7 port 29160 ssh2"
APP = '{"level":"info","msg":"GET / 200"}'
PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def _push_request(loki_push: ModuleType) -> bytes:
    """Two streams, one with structured metadata, as Loki's PushRequest, snappy block compressed."""
    request = loki_push.PushRequest()
    host_stream = request.streams.add(labels='{job="varlogs", host="web-1", filename="/var/log/auth.log"}')
    entry = host_stream.entries.add(line=SSHD)
    entry.timestamp.seconds, entry.timestamp.nanos = 1_700_000_000, 123_456_789
    pod_stream = request.streams.add(labels='{namespace="shop", pod="web-7d9", container="app"}')
    app_entry = pod_stream.entries.add(line=APP)
    app_entry.timestamp.seconds = 1_700_000_001
    app_entry.structuredMetadata.add(name="trace_id", value="abc123")
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


async def _events(bus: MemoryBus) -> list[dict[str, Any]]:
    return [orjson.loads(m.value) for m in await read_topic(bus, topics.EVENTS)]


async def test_protobuf_push_built_with_lokis_own_proto(
    make_client: MakeClient, bus: MemoryBus, loki_push: ModuleType
) -> None:
    """A snappy protobuf PushRequest from Loki's definition answers 204; each line is an event with its labels,
    and the auth.log line is parsed as sshd."""
    client = await make_client(ingest_loki_tokens=["alloy"])
    headers = {**PROTOBUF, "Authorization": "Bearer alloy", "X-Scope-OrgID": "team-a"}
    response = await client.post("/loki/api/v1/push", data=_push_request(loki_push), headers=headers)
    assert response.status == 204
    sshd, app = await _events(bus)
    assert sshd["labels"] == {"job": "varlogs", "host": "web-1", "filename": "/var/log/auth.log", "tenant": "team-a"}
    assert sshd["time"] == "2023-11-14T22:13:20.123456Z"  # the agent's timestamp
    assert sshd["logsource"] == {"product": "linux", "service": "sshd"}  # null fields are left out
    assert (sshd["event"]["action"], sshd["event"]["outcome"]) == ("ssh_login", "failure")
    assert (sshd["user"]["name"], sshd["source"]["ip"], sshd["host"]["name"]) == ("root", "203.0.113.7", "web-1")
    assert app["labels"] == {"namespace": "shop", "pod": "web-7d9", "container": "app", "tenant": "team-a"}
    assert (app["message"], app["logsource"]["product"]) == (APP, "generic")
    assert app["raw"]["metadata"] == {"trace_id": "abc123"}


async def test_json_push_plain_and_gzip(make_client: MakeClient, bus: MemoryBus) -> None:
    """The JSON form (nanosecond strings, optional metadata), plain and gzip-encoded, gives the same events."""
    client = await make_client()
    push = {
        "streams": [
            {"stream": {"job": "varlogs", "host": "web-1"}, "values": [["1700000000123456789", SSHD]]},
            {"stream": {"app": "shop"}, "values": [["1700000001000000000", APP, {"trace_id": "abc123"}]]},
        ]
    }
    body = orjson.dumps(push)
    assert (
        await client.post("/loki/api/v1/push", data=body, headers={"Content-Type": "application/json"})
    ).status == 204
    gzipped = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    assert (await client.post("/loki/api/v1/push", data=gzip.compress(body), headers=gzipped)).status == 204
    plain, plain_app, again, again_app = await _events(bus)
    assert (plain["id"], plain_app["id"]) == (again["id"], again_app["id"])  # a resent entry keeps its id
    assert plain["labels"] == {"job": "varlogs", "host": "web-1"} and plain["event"]["action"] == "ssh_login"
    assert (plain_app["labels"], plain_app["raw"]["metadata"]) == ({"app": "shop"}, {"trace_id": "abc123"})


async def test_protobuf_and_json_of_the_same_entry_agree(
    make_client: MakeClient, bus: MemoryBus, loki_push: ModuleType
) -> None:
    """The same entry pushed as protobuf and as JSON makes the same event id (labels, time and line)."""
    client = await make_client()
    request = loki_push.PushRequest()
    entry = request.streams.add(labels='{job="varlogs"}').entries.add(line="hello")
    entry.timestamp.seconds, entry.timestamp.nanos = 5, 7
    protobuf = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
    json_body = orjson.dumps({"streams": [{"stream": {"job": "varlogs"}, "values": [["5000000007", "hello"]]}]})
    assert (await client.post("/loki/api/v1/push", data=protobuf, headers=PROTOBUF)).status == 204
    assert (await client.post("/loki/api/v1/push", data=json_body, headers=JSON)).status == 204
    first, second = await _events(bus)
    assert first["id"] == second["id"] and first["message"] == "hello"


async def test_undecodable_push_is_a_400_and_dead_lettered(make_client: MakeClient, bus: MemoryBus) -> None:
    """A body that is not snappy protobuf answers 400 with Loki-style reason and is kept in siem.dlq."""
    client = await make_client()
    response = await client.post("/loki/api/v1/push", data=b"not snappy", headers=PROTOBUF)
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_compression"
    (dead,) = await read_topic(bus, topics.DLQ)
    assert dead.value == b"not snappy" and dead.header("siem.source") == b"loki"
    assert await read_topic(bus, topics.EVENTS) == []


async def test_loki_push_needs_its_token(make_client: MakeClient) -> None:
    """With Loki tokens configured, a push without one is refused 401; basic auth's password is a token too."""
    client = await make_client(ingest_loki_tokens=["alloy"])
    body = orjson.dumps({"streams": [{"stream": {"a": "b"}, "values": [["1", "x"]]}]})
    assert (await client.post("/loki/api/v1/push", data=body, headers=JSON)).status == 401
    basic = {
        **JSON,
        "Authorization": "Basic Zmx1ZW50Yml0OmFsbG95",
    }  # fluentbit:alloy, Fluent Bit's http_user/http_passwd
    assert (await client.post("/loki/api/v1/push", data=body, headers=basic)).status == 204


async def test_journal_entry_as_json_is_read_like_syslog(make_client: MakeClient, bus: MemoryBus) -> None:
    """A journald entry forwarded as JSON (Alloy `format_as_json`) is parsed by its SYSLOG_IDENTIFIER, like syslog."""
    client = await make_client()
    entry = {
        "MESSAGE": "Invalid user admin from 198.51.100.4 port 50022",
        "SYSLOG_IDENTIFIER": "sshd",
        "_PID": "812",
        "_HOSTNAME": "bastion",
        "PRIORITY": "6",
        "SYSLOG_FACILITY": "4",
        "_SYSTEMD_UNIT": "ssh.service",
    }
    push = {
        "streams": [{"stream": {"job": "journal"}, "values": [["1700000000000000000", orjson.dumps(entry).decode()]]}]
    }
    assert (await client.post("/loki/api/v1/push", data=orjson.dumps(push), headers=JSON)).status == 204
    (event,) = await _events(bus)
    assert (event["logsource"]["service"], event["event"]["action"]) == ("sshd", "ssh_invalid_user")
    assert (event["user"]["name"], event["source"]["ip"], event["source"]["port"]) == ("admin", "198.51.100.4", 50022)
    assert (event["host"]["name"], event["process"]["pid"], event["message"]) == ("bastion", 812, entry["MESSAGE"])
    assert event["raw"]["syslog"]["format"] == "journal"
