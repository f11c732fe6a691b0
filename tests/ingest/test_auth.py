"""Credentials a request presents: Bearer, or Basic whose password is the token; compared against every token."""

from __future__ import annotations

import base64

import pytest

from services.ingest.auth import matching_token, presented_token


@pytest.mark.parametrize(
    ("authorization", "token"),
    [
        ("Bearer abc", b"abc"),
        ("bearer  abc ", b"abc"),
        ("Basic " + base64.b64encode(b"jenkins:s3cret").decode(), b"s3cret"),
        ("Basic " + base64.b64encode(b":only-password").decode(), b"only-password"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), None),
        ("Basic !!!notbase64", None),
        ("Bearer ", None),
        ("Token abc", None),
        ("", None),
    ],
)
def test_presented_token(authorization: str, token: bytes | None) -> None:
    """Bearer gives its token, Basic its password (Jenkins' URL user info, Promtail, Fluent Bit); else nothing."""
    assert presented_token({"Authorization": authorization}) == token


def test_matching_token_names_its_position_for_rotation() -> None:
    """Either of two rotated tokens matches, reported by position (no secret in rate-limit keys or logs)."""
    tokens = [b"old", b"new"]
    assert (matching_token(b"old", tokens), matching_token(b"new", tokens), matching_token(b"ne", tokens)) == (
        0,
        1,
        None,
    )
