"""Ratios, the issue's targets checked against the figures, and the JSON and markdown outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from bench.insight import targets as insight_targets

ORDER = (
    "floor",
    "peer",
    "typename",
    "home",
    "home_uncached",
    "help",
    "search",
    "content_item",
    "complete_step",
    "complete_step_webhook",
)
# Throughput as a fraction of `{ __typename }` (ratio), of the floor and of the peer.
MIN_RATIO = {
    "home": 0.9,
    "home_uncached": 0.3,
    "help": 0.5,
    "content_item": 0.5,
    "search": 0.3,
    "complete_step": 0.3,
}
MIN_TO_FLOOR = {"typename": 0.5}
MIN_TO_PEER = {"home_uncached": 1.0}
# Each scenario's ratio key to the scenario it is measured against.
REFERENCES = {"ratio": "typename", "to_floor": "floor", "to_peer": "peer"}


def add_ratios(scenarios: dict[str, dict[str, Any]]) -> None:
    """Each scenario's throughput as a fraction of `{ __typename }`, of the floor (a bare
    Starlette endpoint) and of the peer (PostGraphile's checklist), all in the same run."""
    for key, reference in REFERENCES.items():
        ceiling = scenarios.get(reference, {}).get("rps")
        if ceiling is None:
            continue
        for figures in scenarios.values():
            figures[key] = round(figures["rps"] / ceiling, 3) if ceiling else 0.0


def _target(name: str, wanted: str, measured: Any, met: bool) -> dict[str, Any]:
    return {"target": name, "wanted": wanted, "measured": measured, "met": bool(met)}


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value and whether it holds."""
    out = []
    for size, dataset in result["datasets"].items():
        s = dataset["scenarios"]
        for key, minimums in (
            ("ratio", MIN_RATIO),
            ("to_floor", MIN_TO_FLOOR),
            ("to_peer", MIN_TO_PEER),
        ):
            for name, minimum in minimums.items():
                measured = s.get(name, {}).get(key)
                if measured is not None:
                    label = "ratio" if key == "ratio" else f"ratio to the {REFERENCES[key]}"
                    out.append(
                        _target(
                            f"{size} {name} {label}", f">= {minimum}", measured, measured >= minimum
                        )
                    )
        if "home" in s:
            home = s["home"]
            out.append(
                _target(f"{size} home p99", "<= 50 ms", home["p99_ms"], home["p99_ms"] <= 50)
            )
            sql = home.get("sql_per_request")
            out.append(_target(f"{size} home SQL", "<= 3", sql, sql is not None and sql <= 3))
        for name in ("help", "content_item"):
            sql = s.get(name, {}).get("sql_per_request")
            if name in s:
                out.append(_target(f"{size} {name} SQL", "0", sql, sql == 0))
        if "complete_step" in s and "complete_step_webhook" in s:
            plain, hooked = s["complete_step"], s["complete_step_webhook"]
            kept = round(hooked["ratio"] / plain["ratio"], 3) if plain["ratio"] else 0.0
            out.append(
                _target(f"{size} complete_step ratio with a webhook", ">= 0.9x", kept, kept >= 0.9)
            )
            extra = round(hooked["sql_per_request"] - plain["sql_per_request"], 2)
            out.append(
                _target(f"{size} complete_step SQL with a webhook", "<= +1", extra, extra <= 1)
            )
    datasets = result["datasets"]
    if "small" in datasets and "large" in datasets:
        small = datasets["small"]["scenarios"]["home"]
        large = datasets["large"]["scenarios"]["home"]
        for key in ("p50_ms", "p99_ms"):
            growth = round(large[key] / small[key] - 1, 3) if small[key] else None
            out.append(
                _target(
                    f"large vs small home {key[:3]}",
                    "<= +10%",
                    growth,
                    growth is not None and growth <= 0.10,
                )
            )
    build = result.get("content_build")
    if build:
        out.append(
            _target("content check + cold build", "< 6 s", build["cold_s"], build["cold_s"] < 6)
        )
        out.append(
            _target("one-edit rebuild", "< 0.5 s", build["one_edit_s"], build["one_edit_s"] < 0.5)
        )
    if result.get("insight"):
        out += [_target(*target) for target in insight_targets(result["insight"])]
    for key, name in (("rss_mb", "worker RSS"), ("rss_after_swap_mb", "worker RSS after a swap")):
        if result.get(key) is not None:
            out.append(_target(name, "< 250 MB", result[key], result[key] < 250))
    return out


def markdown(result: dict[str, Any]) -> str:
    machine = result.get("machine", {})
    lines = [
        f"Heed bench, {result.get('date', '')} (commit {result.get('git_commit', '?')}), "
        f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
        f"{machine.get('memory_gb', '?')} GB; one uvicorn worker, {machine.get('postgres', '')}; "
        f"wrk {result.get('load', {}).get('connections', '?')} connections, "
        f"{result.get('load', {}).get('seconds', '?')} s per scenario, "
        f"best of {result.get('load', {}).get('rounds', 1)} interleaved round(s). "
        "Floor: a bare Starlette endpoint (constant JSON) under the same uvicorn settings; "
        f"peer: {result.get('peer', {}).get('server', 'PostGraphile')} on Node "
        f"{result.get('peer', {}).get('node', '?')}, its checklist query over the same database.",
        "",
        "| dataset | scenario | req/s | p50 ms | p99 ms | SQL/req | to typename | to floor "
        "| to peer |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, dataset in result["datasets"].items():
        for name in ORDER:
            f = dataset["scenarios"].get(name)
            if f:
                sql = f.get("sql_per_request")
                ratios = " | ".join(_ratio(f.get(key)) for key in REFERENCES)
                lines.append(
                    f"| {size} ({dataset['orgs']:,} orgs) | {name} | {f['rps']:,.0f} | "
                    f"{f['p50_ms']:.1f} | {f['p99_ms']:.1f} | {'-' if sql is None else sql} | "
                    f"{ratios} |"
                )
    build = result.get("content_build", {})
    lines += [
        "",
        f"Content ({build.get('items', '?')} items of ~{build.get('bytes_per_item', '?')} B): "
        f"check + cold build {build.get('cold_s', '?')} s, one-edit rebuild "
        f"{build.get('one_edit_s', '?')} s. Release swap {result.get('release_swap_s', '?')} s "
        f"(commit to /readyz). Worker RSS {result.get('rss_mb', '?')} MB, "
        f"{result.get('rss_after_swap_mb', '?')} MB after the swap.",
    ]
    for size, dataset in result["datasets"].items():
        hooked = dataset["scenarios"].get("complete_step_webhook", {})
        if "webhooks_received" in hooked:
            lines.append(
                f"{size}: the receiver had {hooked['webhooks_received']:,} of the "
                f"{hooked['requests']:,} events of complete_step_webhook's best round by its end."
            )
    found = result.get("insight")
    if found:
        alone, loaded, job = found["dashboard_alone"], found["dashboard"], found["job"]
        lines += [
            "",
            f"Insight (large): one organization's dashboard p50/p99 {alone['p50_ms']}/"
            f"{alone['p99_ms']} ms one request at a time, {loaded['p50_ms']}/{loaded['p99_ms']}"
            f" ms and {loaded['rps']:,.0f} req/s under wrk; the portfolio's first page of 50 by"
            f" health {found['portfolio']['first_s']} s computed, {found['portfolio']['median_s']}"
            f" s reused; the insight job over every organization {job['first_run']['seconds']} s"
            f" ({job['first_run']['recorded']:,} events recorded), again in the period"
            f" {job['second_run']['seconds']} s ({job['second_run']['recorded']} new).",
        ]
    missed = [t for t in result.get("targets", []) if not t["met"]]
    if missed:
        lines += [
            "",
            "Targets missed: "
            + "; ".join(f"{t['target']} {t['measured']} (wanted {t['wanted']})" for t in missed)
            + ".",
        ]
    else:
        lines += ["", "All targets met."]
    return "\n".join(lines) + "\n"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def write(result: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, md_path = directory / "latest.json", directory / "latest.md"
    json_path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2) + b"\n")
    md_path.write_text(markdown(result), encoding="utf-8")
    return json_path, md_path
