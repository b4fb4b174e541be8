"""Fan-out at ECS's real request quotas: every task of a cluster, against throttling LocalECS.

    python benchmarks/quota.py [--tasks 10000] [--scales 0.25 1 4 off] [--repeat 3]

ListTasks and DescribeTasks spend one token bucket, ECS's "cluster resource read" category
(burst 100, 20 per second). LocalECS enforces it (``throttling="aws"``), scaled: x0.25 is an
account whose other readers spend three quarters of it, x4 a raised limit, ``off`` no quotas.
Each client fetches all N tasks (the client functions of fanout.py) with default settings:

* aioecs ``iter_tasks`` (8 DescribeTasks in flight);
* aiobotocore, paginator + pipelined DescribeTasks (semaphore 8), ``standard`` retry mode
  and ``adaptive`` (its client-side rate limiter);
* boto3, sequential, botocore's default retry mode (``legacy``, 5 attempts).

Per scale and client: wall of the fetch (client creation excluded), wall / floor, requests
the server received, the share it throttled, and whether the client saw every seeded task
exactly once. A client that raises is reported as failed, with the error's class. The floor:

    floor = max((2 ceil(N/100) - burst) / rate, (ceil(N/100) + 1) x latency)

ceil(N/100) ListTasks pages and as many DescribeTasks, all from one bucket that starts full
(``burst``) and refills at ``rate`` (both scaled); and, however fast the bucket, the ListTasks
chain plus the last page's DescribeTasks, one round trip each.

One more row: aioecs at x1 with ``--fault-rate`` of the requests faulted as in
reliability.py (throttles, 500, 503, resets before and after, truncated bodies, HTML 502),
a different fault seed per run: is every task seen exactly once, in every run?

Every client has a LocalECS process of its own (a "lane", ``_server.py``), and each run starts
with full buckets and cleared counters (its ``reset`` command). Runs paced by the bucket
(floor set by the quota, not the latency) are many seconds of waiting for tokens, so the
clients of such a scale run at the same time, each against its own server; the others (x4,
off) run one after another, as in fanout.py. ``--serial`` runs everything one at a time.
Each client runs in a fresh interpreter. Medians of ``--repeat`` runs; scales and repeats are
interleaved so drift of the machine spreads over all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from _harness import Meter, arn_digest, emit, median, run_child, table
from _server import BenchServer, Target
from fanout import fetch_aiobotocore, fetch_aioecs, fetch_boto3
from reliability import FAULT_SPLIT, failed

CLIENTS = ("aioecs", "aiobotocore-standard", "aiobotocore-adaptive", "boto3")
OURS = "aioecs"
FAULTED = "aioecs+faults"
CONCURRENCY = 8  # DescribeTasks in flight: iter_tasks' default, and fanout.py's peers'
BURST, RATE = 100.0, 20.0  # "cluster resource read", aioecs._limits.CATEGORIES
Scale = float | None  # None: no quotas ("off")

# The targets (for aioecs): wall / floor, share throttled, and x4 / off.
TARGETS: dict[float, tuple[float, float]] = {0.25: (1.10, 0.05), 1.0: (1.05, 0.02)}
RAISED = 4.0
RAISED_VS_OFF = 1.10
PACED = 4.0  # clients run at once when the floor is this many times the latency floor


# -- the child: one client, one fetch -----------------------------------------------------------


def fetch(client: str, target: Target, meter: Meter) -> list[str]:
    if client == "aioecs":
        return asyncio.run(fetch_aioecs(target, meter, CONCURRENCY))
    if client.startswith("aiobotocore-"):
        mode = client.removeprefix("aiobotocore-")
        return asyncio.run(fetch_aiobotocore(target, meter, CONCURRENCY, retry_mode=mode))
    if client == "boto3":
        return fetch_boto3(target, meter, CONCURRENCY)
    raise ValueError(client)


def child(client: str, target: Target) -> None:
    meter = Meter()
    try:
        arns = fetch(client, target, meter)
    except Exception as exc:  # reported, not a crash: e.g. standard retries giving up
        emit({**meter.result(), "error": failed([exc])})
        return
    distinct = set(arns)
    emit(
        {
            **meter.result(),
            "count": len(arns),
            "distinct": len(distinct),
            "digest": arn_digest(distinct),
        }
    )


# -- the parent ---------------------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    sent: int
    throttled: int
    exactly_once: bool
    error: str | None
    throttled_at: list[float]


@dataclass
class Cell:
    """Every run of one client at one scale."""

    runs: list[Run] = field(default_factory=list)
    skipped: str | None = None

    def ok(self) -> list[Run]:
        return [r for r in self.runs if r.error is None]


def floor_s(n: int, scale: Scale, latency_ms: float) -> float:
    pages = math.ceil(n / 100)
    latency_floor = (pages + 1) * latency_ms / 1000
    if scale is None:
        return latency_floor
    burst, rate = max(1.0, BURST * scale), RATE * scale
    return max((2 * pages - burst) / rate, latency_floor)


def paced(n: int, scale: Scale, latency_ms: float) -> bool:
    """Whether the bucket, not the round trips, sets the floor, by far (PACED): runs that
    mostly wait for tokens, so that several can share the machine. (At x1 and N = 10,000 the
    floor is only 2.5 x the latency floor, and four clients decoding 10,000 tasks each at
    once on two cores were measured slower than one at a time.)"""
    if scale is None:
        return False
    return floor_s(n, scale, latency_ms) >= PACED * floor_s(n, None, latency_ms)


def fault_spec(rate: float, seed: int) -> str:
    """reliability.py's mix of faults, ``rate`` of the requests in all."""
    rates = (f"{kind}={share * rate:g}" for kind, share in FAULT_SPLIT.items() if share * rate)
    return ",".join([f"seed={seed}", *rates])


def run_one(
    lane: BenchServer, client: str, label: str, timeout: float, scale: Scale, faults: str
) -> Run:
    """One fetch in a fresh interpreter, against ``lane`` freshly reset."""
    target = lane.target
    assert target is not None
    lane.reset(throttling="off" if scale is None else scale, faults=faults)
    args = ["--child", client.removesuffix("+faults"), "--target", target.to_json()]
    try:
        result = run_child(Path(__file__), args, label=label, timeout=timeout)
    except subprocess.TimeoutExpired:
        result = {"wall_s": timeout, "error": f"timeout ({timeout:.0f} s)"}
    except RuntimeError as exc:
        result = {"wall_s": math.nan, "error": f"crashed ({exc})"}
    counts = lane.reset()
    error = result.get("error")
    once = error is None and (result["count"], result["distinct"]) == (target.tasks,) * 2
    once = once and result["digest"] == target.digest
    run = Run(result["wall_s"], counts.sent, counts.throttled, once, error, counts.throttled_at)
    share = run.throttled / run.sent if run.sent else 0.0
    state = error or ("exactly once" if once else "WRONG TASKS")
    print(
        f"  {label}: {run.wall_s:.2f} s, {run.sent} requests, {share:.1%} throttled, {state}",
        file=sys.stderr,
    )
    return run


@dataclass(frozen=True)
class Job:
    """One client run: which client, against which quota scale and faults."""

    client: str  # CLIENTS, or FAULTED
    scale: Scale
    faults: str = "off"  # Faults.parse spec


def measure(n: int, args: argparse.Namespace) -> dict[tuple[Scale, str], Cell]:
    cells: dict[tuple[Scale, str], Cell] = defaultdict(Cell)
    timeout = max(300.0, 4 * max(floor_s(n, s, args.latency_ms) for s in args.scales))
    runnable = []
    for scale in args.scales:
        floor = floor_s(n, scale, args.latency_ms)
        if floor > args.max_floor:
            for client in args.clients:
                cells[scale, client].skipped = f"skipped: floor {floor:.0f} s > --max-floor"
        else:
            runnable.append(scale)
    faulted = args.fault_rate > 0 and OURS in args.clients
    # The faulted run mostly waits (backoff): it joins the first group of paced runs.
    groups: list[list[Job]] = []
    for scale in runnable:
        jobs = [Job(client, scale) for client in args.clients]
        if paced(n, scale, args.latency_ms) and not args.serial:
            groups.append(jobs)
        else:
            groups += [[job] for job in jobs]
    concurrent = [group for group in groups if len(group) > 1]
    if faulted and concurrent:
        concurrent[0].append(Job(FAULTED, 1.0))
    elif faulted:
        groups.append([Job(FAULTED, 1.0)])

    with ExitStack() as stack:
        lanes = {
            client: stack.enter_context(BenchServer(tasks=n, latency_ms=args.latency_ms))
            for client in [*args.clients, *([FAULTED] if faulted else [])]
        }
        for rep in range(args.repeat):

            def one(job: Job, rep: int = rep) -> Run:
                name = "off" if job.scale is None else f"x{job.scale:g}"
                label = f"{job.client} N={n} {name} #{rep + 1}"
                faults = (
                    fault_spec(args.fault_rate, args.seed + rep)
                    if job.client == FAULTED
                    else job.faults
                )
                return run_one(lanes[job.client], job.client, label, timeout, job.scale, faults)

            for group in groups:
                with ThreadPoolExecutor(len(group)) as pool:
                    runs = list(pool.map(one, group))
                for job, run in zip(group, runs, strict=True):
                    cells[job.scale, job.client].runs.append(run)
    order = [(scale, client) for scale in args.scales for client in args.clients]
    order += [(1.0, FAULTED)] if faulted else []
    return {key: cells[key] for key in order}


def summarise(n: int, cells: dict[tuple[Scale, str], Cell], args: argparse.Namespace) -> None:
    print(
        f"\nN = {n:,} tasks, latency {args.latency_ms:g} ms, {CONCURRENCY} DescribeTasks in "
        f"flight, medians of {args.repeat} runs; quota: burst {BURST:g}, {RATE:g}/s, x scale"
    )
    off_wall = {
        client: median(r.wall_s for r in cell.ok())
        for (scale, client), cell in cells.items()
        if scale is None and cell.ok()
    }
    rows = []
    verdicts = []
    for (scale, client), cell in cells.items():
        name = "off" if scale is None else f"x{scale:g}"
        floor = floor_s(n, scale, args.latency_ms)
        if cell.skipped:
            rows.append([name, client, f"{floor:.2f}", cell.skipped])
            continue
        ok = cell.ok()
        wall = median(r.wall_s for r in ok) if ok else math.nan
        sent = median(r.sent for r in cell.runs)
        share = median(r.throttled / r.sent if r.sent else 0.0 for r in cell.runs)
        ratio = wall / floor
        target_ratio, target_share = TARGETS.get(scale or 0.0, (math.nan, math.nan))
        if scale == RAISED:
            target_share = 0.0  # nothing throttled
        if client == FAULTED:  # its target: every task exactly once
            target_ratio = target_share = math.nan
        vs_off = wall / off_wall[client] if scale == RAISED and client in off_wall else math.nan
        once = sum(r.exactly_once for r in cell.runs)
        errors = [r.error for r in cell.runs if r.error]
        rows.append(
            [
                name,
                client,
                f"{floor:.2f}",
                "-" if math.isnan(wall) else f"{wall:.2f}",
                _with_target(f"{ratio:.3f}", target_ratio, "{:.2f}"),
                f"{sent:.0f}",
                _with_target(f"{share:.1%}", target_share, "{:.0%}"),
                _when(cell.runs),
                _with_target(f"{vs_off:.3f}", RAISED_VS_OFF if scale == RAISED else math.nan),
                ("yes" if once == len(cell.runs) else "no") + f" {once}/{len(cell.runs)}",
                _errors(errors),
            ]
        )
        if client in (OURS, FAULTED):
            verdicts += _verdicts(name, client, ratio, target_ratio, share, target_share,
                                  vs_off, scale, once, len(cell.runs), errors)  # fmt: skip
    headers = ["scale", "client", "floor s", "wall s", "wall/floor (target)", "requests"]
    headers += ["throttled (target)", "throttled at s", "vs off (target)", "exactly once"]
    headers += ["failed"]
    print(table(headers, rows))
    print("targets (aioecs, default settings):")
    for line in verdicts:
        print(f"  {line}")


def _with_target(value: str, target: float, fmt: str = "{:.2f}") -> str:
    if value == "nan":
        return "-"
    if math.isnan(target):
        return value
    if target == 0:
        return f"{value} (none)"
    return f"{value} (≤{fmt.format(target)})"


def _when(runs: Sequence[Run]) -> str:
    """When throttles came, seconds into the run, all runs pooled: first / median / last."""
    times = sorted(t for run in runs for t in run.throttled_at)
    if not times:
        return "-"
    return f"{times[0]:.1f} / {median(times):.1f} / {times[-1]:.1f}"


def _errors(errors: Sequence[str]) -> str:
    if not errors:
        return "-"
    kinds = defaultdict(int)
    for error in errors:
        kinds[error] += 1
    return ", ".join(f"{k} x{c}" if c > 1 else k for k, c in kinds.items())


def _verdicts(
    name: str,
    client: str,
    ratio: float,
    target_ratio: float,
    share: float,
    target_share: float,
    vs_off: float,
    scale: Scale,
    once: int,
    runs: int,
    errors: Sequence[str],
) -> list[str]:
    def check(what: str, value: float, target: float, fmt: str) -> str:
        met = value <= target
        miss = "" if met else f", missed by {fmt.format(value - target)}"
        return (
            f"{what} {fmt.format(value)} ≤ {fmt.format(target)}: {'met' if met else 'MISSED'}{miss}"
        )

    out = []
    prefix = f"{name} {client}:"
    if client == FAULTED:
        met = once == runs
        return [
            f"{prefix} every task exactly once in {once}/{runs} runs: {'met' if met else 'MISSED'}"
        ]
    if errors:
        out.append(f"{prefix} finishes with default settings: MISSED ({_errors(errors)})")
    elif scale == 0.25:
        out.append(f"{prefix} finishes with default settings: met")
    if not math.isnan(target_ratio):
        out.append(f"{prefix} {check('wall/floor', ratio, target_ratio, '{:.3f}')}")
    if not math.isnan(target_share):
        out.append(f"{prefix} {check('throttled', share, target_share, '{:.1%}')}")
    if scale == RAISED and not math.isnan(vs_off):
        out.append(f"{prefix} {check('wall / wall(off)', vs_off, RAISED_VS_OFF, '{:.3f}')}")
    if once != runs:
        out.append(f"{prefix} tasks exactly once in only {once}/{runs} runs")
    return out


def _scale(text: str) -> Scale:
    return None if text == "off" else float(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, nargs="+", default=[10_000])
    parser.add_argument("--scales", type=_scale, nargs="+", default=[0.25, 1.0, 4.0, None],
                        help="quota scales; 'off' for no quotas")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--clients", nargs="+", choices=CLIENTS, default=list(CLIENTS))
    parser.add_argument("--fault-rate", type=float, default=0.10, help="0: no faulted row")
    parser.add_argument("--seed", type=int, default=7, help="fault seed of the first run")
    parser.add_argument("--max-floor", type=float, default=120.0,
                        help="skip scales whose floor is longer (seconds)")  # fmt: skip
    parser.add_argument("--serial", action="store_true", help="never run clients at once")
    parser.add_argument("--child", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Target.from_json(args.target))
        return
    for n in args.tasks:
        summarise(n, measure(n, args), args)


if __name__ == "__main__":
    main()
