"""Hypothesis strategies for the alert models, for the tests holding a writer of alerts to pydantic's."""

from __future__ import annotations

from hypothesis import strategies as st

from services.shared.alert import RuleRef, Technique

LEVELS = ("low", "medium", "high", "critical", "informational")


def rule_refs(text: st.SearchStrategy[str], levels: tuple[str, ...] = LEVELS) -> st.SearchStrategy[RuleRef]:
    return st.builds(
        RuleRef,
        id=text,
        title=text,
        level=st.sampled_from(levels),
        tags=st.lists(text, max_size=3),
        description=st.none() | text,
        runbook=st.none() | text,
    )


def techniques(text: st.SearchStrategy[str], max_tactics: int = 3) -> st.SearchStrategy[Technique]:
    return st.builds(Technique, id=text, name=text, tactics=st.lists(text, max_size=max_tactics))
