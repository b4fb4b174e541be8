"""The click commands. Each parses its options, then hands an async function to `run`.

Commands that talk to AWS share the client options (`--region`, `--profile`, `--endpoint-url`,
`--retry-mode`, `--max-attempts`), which map one to one onto `ECSClient`'s arguments;
everything else (environment variables, shared config and credentials files) is resolved by
the client exactly as in Python code, so the CLI and a program see the same account.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence
from typing import Any, TextIO, cast

import click

from .. import __version__, models
from .._exceptions import WaiterError
from .._fleet import iter_fleet_tasks
from .._limits import DESCRIBE_TASKS_MAX
from ..client import ECSClient
from .deploy import deploy
from .errors import CommandError, run
from .errors import describe as describe_error
from .exec import exec_command
from .options import (
    UpperChoice,
    endpoint_options,
    fields_callback,
    fleet_endpoint_options,
    make_client,
    make_clients,
    output_options,
    selection_options,
)
from .output import CsvWriter, Format, JsonLinesWriter, JsonWriter, Progress, TaskWriter


def make_writer(
    fmt: Format, out: TextIO, fields: Sequence[str] | None, wire: bool, title: str = "tasks"
) -> TaskWriter:
    if fmt == "jsonl":
        return JsonLinesWriter(out, fields, wire)
    if fmt == "json":
        return JsonWriter(out, fields, wire)
    if fmt == "csv":
        return CsvWriter(out, fields, wire)
    from .table import TableWriter  # rich is imported only when a table is drawn

    return TableWriter(out, fields, wire, title)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aioecs")
def cli() -> None:
    """Amazon ECS from the command line, built on the aioecs client.

    Credentials and region are found as the AWS CLI finds them (AWS_* environment variables,
    ~/.aws/config and ~/.aws/credentials, SSO, container and instance roles). Try
    `aioecs demo` first: it needs no AWS account.
    """


@cli.command()
@selection_options
@click.option(
    "--status",
    type=UpperChoice(["RUNNING", "STOPPED"]),
    default="RUNNING",
    show_default=True,
    help="Desired status to list (ListTasks lists one at a time).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="DescribeTasks calls in flight at once.",
)
@output_options
@fleet_endpoint_options
def tasks(
    selection: dict[str, Any],
    status: str,
    concurrency: int,
    fmt: Format,
    fields: list[str] | None,
    wire_names: bool,
    **endpoint: Any,
) -> None:
    """List and describe every matching task, streamed as DescribeTasks answers.

    ListTasks pages are followed as fast as they come while DescribeTasks runs
    concurrently, so `--format jsonl` prints the first tasks after about two round trips.
    Tasks that vanish between listing and describing are reported on stderr.
    """

    async def main() -> None:
        writer = make_writer(fmt, sys.stdout, fields, wire_names)
        clients = make_clients(endpoint)
        async with contextlib.AsyncExitStack() as stack:
            for client in clients:
                await stack.enter_async_context(client)
            progress = Progress()  # once connected: the rate is the fan-out's
            shared_terminal = progress.enabled and sys.stdout.isatty() and fmt in ("jsonl", "csv")
            stream = iter_fleet_tasks(
                clients,
                **selection,
                desired_status=cast(models.DesiredStatus, status),
                concurrency=concurrency,
            )
            async with stream:
                async for item in stream:
                    if shared_terminal:  # keep the progress line off the printed rows
                        progress.clear()
                    writer.write(item.task)
                    progress.update(stream.yielded, stream.counts)
        if stream.failures and not stream.yielded:
            progress.clear()  # nothing to show but the error: no empty table, no "0 tasks"
        else:
            progress.finish(stream.yielded, stream.counts)
            writer.close()
        for one in stream.streams:
            _report_failures(one.failures)
        if len(clients) == 1 and stream.failures:
            raise stream.failures[0].error
        for failure in stream.failures:  # several account-Regions: name each that failed
            text = describe_error(failure.error) or repr(failure.error)
            sys.stderr.write(f"error: region {failure.client.region}: {text}\n")
        if stream.failures:
            raise SystemExit(1)

    run(main())


@cli.command()
@click.argument("tasks", nargs=-1, required=True, metavar="TASK...")
@click.option("--cluster", help="Cluster of the tasks (needed when giving task ids, not ARNs).")
@click.option("--include-tags", is_flag=True, help="Describe tasks with their tags.")
@output_options
@endpoint_options
def describe(
    tasks: tuple[str, ...],
    cluster: str | None,
    include_tags: bool,
    fmt: Format,
    fields: list[str] | None,
    wire_names: bool,
    **endpoint: Any,
) -> None:
    """Describe tasks by ARN or id (any number; sent 100 per DescribeTasks call).

    Exits 1 if any task was not found, after printing those that were.
    """

    async def main() -> None:
        async with make_client(endpoint) as ecs:
            batches = [
                list(tasks[i : i + DESCRIBE_TASKS_MAX])
                for i in range(0, len(tasks), DESCRIBE_TASKS_MAX)
            ]
            replies = await asyncio.gather(
                *(
                    ecs.describe_tasks(
                        cluster=cluster, tasks=batch, include=["TAGS"] if include_tags else None
                    )
                    for batch in batches
                )
            )
        writer = make_writer(fmt, sys.stdout, fields, wire_names)
        for reply in replies:
            for task in reply.tasks:
                writer.write(task)
        writer.close()
        failures = [failure for reply in replies for failure in reply.failures]
        if failures:
            _report_failures(failures, prefix="error")
            raise CommandError(f"{len(failures)} of {len(tasks)} tasks not described")

    run(main())


@cli.command()
@click.option("--task-definition", required=True, help="family, family:revision or ARN.")
@click.option(
    "--container-instance",
    "container_instances",
    multiple=True,
    required=True,
    metavar="ARN",
    help="Container instance to start a task on; repeat for several (at most 10).",
)
@click.option("--cluster", help="Cluster (default: the 'default' cluster).")
@click.option("--started-by", help="Tag the tasks' startedBy with this (up to 36 characters).")
@click.option("--group", help="Task group name.")
@click.option("--wait", is_flag=True, help="Wait until every task is RUNNING.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=600.0,
    show_default=True,
    help="With --wait: give up after this many seconds.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=6.0,
    show_default=True,
    help="With --wait: seconds between DescribeTasks polls (the ECS waiter's default).",
)
@output_options
@endpoint_options
def start(
    task_definition: str,
    container_instances: tuple[str, ...],
    cluster: str | None,
    started_by: str | None,
    group: str | None,
    wait: bool,
    timeout: float,
    poll_interval: float,
    fmt: Format,
    fields: list[str] | None,
    wire_names: bool,
    **endpoint: Any,
) -> None:
    """Start tasks on chosen container instances (StartTask), optionally waiting for them.

    Prints the started tasks (after --wait, as they are once RUNNING). Exits 1 if a task
    could not be started or stopped before it ran.
    """

    async def main() -> None:
        async with make_client(endpoint) as ecs:
            reply = await ecs.start_task(
                cluster=cluster,
                task_definition=task_definition,
                container_instances=list(container_instances),
                started_by=started_by,
                group=group,
            )
            started = reply.tasks
            if reply.failures:
                _report_failures(reply.failures, prefix="error")
            if wait and started:
                started = await _wait_running(ecs, cluster, started, timeout, poll_interval)
        writer = make_writer(fmt, sys.stdout, fields, wire_names, title="tasks started")
        for task in started:
            writer.write(task)
        writer.close()
        if reply.failures:
            raise CommandError(
                f"{len(reply.failures)} of {len(container_instances)} tasks did not start"
            )

    run(main())


async def _wait_running(
    ecs: ECSClient,
    cluster: str | None,
    started: Sequence[models.Task],
    timeout: float,
    poll_interval: float,
) -> list[models.Task]:
    """`wait_tasks_running` under a spinner with the elapsed time (on a terminal only)."""
    from .wait import spinner

    arns = [task.task_arn for task in started if task.task_arn]
    label = f"waiting for {len(arns)} task{'s' if len(arns) != 1 else ''} to reach RUNNING"
    async with spinner(label):
        try:
            reply = await ecs.wait_tasks_running(
                cluster=cluster, tasks=arns, delay=poll_interval, timeout=timeout
            )
        except WaiterError as exc:
            raise CommandError(_waiter_message(exc)) from None
    return list(reply.tasks)


def _waiter_message(exc: WaiterError) -> str:
    """`tasks did not reach RUNNING: a failure state was reached (1 STOPPED: ...)`."""
    text = f"tasks did not reach RUNNING: {exc.reason}"
    last = exc.last_response
    if isinstance(last, models.DescribeTasksResponse):
        states = [
            f"{task.task_arn}: {task.last_status}"
            + (f" ({task.stopped_reason})" if task.stopped_reason else "")
            for task in last.tasks
            if task.last_status != "RUNNING"
        ]
        states += [f"{f.arn}: {f.reason}" for f in last.failures]
        if states:
            text += "; " + "; ".join(states)
    return text


def _report_failures(failures: Sequence[models.Failure], prefix: str = "warning") -> None:
    for failure in failures:
        detail = f" ({failure.detail})" if failure.detail else ""
        sys.stderr.write(f"{prefix}: {failure.arn}: {failure.reason}{detail}\n")
    sys.stderr.flush()


cli.add_command(deploy)


@cli.command()
@click.option(
    "--tasks",
    "count",
    type=click.IntRange(1, 100_000),
    default=2000,
    show_default=True,
    help="Tasks to seed.",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    help="Delay the emulator adds to every request, like the round trip to a region.",
)
@click.option(
    "--in-process",
    is_flag=True,
    help="Run the emulator on this process's event loop instead of in a child process.",
)
@click.option(
    "--throttling",
    type=click.Choice(["aws"]),
    help="Enforce ECS's request quotas (reads: burst 100, 20/s, shared by ListTasks and "
    "DescribeTasks), as an AWS account does.",
)
@click.option(
    "--throttling-scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="With --throttling: scale every quota (0.25: others in the account read too).",
)
@click.option("--no-watch", is_flag=True, help="Skip the watch_tasks part of the demo.")
def demo(
    count: int,
    latency_ms: float,
    in_process: bool,
    throttling: str | None,
    throttling_scale: float,
    no_watch: bool,
) -> None:
    """The fan-out on a seeded emulator, no AWS account needed.

    Starts LocalECS on a free loopback port (in a separate process, so that it does not
    compete with the client for the CPU), seeds a cluster with services, a worker and
    finished batch jobs, lists and describes every task with `iter_tasks`, and compares the
    time with the latency floor `(ceil(N/100) + 1) × latency` (and, with --throttling, with
    the quota floor), showing requests sent and throttled. Then a few seconds of
    `watch_tasks` on another emulator whose tasks start, stop and fail while it watches,
    and a job (`run_job`) of five tasks, one failing.
    """
    from .demo import run_demo

    scale = throttling_scale if throttling else None
    run(run_demo(count, latency_ms, in_process, scale, watch=not no_watch))


@cli.command()
@selection_options
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds between sweeps (start to start).",
)
@click.option(
    "--refresh",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Re-describe settled tasks every this many sweeps (0: never).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "table"]),
    default="table",
    show_default=True,
    help="table: one text line per change; jsonl: one JSON object per change.",
)
@click.option(
    "--fields",
    metavar="A,B,...",
    callback=fields_callback,
    help="With jsonl: the task members to print after kind and changed (default: a summary).",
)
@click.option("--wire-names", is_flag=True, help="Name members as the ECS API does (taskArn).")
@click.option(
    "--state",
    "state_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, writable=True),
    help="Resume from FILE if it exists and keep it current: a restart prints only what "
    "changed meanwhile.",
)
@endpoint_options
def watch(
    selection: dict[str, Any],
    interval: float,
    refresh: int,
    fmt: str,
    fields: list[str] | None,
    wire_names: bool,
    state_file: str | None,
    **endpoint: Any,
) -> None:
    """Print task changes as they happen: added, changed, stopping, stopped, vanished.

    Each sweep lists the RUNNING tasks and describes only those that may have changed, so a
    quiet fleet costs its ListTasks pages. A stopped task shows its stop code, reason and exit
    codes. On a terminal, a status line on stderr counts tasks, sweeps, requests per sweep
    and throttled calls. Ctrl-C stops it (exit 0), leaving --state's file consistent.
    """
    from .watch import ChangeWriter, StatusLine, follow

    async def main() -> None:
        async with make_client(endpoint) as ecs:
            stream = ecs.watch_tasks(
                **selection, interval=interval, refresh=refresh or None, state_file=state_file
            )
            writer = ChangeWriter(cast("Any", fmt), sys.stdout, fields, wire_names)
            await follow(stream, writer, StatusLine(stream))

    run(main())


from .run import run_command  # noqa: E402  (its own module: `aioecs run`)

cli.add_command(run_command)
cli.add_command(exec_command)
