"""Real servers on loopback for the integration tests: moto's, started as a subprocess, and
clients for LocalECS."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aioecs import Credentials, ECSClient
from aioecs.testing import LocalECS

# moto verifies SigV4 once this many unauthenticated calls have been made: the first three
# create the IAM user, its policy and its access key; every call after that must be signed
# with that key, so a wrong signature fails the test.
MOTO_UNAUTHENTICATED_CALLS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_for(local: LocalECS, **options: Any) -> ECSClient:
    """An ECSClient for `local`: its endpoint and region, signed with its key pair. `options`
    go to ECSClient and win over those (`credentials=...` to sign with something else)."""
    key, secret = local.credentials
    settings: dict[str, Any] = {
        "region": local.region,
        "endpoint_url": local.endpoint_url,
        "credentials": Credentials(access_key_id=key, secret_access_key=secret),
    }
    return ECSClient(**(settings | options))


@contextmanager
def moto_server() -> Iterator[str]:
    """`python -m moto.server` on a free loopback port, with auth enforced; yields its URL."""
    port = free_port()
    env = {
        **os.environ,
        "INITIAL_NO_AUTH_ACTION_COUNT": str(MOTO_UNAUTHENTICATED_CALLS),
        "MOTO_ALLOW_NONEXISTENT_REGION": "false",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


MOTO_REGION = "us-east-1"


@contextmanager
def moto_account() -> Iterator[dict[str, Any]]:
    """moto's server with an IAM key to sign with (it verifies signatures after the three calls
    that create it) and an EC2 instance, from which an ECS container instance can be registered
    (EC2 StartTask needs one): `{"url", "credentials", "instance_id"}`."""
    import boto3

    with moto_server() as url:
        anonymous = {
            "endpoint_url": url,
            "region_name": MOTO_REGION,
            "aws_access_key_id": "x",
            "aws_secret_access_key": "x",
        }
        iam = boto3.client("iam", **anonymous)
        iam.create_user(UserName="aioecs")
        allow = {"Effect": "Allow", "Action": "*", "Resource": "*"}
        policy = {"Version": "2012-10-17", "Statement": [allow]}
        iam.put_user_policy(UserName="aioecs", PolicyName="all", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="aioecs")["AccessKey"]
        credentials = Credentials(
            access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"]
        )
        signed = {
            **anonymous,
            "aws_access_key_id": credentials.access_key_id,
            "aws_secret_access_key": credentials.secret_access_key,
        }
        ec2 = boto3.client("ec2", **signed)
        image = ec2.describe_images()["Images"][0]["ImageId"]
        instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
        yield {"url": url, "credentials": credentials, "instance_id": instance["InstanceId"]}


async def moto_cluster_with_instance(ecs: ECSClient, moto: dict[str, Any], name: str) -> str:
    """Create cluster `name` with the moto account's instance registered in it; its ARN."""
    await ecs.create_cluster(cluster_name=name)
    document = {
        "instanceId": moto["instance_id"],
        "region": MOTO_REGION,
        "accountId": "123456789012",
        "availabilityZone": "us-east-1a",
        "instanceType": "t3.micro",
    }
    registered = await ecs.register_container_instance(
        cluster=name, instance_identity_document=json.dumps(document)
    )
    assert registered.container_instance is not None
    arn = registered.container_instance.container_instance_arn
    assert arn is not None
    return arn
