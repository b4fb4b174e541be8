"""`aioecs run`: start a job with RunTask and, with --wait, follow it to its end.

Its exit status is docker run's: 0 when the job succeeded, the exit code of the first
failed essential container when a task failed with one, 1 otherwise (a task that did not
start, stopped for another reason, or a placement failure).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

import click

from .._jobs import JobResult, TaskOutcome
from .errors import run
from .options import UpperChoice, endpoint_options, make_client
from .table import short_arn


@click.command("run")
@click.option("--cluster", help="Cluster (default: the 'default' cluster).")
@click.option("--task-definition", required=True, help="family, family:revision or ARN.")
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Tasks to start (RunTask starts 10 a call; each call has its own clientToken).",
)
@click.option("--launch-type", type=UpperChoice(["EC2", "FARGATE", "EXTERNAL"]))
@click.option("--started-by", help="Tag the tasks' startedBy with this (up to 36 characters).")
@click.option(
    "--subnet",
    "subnets",
    multiple=True,
    metavar="ID",
    help="awsvpc subnet (Fargate needs one); repeat for several.",
)
@click.option(
    "--security-group",
    "security_groups",
    multiple=True,
    metavar="ID",
    help="With --subnet: security group; repeat for several.",
)
@click.option("--public-ip", is_flag=True, help="With --subnet: assign a public IP address.")
@click.option("--wait", is_flag=True, help="Wait until every task has stopped; print outcomes.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="With --wait: give up after this many seconds (default: no deadline).",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=6.0,
    show_default=True,
    help="With --wait: seconds between DescribeTasks polls.",
)
@endpoint_options
def run_command(
    cluster: str | None,
    task_definition: str,
    count: int,
    launch_type: str | None,
    started_by: str | None,
    subnets: tuple[str, ...],
    security_groups: tuple[str, ...],
    public_ip: bool,
    wait: bool,
    timeout: float | None,
    poll_interval: float,
    **endpoint: Any,
) -> None:
    """Run COUNT tasks (RunTask) and, with --wait, report how each ended.

    Prints the started task ARNs; with --wait, one line per task (cause, exit codes, stop
    reason) once all have stopped. Placement failures go to stderr. Exits like `docker run`:
    0 when every task's essential containers exited 0, the failing essential container's
    exit code when there is one, else 1.
    """
    params: dict[str, Any] = {}
    if launch_type:
        params["launch_type"] = launch_type
    if started_by:
        params["started_by"] = started_by
    if subnets:
        vpc: dict[str, Any] = {"subnets": list(subnets)}
        if security_groups:
            vpc["security_groups"] = list(security_groups)
        if public_ip:
            vpc["assign_public_ip"] = "ENABLED"
        params["network_configuration"] = {"awsvpc_configuration": vpc}
    elif security_groups or public_ip:
        raise click.UsageError("--security-group and --public-ip need --subnet")

    async def main() -> int:
        async with make_client(endpoint) as ecs:
            job = await ecs.run_job(
                cluster=cluster, task_definition=task_definition, count=count, **params
            )
            for failure in job.failures:
                detail = f" ({failure.detail})" if failure.detail else ""
                sys.stderr.write(f"error: {failure.arn or ''}: {failure.reason}{detail}\n")
            if not wait:
                for arn in job.task_arns:
                    sys.stdout.write(f"{arn}\n")
                return 1 if job.failures or len(job.task_arns) < count else 0
            from .wait import spinner

            label = f"waiting for {len(job.task_arns)} tasks to stop"
            async with spinner(label):
                result = await job.wait(timeout=timeout, interval=poll_interval)
        report(result, sys.stdout)
        return exit_status(result)

    status = run(main())
    if status:
        raise SystemExit(status)


def describe(outcome: TaskOutcome) -> str:
    """`0a1b2c  exited  app=1 log=143  Essential container in task exited`."""
    codes = " ".join(
        f"{name}={'-' if code is None else code}" for name, code in outcome.exit_codes.items()
    )
    reason = outcome.stopped_reason or ""
    return f"{short_arn(outcome.task_arn)}  {outcome.cause}  {codes}  {reason}".rstrip()


def report(result: JobResult, out: TextIO) -> None:
    for outcome in result.outcomes:
        out.write(describe(outcome) + "\n")
    done = sum(o.cause == "succeeded" for o in result.outcomes)
    verdict = "succeeded" if result.succeeded else "failed"
    out.write(
        f"job {verdict}: {done} of {result.requested} tasks succeeded"
        + (f", {len(result.failures)} not placed" if result.failures else "")
        + "\n"
    )


def exit_status(result: JobResult) -> int:
    """docker run's: 0, the first failed essential container's exit code, or 1."""
    if result.succeeded:
        return 0
    for outcome in result.outcomes:
        code = outcome.exit_code
        if outcome.cause != "succeeded" and code is not None and 0 < code < 256:
            return code
    return 1
