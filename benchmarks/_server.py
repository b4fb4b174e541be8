"""LocalECS in a process of its own, seeded with tasks, for client benchmarks.

Run in-process, the emulator would share the client's event loop (or at least its GIL), and
its CPU time would count as the client's. In its own process it only competes for a core.
Signature checks are off so the server answers fast and the client is what gets measured.

The parent starts it with ``BenchServer`` and reads the ready line of the emulator launcher
(``aioecs.testing._launch``: endpoint, credentials, plus the cluster, task count, a digest
and a checksum of the seeded ARNs). Afterwards the server reads commands on stdin: ``stats``
prints (and resets) its per-operation request counts; ``reset`` starts a new client run: it refills
ECS's token buckets (``--throttling-scale``; ``reset throttling=S`` switches to scale S,
``reset throttling=off`` turns quotas off), restarts the seeded fault sequence (``--faults``;
``reset faults=SPEC`` or ``faults=off`` replaces it), and prints (and clears) the request and
fault counts so far, throttled requests under ``"quota"`` (and when they came). End of input
shuts it down cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from _harness import LineServer, arn_checksum, arn_digest

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
class Counts:
    """What the server saw of one run: requests per operation, faults (and throttles, under
    ``"quota"``) per kind."""

    requests: dict[str, int]
    faults: dict[str, int]
    throttled_at: list[float]  # seconds from the run's first request (quotas on)

    @property
    def sent(self) -> int:
        return sum(self.requests.values())

    @property
    def throttled(self) -> int:
        return self.faults.get("quota", 0)


@dataclass(frozen=True)
class Target:
    """What a client needs to reach the server, and what it should find there."""

    url: str
    access_key_id: str
    secret_access_key: str
    cluster: str
    tasks: int
    digest: str
    checksum: str  # `arn_checksum` of the seeded ARNs

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> Target:
        return cls(**json.loads(text))

    @classmethod
    def from_ready_line(cls, text: str) -> Target:
        """The server's ready line: the emulator launcher's fields plus what was seeded."""
        line = json.loads(text)
        return cls(
            url=line["endpoint_url"],
            access_key_id=line["access_key_id"],
            secret_access_key=line["secret_access_key"],
            cluster=line["cluster"],
            tasks=line["tasks"],
            digest=line["digest"],
            checksum=line["checksum"],
        )


class BenchServer:
    """``with BenchServer(tasks=10_000, latency_ms=20) as server:`` -> ``server.target``."""

    def __init__(
        self,
        *,
        tasks: int,
        latency_ms: float = 20.0,
        cluster: str = "bench",
        throttling_scale: float | None = None,
        faults: str | None = None,
    ) -> None:
        args = ["--tasks", str(tasks), "--latency-ms", str(latency_ms), "--cluster", cluster]
        if throttling_scale is not None:
            args += ["--throttling-scale", str(throttling_scale)]
        if faults is not None:
            args += ["--faults", faults]
        self._server = LineServer([__file__, *args])
        self.target: Target | None = None

    def __enter__(self) -> BenchServer:
        self.target = Target.from_ready_line(self._server.start())
        return self

    def stats(self) -> dict[str, int]:
        """Requests per operation since the last call (so: for the last client run)."""
        counts: dict[str, int] = json.loads(self._server.ask("stats"))
        return counts

    def reset(
        self, *, throttling: float | Literal["off"] | None = None, faults: str | None = None
    ) -> Counts:
        """Start a new run: full token buckets, the fault sequence from its start, and the
        counts of what came before (cleared). ``throttling``: a new scale, or "off" for no
        quotas; ``faults``: a new ``Faults.parse`` spec, or "off"; None: as before."""
        command = ["reset"]
        if throttling is not None:
            command.append(f"throttling={throttling}")
        if faults is not None:
            command.append(f"faults={faults}")
        reply = json.loads(self._server.ask(" ".join(command)))
        return Counts(reply["requests"], reply["faults"], reply["throttled_at"])

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()


def _serve(
    tasks: int, latency_ms: float, cluster: str, scale: float | None, faults: str | None
) -> int:
    from aioecs.testing import Faults, LocalECS
    from aioecs.testing._launch import serve

    local = LocalECS(verify_signatures=False, latency_ms=latency_ms, seed=1)
    arns = seed_bench_tasks(local, cluster=cluster, count=tasks)
    # The emulator caches each task's JSON on first DescribeTasks; fill that cache now, or the
    # first client measured pays for encoding every task on the server side.
    describe = local.state.operation("DescribeTasks")
    assert describe is not None
    for start in range(0, len(arns), 100):
        describe({"cluster": cluster, "tasks": arns[start : start + 100]})
    # Set up after the cache is filled, so filling it spends no tokens and draws no faults.
    if scale is not None:
        local.throttling_scale = scale
        local.throttling = "aws"
    local.faults = Faults.parse(faults) if faults else None
    seeded = {
        "cluster": cluster,
        "tasks": tasks,
        "digest": arn_digest(arns),
        "checksum": arn_checksum(arns),
    }
    return asyncio.run(serve(local, extra=seeded, command=_Commands(local)))


class _Commands:
    """The stdin commands: ``stats`` and ``reset [throttling=S|off] [faults=SPEC|off]``."""

    def __init__(self, local: LocalECS) -> None:
        self.local = local
        self.timeline = _Timeline(local)

    def __call__(self, line: str) -> object:
        local = self.local
        command, *options = line.split() or [""]
        if command == "stats":
            stats = dict(local.request_count)
            local.request_count.clear()
            return stats
        if command == "reset":
            reply = {
                "requests": dict(local.request_count),
                "faults": dict(local.fault_counts),
                "throttled_at": self.timeline.throttled_at(),
            }
            _reset(local, dict(option.partition("=")[::2] for option in options))
            self.timeline = _Timeline(local)
            local.request_count.clear()
            local.fault_counts.clear()
            return reply
        return None


class _Timeline:
    """When the throttled requests of a run came, in seconds from its first quota-checked
    request: at the start of a run (the client learning the bucket) or all along.

    A diagnostic only: it wraps the ``admit`` of LocalECS's (private) quota object, the one
    place that knows which request was throttled when.
    """

    def __init__(self, local: LocalECS) -> None:
        self.first: float | None = None
        self.throttles: list[float] = []
        quotas = getattr(local, "_quotas", None)
        if quotas is None:
            return
        admit = quotas.admit

        def recording_admit(operation: str) -> bool:
            now = time.monotonic()
            if self.first is None:
                self.first = now
            admitted: bool = admit(operation)
            if not admitted:
                self.throttles.append(now - self.first)
            return admitted

        quotas.admit = recording_admit

    def throttled_at(self) -> list[float]:
        return self.throttles


def _reset(local: LocalECS, options: dict[str, str]) -> None:
    """New buckets (full), the fault sequence from its start: a client run starts afresh."""
    from aioecs.testing import Faults

    scale = options.get("throttling")
    if scale == "off":
        local.throttling = None
    elif scale is not None or local.throttling is not None:
        if scale is not None:
            local.throttling_scale = float(scale)
        local.throttling = "aws"  # assigning refills every bucket
    spec = options.get("faults")
    if spec is None:
        local.faults = local.faults  # assigning restarts the seeded sequence
    else:
        local.faults = None if spec == "off" else Faults.parse(spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--cluster", default="bench")
    parser.add_argument(
        "--throttling-scale", type=float, help="enforce ECS's request quotas, scaled by this"
    )
    parser.add_argument("--faults", help="fault injection, Faults.parse syntax")
    args = parser.parse_args()
    sys.exit(_serve(args.tasks, args.latency_ms, args.cluster, args.throttling_scale, args.faults))


if __name__ == "__main__":
    main()
