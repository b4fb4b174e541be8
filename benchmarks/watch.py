"""Watch benchmark: requests per sweep of `watch_tasks` against re-describing every task.

    python benchmarks/watch.py [--tasks 10000] [--sweeps 20] [--churn 0.01] [--refresh 10]
    python benchmarks/watch.py --state [--sizes 5000,20000] [--repeat 3]

Counts requests, not time: LocalECS runs in this process (signatures off, no latency) and its
`request_count` is read after each sweep. Sweeps follow each other closely; what the counts
cost is then expressed at a 30 s interval against the account's read bucket (ListTasks and
DescribeTasks share one: burst 100, 20 tokens/s, i.e. 600 tokens per 30 s).

Scenarios, each measured over `--sweeps` sweeps after the first:

* quiet: nothing changes;
* churn: before each sweep `--churn` of the tasks change, half stopped (their essential
  container exits) and as many new ones started (PENDING, so each is seen once more when it
  starts);
* re-describe: every sweep lists and describes everything (`iter_tasks`), what a poller
  without state does.

`--state` times instead the first sweep (every task added) with and without
`state_file=`, at each of `--sizes` tasks: the median of `--repeat` runs of each, alternated,
each with a fresh watch and file, against a LocalECS in this process (signatures off, no
latency, so the sweep itself is as fast as it gets and the file's share as large as it gets).
Wall and CPU time of the process are both shown: on a shared machine wall time mostly
measures the neighbours, so the ratio is taken of CPU time (which includes the emulator's).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import table

INTERVAL = 30.0
BUCKET_RATE = 20.0  # tokens/s of the cluster_resource_read bucket


async def measure(tasks: int, sweeps: int, churn: float, refresh: int) -> list[list[Any]]:
    from aioecs import Credentials, ECSClient, TaskWatch
    from aioecs.testing import LocalECS

    clock = [1_700_000_000.0]
    rows = []
    async with LocalECS(verify_signatures=False, seed=1, clock=lambda: clock[0]) as local:
        local.state.pending_seconds = 5
        fleet = local.seed_tasks(tasks, cluster="bench")
        key, secret = local.credentials
        credentials = Credentials(access_key_id=key, secret_access_key=secret)
        async with ECSClient(
            region=local.region, endpoint_url=local.endpoint_url, credentials=credentials
        ) as ecs:
            for scenario in ("quiet", "churn"):
                watch = ecs.watch_tasks(cluster="bench", interval=0.0, refresh=refresh)
                counts: list[dict[str, int]] = []
                changes = 0

                async def consume(watch: TaskWatch) -> None:
                    nonlocal changes
                    async for _change in watch:
                        changes += 1

                consumer = asyncio.ensure_future(consume(watch))
                done = 0
                while len(counts) < sweeps + 1:
                    await asyncio.sleep(0)
                    if watch.stats.sweeps > done:
                        done = watch.stats.sweeps
                        counts.append(dict(local.request_count))
                        local.request_count.clear()
                        if scenario == "churn":
                            n = max(1, round(tasks * churn / 2))
                            for arn in fleet[:n]:
                                local.set_task_status(arn, "STOPPED", exit_code=1)
                            del fleet[:n]
                            fleet += local.seed_tasks(n, cluster="bench", last_status="PENDING")
                            clock[0] += 5
                consumer.cancel()
                await asyncio.gather(consumer, return_exceptions=True)
                later = counts[1:]  # the first sweep describes everything once
                rows.append(_row(f"watch, {scenario}", later))
                fleet = [t.task_arn for t in watch.tasks() if t.task_arn]
            local.request_count.clear()
            for _ in range(3):
                async for _task in ecs.iter_tasks(cluster="bench"):
                    pass
            each = {k: v // 3 for k, v in local.request_count.items()}
            rows.append(_row("re-describe all", [each]))
    return rows


async def first_sweep(ecs: Any, state_file: Path | None) -> tuple[float, float, int]:
    """Wall and CPU seconds until the first sweep's changes are all handed out (and the file
    is on disk), with the state file's writes."""
    ended = asyncio.Event()
    elapsed = cpu = 0.0

    def on_sweep(_watch: Any) -> None:
        nonlocal elapsed, cpu
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - start_cpu
        ended.set()

    watch = ecs.watch_tasks(
        cluster="bench", interval=3600.0, refresh=None, state_file=state_file, on_sweep=on_sweep
    )

    async def consume() -> None:
        async for _change in watch:
            pass

    start, start_cpu = time.perf_counter(), time.process_time()
    consumer = asyncio.ensure_future(consume())
    await ended.wait()
    consumer.cancel()
    await asyncio.gather(consumer, return_exceptions=True)
    return elapsed, cpu, watch.stats.state_writes


async def measure_state(sizes: list[int], repeat: int) -> list[list[Any]]:
    from aioecs import Credentials, ECSClient
    from aioecs.testing import LocalECS

    rows = []
    for tasks in sizes:
        async with LocalECS(verify_signatures=False, seed=1) as local:
            local.seed_tasks(tasks, cluster="bench")
            key, secret = local.credentials
            credentials = Credentials(access_key_id=key, secret_access_key=secret)
            async with ECSClient(
                region=local.region, endpoint_url=local.endpoint_url, credentials=credentials
            ) as ecs:
                await first_sweep(ecs, None)  # warm: connections, the Task decoder
                plain, kept, sizes_on_disk, writes = [], [], [], 0
                with tempfile.TemporaryDirectory() as tmp:
                    for i in range(repeat):
                        plain.append(await first_sweep(ecs, None))
                        path = Path(tmp) / f"state-{i}"
                        seconds, cpu, writes = await first_sweep(ecs, path)
                        kept.append((seconds, cpu))
                        sizes_on_disk.append(path.stat().st_size)
        wall = [statistics.median(r[0] for r in runs) for runs in (plain, kept)]
        cpu = [statistics.median(r[1] for r in runs) for runs in (plain, kept)]
        size = statistics.median(sizes_on_disk)
        rows.append(
            [f"{tasks:,}", f"{wall[0]:.2f} / {cpu[0]:.2f}", f"{wall[1]:.2f} / {cpu[1]:.2f}",
             f"{cpu[1] / cpu[0]:.2f}x", f"{size / 1e6:.2f} MB", f"{size / tasks:.0f}",
             f"{writes}"]
        )  # fmt: skip
    return rows


def _row(label: str, counts: list[dict[str, int]]) -> list[Any]:
    n = len(counts)
    listing = sum(c.get("ListTasks", 0) for c in counts) / n
    describe = sum(c.get("DescribeTasks", 0) for c in counts) / n
    total = listing + describe
    share = total / (BUCKET_RATE * INTERVAL)
    return [label, f"{listing:.1f}", f"{describe:.1f}", f"{total:.1f}", f"{share:.1%}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--sweeps", type=int, default=20)
    parser.add_argument("--churn", type=float, default=0.01)
    parser.add_argument("--refresh", type=int, default=10)
    parser.add_argument("--state", action="store_true", help="time first sweeps with a file")
    parser.add_argument("--sizes", default="5000,20000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.state:
        sizes = [int(n) for n in args.sizes.split(",")]
        rows = asyncio.run(measure_state(sizes, args.repeat))
        print(f"first sweep of a watch, median of {args.repeat} runs each, LocalECS in-process")
        headers = ["tasks", "without: wall / CPU s", "state_file: wall / CPU s", "CPU ratio"]
        headers += ["file", "bytes/task"]
        print(table([*headers, "writes"], rows))
        return
    rows = asyncio.run(measure(args.tasks, args.sweeps, args.churn, args.refresh))
    print(
        f"{args.tasks:,} tasks, {args.sweeps} sweeps per scenario, churn {args.churn:.0%} "
        f"per sweep, refresh every {args.refresh} sweeps; read bucket 20 tokens/s, "
        f"burst 100, at a {INTERVAL:g} s interval"
    )
    headers = ["per sweep", "ListTasks", "DescribeTasks", "requests", "of bucket/30 s"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
