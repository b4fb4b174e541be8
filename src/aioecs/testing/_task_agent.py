"""The ECS container agent's endpoints for LocalECS's tasks, so code written to run inside a
task (task metadata v4, scale-in protection, container credentials) can be tested locally.

:meth:`TaskAgent.environment` hands out the variables ECS puts in a container's environment,
each pointing at a path of its own on LocalECS's port (``/v4/<id>``, ``/api/<id>``,
``/v2/credentials/<id>``); requests to those paths come here instead of to the ECS API.
Answers follow the agent's documented formats (PascalCase, RFC 3339 times); protection
changes go through the same model as UpdateTaskProtection, so both sides see one state.
Credentials are a key pair issued per environment and accepted by LocalECS's signature
check from then on; its FULL_URI form (the RELATIVE_URI one is fixed to 169.254.170.2) is
what AWS SDKs accept on loopback.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from aiohttp import web

from ._encoding import JSON
from ._errors import ErrorAnswer
from ._model import EcsModel
from ._records import Container, Task
from ._task_protection import expiry_minutes, protected_task, set_protection

# How long issued credentials claim to last: ECS's task role credentials last 6 hours.
_CREDENTIALS_SECONDS = 6 * 3600
_PREFIXES = ("/v4/", "/api/", "/v2/credentials/")


@dataclass(frozen=True)
class _Issued:
    task_arn: str
    container: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    authorization: str


class TaskAgent:
    """The agent of every task LocalECS handed an environment to; reads and changes the model
    under LocalECS's lock."""

    def __init__(
        self,
        state: EcsModel,
        lock: threading.Lock,
        allow_key: Callable[[str, str], None],
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._lock = lock
        self._allow_key = allow_key
        self._wall_clock = wall_clock
        self._issued: dict[str, _Issued] = {}

    @staticmethod
    def serves(path: str) -> bool:
        """Whether a request path is the agent's rather than the ECS API's (always ``/``)."""
        return path.startswith(_PREFIXES)

    def environment(
        self, url: str, region: str, task_arn: str, container: str | None
    ) -> dict[str, str]:
        """The variables a container of the task sees (see ``LocalECS.task_environment``)."""
        with self._lock:
            task = self._task(task_arn)
            name = _container(task, container).name
        issued = _Issued(
            task_arn,
            name,
            "ASIA" + secrets.token_hex(8).upper(),
            secrets.token_urlsafe(30),
            secrets.token_urlsafe(60),
            secrets.token_urlsafe(24),
        )
        key = secrets.token_hex(16)
        self._allow_key(issued.access_key_id, issued.secret_access_key)
        self._issued[key] = issued
        return {
            "ECS_CONTAINER_METADATA_URI_V4": f"{url}/v4/{key}",
            "ECS_AGENT_URI": f"{url}/api/{key}",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{url}/v2/credentials/{key}",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": issued.authorization,
            "AWS_EXECUTION_ENV": f"AWS_ECS_{task.launch_type}",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL_ECS": url,
        }

    async def handle(self, request: web.BaseRequest) -> web.Response:
        """Answer one request to an agent path, as the agent would."""
        prefix = next(p for p in _PREFIXES if request.path.startswith(p))
        key, _, rest = request.path[len(prefix) :].partition("/")
        issued = self._issued.get(key)
        if issued is None:
            return _error(404, "NotFound", f"no container behind {prefix}{key}")
        body = await request.read()
        with self._lock:
            self._state.advance()
            try:
                return self._answer(request.method, prefix, rest, issued, request, body)
            except ErrorAnswer as exc:
                return _error(exc.status, exc.code, exc.message, issued.task_arn)

    def _answer(
        self,
        method: str,
        prefix: str,
        rest: str,
        issued: _Issued,
        request: web.BaseRequest,
        body: bytes,
    ) -> web.Response:
        task = self._task(issued.task_arn)
        if prefix == "/v2/credentials/" and method == "GET" and not rest:
            if request.headers.get("Authorization") != issued.authorization:
                return _error(401, "AccessDenied", "invalid authorization token")
            return web.json_response(self._credentials(task, issued))
        if prefix == "/v4/" and method == "GET" and rest in ("", "task"):
            if rest == "task":
                return web.json_response(task_document(task))
            return web.json_response(container_document(task, _container(task, issued.container)))
        if prefix == "/api/" and rest == "task-protection/v1/state" and method in ("GET", "PUT"):
            if task.last_status == "STOPPED":  # ECS's refusal, passed on by the agent
                failure = {"Arn": task.arn, "Reason": "TASK_NOT_VALID", "Detail": "Task stopped"}
                return web.json_response({"failure": failure, "requestID": secrets.token_hex(8)})
            if method == "PUT":
                self._protect(task, body)
            return web.json_response({"protection": self._protection(task)})
        return _error(404, "NotFound", f"{method} {request.path} is not an agent endpoint")

    def _protect(self, task: Task, body: bytes) -> None:
        try:
            wanted = json.loads(body)
        except ValueError:
            wanted = None
        if not isinstance(wanted, dict) or not isinstance(wanted.get("ProtectionEnabled"), bool):
            raise ErrorAnswer(
                "InvalidParameterException",
                "Invalid request: does not contain 'ProtectionEnabled' field",
            )
        minutes = wanted.get("ExpiresInMinutes")
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int)):
            raise ErrorAnswer("InvalidParameterException", "ExpiresInMinutes must be a number")
        set_protection(self._state, task.arn, wanted["ProtectionEnabled"], expiry_minutes(minutes))

    def _protection(self, task: Task) -> JSON:
        now = protected_task(self._state, task.arn)
        out: JSON = {"ProtectionEnabled": now["protectionEnabled"], "TaskArn": task.arn}
        if "expirationDate" in now:
            out["ExpirationDate"] = rfc3339(now["expirationDate"], digits=3)
        return out

    def _credentials(self, task: Task, issued: _Issued) -> JSON:
        expiry = self._wall_clock() + _CREDENTIALS_SECONDS
        return {
            "AccessKeyId": issued.access_key_id,
            "SecretAccessKey": issued.secret_access_key,
            "Token": issued.session_token,
            "Expiration": rfc3339(expiry, digits=0),
            "RoleArn": f"arn:aws:iam::{self._state.account_id}:role/"
            f"{task.definition.family}-task-role",
        }

    def _task(self, arn: str) -> Task:
        task = self._state.tasks.get(arn)
        if task is None:
            raise KeyError(f"no such task: {arn}")
        return task


def _container(task: Task, name: str | None) -> Container:
    for container in task.containers:
        if name is None or container.name == name:
            return container
    raise KeyError(f"task {task.arn} has no container {name!r}")


def _error(status: int, code: str, message: str, arn: str | None = None) -> web.Response:
    error = {"Code": code, "Message": message}
    if arn is not None:
        error["Arn"] = arn
    return web.json_response({"error": error, "requestID": secrets.token_hex(8)}, status=status)


def rfc3339(seconds: float, digits: int = 9) -> str:
    """Epoch seconds the way the agent (Go) writes times: ``2020-10-02T00:43:06.202617438Z``."""
    stamp = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    whole, fraction = stamp.split(".")
    return f"{whole}.{fraction.ljust(9, '0')[:digits]}Z" if digits else f"{whole}Z"


def _number(value: str) -> int:
    """Task-level CPU units or MiB, as RunTask stored them ("256"; "1 vCPU" counts as 0)."""
    return int(value) if value.isdigit() else 0


def _ms(ms: int | None) -> str | None:
    return None if ms is None else rfc3339(ms / 1000)


def _labels(task: Task, container: Container) -> dict[str, str]:
    return {
        "com.amazonaws.ecs.cluster": task.cluster.name,
        "com.amazonaws.ecs.container-name": container.name,
        "com.amazonaws.ecs.task-arn": task.arn,
        "com.amazonaws.ecs.task-definition-family": task.definition.family,
        "com.amazonaws.ecs.task-definition-version": str(task.definition.revision),
    }


def container_document(task: Task, container: Container) -> JSON:
    """A container as the metadata endpoint v4 shows it."""
    network: JSON = {"NetworkMode": task.definition.network_mode or "bridge"}
    if task.eni is not None:
        network |= {
            "NetworkMode": "awsvpc",
            "IPv4Addresses": [task.eni.ip],
            "AttachmentIndex": 0,
            "MACAddress": task.eni.mac,
            "PrivateDNSName": task.eni.dns,
        }
    doc: JSON = {
        "DockerId": container.runtime_id,
        "Name": container.name,
        "DockerName": f"ecs-{task.definition.family}-{task.definition.revision}-{container.name}",
        "Image": container.image,
        "ImageID": container.image_digest,
        "Labels": _labels(task, container),
        "DesiredStatus": task.desired_status,
        "KnownStatus": task.last_status,
        "Limits": {"CPU": container.cpu, "Memory": container.memory or 0},
        "CreatedAt": _ms(task.created_ms),
        "StartedAt": _ms(task.started_ms),
        "Type": "NORMAL",
        "ContainerARN": container.arn,
        "Networks": [network],
    }
    if container.exit_code is not None:
        doc["ExitCode"] = container.exit_code
    return {k: v for k, v in doc.items() if v is not None}


def task_document(task: Task) -> JSON:
    """A task as the metadata endpoint v4's ``/task`` shows it (the Fargate form names the
    cluster by ARN, the EC2 one by name, as the documented examples do)."""
    fargate = task.launch_type == "FARGATE"
    doc: JSON = {
        "Cluster": task.cluster.arn if fargate else task.cluster.name,
        "TaskARN": task.arn,
        "Family": task.definition.family,
        "Revision": str(task.definition.revision),
        "ServiceName": task.service_name,
        "DesiredStatus": task.desired_status,
        "KnownStatus": task.last_status,
        "Limits": {"CPU": _number(task.cpu) / 1024, "Memory": _number(task.memory)},
        "PullStartedAt": _ms(task.pull_started_ms),
        "PullStoppedAt": _ms(task.pull_stopped_ms),
        "ExecutionStoppedAt": _ms(task.stopped_ms),
        "AvailabilityZone": task.availability_zone,
        "LaunchType": task.launch_type,
        "Containers": [container_document(task, c) for c in task.containers],
    }
    return {k: v for k, v in doc.items() if v is not None}
