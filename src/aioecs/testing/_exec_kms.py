"""LocalECS's KMS, for KMS-encrypted exec sessions: GenerateDataKey, and the agent's cipher.

``TrentService.GenerateDataKey`` (SigV4 for service ``kms``, checked) hands out random data
keys; the "ciphertext" is an opaque handle the agent stand-in looks up again, with the
encryption context it was made for, as the agent's KMS Decrypt would. The agent's side of
the AES-256-GCM follows aws/amazon-ssm-agent ``agent/session/crypto/blockcipher.go``: the
first half of the key encrypts, the second decrypts; a payload is a 12-byte nonce and the
ciphertext. Needs the ``cryptography`` package.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from ._auth import SigV4Verifier
from ._errors import ErrorAnswer, invalid
from ._wire import error_response, json_response

__all__ = ["AgentCipher", "LocalKMS"]

KMS_TARGET = "TrentService."


class LocalKMS:
    """The data keys handed out, by their ciphertext handle."""

    def __init__(self, region: str) -> None:
        self._region = region
        self._keys: dict[bytes, tuple[bytes, dict[str, str]]] = {}

    def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes | None:
        """KMS Decrypt: the plaintext key, if the handle exists and the context matches."""
        found = self._keys.get(ciphertext)
        if found is None or found[1] != dict(context):
            return None
        return found[0]

    def answer(
        self, request: web.BaseRequest, body: bytes, credentials: Mapping[str, str], rid: str
    ) -> web.Response:
        """One KMS request (only GenerateDataKey is emulated)."""
        try:
            verifier = SigV4Verifier(credentials, region=self._region, service="kms")
            verifier.verify(request.method, request.raw_path, request.headers, body)
            operation = request.headers.get("X-Amz-Target", "")[len(KMS_TARGET) :]
            if operation != "GenerateDataKey":
                raise ErrorAnswer("UnsupportedOperationException", f"{operation} is not emulated")
            return json_response(json.dumps(self._generate(json.loads(body))).encode(), rid)
        except ErrorAnswer as e:
            return error_response(e, rid)
        except ValueError:
            return error_response(ErrorAnswer("SerializationException", "bad JSON"), rid)

    def _generate(self, p: Any) -> dict[str, Any]:
        key_id, size = p.get("KeyId"), p.get("NumberOfBytes")
        context = p.get("EncryptionContext") or {}
        if not key_id:
            raise invalid("KeyId is required.")
        if not isinstance(size, int) or not 1 <= size <= 1024:
            raise invalid("NumberOfBytes must be between 1 and 1024.")
        plaintext, ciphertext = os.urandom(size), b"local-kms:" + os.urandom(32)
        self._keys[ciphertext] = (plaintext, dict(context))
        return {
            "CiphertextBlob": base64.b64encode(ciphertext).decode(),
            "Plaintext": base64.b64encode(plaintext).decode(),
            "KeyId": key_id,
        }


class AgentCipher:
    """The agent's two AES-256-GCM keys (the client's, the other way round)."""

    def __init__(self, plaintext_key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        half = len(plaintext_key) // 2
        self._encrypting = AESGCM(plaintext_key[:half])
        self._decrypting = AESGCM(plaintext_key[half:])

    def encrypt(self, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._encrypting.encrypt(nonce, data, None)

    def decrypt(self, data: bytes) -> bytes:
        return self._decrypting.decrypt(data[:12], data[12:], None)
