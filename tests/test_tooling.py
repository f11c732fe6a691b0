"""The DevSecOps pipeline's definition and its local tools: what the Jenkinsfile runs passes here too.

ruff and bandit run exactly as the Jenkinsfile runs them. The Jenkinsfile itself is parsed by
the real Groovy parser (org.apache.groovy:groovy from Maven Central, as Jenkins' own Groovy
front end does before CPS) and its file references are checked against the repository.
pip-audit is not run: its vulnerability data (PyPI's JSON API, OSV) is not reachable from this
machine, where it would report every package as "not found" and so prove nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra import ROOT

JENKINSFILE = ROOT / "Jenkinsfile"
SONAR_PROPERTIES = ROOT / "sonar-project.properties"
GROOVY = "org.apache.groovy:groovy:4.0.33"
# The stages the platform issue asks for, in the order they run.
STAGES = [
    "Checkout",
    "Install",
    "Test",
    "Lint",
    "SAST",
    "Bandit",
    "SonarQube",
    "Quality gate",
    "Dependency audit",
    "Secret scan",
    "Trivy filesystem and config",
    "Build image",
    "Trivy image scan",
    "Deploy",
]
_REPO_PATH = re.compile(
    r"(?<![\w./$-])((?:services|tests|charts|scripts|ansible|rules|dashboards|docker)/[\w./-]*[\w-])"
)
_BUILD_PATH = re.compile(r"build/[\w.-]+(?:/[\w.-]+)*")
# How a stage writes a report: a redirection, an output flag, or Jenkins' writeFile.
_WRITES = re.compile(
    r"(?:>|-o|--output|--output-file|--report-path|--junitxml=|--cov-report=xml:|writeFile file: ')\s*$"
)
# Parses a Groovy file to its AST (a syntax error exits non-zero with file:line) and prints each stage name.
_STAGE_LISTER = """
import org.codehaus.groovy.ast.CodeVisitorSupport
import org.codehaus.groovy.ast.expr.ConstantExpression
import org.codehaus.groovy.ast.expr.MethodCallExpression
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases

def unit = new CompilationUnit()
def source = unit.addSource(new File(args[0]))
unit.compile(Phases.CONVERSION)
source.AST.statementBlock.visit(new CodeVisitorSupport() {
    void visitMethodCallExpression(MethodCallExpression call) {
        def arguments = call.arguments.expressions
        if (call.methodAsString == 'stage' && arguments && arguments[0] instanceof ConstantExpression) {
            println "stage\\t${arguments[0].value}"
        }
        super.visitMethodCallExpression(call)
    }
})
"""


def _run(*command: str, cwd: Path = ROOT, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def groovy_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Groovy jar, copied out of Maven Central by Maven itself (the machine's Java 17 runs it)."""
    target = tmp_path_factory.mktemp("groovy")
    result = _run("mvn", "-q", "-B", "dependency:copy", f"-Dartifact={GROOVY}", f"-DoutputDirectory={target}")
    jars = list(target.glob("groovy-*.jar"))
    assert result.returncode == 0 and jars, f"mvn could not fetch {GROOVY}:\n{result.stdout}\n{result.stderr}"
    return jars[0]


def _stages(groovy_jar: Path, groovy_file: Path, tmp_path: Path) -> list[str]:
    script = tmp_path / "list_stages.groovy"
    script.write_text(_STAGE_LISTER)
    result = _run("java", "-cp", str(groovy_jar), "groovy.ui.GroovyMain", str(script), str(groovy_file), timeout=120)
    assert result.returncode == 0, f"{groovy_file.name} does not parse as Groovy:\n{result.stderr}"
    return [line.split("\t", 1)[1] for line in result.stdout.splitlines() if line.startswith("stage\t")]


def test_ruff_check_is_clean() -> None:
    """`ruff check services tests` (the Lint stage) reports nothing."""
    result = _run(sys.executable, "-m", "ruff", "check", "services", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    """`ruff format --check services tests` (the Lint stage) would change nothing."""
    result = _run(sys.executable, "-m", "ruff", "format", "--check", "services", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_bandit_finds_nothing() -> None:
    """`bandit -r services -s B101` (the Bandit stage) finds no issue; asserts are allowed as ruff's S101 is."""
    result = _run(sys.executable, "-m", "bandit", "-r", "services", "-s", "B101", "-f", "json", "-q")
    report = json.loads(result.stdout)
    findings = [f"{r['filename']}:{r['line_number']}: {r['test_id']} {r['issue_text']}" for r in report["results"]]
    assert findings == [], "\n".join(findings)
    assert report["errors"] == []
    assert report["metrics"]["_totals"]["loc"] > 1000  # it really read the code


def test_jenkinsfile_parses_with_the_stages_of_the_issue(groovy_jar: Path, tmp_path: Path) -> None:
    """The Jenkinsfile is valid Groovy and declares the issue's stages in order."""
    assert _stages(groovy_jar, JENKINSFILE, tmp_path) == STAGES


def test_the_groovy_check_catches_a_syntax_error(groovy_jar: Path, tmp_path: Path) -> None:
    """A Jenkinsfile with an unclosed block fails the parse, naming the line."""
    broken = tmp_path / "Jenkinsfile"
    broken.write_text("pipeline {\n  stages {\n    stage('x' {\n  }\n}\n")
    with pytest.raises(AssertionError, match="does not parse"):
        _stages(groovy_jar, broken, tmp_path)


def test_jenkinsfile_references_only_files_that_exist() -> None:
    """Every repository path the Jenkinsfile names exists."""
    text = JENKINSFILE.read_text()
    referenced = set(_REPO_PATH.findall(text))
    assert {"docker/flask-app/Dockerfile", "charts/flask-app"} <= referenced  # the extraction finds what is there
    missing = {path for path in referenced if not (ROOT / path).exists()}
    assert missing == set()


def test_jenkinsfile_make_targets_exist() -> None:
    """Each `make TARGET` the Jenkinsfile runs is a target of the Makefile (checked with a dry run)."""
    targets = set(re.findall(r"\bmake ([\w./-]+)", JENKINSFILE.read_text()))
    assert targets == {".venv/.installed-test", "test"}
    for target in targets:
        result = _run("make", "--dry-run", target, timeout=60)
        assert result.returncode == 0, f"make {target}: {result.stderr}"


def test_every_build_file_is_written_before_it_is_read() -> None:
    """A path under build/ first appears where a stage writes it, so later stages read only what exists."""
    text = JENKINSFILE.read_text()
    first_use: dict[str, int] = {}
    for match in _BUILD_PATH.finditer(text):
        first_use.setdefault(match.group(), match.start())
    assert {"build/junit.xml", "build/requirements.lock", "build/notification.json"} <= set(first_use)
    read_first = [path for path, at in first_use.items() if not _WRITES.search(text[max(0, at - 40) : at])]
    assert read_first == []


def test_sonar_reads_reports_written_before_its_stage() -> None:
    """sonar-project.properties reads only sources that exist and reports the stages before SonarQube write."""
    properties = dict(
        line.split("=", 1) for line in SONAR_PROPERTIES.read_text().splitlines() if "=" in line and line[0] != "#"
    )
    for key in ("sonar.sources", "sonar.tests"):
        assert (ROOT / properties[key]).is_dir()
    reports = {path for key, value in properties.items() if "report" in key.lower() for path in value.split(",")}
    assert reports == {"build/junit.xml", "build/coverage.xml", "build/ruff.json", "build/bandit.json"}
    text = JENKINSFILE.read_text()
    before_sonar = text[: text.index("stage('SonarQube')")]
    for report in reports:
        at = before_sonar.find(report)
        assert at >= 0 and _WRITES.search(before_sonar[max(0, at - 40) : at]), f"{report} is not written before"
