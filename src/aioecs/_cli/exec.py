"""`aioecs exec`: run a command in a task's container, print its output, exit with its code."""

from __future__ import annotations

import shlex
import sys
from typing import Any

import click

from .errors import run
from .options import endpoint_options, make_client

# No /bin/sh in the image, or the marker never came: the exit code cannot be known.
UNKNOWN_EXIT = 255


@click.command("exec")
@click.option("--cluster", metavar="NAME", help="Cluster name or ARN (default: default).")
@click.option("--task", required=True, metavar="ID", help="Task ID or ARN.")
@click.option("--container", metavar="NAME", help="Container name (tasks with several).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Give up (exit 1) after this many seconds; default: no limit.",
)
@click.argument("command", nargs=-1, required=True)
@endpoint_options
def exec_command(
    cluster: str | None,
    task: str,
    container: str | None,
    timeout: float | None,
    command: tuple[str, ...],
    **endpoint: Any,
) -> None:
    """Run COMMAND in a running task's container (ECS Exec), without the
    session-manager-plugin: `aioecs exec --cluster prod --task ID -- ls -l /app`.

    One argument is a shell command line (`-- 'ls | wc -l'`); several are quoted and
    joined. Prints the output as it comes and exits with the command's exit code (255 when it cannot
    be known: the image has no /bin/sh). The output is what a terminal shows: stderr mixed
    in, CRLF line ends turned into LF. KMS-encrypted sessions need `aioecs[kms]`.
    """
    line = command[0] if len(command) == 1 else shlex.join(command)

    async def main() -> int | None:
        async with make_client(endpoint) as ecs:
            session = ecs.exec_session(
                cluster=cluster, task=task, container=container, command=line, timeout=timeout
            )
            async with session:
                async for text in session.output:
                    sys.stdout.write(text.replace("\r\n", "\n"))
                    sys.stdout.flush()
            if session.exit_code is None:
                sys.stderr.write("warning: the command's exit code is unknown (no /bin/sh?)\n")
            return session.exit_code

    code = run(main())
    sys.exit(UNKNOWN_EXIT if code is None else code)
