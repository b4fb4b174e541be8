"""Options shared by several commands, and the client they configure."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..client import ECSClient
from .output import FORMATS, parse_fields

F = TypeVar("F", bound=Callable[..., Any])


def endpoint_options(command: F) -> F:
    """`--region`, `--profile`, `--endpoint-url`, retries: where requests go, who signs them."""
    return _endpoint_options(command, several=False)


def fleet_endpoint_options(command: F) -> F:
    """`endpoint_options` where `--region` and `--profile` may be repeated: one client for
    each profile and region (quotas are per account and Region, so they run concurrently)."""
    return _endpoint_options(command, several=True)


def _endpoint_options(command: F, *, several: bool) -> F:
    repeat = "; repeat for several" if several else ""
    options = [
        click.option(
            "--region",
            multiple=several,
            help=f"AWS region (default: AWS_REGION, then the profile's){repeat}.",
        ),
        click.option(
            "--profile",
            multiple=several,
            help=f"Profile of the shared config/credentials files{repeat}.",
        ),
        click.option(
            "--endpoint-url",
            metavar="URL",
            help=(
                "Send requests here instead (e.g. a LocalECS). Plain http is used as given: "
                "silently to a loopback host, else with a warning (see --allow-http)."
            ),
        ),
        click.option(
            "--allow-http",
            is_flag=True,
            help=(
                "Plain http to a host that is not loopback is intended (signed requests and "
                "session tokens travel unencrypted): no warning."
            ),
        ),
        click.option(
            "--retry-mode",
            type=click.Choice(["standard", "adaptive"]),
            default="standard",
            show_default=True,
            help="adaptive also slows all requests down when ECS throttles.",
        ),
        click.option(
            "--max-attempts",
            type=click.IntRange(1, 20),
            default=3,
            show_default=True,
            help="Attempts per request, the first included.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def selection_options(command: F) -> F:
    """`--cluster` (repeatable), `--all-clusters` and ListTasks' filters, for `tasks` and
    `watch`. The command receives them as one `selection`: keyword arguments for
    `iter_tasks` / `watch_tasks`."""

    @functools.wraps(command)
    def with_selection(
        *args: Any,
        clusters: tuple[str, ...],
        all_clusters: bool,
        family: str | None,
        service: str | None,
        started_by: str | None,
        launch_type: str | None,
        include_tags: bool,
        **kwargs: Any,
    ) -> Any:
        if all_clusters and clusters:
            raise click.UsageError("use --cluster or --all-clusters, not both")
        names = list(dict.fromkeys(clusters))  # a cluster named twice is listed once
        selection: dict[str, Any] = {
            "family": family,
            "service_name": service,
            "started_by": started_by,
            "launch_type": launch_type,
            "include": ["TAGS"] if include_tags else None,
        }
        if all_clusters:
            selection["clusters"] = "*"
        elif len(names) > 1:
            selection["clusters"] = names
        elif names:
            selection["cluster"] = names[0]
        return command(*args, selection=selection, **kwargs)

    options = [
        click.option(
            "--cluster",
            "clusters",
            multiple=True,
            metavar="NAME",
            help="Cluster name or ARN; repeat for several (default: the 'default' cluster).",
        ),
        click.option("--all-clusters", is_flag=True, help="Every cluster in the region."),
        click.option("--family", help="Only tasks of this task definition family."),
        click.option("--service", help="Only tasks of this service."),
        click.option("--started-by", help="Only tasks whose startedBy is this."),
        click.option(
            "--launch-type",
            type=UpperChoice(["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"]),
            help="Only tasks of this launch type.",
        ),
        click.option("--include-tags", is_flag=True, help="Describe tasks with their tags."),
    ]
    decorated: Any = with_selection
    for option in reversed(options):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


def output_options(command: F) -> F:
    """`--format`, `--fields`, `--wire-names`: how tasks are printed."""
    options = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            default="table",
            show_default=True,
            help="table for people; jsonl streams one task per line; json one array; csv.",
        ),
        click.option(
            "--fields",
            metavar="A,B,...",
            callback=fields_callback,
            help="Task members to print (snake_case or wire names), e.g. task_arn,last_status.",
        ),
        click.option(
            "--wire-names",
            is_flag=True,
            help="Name members as the ECS API does (taskArn) instead of snake_case (task_arn).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


if TYPE_CHECKING:
    _Choice = click.Choice[str]
else:  # click.Choice is generic only from click 8.2 on
    _Choice = click.Choice


class UpperChoice(_Choice):
    """A choice of ECS enum values: accepted in any case, shown and passed on in upper case."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return super().convert(value.upper() if isinstance(value, str) else value, param, ctx)


def fields_callback(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> list[str] | None:
    """`--fields a,b`: the task members named (snake_case or wire names), checked."""
    if value is None:
        return None
    try:
        return parse_fields(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def make_client(options: dict[str, Any]) -> ECSClient:
    """The client for the endpoint options; the rest comes from the environment."""
    return ECSClient(
        region=options["region"],
        profile=options["profile"],
        endpoint_url=options["endpoint_url"],
        allow_http=options["allow_http"],
        retry_mode=options["retry_mode"],
        max_attempts=options["max_attempts"],
    )


def make_clients(options: dict[str, Any]) -> list[ECSClient]:
    """One client for each `--profile` and `--region` given (`fleet_endpoint_options`)."""
    profiles = list(dict.fromkeys(options["profile"])) or [None]
    regions = list(dict.fromkeys(options["region"])) or [None]
    return [
        make_client({**options, "profile": profile, "region": region})
        for profile in profiles
        for region in regions
    ]
