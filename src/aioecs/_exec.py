"""ECS Exec without the session-manager-plugin: `exec_command` and `exec_session`.

ExecuteCommand (through the client's usual path) answers with a Session Manager session: a
WebSocket URL and a token. The data channel on it follows aws/session-manager-plugin's
`src/datachannel/streaming.go`: the token in a first text frame, then binary AgentMessages
(`_agentmessage`). Every output frame is acknowledged; frames ahead of the next expected
sequence number are kept until the gap fills, frames behind it are acknowledged again (the
agent resends what it has no acknowledgement for every ~200 ms), so each sequence number is
delivered once, in order.

ECS runs the command under a PTY, without a shell and without reporting an exit code; the
command is therefore run as `/bin/sh -c <command>` followed by a `printf` of a marker and
`$?`, which `_Marker` takes out of the text again.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import json
import re
import secrets
import shlex
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from . import _agentmessage as am
from ._exceptions import (
    ExecChannelClosed,
    ExecError,
    ExecNotSupported,
    ExecProtocolError,
    ExecTimeout,
)

if TYPE_CHECKING:
    import aiohttp

    from . import models
    from ._config import ResolvedConfig
    from ._exec_kms import SessionCipher
    from ._generated.operations import ECSOperations

__all__ = ["DataChannel", "ExecResult", "ExecSession", "wrap_command"]

# The version the data channel reports to the agent, which gates features on it: the
# session-manager-plugin source tree's own version string (src/version/version.go). It is
# older than 1.2.295, so the agent keeps stderr in the output stream, as a terminal shows it.
CLIENT_VERSION = "1.2.0.0"
_MARKER_PREFIX = "__aioecs_"
_NO_SHELL = re.compile(r"/bin/sh: (?:no such file|not found)|executable file not found")
_QUEUE_SIZE = 64  # text chunks waiting for the reader: beyond it, acknowledgements wait too


class ExecResult(NamedTuple):
    """What `exec_command` returns.

    `output` is the terminal's text (CRLF line ends, stderr mixed in), the exit-code marker
    taken out; `exit_code` is None when it cannot be known (the image has no `/bin/sh`).
    """

    output: str
    exit_code: int | None


def wrap_command(command: str, token: str) -> str:
    """`command` run by `/bin/sh -c`, then a `printf` of the marker and `$?`.

    The agent splits the command like a POSIX shell (google/shlex) and runs it without a
    shell. The marker is printed from two arguments, so the command's own text (a PTY echo,
    `set -x`) never contains it.
    """
    script = (
        f"/bin/sh -c {shlex.quote(command)}\nprintf '\\n%s%s:%s\\n' {_MARKER_PREFIX} {token} \"$?\""
    )
    return f"/bin/sh -c {shlex.quote(script)}"


class _Marker:
    """Takes the `\\r\\n__aioecs_<token>:<status>\\r\\n` line out of streamed text.

    Text that may be the start of the marker is held back until the next chunk says whether
    it is; everything else passes at once. Plain `str.find` on each chunk: a regex search
    per frame cost more than the rest of the frame's handling.
    """

    def __init__(self, token: str) -> None:
        self._marker = _MARKER_PREFIX + token + ":"
        self._line = "\n" + self._marker  # printf's "\n" comes first (a CRLF under a PTY)
        self._status = re.compile(r"(\d+)\r?\n")
        self._unfinished = re.compile(r"\d*\r?\Z")
        self._last_status = re.compile(r"(\d+)\r?\n?\Z")
        self._held = ""
        self._seen = ""  # the first text, for "no /bin/sh"
        self.found = False
        self.exit_code: int | None = None

    def feed(self, chunk: str) -> str:
        if self.found:
            return chunk
        if len(self._seen) < 512:
            self._seen += chunk[:512]
        text = self._held + chunk
        self._held = ""
        at = text.find(self._marker)
        if at >= 0:
            line, after = self._line_start(text, at), at + len(self._marker)
            status = self._status.match(text, after)
            if status is not None:
                self.found, self.exit_code = True, int(status[1])
                return text[:line] + text[status.end() :]
            if self._unfinished.match(text, after):
                self._held = text[line:]
                return text[:line]
        keep = self._maybe_marker(text)
        if keep:
            self._held = text[-keep:]
            return text[:-keep]
        return text

    @staticmethod
    def _line_start(text: str, at: int) -> int:
        if at >= 2 and text[at - 2 : at] == "\r\n":
            return at - 2
        return at - 1 if at >= 1 and text[at - 1] == "\n" else at

    def _maybe_marker(self, text: str) -> int:
        """How many characters at the end may begin the marker's line."""
        newline = text.rfind("\n", max(0, len(text) - len(self._line)))
        if newline >= 0 and self._line.startswith(text[newline:]):
            return len(text) - self._line_start(text, newline + 1)
        return 1 if text.endswith("\r") else 0

    def finish(self) -> str:
        """The text still held at the end of the stream."""
        text, self._held = self._held, ""
        at = -1 if self.found else text.find(self._marker)
        if at >= 0:
            status = self._last_status.match(text, at + len(self._marker))
            if status is not None:
                self.found, self.exit_code = True, int(status[1])
                return text[: self._line_start(text, at)]
        return text

    @property
    def shell_missing(self) -> bool:
        return not self.found and _NO_SHELL.search(self._seen) is not None


class DataChannel:
    """The client's side of one Session Manager data channel, on an open WebSocket.

    `output()` yields the payloads of Output and StdErr frames, each sequence number once
    and in order, and ends when the service sends channel_closed. `acknowledged` counts the
    acknowledge frames sent.
    """

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse[bool],
        encryption: Callable[[str], Awaitable[SessionCipher]] | None = None,
    ) -> None:
        self._ws = ws
        self._encryption = encryption  # KMS key id -> the session's cipher
        self._cipher: SessionCipher | None = None
        self._expected = 0
        self._ahead: dict[int, am.AgentMessage] = {}
        self._sent_seq = 0
        self._received = False
        self._closing = False
        self.acknowledged = 0
        self.exit_code: int | None = None
        self.closed_reason: str | None = None

    async def open(self, token: str) -> None:
        """The first frame: the session token, as the plugin's FinalizeDataChannelHandshake."""
        await self._ws.send_str(
            json.dumps(
                {
                    "MessageSchemaVersion": "1.0",
                    "RequestId": str(uuid.uuid4()),
                    "TokenValue": token,
                    "ClientId": str(uuid.uuid4()),
                    "ClientVersion": CLIENT_VERSION,
                }
            )
        )

    async def output(self) -> AsyncIterator[bytes]:
        while not self._closing or self._ahead:
            # After channel_closed, frames still missing may yet come (resent): wait for them.
            message = await self._receive()
            if message is None:
                continue
            kind = message.message_type
            if kind == am.MessageType.OUTPUT_STREAM_DATA:
                for ready in await self._accept(message):
                    payload = await self._payload(ready)
                    if payload:
                        yield payload
            elif kind == am.MessageType.CHANNEL_CLOSED:
                self._closing = True
                self.closed_reason = _closed_reason(message)

    async def _receive(self) -> am.AgentMessage | None:
        """The next binary frame, decoded; None for anything else that may be skipped."""
        import aiohttp

        frame = await self._ws.receive()
        if frame.type == aiohttp.WSMsgType.BINARY:
            self._received = True
            return am.decode(frame.data)
        if frame.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.PING, aiohttp.WSMsgType.PONG):
            return None
        code = self._ws.close_code
        if self._closing:
            raise self._incomplete()
        if not self._received:
            raise ExecChannelClosed(
                f"the data channel closed before any frame came (code {code}): the service "
                "refused the session token (expired, already used, or the session ended)",
                refused=True,
            )
        raise ExecChannelClosed(
            f"the data channel closed (code {code}) before the service ended the session"
        )

    def _incomplete(self) -> ExecChannelClosed:
        missing = self._expected
        return ExecChannelClosed(
            f"the data channel closed with output frame {missing} never received "
            f"({len(self._ahead)} later frames were)"
        )

    async def _accept(self, message: am.AgentMessage) -> list[am.AgentMessage]:
        """Acknowledge a frame; the frames now deliverable in order (often none or one)."""
        await self._ws.send_bytes(am.acknowledgement(message))
        self.acknowledged += 1
        seq = message.sequence_number
        if seq < self._expected:
            return []  # a resend of what was delivered: its acknowledgement was lost
        if seq > self._expected:
            self._ahead.setdefault(seq, message)
            return []
        ready = [message]
        self._expected += 1
        while self._expected in self._ahead:
            ready.append(self._ahead.pop(self._expected))
            self._expected += 1
        return ready

    async def _payload(self, message: am.AgentMessage) -> bytes:
        kind, payload = message.payload_type, message.payload
        if self._cipher is not None and kind in _ENCRYPTED:
            payload = self._cipher.decrypt(payload)
        if kind in (am.PayloadType.OUTPUT, am.PayloadType.STDERR):
            return payload
        if kind == am.PayloadType.EXIT_CODE:
            self.exit_code = _int_or_none(payload)
        elif kind == am.PayloadType.HANDSHAKE_REQUEST:
            await self._handshake(message.json())
        elif kind == am.PayloadType.ENC_CHALLENGE_REQUEST:
            await self._answer_challenge(message.json())
        return b""

    async def _handshake(self, request: Any) -> None:
        """Answer a HandshakeRequest as the plugin's handleHandshakeRequest does."""
        actions = request.get("RequestedClientActions") or [] if isinstance(request, dict) else []
        processed = [await self._client_action(action) for action in actions]
        errors = [action["Error"] for action in processed if action["Error"]]
        response = {
            "ClientVersion": CLIENT_VERSION,
            "ProcessedClientActions": processed,
            "Errors": errors or None,
        }
        await self._send_input(am.PayloadType.HANDSHAKE_RESPONSE, json.dumps(response).encode())

    async def _client_action(self, action: Any) -> dict[str, Any]:
        kind = action.get("ActionType")
        done: dict[str, Any] = {"ActionType": kind, "ActionStatus": 1, "ActionResult": None,
                                "Error": ""}  # fmt: skip
        if kind == "KMSEncryption":
            if self._encryption is None:
                raise ExecNotSupported(_KMS)
            key_id = (action.get("ActionParameters") or {}).get("KMSKeyId") or ""
            self._cipher = await self._encryption(key_id)
            key = base64.b64encode(self._cipher.ciphertext_key).decode()
            done["ActionResult"] = {"KMSCipherTextKey": key, "KMSCipherTextHash": None}
        elif kind != "SessionType":
            done.update(ActionStatus=3, Error=f"Unsupported action {kind}")
        return done

    async def _answer_challenge(self, request: Any) -> None:
        """The agent's proof that both ends hold the data key: decrypt, encrypt, send back."""
        if self._cipher is None:
            raise ExecNotSupported(_KMS)
        try:
            challenge = base64.b64decode(request["Challenge"])
        except (KeyError, TypeError, ValueError):
            raise ExecProtocolError("an encryption challenge without a Challenge") from None
        answer = self._cipher.encrypt(self._cipher.decrypt(challenge))
        content = {"Challenge": base64.b64encode(answer).decode()}
        await self._send_input(am.PayloadType.ENC_CHALLENGE_RESPONSE, json.dumps(content).encode())

    async def _send_input(self, payload_type: int, payload: bytes) -> None:
        message = am.AgentMessage(
            am.MessageType.INPUT_STREAM_DATA.value, self._sent_seq, payload, payload_type
        )
        self._sent_seq += 1
        await self._ws.send_bytes(am.encode(message))


_KMS = (
    "this ECS Exec session is KMS-encrypted (the cluster's executeCommandConfiguration sets "
    "kmsKeyId), and this data channel has no way to reach KMS"
)
_ENCRYPTED = (am.PayloadType.OUTPUT, am.PayloadType.STDERR, am.PayloadType.EXIT_CODE)


def _int_or_none(payload: bytes) -> int | None:
    try:
        return int(payload.decode().strip())
    except ValueError:
        return None


def _closed_reason(message: am.AgentMessage) -> str | None:
    try:
        content = message.json()
    except ExecError:
        return None
    return content.get("Output") or None if isinstance(content, dict) else None


class _End:
    """The pump's last item: the output is complete."""


class ExecSession:
    """A command running in a container, its output streamed: `exec_session`'s result.

    ```python
    async with ecs.exec_session(cluster="prod", task=arn, command="tail -n 50 app.log") as s:
        async for text in s.output:
            print(text, end="")
    print(s.exit_code)
    ```

    Entering calls ExecuteCommand and opens the data channel; `output` yields the terminal's
    text as it comes (CRLF line ends, stderr mixed in), and `exit_code` is known once it
    ends (None if the image has no `/bin/sh`). `timeout` (seconds) bounds everything, from
    ExecuteCommand to the last frame: past it, `output` raises `ExecTimeout`. Leaving the
    block, or cancelling, closes the WebSocket.
    """

    def __init__(
        self,
        ecs: ECSOperations,
        request: dict[str, Any],
        *,
        config: Callable[[], ResolvedConfig],
        timeout: float | None = None,
        allow_ws: bool = False,
    ) -> None:
        self._ecs = ecs
        self._config = config  # the connected client's settings: its CA bundle and proxy
        self._request = request
        self._token = secrets.token_hex(8)
        self._marker = _Marker(self._token)
        self._timeout = timeout
        self._deadline: float | None = None
        self._allow_ws = allow_ws
        self._http: aiohttp.ClientSession | None = None
        self._channel: DataChannel | None = None
        self._answer: models.ExecuteCommandResponse | None = None
        self._queue: asyncio.Queue[str | _End | BaseException] = asyncio.Queue(_QUEUE_SIZE)
        self._pump: asyncio.Future[None] | None = None
        self._iterated = False
        self.session_id: str | None = None

    def __repr__(self) -> str:
        return f"<ExecSession {self.session_id or '(not started)'}>"

    @property
    def exit_code(self) -> int | None:
        """The command's exit status; None until the output ends, or if it cannot be known."""
        channel = self._channel
        if self._marker.found:
            return self._marker.exit_code
        return channel.exit_code if channel is not None else None

    @property
    def shell_missing(self) -> bool:
        """True when the output says the image has no `/bin/sh` (so no exit code)."""
        return self._marker.shell_missing

    @property
    def acknowledged(self) -> int:
        """How many acknowledge frames were sent (one per output frame received)."""
        return self._channel.acknowledged if self._channel is not None else 0

    @property
    def output(self) -> AsyncIterator[str]:
        """The terminal's text, chunk by chunk; iterate it once."""
        if self._pump is None:
            raise RuntimeError("use the session in `async with` before reading its output")
        if self._iterated:
            raise RuntimeError("an ExecSession's output can be iterated only once")
        self._iterated = True
        return self._read()

    async def _read(self) -> AsyncIterator[str]:
        while True:
            item = await self._queue.get()
            if isinstance(item, _End):
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    async def __aenter__(self) -> ExecSession:
        loop = asyncio.get_running_loop()
        if self._timeout is not None:
            self._deadline = loop.time() + self._timeout
        try:
            await self._within_deadline(self._open())
        except BaseException:
            await self.close()
            raise
        self._pump = asyncio.ensure_future(self._run_pump())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def result(self) -> ExecResult:
        """Read the output to its end: what `exec_command` returns."""
        output = "".join([text async for text in self.output])
        return ExecResult(output, self.exit_code)

    async def close(self) -> None:
        """Stop reading and close the WebSocket. Safe to call more than once."""
        pump, self._pump = self._pump, None
        if pump is not None and not pump.done():
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    async def _within_deadline(self, work: Any) -> Any:
        if self._deadline is None:
            return await work
        remaining = self._deadline - asyncio.get_running_loop().time()
        try:
            return await asyncio.wait_for(work, max(remaining, 0))
        except asyncio.TimeoutError:
            raise ExecTimeout(
                f"the command did not finish within its timeout of {self._timeout} s; "
                "the data channel is closed"
            ) from None

    async def _open(self) -> None:
        request = {**self._request, "command": wrap_command(self._request["command"], self._token)}
        answer = await self._ecs.execute_command(**request, interactive=True)
        session = answer.session
        if session is None or not session.stream_url or not session.token_value:
            raise ExecError("ExecuteCommand answered without a session (streamUrl and token)")
        self.session_id = session.session_id
        self._answer = answer
        self._http, ws = await connect(session.stream_url, self._config(), self._allow_ws)
        self._channel = DataChannel(ws, self._kms_cipher)
        await self._channel.open(session.token_value)

    async def _kms_cipher(self, key_id: str) -> SessionCipher:
        """A new KMS data key for the session, whose agent asked for encryption."""
        from ._exec_kms import SessionCipher, generate_data_key, require_aesgcm, target_id

        require_aesgcm()
        answer, http = self._answer, self._http
        assert answer is not None and http is not None
        described = await self._ecs.describe_tasks(
            cluster=answer.cluster_arn, tasks=[answer.task_arn or ""]
        )
        containers = [c for task in described.tasks for c in task.containers]
        runtime = next((c.runtime_id for c in containers if c.name == answer.container_name), None)
        if not (runtime and answer.cluster_arn and answer.task_arn):
            raise ExecError(
                "KMS: the container's runtimeId (part of the session's target) is unknown"
            )
        target = target_id(answer.cluster_arn, answer.task_arn, runtime)
        context = {"aws:ssm:SessionId": self.session_id or "", "aws:ssm:TargetId": target}
        ciphertext, plaintext = await generate_data_key(http, self._config(), key_id, context)
        return SessionCipher(plaintext, ciphertext)

    async def _run_pump(self) -> None:
        import aiohttp

        item: str | _End | BaseException = _End()
        try:
            await self._within_deadline(self._pump_output())
        except ExecError as exc:  # before OSError: ExecTimeout is a TimeoutError
            item = exc
        except (OSError, aiohttp.ClientError) as exc:
            item = ExecChannelClosed(f"the data channel failed: {type(exc).__name__}")
        except Exception as exc:  # ExecError, or a bug: either way the reader must see it
            item = exc
        finally:
            http, self._http = self._http, None
            if http is not None:
                await http.close()
        await self._queue.put(item)

    async def _pump_output(self) -> None:
        assert self._channel is not None
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        async for payload in self._channel.output():
            text = self._marker.feed(decoder.decode(payload))
            if text:
                await self._queue.put(text)
        text = self._marker.feed(decoder.decode(b"", final=True)) + self._marker.finish()
        if text:
            await self._queue.put(text)


async def connect(
    url: str, config: ResolvedConfig, allow_ws: bool = False
) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse[bool]]:
    """A WebSocket to the session's stream URL, with the client's TLS trust and proxy.

    `wss://` always; `ws://` only to a loopback host (LocalECS) unless `allow_ws` (the
    client's `allow_http`) says so: the token on it is the session's credential.
    """
    import aiohttp

    from ._config import _is_loopback, _proxy_for, ssl_setting

    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in ("wss", "ws") or (scheme == "ws" and not (allow_ws or _is_loopback(host))):
        raise ExecError(
            f"refusing the data channel {scheme}://{host}: only wss://, or ws:// to a "
            "loopback host (pass allow_http=True to the client to allow plain ws://)"
        )
    secure = scheme == "wss"
    proxy = _proxy_for(f"{'https' if secure else 'http'}://{parts.netloc}")
    # No total timeout: a session lasts as long as its command (the caller's `timeout`).
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=30))
    try:
        ws = await http.ws_connect(
            url, ssl=await ssl_setting(config.verify) if secure else True, proxy=proxy
        )
    except aiohttp.ClientError as exc:
        await http.close()
        raise ExecChannelClosed(
            f"could not open the data channel to {scheme}://{host}: {type(exc).__name__}",
            refused=isinstance(exc, aiohttp.WSServerHandshakeError),
        ) from None
    except BaseException:
        await http.close()
        raise
    return http, ws
