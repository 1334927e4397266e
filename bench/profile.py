"""`python -m bench.profile [SCENARIO…]`: where a scenario's time goes in the served worker.

Seeds the small dataset, serves it as the benchmark does, and samples the worker with py-spy
(`pip install py-spy`) while wrk drives one scenario; the CPU the worker and Postgres used
(percent of one core) tells which of them limits the scenario. Writes the folded stacks (for
any flame graph tool) and a top list of functions by own and inclusive time to
bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg

from bench.load import ensure_wrk, run_wrk
from bench.receiver import webhook_endpoint
from bench.scenarios import Scenario, scenarios
from bench.seed import seed
from bench.server import start_server, wait_ready
from bench.stage import (
    CONTENT_ITEM,
    Plan,
    member_pools,
    migrate_and_publish,
    prepare_pack,
    say,
    throwaway_database,
    warm_members,
)

RESULTS = Path(__file__).resolve().parent / "results"
_LINE = re.compile(r":\d+\)$")
_OURS = ("(api/", "(resolvers/", "(schema/")


def summarize(folded: str, top: int = 30) -> str:
    """Own share of samples per function, and inclusive share per function of Heed's own code
    (framework frames sit on every stack and would crowd the list)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in folded.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            if frame.startswith(_OURS) or any(part in frame for part in _OURS):
                inclusive[frame] += int(count)
    if not total:
        return "no samples\n"

    def table(counter: Counter[str]) -> list[str]:
        return [f"{100 * n / total:5.1f}%  {name}" for name, n in counter.most_common(top)]

    return "\n".join(
        [
            f"{total} samples",
            "",
            "own time:",
            *table(own),
            "",
            "inclusive time, Heed's code:",
            *table(inclusive),
        ]
    )


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used so far, from /proc."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # a process that ended meanwhile
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
        and (entry / "comm").exists()
        and (entry / "comm").read_text().strip().startswith("postgres")
    ]


def find_py_spy() -> str:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return spy


def start_sampler(spy: str, pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` at 250 Hz without pausing it, folded stacks into `out`."""
    command = [spy, "record", "--pid", str(pid), "--rate", "250", "--duration", f"{seconds:g}"]
    command += ["--format", "raw", "--nonblocking", "--output", str(out)]
    return subprocess.Popen(  # noqa: S603
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def drive(
    plan: Plan, case: Scenario, url: str, tokens: Path, body: Path, seconds: float, start: int
) -> dict[str, Any]:
    """One wrk run of `case` (its webhook endpoint subscribed meanwhile); write scenarios
    start at `start`, where the previous runs left their members."""
    async with webhook_endpoint(plan.server_env, case.webhook):
        return run_wrk(
            plan.wrk,
            url,
            tokens,
            body,
            seconds,
            steps=plan.steps,
            key_prefix=f"profile-{secrets.token_hex(4)}",
            start=start,
        )


async def profile(spy: str, names: list[str], seconds: float, orgs: int) -> None:
    wrk = ensure_wrk()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="heed-profile-") as tmp:
        work = Path(tmp)
        flows = prepare_pack(work)
        async with throwaway_database() as (url, _):
            plan = Plan(
                secrets.token_urlsafe(48),
                wrk,
                work,
                url,
                flows,
                next(f for f in flows if f.scoped("user")),
            )
            await migrate_and_publish(plan)
            conn = await asyncpg.connect(url)
            try:
                await seed(conn, 0, orgs, plan.flows)
            finally:
                await conn.close()
            pools = member_pools(plan, "profile", orgs)
            server = start_server(plan.server_env, work / "server.log")
            try:
                await wait_ready(server)
                await warm_members(server, pools.read + pools.write)
                written = 0  # write scenarios go on where the last run left their members
                for case in scenarios(plan.user_flow.id, CONTENT_ITEM):
                    if case.name not in names or case.server != "heed":
                        continue
                    body = work / f"{case.name}.json"
                    body.write_bytes(case.body())
                    tokens = pools.write_file if case.writes else pools.read_file
                    url = f"{server.url}/graphql"
                    warm = await drive(plan, case, url, tokens, body, 2, written)
                    written += warm["requests"] if case.writes else 0
                    raw = work / f"{case.name}.folded"
                    sampler = start_sampler(spy, server.process.pid, seconds, raw)
                    database = postgres_pids()
                    cpu_before = (cpu_seconds(server.pids()), cpu_seconds(database))
                    receiver_before = time.process_time()  # wrk runs apart; the receiver here
                    figures = await drive(plan, case, url, tokens, body, seconds, written)
                    receiver_cpu = time.process_time() - receiver_before
                    written += figures["requests"] if case.writes else 0
                    worker_cpu = cpu_seconds(server.pids()) - cpu_before[0]
                    database_cpu = cpu_seconds(database) - cpu_before[1]
                    figures["worker_cpu_percent"] = round(100 * worker_cpu / seconds)
                    if case.webhook:
                        figures["receiver_cpu_percent"] = round(100 * receiver_cpu / seconds)
                    figures["postgres_cpu_percent"] = round(100 * database_cpu / seconds)
                    sampler.wait(timeout=seconds + 30)
                    folded = raw.read_text() if raw.exists() else ""
                    (RESULTS / f"profile-{case.name}.folded").write_text(folded)
                    text = f"{case.name}: {figures}\n\n{summarize(folded)}\n"
                    (RESULTS / f"profile-{case.name}.txt").write_text(text)
                    say(f"wrote {RESULTS / f'profile-{case.name}.txt'}")
                    print(text)
            finally:
                server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("scenarios", nargs="*", default=["home"], help="default: home")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--orgs", type=int, default=1_000)
    args = parser.parse_args(argv)
    asyncio.run(profile(find_py_spy(), args.scenarios, args.seconds, args.orgs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
