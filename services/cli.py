"""The `siem` command: run a service, or work with rules. `siem --help` and `siem COMMAND --help` teach."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from services.deploy import cli as deploy_cli
from services.shared.errors import ConfigError, SiemError

STAGES = ("ingest", "webhook", "correlator", "sinks", "all")

_RUN_HELP = """\
Start one stage of the pipeline, or all of them in one process.

  all         embedded mode: ingest, correlator and sinks in one process over a
              bounded in-memory bus (no Kafka needed). Alerts go to
              Alertmanager when SIEM_ALERTMANAGER_URL is set, otherwise to
              var/alerts.jsonl and one summary line each on the console.
  ingest      HTTP API on SIEM_INGEST_PORT (8080): POST /v1/events.
  webhook     Git hosts' webhooks on SIEM_WEBHOOK_PORT (8081): POST
              /webhook/{github,gitlab,gitea,bitbucket}; each needs its secret
              (SIEM_WEBHOOK_GITHUB_SECRETS, …). Inside `all` once one is set.
  correlator  Sigma rules over siem.events; alerts onto siem.alerts (:8082).
  sinks       siem.alerts to Alertmanager and/or a JSON-lines file (:8083).

ingest, webhook, correlator and sinks need Kafka: SIEM_KAFKA_BOOTSTRAP=host:port.
Every service serves /healthz, /readyz and /metrics, and stops cleanly on
SIGTERM (stop accepting, finish the batch in hand, commit, exit 0).

Configuration is read from SIEM_* environment variables; any of them can be
given as a file with SIEM_<NAME>_FILE (secrets). Common ones:
  SIEM_HOST                 address to bind (default 127.0.0.1)
  SIEM_KAFKA_BOOTSTRAP      Kafka bootstrap servers (unset: in-memory bus)
  SIEM_RULES_DIRS           rule folders, colon-separated (default: rules)
  SIEM_ALERTMANAGER_URL     Alertmanager base URLs, comma-separated
  SIEM_INGEST_TOKENS        bearer tokens for /v1/*, comma-separated
  SIEM_LOG_FORMAT           auto | json | console

example:
  SIEM_ALERTMANAGER_URL=http://127.0.0.1:9093 siem run all --rules rules/
  curl -XPOST localhost:8080/v1/events -d '{"event":{"action":"siem-test"}}'
"""

_LINT_HELP = """\
Load every Sigma rule file under the given folders and report every problem,
one per line as FILE:LINE: reason. Exits 1 when any rule is refused, 0 when
all load. The same check runs when a service starts; refused rules are logged
and the others keep running.

example:
  siem rules lint rules/
"""


_TEST_HELP = """\
Run the test events each rule carries in its `tests:` list and report every
case as FILE:LINE: PASS|FAIL title / case. A case is generic JSON events (as
POST /v1/events takes them) and whether the rule must alert on them:

  tests:
    - name: root login from one address
      match: true
      event: {"user": {"name": "root"}, "source": {"ip": "203.0.113.7"}}
    - match: false
      events: [{"user": {"name": "alice"}}]

Correlation rules get their events through both stages, one second apart
unless they carry their own `time`. Exits 1 on any failure or refused rule.

example:
  siem rules test rules/
"""

_REPLAY_HELP = """\
Parse FILE with the same parsers the services use, run every event through
both stages (detection and correlation) on event time, and print every alert
as one JSON line on stdout. Lines that cannot be read are reported on stderr
as FILE:LINE: reason and make the exit code 1; the rest still run.
Replaying the same file with the same rules prints the same alerts.

formats (one item per line):
  event       an envelope, the pipeline's own event JSON (var/events.jsonl)
  k8s_audit   an audit.k8s.io Event or EventList
  syslog      a raw syslog, auth.log, audit.log or dpkg.log line
  jenkins     a Jenkins notification or audit event
  github, gitlab, gitea
              {"event": "<event header value>", "payload": {...}}
Times and ids a live service takes from the request come from the file's
modification time and the line number instead.

example:
  siem replay --rules rules/ --format event var/events.jsonl > alerts.jsonl
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="siem",
        description="Event-driven SIEM pipeline: ingest events, apply Sigma rules, deliver alerts.",
        epilog="Run 'siem COMMAND --help' for the details of a command.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="start a service", description=_RUN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    run.add_argument("stage", choices=STAGES, help="which stage to run (all = embedded)")
    run.add_argument(
        "--rules",
        action="append",
        type=Path,
        metavar="DIR",
        help="a folder of Sigma rules; repeat for several (overrides SIEM_RULES_DIRS)",
    )

    rules = commands.add_parser("rules", help="work with Sigma rule files", description="Work with Sigma rule files.")
    rule_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="SUBCOMMAND")
    lint = rule_commands.add_parser(
        "lint", help="check rule files", description=_LINT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    lint.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="rule folder or file")
    test = rule_commands.add_parser(
        "test",
        help="run the test events rules carry",
        description=_TEST_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    test.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="rule folder or file")

    replay = commands.add_parser(
        "replay",
        help="run a recorded file through the rules",
        description=_REPLAY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    replay.add_argument(
        "--rules", action="append", type=Path, metavar="DIR", required=True, help="a folder of Sigma rules; repeatable"
    )
    replay.add_argument("--format", required=True, choices=_replay_formats(), help="what each line of FILE is")
    replay.add_argument("file", type=Path, metavar="FILE", help="the recorded events")
    deploy_cli.add_parser(commands)
    return parser


def _replay_formats() -> list[str]:
    from services.correlator.replay_formats import FORMATS

    return sorted(FORMATS)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args.stage, args.rules)
        if args.command == "deploy":
            return deploy_cli.run(args)
        from services.correlator import commands as rule_commands

        if args.command == "replay":
            return rule_commands.replay_file(args.rules, args.format, args.file)
        if args.rules_command == "test":
            return rule_commands.test(args.dirs)
        return rule_commands.lint(args.dirs)
    except ConfigError as exc:
        print(f"siem: configuration error: {exc.key}: {exc.reason}", file=sys.stderr)
        return 2
    except SiemError as exc:
        print(f"siem: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `siem replay … | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _run(stage: str, rules: list[Path] | None) -> int:
    from services.wiring import build_service

    service, settings = build_service(stage, rules)
    return asyncio.run(_serve(service, settings))


async def _serve(service, settings) -> int:  # type: ignore[no-untyped-def]
    from services.shared.runtime import serve

    return await serve(service, settings.host)


if __name__ == "__main__":
    raise SystemExit(main())
