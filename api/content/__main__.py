"""`python -m api.content check DIR | schema [PATH] | bench [COUNT]` for writers and CI."""

from __future__ import annotations

import argparse
import sys

from api.content import check_command, write_json_schema
from api.content.bench import run_bench

SCHEMA_PATH = "content/schema/front-matter.schema.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.content")
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser("check", help="print every problem as path:line:col: message")
    checking.add_argument("dir", nargs="?", default="content")
    checking.add_argument("--drafts", action="store_true", help="validate as a preview with drafts")
    schema = commands.add_parser("schema", help="write the front-matter JSON Schema")
    schema.add_argument("path", nargs="?", default=SCHEMA_PATH)
    bench = commands.add_parser("bench", help="time cold and one-edit builds of synthetic items")
    bench.add_argument("count", nargs="?", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.command == "check":
        return check_command(args.dir, include_drafts=args.drafts)
    if args.command == "schema":
        write_json_schema(args.path)
        print(f"wrote {args.path}")
        return 0
    for name, seconds in run_bench(args.count).items():
        print(f"{name}: {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
