"""`aioecs demo`: the fan-out against the embedded emulator, timed against the latency floor.

The floor: ListTasks pages (100 tasks each) form a chain, each request needing the previous
page's token, and the last page still has to be described; so no client can list and
describe N tasks in less than `(ceil(N/100) + 1) × latency`. The demo lists RUNNING and
STOPPED tasks as two concurrent chains, so its floor is that of the longer chain.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, NamedTuple

from .. import models
from .._credentials import Credentials
from .._deploy import RolloutResult
from .._retry import RequestCounts
from ..client import ECSClient
from .emulator import CLUSTER, demo_emulator
from .errors import CommandError
from .output import requests_line
from .table import family, human_time, short_arn

STATUSES: tuple[models.DesiredStatus, ...] = ("RUNNING", "STOPPED")
SHOW_FIRST = 5
ROLLBACK_CLUSTER = "deploy-demo"


@asynccontextmanager
async def emulator_in_child(
    tasks: int, latency_ms: float, throttling_scale: float | None
) -> AsyncIterator[dict[str, Any]]:
    """Run `python -m aioecs._cli.emulator` and yield its announcement; stop it on exit."""
    quota = ["--throttling-scale", str(throttling_scale)] if throttling_scale else []
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "aioecs._cli.emulator",
        "--tasks",
        str(tasks),
        "--latency-ms",
        str(latency_ms),
        *quota,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), timeout=60)
        if not line:
            raise CommandError("the emulator process exited before it was ready")
        yield dict(json.loads(line))
    finally:
        child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), timeout=10)
        except asyncio.TimeoutError:
            child.kill()
            await child.wait()


@asynccontextmanager
async def emulator_in_process(
    tasks: int, latency_ms: float, throttling_scale: float | None
) -> AsyncIterator[dict[str, Any]]:
    """The same emulator on this process's event loop: no child process, less fair timing."""
    from ..testing._launch import ready_line

    local, counts = demo_emulator(tasks, latency_ms, throttling_scale, verify_signatures=True)
    async with local:
        yield dict(json.loads(ready_line(local, {"seeded": counts})))


class Fetched(NamedTuple):
    listed: dict[str, list[models.Task]]  # by desired status
    failures: list[models.Failure]
    counts: RequestCounts
    elapsed: float


async def fetch(ecs: ECSClient) -> Fetched:
    """Every task of the demo cluster by desired status, as two concurrent fan-outs."""
    failures: list[models.Failure] = []
    counts = RequestCounts()

    async def one(status: models.DesiredStatus) -> list[models.Task]:
        stream = ecs.iter_tasks(cluster=CLUSTER, desired_status=status)
        async with stream:
            found = [task async for task in stream]
        failures.extend(stream.failures)
        counts.add(stream.counts)
        return found

    started = time.perf_counter()
    results = await asyncio.gather(*(one(status) for status in STATUSES))
    elapsed = time.perf_counter() - started
    return Fetched(dict(zip(STATUSES, results, strict=True)), failures, counts, elapsed)


async def run_demo(
    tasks: int,
    latency_ms: float,
    in_process: bool,
    throttling_scale: float | None = None,
    watch: bool = True,
) -> None:
    from rich.console import Console

    # Off a terminal (a pipe, a CI log) rich assumes 80 columns; the tables need a bit more.
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    start = emulator_in_process if in_process else emulator_in_child
    where = "in this process" if in_process else "in a separate process"
    async with AsyncExitStack() as stack:
        with console.status("starting the emulator and seeding the fleet…"):
            info = await stack.enter_async_context(start(tasks, latency_ms, throttling_scale))
        quota = (
            f"; ECS's request quotas ×{throttling_scale:g} (reads: burst "
            f"{100 * throttling_scale:g}, {20 * throttling_scale:g}/s)"
            if throttling_scale
            else ""
        )
        console.print(
            f"LocalECS at {info['endpoint_url']} ({where}), {latency_ms:g} ms per request"
            f"{quota}; seeded {tasks:,} tasks in cluster [bold]{CLUSTER}[/bold]"
        )
        credentials = Credentials(
            access_key_id=info["access_key_id"], secret_access_key=info["secret_access_key"]
        )
        async with ECSClient(
            region=info["region"], endpoint_url=info["endpoint_url"], credentials=credentials
        ) as ecs:
            await ecs.list_clusters()  # connect once: the timing is the fan-out's alone
            fetched = await fetch(ecs)
    seeded = {(fam, status): count for fam, status, count in info["seeded"]}
    report(console, fetched, seeded, latency_ms, throttling_scale)
    found = [task for chain in fetched.listed.values() for task in chain]
    if len(found) != tasks or len({t.task_arn for t in found}) != len(found):
        raise CommandError(f"expected {tasks} distinct tasks, received {len(found)}")
    if watch:
        from .watch import watch_demo

        console.print()
        await watch_demo(console)
    console.print()
    await job_demo(console)
    console.print()
    await rollback_demo(console)


def report(
    console: Any,
    fetched: Fetched,
    seeded: dict[tuple[str, str], int],
    latency_ms: float,
    throttling_scale: float | None,
) -> None:
    from rich.table import Table

    listed, failures, elapsed = fetched.listed, fetched.failures, fetched.elapsed
    found = [task for chain in listed.values() for task in chain]
    counts = Counter((family(t.task_definition_arn), t.last_status or "?") for t in found)
    by_family = Table()
    for name in ("family", *STATUSES, "total", "seeded"):
        by_family.add_column(name, justify="left" if name == "family" else "right")
    for fam in dict.fromkeys(fam for fam, _ in seeded):
        row = [counts[(fam, status)] for status in STATUSES]
        expected = sum(n for (f, _), n in seeded.items() if f == fam)
        by_family.add_row(fam, *(f"{n:,}" for n in row), f"{sum(row):,}", f"{expected:,}")
    totals = [sum(n for (_, s), n in counts.items() if s == status) for status in STATUSES]
    by_family.add_row(
        "[bold]all[/bold]",
        *(f"{n:,}" for n in totals),
        f"{len(found):,}",
        f"{sum(seeded.values()):,}",
    )
    console.print("Tasks by family and status")  # a rich title would be padded with spaces
    console.print(by_family)

    first = Table()
    for name in ("task", "definition", "status", "group", "created (UTC)"):
        first.add_column(name, no_wrap=True)
    for task in found[:SHOW_FIRST]:
        first.add_row(
            short_arn(task.task_arn),
            short_arn(task.task_definition_arn),
            task.last_status or "",
            task.group or "",
            human_time(task.created_at),
        )
    console.print(f"First {SHOW_FIRST} tasks received")
    console.print(first)

    chain = max(len(tasks) for tasks in listed.values())  # the longer chain: critical path
    rate = len(found) / elapsed if elapsed else 0.0
    console.print(
        f"Fetched {len(found):,} tasks (ListTasks + DescribeTasks) in {elapsed:.3f} s, "
        f"{rate:,.0f} tasks/s; {len(failures)} failures; {requests_line(fetched.counts)}."
    )
    if throttling_scale:
        # Every ListTasks page and DescribeTasks batch takes a token of the shared read bucket.
        burst, per_second = 100 * throttling_scale, 20 * throttling_scale
        requests = sum(math.ceil(len(tasks) / 100) * 2 for tasks in listed.values())
        floor = max(0.0, (requests - burst) / per_second)
        console.print(
            f"Quota floor: ({requests} requests − burst {burst:g}) / {per_second:g} per s = "
            f"{floor:.3f} s" + (f" → {elapsed / floor:.2f}× the quota floor." if floor else ".")
        )
    if latency_ms <= 0:
        console.print("No latency was added, so there is no latency floor to compare with.")
        return
    floor = (math.ceil(chain / 100) + 1) * latency_ms / 1000
    console.print(
        f"Latency floor: (ceil({chain:,}/100) + 1) × {latency_ms:g} ms = {floor:.3f} s "
        f"(the longer ListTasks chain, {chain:,} tasks) → {elapsed / floor:.2f}× the floor."
    )


async def job_demo(console: Any, *, tasks: int = 5, run_seconds: float = 1.0) -> None:
    """`run_job` and `Job.wait` on their own LocalECS, one task failing: for `aioecs demo`.

    The emulator answers MISSING for a second after RunTask, as ECS may; each task has an
    essential `report` container and a `log-router` sidecar, which ECS stops with 143.
    """
    from ..testing import LocalECS

    async with (
        LocalECS(latency_ms=20, pending_seconds=0.3, missing_seconds=1.0) as local,
        local.client() as ecs,
    ):
        await ecs.create_cluster(cluster_name="job-demo")
        await ecs.register_task_definition(
            family="nightly-report",
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            container_definitions=[
                {
                    "name": "report",
                    "image": "report:7",
                    "environment": [{"name": "AIOECS_RUN_SECONDS", "value": str(run_seconds)}],
                },
                {"name": "log-router", "image": "fluent-bit:3", "essential": False},
            ],
        )
        started = time.perf_counter()
        job = await ecs.run_job(
            cluster="job-demo",
            task_definition="nightly-report",
            count=tasks,
            launch_type="FARGATE",
            network_configuration={"awsvpc_configuration": {"subnets": ["subnet-0demo"]}},
        )
        console.print(
            f"Job: {len(job.task_arns)} tasks of [bold]nightly-report[/bold] started "
            f"(each runs {run_seconds:g} s; one will exit 1); waiting for them to stop…"
        )
        # The emulator's control API: the third task's report container fails.
        await asyncio.sleep(0.6)
        local.set_task_status(job.task_arns[2], "STOPPED", exit_code={"report": 1})
        result = await job.wait(timeout=60, interval=0.5)
        elapsed = time.perf_counter() - started
    for outcome in result.outcomes:
        codes = " ".join(f"{name}={code}" for name, code in outcome.exit_codes.items())
        console.print(
            f"  {short_arn(outcome.task_arn)}  {outcome.cause:<9} {codes}  "
            f"{outcome.stopped_reason or ''}",
            highlight=False,
            soft_wrap=True,
        )
    verdict = "succeeded" if result.succeeded else "failed"
    console.print(
        f"Job {verdict}: {sum(o.cause == 'succeeded' for o in result.outcomes)} of "
        f"{result.requested} tasks succeeded, in {elapsed:.1f} s; "
        f"{local.request_count['RunTask']} RunTask, "
        f"{local.request_count['DescribeTasks']} DescribeTasks (the first answered MISSING), "
        f"{local.request_count['DescribeTaskDefinition']} DescribeTaskDefinition."
    )


async def rollback_demo(console: Any, step_seconds: float = 0.3) -> RolloutResult:
    """Two deployments on a LocalECS service with a circuit breaker: one completes, one whose
    tasks fail to start is rolled back, which `deploy().wait()` reports as ROLLED_BACK while
    botocore's `services_stable` waiter calls the service stable. Takes a few seconds."""
    from ..testing import LocalECS

    good = [{"name": "web", "image": "nginx"}]
    bad = [{**good[0], "environment": [{"name": "AIOECS_DEPLOYMENT", "value": "fail"}]}]
    async with LocalECS(pending_seconds=step_seconds) as local, local.client() as ecs:
        await ecs.create_cluster(cluster_name=ROLLBACK_CLUSTER)
        for containers in (good, good, bad):
            await ecs.register_task_definition(family="web", container_definitions=containers)
        await ecs.create_service(
            cluster=ROLLBACK_CLUSTER,
            service_name="web",
            task_definition="web:1",
            desired_count=4,
            deployment_configuration={
                "deployment_circuit_breaker": {"enable": True, "rollback": True}
            },
        )
        await ecs.wait_services_stable(
            cluster=ROLLBACK_CLUSTER, services=["web"], delay=step_seconds, timeout=30
        )
        console.print(
            f"Deploying to service [bold]web[/bold] (cluster {ROLLBACK_CLUSTER}, circuit breaker "
            "with rollback): web:2, then web:3, whose tasks fail to start"
        )
        for definition in ("web:2", "web:3"):
            rollout = await ecs.deploy(
                cluster=ROLLBACK_CLUSTER, service="web", task_definition=definition
            )
            result = await rollout.wait(timeout=30, interval=step_seconds / 2)
            verdict = "[green]succeeded[/green]" if result.succeeded else "[red]not a success[/red]"
            console.print(
                f"  {definition}: {result.status} ({verdict}) - {result.reason} The service "
                f"runs {short_arn(result.service_task_definition)}."
            )
        stable = await ecs.wait_services_stable(
            cluster=ROLLBACK_CLUSTER, services=["web"], timeout=30
        )
        events = [event.message for event in reversed(stable.services[0].events[:5])]
    console.print("  meanwhile botocore's services_stable waiter says: stable (success)")
    console.print("  the service's last events:")
    for message in events:
        console.print(f"    {message}", highlight=False, soft_wrap=True)
    return result
