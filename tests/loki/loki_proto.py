"""Loki's own push.proto for code outside pytest fixtures (the gateway, golden tests), compiled once per process.

The fetching and compiling is tests/ingest/loki_proto.py's (Go module proxy + grpc_tools.protoc);
this reuses its module, so the `logproto` messages are registered in protobuf's pool only once.
"""

from __future__ import annotations

import functools
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from tests.ingest.loki_proto import PACKAGE, compile_loki_push


@functools.cache
def loki_push_pb2() -> ModuleType:
    """Loki's `push_pb2` (PushRequest, StreamAdapter, EntryAdapter), the one the ingest tests use if already built."""
    already = sys.modules.get(f"{PACKAGE}.push_pb2")
    return already if already is not None else compile_loki_push(Path(tempfile.mkdtemp(prefix="loki-proto-")))
