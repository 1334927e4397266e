"""The peer Heed is compared with: PostGraphile 4 serving the bench database itself.

PostGraphile is pinned in bench/peer/package.json and package-lock.json and installed here
with `npm ci` (the machine's Node) the first time the bench needs it; `make test` never does.
It runs as one Node process (as Heed runs one worker), without its query log or GraphiQL.
Its scenario is the checklist a team would get by pointing it at Heed's tables: the member,
their organization, and the organization's and the member's step-state rows, one member of
the read pool per request.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import orjson

from bench import people
from bench.scenarios import CHECKLIST
from bench.server import Server, free_port, start_process

PEER = Path(__file__).resolve().parent / "peer"
INSTALLED = PEER / "node_modules" / ".installed"


class PeerUnavailable(Exception):
    """Node, npm or the PostGraphile install is missing; the message says what was tried."""


def ensure_installed() -> Path:
    """The postgraphile command, after `npm ci` when the lock file is newer than the install."""
    command = PEER / "node_modules" / ".bin" / "postgraphile"
    lock = PEER / "package-lock.json"
    if INSTALLED.exists() and INSTALLED.stat().st_mtime >= lock.stat().st_mtime:
        return command
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise PeerUnavailable("node and npm are needed for the PostGraphile peer (not found)")
    done = subprocess.run(  # noqa: S603 - our own arguments
        [npm, "ci", "--no-audit", "--no-fund"], cwd=PEER, capture_output=True, text=True
    )
    if done.returncode != 0 or not command.exists():
        raise PeerUnavailable(f"npm ci in {PEER} failed: {done.stderr.strip()[-600:]}")
    INSTALLED.touch()
    return command


def start_peer(command: Path, database_url: str, log_path: Path) -> Server:
    port = free_port()
    arguments = [str(command), "--connection", database_url, "--schema", "public"]
    arguments += ["--host", "127.0.0.1", "--port", str(port), "--disable-query-log"]
    arguments += ["--disable-graphiql", "--max-pool-size", "10"]
    return start_process(arguments, {"NODE_ENV": "production"}, log_path, port)


def checklist_bodies(orgs: int, count: int) -> list[bytes]:
    """One checklist request per reader of the read pool (the same members Heed serves)."""
    return [
        orjson.dumps(
            {
                "query": CHECKLIST,
                "variables": {
                    "org": people.org_external_id(org),
                    "member": people.member_external_id(org, slot),
                },
            }
        )
        for org, slot in people.spread(orgs, count, range(people.MEMBERS_PER_ORG))
    ]


def node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return ""
    done = subprocess.run([node, "--version"], capture_output=True, text=True)  # noqa: S603
    return done.stdout.strip()
