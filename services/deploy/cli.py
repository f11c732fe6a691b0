"""The `siem deploy` command line: its argparse sub-commands and what each prints.

Progress goes to stderr as `siem deploy: …` lines; `template` writes the manifests (YAML) to stdout, `status`
the release's state.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from services.shared.errors import SiemError

if TYPE_CHECKING:
    from services.deploy.helm import Helm, Target

_HELP = """\
Deploy the pipeline (or the sample app) with Helm, through pyhelm3.

  template   render the chart's manifests to stdout, as `helm template` does (no cluster needed)
  install    install a new release (refused if it exists: use upgrade)
  upgrade    upgrade an existing release (refused if it does not exist: use install)
  rollback   roll a release back to its previous revision, or to --revision N
  status     show a release's current revision

helm 3 comes from --helm, PATH, or the pinned build of `scripts/helm.sh install`.
The cluster is the current kubectl context, or --kube-context / --kubeconfig.

examples:
  siem deploy template --values charts/siem/values-production.yaml > manifests.yaml
  siem deploy install --values charts/siem/values-production.yaml --namespace siem --dry-run
  siem deploy install --chart charts/flask-app --release flask-app --namespace apps
  siem deploy rollback --revision 3
"""


def add_parser(commands: Any) -> None:
    """Add `deploy` and its sub-commands to the `siem` parser's sub-parsers."""
    deploy = commands.add_parser(
        "deploy", help="deploy with Helm", description=_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    actions = deploy.add_subparsers(dest="deploy_command", required=True, metavar="ACTION")
    for name, summary in (
        ("template", "render the manifests to stdout"),
        ("install", "install a new release"),
        ("upgrade", "upgrade an existing release"),
        ("rollback", "roll a release back"),
        ("status", "show a release's current revision"),
    ):
        action = actions.add_parser(name, help=summary, description=summary)
        _common(action)
        if name in ("template", "install", "upgrade"):
            action.add_argument("--chart", type=Path, default=Path("charts/siem"), help="chart folder (charts/siem)")
            action.add_argument(
                "--values", "-f", action="append", type=Path, default=[], metavar="FILE", help="values file; repeatable"
            )
            action.add_argument(
                "--rules", action="append", type=Path, default=[], metavar="DIR", help="ship DIR's rule files too"
            )
        if name in ("install", "upgrade", "rollback"):
            action.add_argument("--dry-run", action="store_true", help="simulate against the cluster, change nothing")
            action.add_argument("--no-wait", action="store_true", help="do not wait for the rollout")
        if name == "rollback":
            action.add_argument("--revision", type=int, help="revision to go back to (default: the previous one)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--release", default="siem", help="release name (siem)")
    parser.add_argument("--namespace", "-n", default="siem", help="namespace (siem)")
    parser.add_argument("--helm", metavar="PATH", help="helm binary to use")
    parser.add_argument("--kube-context", help="kubeconfig context (default: the current one)")
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--timeout", default="10m", help="how long helm waits for the rollout (10m)")


def run(args: argparse.Namespace) -> int:
    """Carry out `siem deploy ACTION`; a DeployError reaches the caller, which prints it."""
    try:
        import pyhelm3  # type: ignore[import-untyped]  # noqa: F401  # only this command needs it
    except ModuleNotFoundError:
        raise SiemError("siem deploy needs pyhelm3: pip install 'siem-pipeline[deploy]'") from None
    return asyncio.run(_run(args))


def progress(message: str) -> None:
    print(f"siem deploy: {message}", file=sys.stderr, flush=True)


async def _run(args: argparse.Namespace) -> int:
    from services.deploy.helm import Helm, find_helm

    helm = Helm(find_helm(args.helm), kubeconfig=args.kubeconfig, kube_context=args.kube_context, timeout=args.timeout)
    progress(f"helm {helm.version} ({helm.executable})")
    action = args.deploy_command
    if action == "status":
        return _print_status(await helm.current(args.release, args.namespace), args)
    if action == "rollback":
        where = f"release {args.release} in namespace {args.namespace}"
        progress(f"rolling back {where} to {args.revision or 'the previous revision'}" + _dry(args))
        revision = await helm.rollback(
            args.release, args.namespace, args.revision, dry_run=args.dry_run, wait=not args.no_wait
        )
        progress(f"{where}: revision {revision.revision} {revision.status.value}")
        return 0
    target = _target(args)
    if action == "template":
        documents = await helm.template(target)
        progress(f"rendered {len(documents)} manifests from {target.chart}")
        sys.stdout.write(yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True))
        return 0
    return await _deploy(helm, target, args)


async def _deploy(helm: Helm, target: Target, args: argparse.Namespace) -> int:
    from services.deploy.helm import DeployError

    where = f"release {target.release} in namespace {target.namespace}"
    progress(f"looking for {where}")
    current = await helm.current(target.release, target.namespace)
    if args.deploy_command == "install" and current is not None:
        raise DeployError(f"{where} exists (revision {current.revision}, {current.status.value}): use upgrade")
    if args.deploy_command == "upgrade" and current is None:
        raise DeployError(f"{where} does not exist: use install")
    verb = "installing" if current is None else f"upgrading revision {current.revision} of"
    waits = "" if args.no_wait or args.dry_run else f", waiting up to {args.timeout} for the rollout"
    progress(f"{verb} {where} from {target.chart}{waits}{_dry(args)}")
    revision = await helm.deploy(target, dry_run=args.dry_run, wait=not args.no_wait)
    progress(f"{where}: revision {revision.revision} {revision.status.value}{_dry(args)}")
    if revision.notes:
        print(revision.notes)
    return 0


def _target(args: argparse.Namespace) -> Target:
    from services.deploy.helm import Target, chart_dir, load_values, rule_files

    values = load_values(args.values)
    if args.rules:
        rules = values.setdefault("rules", {})
        rules["files"] = {**rules.get("files", {}), **rule_files(args.rules)}
    return Target(chart=chart_dir(args.chart), release=args.release, namespace=args.namespace, values=values)


def _print_status(revision: Any, args: argparse.Namespace) -> int:
    if revision is None:
        print(f"release {args.release} in namespace {args.namespace}: not installed")
        return 1
    print(
        f"release {args.release} in namespace {args.namespace}: revision {revision.revision} "
        f"{revision.status.value}, updated {revision.updated.isoformat()}"
    )
    if revision.description:
        print(f"  {revision.description}")
    return 0


def _dry(args: argparse.Namespace) -> str:
    return " (dry run)" if getattr(args, "dry_run", False) else ""
