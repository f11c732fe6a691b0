"""RFC 6587 TCP framing: octet counting and newline framing, split anywhere, oversize refused."""

from __future__ import annotations

import pytest

from services.ingest.syslog.framing import Framer


def test_octet_counted_and_newline_frames_mixed() -> None:
    """Octet-counted frames (which may hold newlines) and LF-terminated lines are told apart frame by frame."""
    stream = b"11 <13>1 hello\n11 <13>1 two\nx<14>plain line\r\n"
    framer = Framer(1024)
    assert framer.feed(stream) == [b"<13>1 hello", b"<13>1 two\nx", b"<14>plain line"]
    assert framer.error is None and framer.pending() == b""


def test_frames_split_across_reads_byte_by_byte() -> None:
    """A stream delivered one byte at a time yields the same messages, each exactly once."""
    stream = b"5 abcde<13>line one\n7 1234567"
    framer = Framer(1024)
    messages = [m for byte in stream for m in framer.feed(bytes([byte]))]
    assert messages == [b"abcde", b"<13>line one", b"1234567"]


def test_last_line_without_newline_is_pending_at_close() -> None:
    """A sender that closes after a last line without LF still has that line delivered."""
    framer = Framer(1024)
    assert framer.feed(b"<13>first\n<13>last") == [b"<13>first"]
    assert framer.pending() == b"<13>last"


@pytest.mark.parametrize(
    ("stream", "error_type"),
    [
        (b"2000 " + b"x" * 10, "message_too_large"),
        (b"x" * 300, "message_too_large"),
        (b"12345678901234", "invalid_frame"),
    ],
)
def test_unframeable_stream_sets_an_error_and_keeps_the_rest(stream: bytes, error_type: str) -> None:
    """A frame over the cap or a count without its space stops the framer with a bounded error type."""
    framer = Framer(256)
    assert framer.feed(b"<13>ok\n" + stream) == [b"<13>ok"]
    assert framer.error is not None and framer.error.error_type == error_type
    assert framer.feed(b"<13>more\n") == []
    assert framer.pending() == stream
