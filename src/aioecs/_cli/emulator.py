"""LocalECS seeded with the demo fleet, in a process of its own: `aioecs demo` runs this.

`python -m aioecs._cli.emulator --tasks N --latency-ms L [--throttling-scale S]` starts the
emulator (enforcing ECS's request quotas, scaled by S, if given) on a free loopback port,
seeds it, and hands it to the emulator's one launcher (`aioecs.testing._launch`): one JSON
line (endpoint, region, credentials, plus what was seeded), then it serves until its stdin
closes, which is also what happens if the parent dies. In its own process the emulator does
not share an event loop (or the GIL) with the client being measured, so the demo's timing is
the client's. Needs no click or rich.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from ..testing import LocalECS

CLUSTER = "demo"

# (family, share of the fleet in %, launch type, service, startedBy, desired status): a
# realistic mix of long-running services, a scheduled worker and finished batch jobs.
FLEET: tuple[tuple[str, int, str, str | None, str | None, str], ...] = (
    ("web", 50, "EC2", "web", None, "RUNNING"),
    ("api", 25, "FARGATE", "api", None, "RUNNING"),
    ("worker", 10, "EC2", None, "scheduler", "RUNNING"),
    ("batch", 15, "EC2", None, "nightly-batch", "STOPPED"),
)


def fleet_counts(total: int) -> list[tuple[str, str, int]]:
    """(family, desired status, count) per line of FLEET; the counts add up to `total`."""
    counts = [total * share // 100 for _, share, *_ in FLEET]
    counts[0] += total - sum(counts)
    return [(f[0], f[5], n) for f, n in zip(FLEET, counts, strict=True)]


def seed_fleet(local: LocalECS, total: int) -> list[tuple[str, str, int]]:
    """Seed `total` tasks in cluster `demo` following FLEET; returns `fleet_counts(total)`."""
    counts = fleet_counts(total)
    for (fam, _, launch, service, started_by, status), (*_, count) in zip(
        FLEET, counts, strict=True
    ):
        if count:
            local.seed_tasks(
                count,
                cluster=CLUSTER,
                family=fam,
                launch_type=launch,
                service_name=service,
                started_by=started_by,
                desired_status=status,
            )
    return counts


def demo_emulator(
    tasks: int, latency_ms: float, throttling_scale: float | None, *, verify_signatures: bool
) -> tuple[LocalECS, list[tuple[str, str, int]]]:
    """The demo's LocalECS (not started) and what `seed_fleet` put in it."""
    local = LocalECS(
        latency_ms=latency_ms,
        verify_signatures=verify_signatures,
        throttling="aws" if throttling_scale else None,
        throttling_scale=throttling_scale or 1.0,
    )
    return local, seed_fleet(local, tasks)


def main(argv: list[str] | None = None) -> None:
    from ..testing._launch import serve

    parser = argparse.ArgumentParser(prog="python -m aioecs._cli.emulator")
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--throttling-scale", type=float, default=None)
    args = parser.parse_args(argv)
    # Signatures are not checked: that is the emulator's CPU, which would be measured as the
    # client's; real ECS checks them on its own machines.
    local, counts = demo_emulator(
        args.tasks, args.latency_ms, args.throttling_scale, verify_signatures=False
    )
    # Ctrl-C reaches the whole process group; the parent is the one that reports it.
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(serve(local, extra={"seeded": counts}, until_stdin_closes=True)))


if __name__ == "__main__":
    main()
