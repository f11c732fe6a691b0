"""Syslog over TCP (RFC 6587): octet counting (`LEN SP MSG`) or non-transparent framing (one message
per line), told apart frame by frame by the first byte, as rsyslog does.

Pure and incremental: feed it what the socket gave, take the whole messages out.
"""

from __future__ import annotations

from services.shared.errors import ParseError

_TRAILERS = b"\r\n\x00"


class Framer:
    """Splits a TCP byte stream into syslog messages no longer than `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.error: ParseError | None = None  # set once the stream cannot be framed: the connection must close
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The messages completed by `data`. After an error (see `error`) it takes nothing more: a byte
        stream out of step has no way back."""
        if self.error:
            return []
        self._buffer += data
        messages: list[bytes] = []
        while self._buffer:
            first = self._buffer[0]
            try:
                # '1'..'9' opens an octet count (RFC 6587 §3.4.1); anything else is a line.
                message = self._counted() if 0x31 <= first <= 0x39 else self._line()
            except ParseError as error:
                self.error = error
                break
            if message is None:
                break
            if message.strip(_TRAILERS + b" "):
                messages.append(message)
        return messages

    def pending(self) -> bytes:
        """What is left when the sender closes: a last message without its newline, or a cut frame."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        return rest.rstrip(_TRAILERS)

    def _counted(self) -> bytes | None:
        space = self._buffer.find(b" ", 0, 12)
        if space < 0:
            if len(self._buffer) >= 12:
                raise ParseError("invalid_frame", "an octet count is not followed by a space")
            return None
        digits = bytes(self._buffer[:space])
        if not digits.isdigit():
            raise ParseError("invalid_frame", "an octet count holds something other than digits")
        length = int(digits)
        if length > self.max_bytes:
            raise ParseError("message_too_large", f"a frame announces {length} bytes, more than {self.max_bytes}")
        end = space + 1 + length
        if len(self._buffer) < end:
            return None
        message = bytes(self._buffer[space + 1 : end])
        del self._buffer[:end]
        return message.rstrip(_TRAILERS)

    def _line(self) -> bytes | None:
        end = self._buffer.find(b"\n")
        if end < 0:
            if len(self._buffer) > self.max_bytes:
                raise ParseError("message_too_large", f"a line runs past {self.max_bytes} bytes without a newline")
            return None
        if end > self.max_bytes:
            raise ParseError("message_too_large", f"a line is longer than {self.max_bytes} bytes")
        message = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return message.rstrip(_TRAILERS)
