"""Every LogQL query of the dashboards: labels the Loki sink emits, valid for a real Loki, and showing data.

The real Loki (v3.7.8, tests/loki/loki_service.py) parses each query (format_query) and runs it
over the corpus's events as the real Loki sink stored them; a few queries are checked against
counts worked out from those events.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from services.correlator.sinks.loki import LEVELS, loki_labels
from services.correlator.sinks.settings import SinksSettings
from services.shared.event import EnrichedEvent
from tests.dashboards.conftest import Seeded
from tests.dashboards.grafana_json import LOKI, Query, concrete, every_query, load_boards
from tests.dashboards.logql import Matcher, label_values, stream_selectors
from tests.dashboards.loki_api import by_label, format_query, loki_get, query_range, returned
from tests.loki.loki_service import LokiService

BOARDS = load_boards()
QUERIES = every_query(BOARDS, LOKI)
PANEL_QUERIES = [q for q in QUERIES if not q.panel.startswith("$")]
VARIABLE_QUERIES = [q for q in QUERIES if q.panel.startswith("$")]
# docs/sinks/loki-labels.md: the values `module` and `level` take.
MODULES = {"git", "jenkins", "kubernetes", "system", "app", "generic"}
LEVEL_VALUES = {"none", "unknown", *LEVELS}


def emitted_labels() -> set[str]:
    """The stream labels the Loki sink gives an event that has every one of them, with default settings."""
    settings = SinksSettings()
    now = datetime.now(UTC)
    event = EnrichedEvent(
        id="x",
        time=now,
        ingested=now,
        event={"module": "git", "dataset": "github.push"},
        logsource={"product": "github", "service": "webhook"},
        labels={name: "value" for name in settings.loki_event_labels},
    )
    return set(loki_labels(event, settings.loki_event_labels))


def foreign_labels(query: str) -> list[str]:
    """What in the query's stream selectors the sink does not emit: unknown labels, impossible values."""
    if query.startswith("label_values("):
        selectors, listed = label_values(query)
        selectors.append([Matcher(listed, "=~", ".+")])
    else:
        selectors = stream_selectors(query)
    if not selectors:
        return ["no stream selector"]
    wrong = []
    for matcher in (m for selector in selectors for m in selector):
        if matcher.label not in emitted_labels():
            wrong.append(f"label {matcher.label}")
        known = {"module": MODULES, "level": LEVEL_VALUES}.get(matcher.label)
        if known and matcher.op in ("=", "!=") and matcher.value not in known:
            wrong.append(f"{matcher.label} value {matcher.value!r}")
    return wrong


def _id(query: Query) -> str:
    return f"{query.board}/{query.panel}"


def test_the_sink_emits_the_documented_labels() -> None:
    """The label set the queries are checked against is the contract of docs/sinks/loki-labels.md."""
    assert emitted_labels() == {"module", "dataset", "level", "product", "service", "env", "cluster"}


def test_the_label_check_catches_what_the_sink_does_not_emit() -> None:
    """A selector on Loki's own `service_name`, the service-log labels, or an unknown module is caught."""
    assert foreign_labels('{service_name="sshd"}') == ["label service_name"]
    assert foreign_labels('{app="siem", component="siem-sinks"}') == ["label app", "label component"]
    assert foreign_labels('sum(count_over_time({module="k8s"} | json [5m]))') == ["module value 'k8s'"]
    assert foreign_labels("label_values(host)") == ["label host"]
    assert foreign_labels('{module="git"} | json | line_format "{{.x}}"') == []


@pytest.mark.parametrize("query", QUERIES, ids=_id)
def test_logql_uses_only_labels_the_loki_sink_emits(query: Query) -> None:
    """Every stream selector of every query and variable names only labels (and values) the sink emits."""
    assert foreign_labels(query.expr) == [], str(query)


@pytest.mark.parametrize("query", PANEL_QUERIES, ids=_id)
def test_loki_parses_every_query(loki_service: LokiService, query: Query) -> None:
    """Loki's own parser accepts the query once Grafana has filled in its variables."""
    status, answer = format_query(loki_service.url, concrete(query, BOARDS[query.board]))
    assert status == 200, f"{query}\n{answer}"


def test_loki_refuses_a_broken_query(loki_service: LokiService) -> None:
    """The parse check can fail: Loki answers 400 to a query cut short."""
    status, _ = format_query(loki_service.url, '{module="git"} | json |')
    assert status == 400


@pytest.mark.parametrize("query", PANEL_QUERIES, ids=_id)
def test_every_panel_shows_the_corpus_events(seeded: Seeded, query: Query) -> None:
    """Run over the corpus's events, every query succeeds and returns something to show."""
    status, answer = query_range(seeded.url, seeded.tenant, concrete(query, BOARDS[query.board]))
    assert status == 200, f"{query}\n{answer}"
    assert returned(answer) > 0, f"{query}: nothing returned"


@pytest.mark.parametrize("query", VARIABLE_QUERIES, ids=_id)
def test_variables_list_the_values_senders_set(seeded: Seeded, query: Query) -> None:
    """A label_values() variable, run as Grafana runs it, lists the env and cluster the events carry."""
    selectors, label = label_values(query.expr)
    selector = "{" + ", ".join(f'{m.label}{m.op}"{m.value}"' for m in selectors[0]) + "}" if selectors else None
    params = {"query": selector} if selector else {}
    status, answer = loki_get(seeded.url, seeded.tenant, f"/loki/api/v1/label/{label}/values", **params)
    assert status == 200, answer
    assert answer["data"] == {"env": ["prod"], "cluster": ["lab"]}[label]


def _panel(board: str, title: str) -> Query:
    return next(q for q in PANEL_QUERIES if q.board == board and q.panel == title)


def _run(seeded: Seeded, board: str, title: str) -> dict[str, Any]:
    query = _panel(board, title)
    status, answer = query_range(seeded.url, seeded.tenant, concrete(query, BOARDS[board]))
    assert status == 200, answer
    assert isinstance(answer, dict)
    return answer


def test_matched_events_by_level_counts_each_matched_event_once(seeded: Seeded) -> None:
    """The overview's level chart adds up to the events that matched a rule, by their most severe level."""
    expected = Counter(loki_labels(e, ["env"])["level"] for e in seeded.events if e.matches)
    assert expected and by_label(_run(seeded, "siem-overview", "Matched events by level"), "level") == expected


def test_authentication_outcomes_match_the_parsed_logins(seeded: Seeded) -> None:
    """Successes and failures are the Linux events categorised as authentication, by outcome."""
    expected = Counter(
        e.event.outcome
        for e in seeded.events
        if e.event.module == "system" and "authentication" in e.event.category and e.event.outcome != "unknown"
    )
    assert expected["failure"] and expected["success"]
    got = by_label(_run(seeded, "siem-auth", "Authentication successes and failures"), "outcome")
    assert got == expected


def test_kubernetes_panels_count_requests_denials_and_sessions(seeded: Seeded) -> None:
    """Requests are counted once per request, denials are the 401/403/forbid ones, exec and attach both show."""
    audit = [e.raw for e in seeded.events if e.event.module == "kubernetes"]
    complete = [a for a in audit if a["stage"] == "ResponseComplete"]
    denied = [
        a
        for a in complete
        if a.get("responseStatus", {}).get("code") in (401, 403)
        or a.get("annotations", {}).get("authorization.k8s.io/decision") == "forbid"
    ]
    assert by_label(_run(seeded, "siem-kubernetes", "Requests by verb"), "verb") == Counter(a["verb"] for a in complete)
    assert denied and sum(by_label(_run(seeded, "siem-kubernetes", "Denied requests by user"), "user").values()) == len(
        denied
    )
    sessions = by_label(_run(seeded, "siem-kubernetes", "Exec and attach by user"), "subresource")
    assert sessions == {"exec": 1, "attach": 1}


def test_git_and_ci_panels_count_force_pushes_and_build_results(seeded: Seeded) -> None:
    """The one force push is found among the pushes, and builds are counted once each, at their last phase."""
    pushes = [e for e in seeded.events if e.event.dataset == "github.push"]
    forced = _run(seeded, "siem-git", "Every force push")
    assert returned(forced) == 1 and len(pushes) > 1
    builds = by_label(_run(seeded, "siem-ci", "Builds by result"), "result")
    assert builds == {"SUCCESS": 2, "FAILURE": 1}  # success.json and success_one_point_seven.json; failure.json
