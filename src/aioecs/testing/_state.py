"""LocalECS's model with its operations: what the HTTP side (``_server``) dispatches to.

Each ECS operation takes the decoded JSON request (camelCase members, as in botocore's ECS
service model) and returns the JSON response as a dict, or raises
:class:`~aioecs.testing._errors.ErrorAnswer`. The operations live in one module per concern
(``_clusters``, ``_task_definitions``, ``_container_instances``, ``_tasks``); the records and
the lifecycle they act on in ``_model``. :class:`EcsState` puts them together as methods, so a
test holding ``local.state`` can call ``state.list_tasks({...})`` as well as reach the model.
"""

from __future__ import annotations

from collections.abc import Callable

from . import (
    _clusters,
    _container_instances,
    _seeding,
    _services,
    _task_definitions,
    _task_protection,
    _tasks,
)
from ._encoding import JSON
from ._model import EcsModel


class EcsState(EcsModel):
    """All clusters and tasks of one emulated account in one region, plus the ECS operations.

    Constructed as :class:`EcsModel`; :meth:`operation` finds the handler for an operation name.
    """

    create_cluster = _clusters.create_cluster
    list_clusters = _clusters.list_clusters
    describe_clusters = _clusters.describe_clusters
    delete_cluster = _clusters.delete_cluster
    register_task_definition = _task_definitions.register_task_definition
    describe_task_definition = _task_definitions.describe_task_definition
    list_task_definitions = _task_definitions.list_task_definitions
    list_task_definition_families = _task_definitions.list_task_definition_families
    register_container_instance = _container_instances.register_container_instance
    run_task = _tasks.run_task
    start_task = _tasks.start_task
    stop_task = _tasks.stop_task
    list_tasks = _tasks.list_tasks
    describe_tasks = _tasks.describe_tasks
    seed_tasks = _seeding.seed_tasks
    create_service = _services.create_service
    update_service = _services.update_service
    describe_services = _services.describe_services
    list_services = _services.list_services
    delete_service = _services.delete_service
    list_service_deployments = _services.list_service_deployments
    describe_service_deployments = _services.describe_service_deployments
    update_task_protection = _task_protection.update_task_protection
    get_task_protection = _task_protection.get_task_protection

    @staticmethod
    def operations() -> list[str]:
        """The operation names emulated, sorted."""
        return sorted(_OPERATIONS)

    def operation(self, name: str) -> Callable[[JSON], JSON] | None:
        """The handler for an operation name (``ListTasks``), or None if not emulated."""
        method = _OPERATIONS.get(name)
        return None if method is None else getattr(self, method)


# ECS operation name -> EcsState method.
_OPERATIONS = {
    "CreateCluster": "create_cluster",
    "ListClusters": "list_clusters",
    "DescribeClusters": "describe_clusters",
    "DeleteCluster": "delete_cluster",
    "RegisterTaskDefinition": "register_task_definition",
    "DescribeTaskDefinition": "describe_task_definition",
    "ListTaskDefinitions": "list_task_definitions",
    "ListTaskDefinitionFamilies": "list_task_definition_families",
    "RegisterContainerInstance": "register_container_instance",
    "RunTask": "run_task",
    "StartTask": "start_task",
    "StopTask": "stop_task",
    "ListTasks": "list_tasks",
    "DescribeTasks": "describe_tasks",
    "CreateService": "create_service",
    "UpdateService": "update_service",
    "DescribeServices": "describe_services",
    "ListServices": "list_services",
    "DeleteService": "delete_service",
    "ListServiceDeployments": "list_service_deployments",
    "DescribeServiceDeployments": "describe_service_deployments",
    "UpdateTaskProtection": "update_task_protection",
    "GetTaskProtection": "get_task_protection",
}
