"""Memory a stream keeps per task: peak RSS streaming 100,000 tasks against 10,000.

    python benchmarks/memory.py [--tasks 10000 100000] [--repeat 3] [--latency-ms 0]

``iter_tasks`` holds a bounded window of pages, so what grows with the number of tasks is
what it must remember to yield each task exactly once (ListTasks pages shift while a cluster
changes). Per task count, one LocalECS process is seeded (answering after ``--latency-ms``,
default 0); each run is a fresh interpreter that streams every task and keeps nothing of
them: it counts them and folds each ARN into an order-independent checksum, which the parent
compares with the server's (``arn_checksum`` of the seeded ARNs: a task missed or yielded
twice changes it). The result: the growth of the median peak RSS, divided by the growth of
the task count.

Only the client is in the measured process: the emulator (about 5 KB per seeded task) runs
in its own, and the parent holds no task either, because a child's ``ru_maxrss`` would start
at the parent's peak (see ``_harness.peak_rss_mib``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
from pathlib import Path
from typing import Any

from _harness import Meter, emit, median, run_child, table
from _server import BenchServer, Target

REGION = "us-east-1"


async def stream(target: Target, meter: Meter, concurrency: int) -> dict[str, Any]:
    from aioecs import Credentials, ECSClient

    credentials = Credentials(
        access_key_id=target.access_key_id, secret_access_key=target.secret_access_key
    )
    count = total = 0
    async with ECSClient(region=REGION, endpoint_url=target.url, credentials=credentials) as ecs:
        with meter:
            async for task in ecs.iter_tasks(cluster=target.cluster, concurrency=concurrency):
                assert task.task_arn is not None
                count += 1
                # arn_checksum, one ARN at a time
                digest = hashlib.blake2b(task.task_arn.encode(), digest_size=16).digest()
                total += int.from_bytes(digest, "big")
    return {"count": count, "checksum": f"{total % 2**128:032x}"}


def child(target: Target, concurrency: int) -> None:
    meter = Meter()
    seen = asyncio.run(stream(target, meter, concurrency))
    emit({**meter.result(), **seen})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, nargs=2, default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Target.from_json(args.target), args.concurrency)
        return

    peaks: dict[int, float] = {}
    rows = []
    for n in args.tasks:
        with BenchServer(tasks=n, latency_ms=args.latency_ms) as server:
            assert server.target is not None
            target = server.target
            runs = []
            for rep in range(args.repeat):
                label = f"aioecs N={n} #{rep + 1}"
                child_args = ["--child", "--target", target.to_json()]
                result = run_child(
                    Path(__file__),
                    [*child_args, "--concurrency", str(args.concurrency)],
                    label=label,
                    timeout=900,
                )
                if (result["count"], result["checksum"]) != (n, target.checksum):
                    raise SystemExit(f"{label}: saw {result['count']} tasks, not each seeded once")
                print(f"  {label}: {result['rss_peak_mib']:.1f} MiB peak", file=sys.stderr)
                runs.append(result)
        peaks[n] = median(r["rss_peak_mib"] for r in runs)
        added = median(r["rss_peak_mib"] - r["rss_before_mib"] for r in runs)
        cpu = median(r["cpu_s"] for r in runs)
        rows.append([f"{n:,}", f"{peaks[n]:.1f}", f"{added:.1f}", f"{cpu:.2f}"])
    print(f"iter_tasks, every task streamed once and dropped; medians of {args.repeat} runs")
    print(table(["tasks", "peak RSS MiB", "added by the stream MiB", "CPU s"], rows))
    small, large = args.tasks
    growth = peaks[large] - peaks[small]
    per_task = growth * 2**20 / (large - small)
    print(
        f"peak RSS({large:,}) - peak RSS({small:,}) = {growth:+.1f} MiB: {per_task:.0f} B per task"
    )


if __name__ == "__main__":
    main()
