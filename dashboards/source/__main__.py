"""Write every dashboard's JSON to dashboards/<uid>.json, or with `--check` only say which are stale (exit 1)."""

from __future__ import annotations

import argparse
import sys

from dashboards.source import DASHBOARDS, path, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.source", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a JSON file is stale")
    args = parser.parse_args(argv)
    stale = [uid for uid in DASHBOARDS if not path(uid).is_file() or path(uid).read_text() != text(uid)]
    if args.check:
        for uid in stale:
            print(f"{path(uid)}: stale, run `python -m dashboards.source`", file=sys.stderr)
        return 1 if stale else 0
    for uid in stale:
        path(uid).write_text(text(uid))
        print(f"wrote {path(uid)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
