"""Loading rule folders: every broken rule is reported at `file:line`, and the good ones still load."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.correlator.rules.loader import load_rules

ID_A = "5d0b3f2e-1c2a-4d7e-9a6b-3f1e2d4c5b6a"
ID_B = "0f6c1b7a-2e3d-4c5b-8a9f-1e2d3c4b5a69"


def _rule(rule_id: str | None = ID_A, title: str = "Good rule", detection: str = "    a: 1") -> str:
    id_line = f"id: {rule_id}\n" if rule_id else ""
    return f"title: {title}\n{id_line}logsource:\n  product: linux\ndetection:\n  sel:\n{detection}\n  condition: sel\n"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_good_rules_load_from_nested_folders(tmp_path: Path) -> None:
    """Every .yml/.yaml file under the folder loads (subfolders included); other files are ignored."""
    _write(tmp_path, "a.yml", _rule(ID_A))
    _write(tmp_path, "sub/b.yaml", _rule(ID_B))
    _write(tmp_path, "README.md", "not a rule: [")
    loaded = load_rules([tmp_path])
    assert loaded.errors == []
    assert sorted(r.ref.id for r in loaded.rules) == sorted([ID_A, ID_B])
    assert loaded.files == 2


def test_yaml_syntax_error_is_located_at_its_line(tmp_path: Path) -> None:
    """A YAML syntax error is reported as `file:LINE: invalid YAML …` with the line of the problem."""
    path = _write(tmp_path, "broken.yml", "title: x\nid: y\ndetection:\n  sel: [unclosed\n  condition: sel\n")
    (error,) = load_rules([tmp_path]).errors
    # The parser notices the unclosed `[` of line 4 at the `:` of line 5, where the document stops making sense.
    assert error.location == f"{path}:5"
    assert str(error).startswith(f"{path}:5: invalid YAML")


def test_yaml_error_line_is_the_line_of_the_bad_token(tmp_path: Path) -> None:
    """A stray tab-indented key is located on exactly its own line."""
    path = _write(tmp_path, "tab.yml", "title: x\nid: y\nlogsource:\n  product: linux\n\tservice: sshd\n")
    (error,) = load_rules([tmp_path]).errors
    assert error.location == f"{path}:5"


def test_rule_without_id_is_refused(tmp_path: Path) -> None:
    """A rule without an id is refused, located at its title line, saying an id is required."""
    path = _write(tmp_path, "noid.yml", "\n" + _rule(rule_id=None))
    loaded = load_rules([tmp_path])
    assert loaded.rules == []
    (error,) = loaded.errors
    assert error.location == f"{path}:2"
    assert "no id" in error.reason


def test_correlation_over_an_unknown_rule_is_refused_at_the_correlation_key(tmp_path: Path) -> None:
    """A correlation naming a rule that is not loaded is refused with the line of its `correlation:` key."""
    text = (
        f"title: Many failures\nid: {ID_B}\n"
        "correlation:\n  type: event_count\n  rules:\n    - x\n  group-by:\n    - source.ip\n"
        "  timespan: 5m\n  condition:\n    gte: 10\n"
    )
    path = _write(tmp_path, "corr.yml", text)
    (error,) = load_rules([tmp_path]).errors
    assert error.location == f"{path}:3"
    assert "'x' is not defined" in error.reason


def test_an_invalid_regular_expression_is_refused_with_location(tmp_path: Path) -> None:
    """A `|re` value that does not compile refuses the rule at its detection line, naming the pattern."""
    path = _write(tmp_path, "re.yml", _rule(detection="    cmd|re: 'curl(.*sh'"))
    loaded = load_rules([tmp_path])
    assert loaded.rules == []
    (error,) = loaded.errors
    assert error.location == f"{path}:5"
    assert "curl(.*sh" in error.reason


def test_duplicate_id_is_refused_and_the_first_kept(tmp_path: Path) -> None:
    """A second rule with an id already loaded is refused, naming both places; the first stays."""
    first = _write(tmp_path, "a.yml", _rule(ID_A, title="First"))
    second = _write(tmp_path, "b.yml", _rule(ID_A, title="Second"))
    loaded = load_rules([tmp_path])
    assert [r.ref.title for r in loaded.rules] == ["First"]
    (error,) = loaded.errors
    assert error.location.startswith(f"{second}:")
    assert "duplicate" in error.reason and str(first) in error.reason


def test_overlapping_folders_do_not_load_a_rule_twice(tmp_path: Path) -> None:
    """Listing a folder and its subfolder (SIEM_RULES_DIRS=rules:rules/linux) still loads each rule once."""
    _write(tmp_path, "linux/a.yml", _rule(ID_A))
    assert [r.ref.id for r in load_rules([tmp_path, tmp_path / "linux"]).rules] == [ID_A]


def test_errors_are_collected_and_good_rules_still_load(tmp_path: Path) -> None:
    """Broken files next to good ones produce one error each, and the good rules load anyway."""
    _write(tmp_path, "1-good.yml", _rule(ID_A))
    _write(tmp_path, "2-syntax.yml", "title: [\n")
    _write(tmp_path, "3-noid.yml", _rule(rule_id=None))
    _write(tmp_path, "4-good.yml", _rule(ID_B))
    _write(tmp_path, "5-list.yml", "- just\n- a list\n")
    loaded = load_rules([tmp_path])
    assert sorted(r.ref.id for r in loaded.rules) == sorted([ID_A, ID_B])
    assert sorted(Path(e.location.split(":")[0]).name for e in loaded.errors) == [
        "2-syntax.yml",
        "3-noid.yml",
        "5-list.yml",
    ]


def test_missing_folder_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """A rules folder that does not exist is reported; other folders still load."""
    _write(tmp_path / "real", "a.yml", _rule(ID_A))
    loaded = load_rules([tmp_path / "absent", tmp_path / "real"])
    assert [r.ref.id for r in loaded.rules] == [ID_A]
    assert [e.location for e in loaded.errors] == [str(tmp_path / "absent")]


def test_each_document_of_a_multi_document_file_has_its_own_line(tmp_path: Path) -> None:
    """In a file with several YAML documents, each rule and each error is located in its own document."""
    text = (
        _rule(ID_A)  # lines 1-8, detection on line 5
        + "---\n"  # line 9
        + _rule(rule_id=None)  # lines 10-16, title on line 10
        + "---\n"  # line 17
        + _rule(ID_B, detection="    a|re: '(x'")  # from line 18, detection on line 22
    )
    path = _write(tmp_path, "multi.yml", text)
    loaded = load_rules([tmp_path])
    assert [(r.ref.id, r.location) for r in loaded.rules] == [(ID_A, f"{path}:5")]
    assert [e.location for e in loaded.errors] == [f"{path}:10", f"{path}:22"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_rule(rule_id="5"), id="integer-id"),
        pytest.param("date: 2024-13-45\n" + _rule(ID_A), id="impossible-date"),
    ],
)
def test_odd_values_are_rule_errors_not_crashes(tmp_path: Path, text: str) -> None:
    """An id that is a number, or a date YAML cannot build, is a RuleError for that file, not an exception."""
    _write(tmp_path, "odd.yml", text)
    _write(tmp_path, "good.yml", _rule(ID_B))
    loaded = load_rules([tmp_path])
    assert [r.ref.id for r in loaded.rules] == [ID_B]
    assert len(loaded.errors) == 1
