"""KMS-encrypted ECS Exec sessions: the data key and the AES-256-GCM around the payloads.

What aws/session-manager-plugin's `src/encryption` does: KMS GenerateDataKey (64 bytes) with
the session's encryption context (`aws:ssm:SessionId`, `aws:ssm:TargetId`), signed with the
client's credentials; the first half of the key decrypts what the agent sends, the second
encrypts what the client sends (the agent, having decrypted the same key, uses them the other
way round). Each encrypted payload is a 12-byte nonce followed by the AES-GCM ciphertext.
AES-GCM comes from the `cryptography` package (`pip install 'aioecs[kms]'`).
"""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ._exceptions import ExecError, ExecNotSupported, ExecProtocolError

if TYPE_CHECKING:
    import aiohttp

    from ._config import ResolvedConfig

__all__ = ["SessionCipher", "generate_data_key", "require_aesgcm", "target_id"]

KEY_BYTES = 64  # the plugin's KMSKeySizeInBytes
_NONCE = 12


def require_aesgcm() -> Any:
    """AES-GCM, or `ExecNotSupported` saying what to install."""
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise ExecNotSupported(
            "this ECS Exec session is KMS-encrypted (the cluster's executeCommandConfiguration "
            "sets kmsKeyId), which needs the cryptography package: pip install 'aioecs[kms]'"
        ) from None
    return AESGCM


class SessionCipher:
    """The session's two AES-256-GCM keys, from one KMS data key."""

    def __init__(self, plaintext_key: bytes, ciphertext_key: bytes) -> None:
        aesgcm = require_aesgcm()
        half = len(plaintext_key) // 2
        self._decrypting = aesgcm(plaintext_key[:half])
        self._encrypting = aesgcm(plaintext_key[half:])
        self.ciphertext_key = ciphertext_key

    def __repr__(self) -> str:
        return "SessionCipher()"

    def decrypt(self, data: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        try:
            return bytes(self._decrypting.decrypt(data[:_NONCE], data[_NONCE:], None))
        except (InvalidTag, ValueError):
            raise ExecProtocolError(
                "an encrypted payload failed AES-GCM authentication (wrong key or altered)"
            ) from None

    def encrypt(self, data: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + bytes(self._encrypting.encrypt(nonce, data, None))


def target_id(cluster_arn: str, task_arn: str, runtime_id: str) -> str:
    """The Session Manager target of an ECS container, as the AWS CLI names it."""
    cluster = cluster_arn.rsplit("/", 1)[-1]
    task = task_arn.rsplit("/", 1)[-1]
    return f"ecs:{cluster}_{task}_{runtime_id}"


def kms_endpoint(region: str) -> str:
    """`AWS_ENDPOINT_URL_KMS` (the SDKs' service endpoint variable), else KMS in `region`."""
    return os.environ.get("AWS_ENDPOINT_URL_KMS") or f"https://kms.{region}.amazonaws.com"


async def generate_data_key(
    http: aiohttp.ClientSession, config: ResolvedConfig, key_id: str, context: dict[str, str]
) -> tuple[bytes, bytes]:
    """KMS GenerateDataKey: `(ciphertext, plaintext)` of a 64-byte data key."""
    from ._config import _proxy_for, ssl_setting, validate_endpoint_url
    from ._signing import SigV4Signer

    url, host = validate_endpoint_url(kms_endpoint(config.region))
    body = json.dumps({"KeyId": key_id, "NumberOfBytes": KEY_BYTES, "EncryptionContext": context})
    headers = {
        "Host": host,
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "TrentService.GenerateDataKey",
    }
    signed = SigV4Signer(config.region, "kms").sign(
        method="POST",
        path="/",
        query="",
        headers=headers,
        body=body.encode(),
        credentials=await config.credential_provider.get(),
        now=datetime.now(timezone.utc),
    )
    secure = url.startswith("https:")
    ssl = await ssl_setting(config.verify) if secure else True
    async with http.post(
        url + "/", data=body.encode(), headers=signed, ssl=ssl, proxy=_proxy_for(url)
    ) as response:
        status, payload = response.status, await response.read()
    return _data_key(status, payload)


def _data_key(status: int, payload: bytes) -> tuple[bytes, bytes]:
    try:
        answer = json.loads(payload)
    except ValueError:
        answer = {}
    if status != 200 or not isinstance(answer, dict):
        code = answer.get("__type", "") if isinstance(answer, dict) else ""
        message = answer.get("message") or answer.get("Message") or "" if code else ""
        raise ExecError(f"KMS GenerateDataKey failed (HTTP {status}): {code} {message}".strip())
    try:
        return base64.b64decode(answer["CiphertextBlob"]), base64.b64decode(answer["Plaintext"])
    except (KeyError, ValueError, TypeError):
        raise ExecError("KMS GenerateDataKey answered without a data key") from None
