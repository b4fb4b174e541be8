"""Tasks straight into the model, no requests: test and benchmark setup (``seed_tasks``)."""

from __future__ import annotations

from collections.abc import Mapping

from ._model import EcsModel
from ._records import PENDING, RUNNING, STOPPED, ContainerInstance


def seed_tasks(
    state: EcsModel,
    count: int,
    *,
    cluster: str,
    family: str,
    launch_type: str,
    desired_status: str,
    last_status: str | None,
    started_by: str | None,
    service_name: str | None,
    group: str | None,
    tags: Mapping[str, str] | None,
    image: str,
) -> list[str]:
    if desired_status not in (RUNNING, STOPPED):
        raise ValueError("desired_status must be 'RUNNING' or 'STOPPED'")
    last = last_status or desired_status
    if last not in (PENDING, RUNNING, STOPPED) or (desired_status == STOPPED) != (last == STOPPED):
        raise ValueError(f"last_status {last!r} does not fit desired_status {desired_status!r}")
    if launch_type not in ("EC2", "FARGATE"):
        raise ValueError("launch_type must be 'EC2' or 'FARGATE'")
    c = state.add_cluster(cluster)
    awsvpc = launch_type == "FARGATE"
    revisions = state.task_definitions.get(family)
    td = revisions[-1] if revisions else None
    if td is None or (awsvpc and td.network_mode != "awsvpc"):
        td = state.add_task_definition(
            family,
            [
                {
                    "name": family,
                    "image": image,
                    "cpu": 256,
                    "memory": 512,
                    "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
                }
            ],
            network_mode="awsvpc" if awsvpc else "bridge",
            cpu="256",
            memory="512",
            requires_compatibilities=["FARGATE"] if awsvpc else ["EC2"],
        )
    instances: list[ContainerInstance] = []
    if launch_type == "EC2":
        if not c.instances:
            for _ in range(max(1, -(-count // 100))):
                state.add_container_instance(c)
        instances = list(c.instances.values())
    if service_name is not None:
        c.services.add(service_name)
        group = group or f"service:{service_name}"
        started_by = started_by or f"ecs-svc/{state.rng.randrange(10**18, 10**19)}"
    tag_list = [{"key": k, "value": v} for k, v in (tags or {}).items()]
    now = state.now_ms()
    pending_ms = round(state.pending_seconds * 1000)
    arns = []
    for i in range(count):
        created = now if last == PENDING else now - max(pending_ms, 2000) - 1000
        task = state.add_task(
            c,
            td,
            launch_type=launch_type,
            instance=instances[i % len(instances)] if instances else None,
            at=created,
            group=group,
            started_by=started_by,
            service_name=service_name,
            tags=list(tag_list),
        )
        if last == PENDING:
            state.launch(task, now)
        else:
            state.mark_running(task, created + max(pending_ms, 2000))
            if last == STOPPED:  # a finished job: its essential container exited with 0
                state.mark_stopped(task, now)
        arns.append(task.arn)
    return arns
