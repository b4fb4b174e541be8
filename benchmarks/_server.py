"""LocalECS in a process of its own, seeded with tasks, for client benchmarks.

Run in-process, the emulator would share the client's event loop (or at least its GIL), and
its CPU time would count as the client's. In its own process it only competes for a core.
Signature checks are off so the server answers fast and the client is what gets measured.

The parent starts it with ``BenchServer`` and reads one JSON line (endpoint, credentials, a
digest of the seeded ARNs). Afterwards the server reads commands on stdin: ``stats`` prints
(and resets) its per-operation request counts; end of input shuts it down cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from _harness import LineServer, arn_digest

if TYPE_CHECKING:
    from aioecs.testing import LocalECS

FAMILY = "web"


def seed_bench_tasks(local: LocalECS, *, cluster: str, count: int) -> list[str]:
    """Seed ``count`` RUNNING Fargate tasks of a service, each with two containers.

    ``seed_tasks`` would make a one-container definition; it uses the family's latest
    revision if one exists, so we register a two-container one first, through the model's
    RegisterTaskDefinition handler (no HTTP). Fargate + a service gives the fullest tasks the
    emulator makes: an ENI attachment, ephemeral storage, platform, startedBy, group and five
    timestamps (createdAt, connectivityAt, pullStartedAt, pullStoppedAt, startedAt).
    """
    register = local.state.operation("RegisterTaskDefinition")
    assert register is not None
    container = {"cpu": 128, "memory": 256}
    register(
        {
            "family": FAMILY,
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "containerDefinitions": [
                {
                    "name": "app",
                    "image": "public.ecr.aws/docker/library/nginx:1.27",
                    "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
                    **container,
                },
                {
                    "name": "log-router",
                    "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
                    "essential": False,
                    **container,
                },
            ],
        }
    )
    return local.seed_tasks(
        count, cluster=cluster, family=FAMILY, launch_type="FARGATE", service_name=FAMILY
    )


@dataclass(frozen=True)
class Target:
    """What a client needs to reach the server, and what it should find there."""

    url: str
    access_key_id: str
    secret_access_key: str
    cluster: str
    tasks: int
    digest: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> Target:
        return cls(**json.loads(text))


class BenchServer:
    """``with BenchServer(tasks=10_000, latency_ms=20) as server:`` -> ``server.target``."""

    def __init__(self, *, tasks: int, latency_ms: float = 20.0, cluster: str = "bench") -> None:
        args = ["--tasks", str(tasks), "--latency-ms", str(latency_ms), "--cluster", cluster]
        self._server = LineServer([__file__, *args])
        self.target: Target | None = None

    def __enter__(self) -> BenchServer:
        self.target = Target.from_json(self._server.start())
        return self

    def stats(self) -> dict[str, int]:
        """Requests per operation since the last call (so: for the last client run)."""
        counts: dict[str, int] = json.loads(self._server.ask("stats"))
        return counts

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()


async def _serve(tasks: int, latency_ms: float, cluster: str) -> None:
    from aioecs.testing import LocalECS

    local = LocalECS(verify_signatures=False, latency_ms=latency_ms, seed=1)
    arns = seed_bench_tasks(local, cluster=cluster, count=tasks)
    # The emulator caches each task's JSON on first DescribeTasks; fill that cache now, or the
    # first client measured pays for encoding every task on the server side.
    describe = local.state.operation("DescribeTasks")
    assert describe is not None
    for start in range(0, len(arns), 100):
        describe({"cluster": cluster, "tasks": arns[start : start + 100]})
    async with local:
        key, secret = local.credentials
        target = Target(local.endpoint_url, key, secret, cluster, tasks, arn_digest(arns))
        print(target.to_json(), flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip() == "stats":
                print(json.dumps(dict(local.request_count)), flush=True)
                local.request_count.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--cluster", default="bench")
    args = parser.parse_args()
    asyncio.run(_serve(args.tasks, args.latency_ms, args.cluster))


if __name__ == "__main__":
    main()
