"""Secrets stay secret: no secret key, session token or signature in any repr, log record
(at DEBUG, every logger) or exception message, across successes and every kind of failure."""

from __future__ import annotations

import logging
import traceback

import pytest

from aioecs import Credentials, ECSClient, ValidationError
from aioecs import models as m
from aioecs.errors import ECSError, TransportError
from aioecs.testing import LocalECS

from ..servers import client_for, free_port

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzzSECRETKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////SESSIONTOKENxyz"
FORBIDDEN = (SECRET, TOKEN, "Signature=", "AWS4-HMAC-SHA256 Credential")


def _clean(text: str, where: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text, f"{secret[:12]}... leaked in {where}"


def _exception_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


async def test_nothing_secret_in_reprs_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    creds = Credentials(access_key_id="AKIDLEAKTEST", secret_access_key=SECRET, session_token=TOKEN)
    errors: list[BaseException] = []
    async with LocalECS(credentials={"AKIDLEAKTEST": SECRET}) as local:
        local.seed_tasks(150, cluster="prod")
        async with client_for(local, credentials=creds) as ecs:
            _clean(repr(ecs) + repr(creds) + repr(ecs._config) + repr(ecs._pipeline), "reprs")
            tasks = [t async for t in ecs.iter_tasks(cluster="prod")]
            assert len(tasks) == 150
            for call in (
                ecs.list_tasks(cluster="missing"),
                ecs.describe_tasks(cluster="prod", tasks=["x"] * 101),
            ):
                try:
                    await call
                except (ECSError, ValidationError) as exc:
                    errors.append(exc)
        # AWS echoes the expected canonical request (session token included) on a bad
        # signature: that text must not reach the error, the logs or a traceback.
        wrong = Credentials(
            access_key_id="AKIDLEAKTEST", secret_access_key="x" + SECRET, session_token=TOKEN
        )
        async with client_for(local, credentials=wrong) as bad:
            with pytest.raises(ECSError) as rejected:
                await bad.list_clusters()
            errors.append(rejected.value)

    async with ECSClient(
        region="us-east-1", endpoint_url=f"http://127.0.0.1:{free_port()}", credentials=creds,
        max_attempts=1,
    ) as dead:  # fmt: skip
        with pytest.raises(TransportError) as refused:
            await dead.list_clusters()
        errors.append(refused.value)

    assert len(errors) == 4
    for exc in errors:
        _clean(_exception_text(exc), f"{type(exc).__name__}")
    assert caplog.records, "nothing was logged at DEBUG: this test would prove nothing"
    _clean("\n".join(r.getMessage() + repr(r.args) for r in caplog.records), "log records")


def test_sensitive_model_members_are_hidden() -> None:
    override = m.ContainerOverride(
        name="web", environment=[m.KeyValuePair(name="DB_PASSWORD", value=SECRET)]
    )
    request = m.StartTaskRequest(
        task_definition="td",
        container_instances=["ci"],
        overrides=m.TaskOverride(container_overrides=[override]),
    )
    _clean(repr(request) + str(request), "a model repr")
