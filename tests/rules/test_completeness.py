"""What every rule of the pack must carry, and what issue 7 asks the pack to cover."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.correlator.enrich import attack_table
from tests.rules.conftest import OPTIONAL_PACK, RULES, loaded_rules
from tests.rules.test_pack import rule_documents

# The pipeline's own self-test (POST {"event": {"action": "siem-test"}}) detects no adversary: no ATT&CK tag.
SELF_TEST = RULES / "siem" / "siem_pipeline_test_event.yml"
MIN_ALERTING_RULES = 40

# Issue 7, item by item: the alerting rule that answers it, and its correlation type where the issue names one.
ISSUE_7: dict[str, dict[str, str | None]] = {
    "linux": {
        "SSH Brute Force From One Address": "event_count",
        "SSH Password Spray From One Address": "value_count",
        "SSH Login After Brute Force From Same Address": "temporal_ordered",
        "Sudo To Root By Unexpected User": None,
        "Sudo Denied User Not In Sudoers": None,
        "Linux User Account Created": None,
        "Linux Group Created": None,
        "Package Installed Outside Maintenance Window": None,
        "Auditd Access To Sensitive File": None,
    },
    "kubernetes": {
        "Kubernetes Exec Or Attach Into Pod": None,
        "Kubernetes Privileged Or Host Access Pod Created": None,
        "Kubernetes Secret Read By Service Account": None,
        "Kubernetes Many Secrets Read By One Identity": "value_count",
        "Kubernetes Cluster Admin Role Bound": None,
        "Kubernetes Anonymous Request Succeeded": None,
        "Kubernetes Admission Webhook Or Audit Configuration Changed": None,
        "Kubernetes Pod Created In kube-system By Non-System User": None,
    },
    "git": {
        "Git Force Push To Default Or Protected Branch": None,
        "Git Branch Protection Removed": None,
        "Git Repository Made Public": None,
        "Git Deploy Key Added": None,
        "Git Organization Admin Added": None,
        "Git Secret Looking File Committed": None,
        "Git Many Repositories Deleted By One Actor": "event_count",
        "Git Secret Scanning Alert": None,
    },
    "jenkins": {
        "Jenkins Script Console Used": None,
        "Jenkins Config Change Followed By Build From New Branch": "temporal_ordered",
        "Jenkins Login Failures In Burst": "event_count",
        "Jenkins Builds Failing In A Spike": "event_count",
    },
    "app": {
        "App HTTP 5xx Spike": "event_count",
        "App Authentication Failures In Burst": "event_count",
        "App Path Scanning From One Address": "value_count",
    },
}
# The counting field and group the issue prescribes for these correlations.
PRESCRIBED = {
    "SSH Brute Force From One Address": (None, ["source.ip"]),
    "SSH Password Spray From One Address": ("user.name", ["source.ip"]),
    "SSH Login After Brute Force From Same Address": (None, ["source.ip"]),
    "Git Many Repositories Deleted By One Actor": (None, ["user.name"]),
    "App Path Scanning From One Address": ("url.path", ["source.ip"]),
}


def snake_case(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def alerting_rules() -> dict[str, tuple[Path, dict[str, Any]]]:
    """Rules that raise alerts of their own (not evidence silenced under a correlation), by title."""
    silenced = loaded_rules(RULES).silenced
    return {
        document["title"]: (path, document)
        for path, document in rule_documents()
        if document["id"] not in silenced and path != SELF_TEST
    }


def test_the_pack_has_at_least_40_alerting_rules_in_every_folder_of_the_issue() -> None:
    """At least 40 rules alert on their own, and each of linux, kubernetes, git, jenkins, app holds some."""
    by_folder = Counter(path.parent.name for path, _ in alerting_rules().values())
    assert sum(by_folder.values()) >= MIN_ALERTING_RULES, by_folder
    assert set(ISSUE_7) <= set(by_folder), by_folder


@pytest.mark.parametrize("folder", sorted(ISSUE_7))
def test_every_item_of_issue_7_has_its_rule(folder: str) -> None:
    """Each detection issue 7 lists exists in its folder, as the correlation type the issue prescribes."""
    rules = alerting_rules()
    for title, kind in ISSUE_7[folder].items():
        assert title in rules, f"missing: {title}"
        path, document = rules[title]
        assert path.parent == RULES / folder
        assert (document.get("correlation") or {}).get("type") == kind, title
        if title in PRESCRIBED:
            field, group_by = PRESCRIBED[title]
            assert document["correlation"].get("condition", {}).get("field") == field
            assert document["correlation"]["group-by"] == group_by


def test_every_file_is_named_after_its_alerting_rule() -> None:
    """Each file holds exactly one alerting rule, and the file stem is the snake_case of its title."""
    files = Counter(path for path, _ in alerting_rules().values())
    for path in sorted(RULES.rglob("*.yml")):
        if path == SELF_TEST:
            continue
        assert files[path] == 1, f"{path}: {files[path]} alerting rules"
    for title, (path, _) in alerting_rules().items():
        assert path.stem == snake_case(title), path
    assert SELF_TEST.stem == snake_case(yaml.safe_load(SELF_TEST.read_text())["title"])


def test_ids_are_uuids_unique_across_the_pack_and_the_optional_pack() -> None:
    """Every id is a UUID, used once across rules/ and rules-optional/; every `name` is used once too."""
    ids = [document["id"] for _, document in rule_documents()]
    ids += [yaml.safe_load(p.read_text())["id"] for p in OPTIONAL_PACK.rglob("*.yml")]
    assert all(uuid.UUID(i) for i in ids)
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    names = [document["name"] for _, document in rule_documents() if "name" in document]
    assert [n for n, count in Counter(names).items() if count > 1] == []


def test_every_rule_carries_its_metadata() -> None:
    """Title, description, level, author, date, falsepositives, references (URLs) and a runbook line on every rule."""
    for path, document in rule_documents():
        where = f"{path}: {document.get('title')}"
        for key in ("title", "description", "level", "author", "date", "status"):
            assert document.get(key), f"{where}: no {key}"
        assert document["level"] in {"informational", "low", "medium", "high", "critical"}, where
        assert isinstance(document.get("falsepositives"), list) and document["falsepositives"], where
        references = document.get("references")
        assert isinstance(references, list) and references, where
        assert all(str(r).startswith("https://") for r in references), where
        assert isinstance(document.get("runbook"), str) and len(document["runbook"]) > 20, where


def test_every_rule_names_attack_techniques_with_their_tactics() -> None:
    """Every rule has an attack.tNNNN tag known to the ATT&CK table, and a tactic tag of one of its techniques."""
    table = attack_table()
    for path, document in rule_documents():
        if path == SELF_TEST:
            continue
        tags = [str(t) for t in document.get("tags") or []]
        techniques = [t.removeprefix("attack.").upper() for t in tags if re.fullmatch(r"attack\.t\d{4}(\.\d{3})?", t)]
        assert techniques, f"{path}: {document['title']}: no ATT&CK technique"
        unknown = [t for t in techniques if t not in table["techniques"]]
        assert unknown == [], f"{path}: {unknown}"
        tactics = {t.removeprefix("attack.") for t in tags if t.removeprefix("attack.") in table["tactics"]}
        of_techniques = {tactic for t in techniques for tactic in table["techniques"][t]["tactics"]}
        assert tactics and tactics <= of_techniques, f"{path}: {document['title']}: tactics {tactics}"


def test_alerting_rules_are_not_informational() -> None:
    """Rules that alert have a level above informational; evidence rules under correlations are informational."""
    silenced = loaded_rules(RULES).silenced
    for path, document in rule_documents():
        if path == SELF_TEST:
            continue
        alerting = document["id"] not in silenced
        assert (document["level"] != "informational") is alerting, f"{path}: {document['title']}"


def test_the_readme_counts_match_the_folders() -> None:
    """rules/README.md's table gives each folder's number of alerting rules as the pack really has them."""
    table = dict(re.findall(r"^\| `(\w+)/` \|.*\| (\d+) \|$", (RULES / "README.md").read_text(), re.M))
    by_folder = Counter(path.parent.name for path, _ in alerting_rules().values())
    by_folder["siem"] += 1  # the self-test alerts too
    assert {folder: int(n) for folder, n in table.items()} == dict(by_folder)
