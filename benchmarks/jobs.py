"""Jobs benchmark: N copies of a task run and waited on, aioecs `run_job` against the same job
written with aiobotocore's waiters.

    python benchmarks/jobs.py [--tasks 250] [--latency-ms 20] [--run-seconds 10]
                              [--pending-seconds 1] [--missing-seconds 2] [--interval 6]

LocalECS serves on this process's event loop (signatures off; a job makes a few dozen
requests, so it takes next to nothing from the client), answering each request after
`--latency-ms`. Its tasks stay PENDING `--pending-seconds`, then run `--run-seconds`
(`AIOECS_RUN_SECONDS`), and DescribeTasks answers MISSING for `--missing-seconds` after
each start, as a real account may. The tasks' own lifetime is pending + run seconds from
the last start; "wait / lifetime" compares the wait (from the last RunTask answer to the
end) with it: a poller learns the end at most one interval late. "start s" is the RunTask
calls' time.

Scenarios, each on a fresh cluster, all polling every `--interval` seconds:

* aioecs: `run_job(count=N)` then `job.wait()`: outcomes with causes and exit codes.
* aiobotocore, one waiter: RunTask 10 a call, then `tasks_stopped` on all N ARNs.
* aiobotocore, waiters of 100: the same with one `tasks_stopped` per 100 ARNs, concurrently,
  then DescribeTasks again to read the exit codes (a waiter returns nothing).
* aiobotocore, running then stopped: `tasks_running` first (as job runners that report the
  start do), then `tasks_stopped`, 100 ARNs per waiter.

Each row says how the job ended: the outcome it reported, or the error it raised.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections import Counter
from typing import Any

from _harness import table

CLUSTER_PREFIX = "jobs-bench"
FAMILY = "batch"


def task_definition(run_seconds: float) -> dict[str, Any]:
    """An essential `app` running `run_seconds`, and a `log-router` sidecar (exits 143)."""
    return {
        "family": FAMILY,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [
            {
                "name": "app",
                "image": "app:1",
                "environment": [{"name": "AIOECS_RUN_SECONDS", "value": str(run_seconds)}],
            },
            {"name": "log-router", "image": "fluent-bit:3", "essential": False},
        ],
    }


NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0bench"]}}


async def aioecs_job(
    local: Any, cluster: str, tasks: int, interval: float, started: list[float]
) -> str:
    async with local.client() as ecs:
        job = await ecs.run_job(
            cluster=cluster,
            task_definition=FAMILY,
            count=tasks,
            launch_type="FARGATE",
            network_configuration={"awsvpc_configuration": {"subnets": ["subnet-0bench"]}},
        )
        started.append(time.perf_counter())
        result = await job.wait(interval=interval)
    causes = Counter(o.cause for o in result.outcomes)
    codes = Counter(code for o in result.outcomes for code in o.exit_codes.values())
    verdict = "succeeded" if result.succeeded else "failed"
    return f"{verdict}: {dict(causes)}, exit codes {dict(codes)}"


async def _run_tasks(ecs: Any, cluster: str, tasks: int) -> list[str]:
    arns: list[str] = []
    for i in range(0, tasks, 10):
        reply = await ecs.run_task(
            cluster=cluster,
            taskDefinition=FAMILY,
            count=min(10, tasks - i),
            launchType="FARGATE",
            networkConfiguration=NETWORK,
        )
        arns += [t["taskArn"] for t in reply["tasks"]]
    return arns


async def _waiters(ecs: Any, name: str, cluster: str, arns: list[str], interval: float) -> None:
    waiter = ecs.get_waiter(name)
    config = {"Delay": interval, "MaxAttempts": 100}
    await asyncio.gather(
        *(
            waiter.wait(cluster=cluster, tasks=arns[i : i + 100], WaiterConfig=config)
            for i in range(0, len(arns), 100)
        )
    )


async def aiobotocore_job(
    local: Any, cluster: str, tasks: int, interval: float, how: str, started: list[float]
) -> str:
    from aiobotocore.session import get_session

    async with get_session().create_client("ecs", **local.endpoint.client_kwargs()) as ecs:
        arns = await _run_tasks(ecs, cluster, tasks)
        started.append(time.perf_counter())
        try:
            if how == "one waiter":
                waiter = ecs.get_waiter("tasks_stopped")
                config = {"Delay": interval, "MaxAttempts": 100}
                await waiter.wait(cluster=cluster, tasks=arns, WaiterConfig=config)
            else:
                if how == "running then stopped":
                    await _waiters(ecs, "tasks_running", cluster, arns, interval)
                await _waiters(ecs, "tasks_stopped", cluster, arns, interval)
        except Exception as exc:  # how the job ends is what is measured
            text = " ".join(str(exc).split())
            return f"raised {type(exc).__name__}: {text[:110]}"
        codes: Counter[int | None] = Counter()
        for i in range(0, len(arns), 100):
            reply = await ecs.describe_tasks(cluster=cluster, tasks=arns[i : i + 100])
            for task in reply["tasks"]:
                for container in task["containers"]:
                    codes[container.get("exitCode")] += 1
        return f"waiter success; then exit codes {dict(codes)} (no essential/sidecar split)"


SCENARIOS = ("aioecs", "one waiter", "waiters of 100", "running then stopped")


async def scenario(local: Any, name: str, n: int, args: argparse.Namespace) -> list[Any]:
    cluster = f"{CLUSTER_PREFIX}-{n}"
    async with local.client() as ecs:
        await ecs.create_cluster(cluster_name=cluster)
    local.request_count.clear()
    began, started = time.perf_counter(), []
    if name == "aioecs":
        ended = await aioecs_job(local, cluster, args.tasks, args.interval, started)
    else:
        ended = await aiobotocore_job(local, cluster, args.tasks, args.interval, name, started)
    done = time.perf_counter()
    counts = dict(local.request_count)
    requests = sum(counts.values())
    # The last task starts with the last RunTask call; it then lives pending + run seconds.
    lifetime = args.pending_seconds + args.run_seconds
    calls = ", ".join(f"{op} {k}" for op, k in sorted(counts.items()))
    return [
        "aioecs run_job + wait" if name == "aioecs" else f"aiobotocore, {name}",
        requests,
        f"{requests / args.tasks:.3f}",
        f"{started[0] - began:.2f}",
        f"{done - started[0]:.2f}",
        f"{(done - started[0]) / lifetime:.2f}",
        calls,
        ended,
    ]


async def measure(args: argparse.Namespace) -> list[list[Any]]:
    from aioecs.testing import LocalECS

    local = LocalECS(
        verify_signatures=False,
        latency_ms=args.latency_ms,
        pending_seconds=args.pending_seconds,
        missing_seconds=args.missing_seconds,
        seed=1,
    )
    rows = []
    async with local:
        register = local.state.operation("RegisterTaskDefinition")
        assert register is not None
        register(task_definition(args.run_seconds))
        for n, name in enumerate(SCENARIOS):
            rows.append(await scenario(local, name, n, args))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=250)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--run-seconds", type=float, default=10.0)
    parser.add_argument("--pending-seconds", type=float, default=1.0)
    parser.add_argument("--missing-seconds", type=float, default=2.0)
    parser.add_argument("--interval", type=float, default=6.0)
    args = parser.parse_args()
    rows = asyncio.run(measure(args))
    lifetime = args.pending_seconds + args.run_seconds
    print(
        f"{args.tasks} tasks, {args.latency_ms:g} ms per request; each task PENDING "
        f"{args.pending_seconds:g} s then runs {args.run_seconds:g} s (lifetime {lifetime:g} s), "
        f"MISSING for {args.missing_seconds:g} s after its start; polls every "
        f"{args.interval:g} s. RunTask calls needed: {math.ceil(args.tasks / 10)}."
    )
    headers = [
        "job",
        "requests",
        "per task",
        "start s",
        "wait s",
        "wait / lifetime",
        "calls",
        "how it ended",
    ]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
