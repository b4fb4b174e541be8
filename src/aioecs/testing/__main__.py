"""``python -m aioecs.testing``: LocalECS as a process of its own, for tests in any language.

Usage::

    python -m aioecs.testing [--port 4566] [--latency-ms N] [--seed-tasks N --cluster C]
                             [--no-verify-signatures] [--faults SPEC] [--format json|env]
                             [--throttling aws [--throttling-scale S]]

Once it listens, it prints exactly one line on stdout and flushes it - so reading that line is
also how a harness knows the server is ready - then serves until SIGINT or SIGTERM, closes its
connections and exits with status 0 (1 if it cannot listen, 2 for bad arguments). Diagnostics go
to stderr. The line, with ``--format json`` (the default), is one JSON object::

    {"endpoint_url": "http://127.0.0.1:4566", "region": "us-east-1",
     "access_key_id": "AKIDLOCALECS", "secret_access_key": "local-ecs-secret"}

With ``--format env`` it is the same as space-separated ``NAME=value`` pairs, ready for
``export``: ``AWS_ENDPOINT_URL_ECS``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_REGION`` and ``AWS_DEFAULT_REGION`` (values never contain spaces).

Requests must be SigV4-signed with those credentials for that region and service ``ecs``
unless ``--no-verify-signatures``. ``--faults`` takes :meth:`Faults.parse` syntax, e.g.
``seed=1,throttle=0.1,reset_after=0.02,rate_limit=20:100``. ``--throttling aws`` enforces ECS's
request quotas (one token bucket per throttling category), scaled by ``--throttling-scale``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from ._faults import Faults
from ._launch import serve
from ._server import LocalECS


def _fault_spec(spec: str) -> Faults:
    try:
        return Faults.parse(spec)
    except (ValueError, TypeError) as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aioecs.testing",
        description="Serve LocalECS, an in-memory Amazon ECS emulator, until SIGINT/SIGTERM.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    add("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    add("--region", default="us-east-1", help="region in ARNs and the SigV4 scope")
    add("--account-id", default="123456789012", help="account id in ARNs")
    add("--access-key-id", default="AKIDLOCALECS", help="the one access key id accepted")
    add("--secret-access-key", default="local-ecs-secret", help="its secret")
    add("--no-verify-signatures", action="store_true", help="accept unsigned/badly signed calls")
    add("--latency-ms", type=float, default=0.0, help="delay before every answer")
    add("--pending-seconds", type=float, default=0.0, help="how long new tasks stay PENDING")
    add("--stop-seconds", type=float, default=0.0, help="how long stopping tasks take")
    add("--run-seconds", type=float, default=None, help="tasks exit by themselves after this")
    add("--missing-seconds", type=float, default=0.0, help="new tasks MISSING for this long")
    add("--seed", type=int, default=None, help="make generated ids (ARNs) reproducible")
    add("--seed-tasks", type=int, default=0, metavar="N", help="create N RUNNING tasks first")
    add("--cluster", default="default", help="cluster for --seed-tasks (default: %(default)s)")
    add("--family", default="web", help="task definition family for --seed-tasks")
    add("--launch-type", choices=("EC2", "FARGATE"), default="EC2", help="for --seed-tasks")
    add("--faults", type=_fault_spec, default=None, metavar="SPEC", help="fault injection")
    add("--throttling", choices=("aws",), default=None, help="enforce ECS's request quotas")
    add("--throttling-scale", type=float, default=1.0, help="scale every quota (default: 1)")
    add("--format", choices=("json", "env"), default="json", help="of the line printed")
    return parser


async def _serve(args: argparse.Namespace) -> int:
    local = LocalECS(
        region=args.region,
        account_id=args.account_id,
        credentials={args.access_key_id: args.secret_access_key},
        verify_signatures=not args.no_verify_signatures,
        latency_ms=args.latency_ms,
        pending_seconds=args.pending_seconds,
        stop_seconds=args.stop_seconds,
        run_seconds=args.run_seconds,
        missing_seconds=args.missing_seconds,
        seed=args.seed,
        host=args.host,
        port=args.port,
        faults=args.faults,
        throttling=args.throttling,
        throttling_scale=args.throttling_scale,
    )
    if args.seed_tasks:
        local.seed_tasks(
            args.seed_tasks, cluster=args.cluster, family=args.family, launch_type=args.launch_type
        )
    return await serve(local, line_format=args.format)


def main(argv: list[str] | None = None) -> int:
    """Run the server; returns the process's exit status."""
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:  # where signal handlers cannot be installed (Windows)
        return 0


if __name__ == "__main__":
    sys.exit(main())
