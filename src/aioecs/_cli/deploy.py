"""`aioecs deploy`: UpdateService with a task definition, optionally followed to its end.

With `--wait` the exit code is the deployment's verdict: 0 only for COMPLETED. A rollback
is a failed deployment even though the service is healthy again, which is exactly what
`aws ecs wait services-stable` cannot tell (it reports success).
"""

from __future__ import annotations

from typing import Any

import click

from .. import models
from .._deploy import RolloutResult
from .errors import CommandError, run
from .options import endpoint_options, make_client
from .table import short_arn


@click.command()
@click.option("--cluster", help="Cluster of the service (default: the 'default' cluster).")
@click.option("--service", required=True, help="Service name or ARN.")
@click.option("--task-definition", required=True, help="family, family:revision or ARN.")
@click.option("--force-new-deployment", is_flag=True, help="Deploy even if nothing changed.")
@click.option(
    "--wait", is_flag=True, help="Follow the deployment to its end; exit 0 only if it completed."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=1800.0,
    show_default=True,
    help="With --wait: give up after this many seconds (exit 1).",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=15.0,
    show_default=True,
    help="With --wait: seconds between DescribeServices polls.",
)
@endpoint_options
def deploy(
    cluster: str | None,
    service: str,
    task_definition: str,
    force_new_deployment: bool,
    wait: bool,
    timeout: float,
    poll_interval: float,
    **endpoint: Any,
) -> None:
    """Roll out a task definition to a service (UpdateService).

    Prints the deployment started. With --wait, follows it until it completes, fails, is
    rolled back by the circuit breaker or an alarm, or is superseded, prints how it ended and
    exits 0 only if it completed.
    """
    from .wait import spinner

    async def main() -> None:
        async with make_client(endpoint) as ecs:
            rollout = await ecs.deploy(
                cluster=cluster,
                service=service,
                task_definition=task_definition,
                force_new_deployment=force_new_deployment or None,
            )
            click.echo(
                f"deployment {rollout.deployment_id} of service {short_arn(rollout.service)} "
                f"started: {short_arn(rollout.task_definition)}"
            )
            if not wait:
                return
            async with spinner(f"waiting for deployment {rollout.deployment_id}"):
                result = await rollout.wait(
                    timeout=timeout, interval=poll_interval, on_change=_progress_line
                )
        click.echo(summary(result))
        if not result.succeeded:
            raise CommandError(
                f"deployment {result.deployment_id} {result.status}: {result.reason}"
            )

    run(main())


def _progress_line(deployment: models.Deployment) -> None:
    """`ecs-svc/...: PRIMARY IN_PROGRESS, running 1/4, pending 3, failed 0` on stderr."""
    click.echo(
        f"{deployment.id}: {deployment.status} {deployment.rollout_state}, running "
        f"{deployment.running_count}/{deployment.desired_count}, pending "
        f"{deployment.pending_count}, failed {deployment.failed_tasks}",
        err=True,
    )


def summary(result: RolloutResult) -> str:
    """How the deployment ended, in a few lines."""
    lines = [f"deployment {result.deployment_id}: {result.status}"]
    if result.reason:
        lines.append(f"  reason: {result.reason}")
    runs = short_arn(result.service_task_definition)
    lines.append(f"  task definition: {short_arn(result.task_definition)}; the service runs {runs}")
    if result.rollback_deployment_id:
        lines.append(f"  rolled back by deployment {result.rollback_deployment_id}")
    lines.append(
        f"  tasks: running {result.running_count}/{result.desired_count}, "
        f"failed {result.failed_tasks}"
    )
    if result.service_deployment_status:
        lines.append(f"  service deployment: {result.service_deployment_status}")
    return "\n".join(lines)
