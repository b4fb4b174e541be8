"""LocalECS's ECS Exec: ExecuteCommand and a Session Manager data channel on loopback.

The channel plays back scripted output and exit codes (``LocalECS.script_exec``); it never
runs anything on the host. It follows the agent (aws/amazon-ssm-agent
``agent/session/datachannel/datachannel.go``): output in ``output_stream_data`` frames of at
most 1024 bytes, numbered from 0 with SYN on the first; every frame kept until acknowledged
and the oldest unacknowledged one sent again when 200 ms pass without its acknowledgement
(checked every 100 ms); the client's input frames acknowledged; ``channel_closed`` once all
output is acknowledged. A script can ask for the faults a real channel shows: frames out of
order, twice, or lost (then resent), a refused token, a channel that never closes, and the
KMS and session-type handshakes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import secrets
import shlex
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from aioecs import _agentmessage as am

from ._encoding import JSON
from ._errors import invalid
from ._exec_kms import AgentCipher, LocalKMS
from ._members import string
from ._model import EcsModel
from ._records import RUNNING

__all__ = ["DATA_CHANNEL_PATH", "ExecAgent", "ExecRecord", "ExecScript"]

DATA_CHANNEL_PATH = "/v1/data-channel/"
FRAME_SIZE = 1024  # the agent's StreamDataPayloadSize
RESEND_AFTER = 0.2  # mgsConfig.DefaultTransmissionTimeout
RESEND_CHECK = 0.1  # mgsConfig.ResendSleepInterval
CLOSE_GRACE = 1.0  # close_early: how long resends go on after channel_closed
NO_SHELL = "Unable to start command: fork/exec /bin/sh: no such file or directory\n"


@dataclass(frozen=True)
class ExecScript:
    """What a scripted command prints and exits with, and how its channel behaves."""

    output: str = ""
    exit_code: int = 0
    no_shell: bool = False
    frame_size: int = FRAME_SIZE
    reorder: bool = False
    duplicate: bool = False
    drop_every: int = 0
    corrupt: bool = False
    refuse_token: bool = False
    never_close: bool = False
    close_early: bool = False
    resend: bool = True
    handshake: bool = False
    kms: bool = False


@dataclass
class ExecRecord:
    """What happened on one exec session, for tests: `LocalECS.exec_sessions`."""

    command: str
    """The command as the user wrote it (the `/bin/sh -c` wrapper taken off)."""
    frames: int = 0
    """Output frames (sequence numbers) the channel had to deliver."""
    acknowledged: set[int] = field(default_factory=set)
    """Sequence numbers the client acknowledged."""
    acknowledgements: int = 0
    """Acknowledge frames received, repeats included."""
    resent: int = 0
    """Frames sent again because their acknowledgement had not come within 200 ms."""
    connected: bool = False
    refused: bool = False
    closed: bool = False
    """True once channel_closed was sent."""
    handshake_error: str | None = None
    """Why the handshake failed (a KMS data key for another session, a wrong challenge)."""
    disconnected: bool = False
    """True once the WebSocket is closed, by either side."""


@dataclass
class _Session:
    token: str
    text: str
    script: ExecScript
    record: ExecRecord
    session_id: str = ""
    target: str = ""  # the Session Manager target: ecs:<cluster>_<task id>_<runtime id>


class _HandshakeFailed(Exception):
    """The agent ends the session: the client's handshake answer does not hold."""


class ExecAgent:
    """The scripts, the sessions ExecuteCommand opened, and the data channel's server side."""

    def __init__(self, region: str) -> None:
        self.kms = LocalKMS(region)
        self._scripts: list[tuple[str | re.Pattern[str], ExecScript]] = []
        self._sessions: dict[str, _Session] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self.records: list[ExecRecord] = []

    def script(self, command: str | re.Pattern[str], script: ExecScript) -> None:
        self._scripts.append((command, script))

    def _find(self, command: str) -> ExecScript:
        for pattern, script in reversed(self._scripts):
            if pattern == command if isinstance(pattern, str) else pattern.fullmatch(command):
                return script
        word = command.split()[0] if command.split() else command
        return ExecScript(output=f"/bin/sh: 1: {word}: not found\n", exit_code=127)

    def execute_command(self, state: EcsModel, endpoint_url: str, p: JSON) -> JSON:
        """The ExecuteCommand operation."""
        if p.get("interactive") is not True:
            raise invalid("Interactive is the only mode supported currently.")
        command = string(p, "command")
        if not command:
            raise invalid("Command cannot be empty.")
        cluster = state.cluster(string(p, "cluster"))
        ref = string(p, "task") or ""
        task = state.tasks.get(state.task_arn(cluster, ref)) if ref else None
        if task is None or task.cluster is not cluster:
            raise invalid("The specified task was not found.")
        if task.last_status != RUNNING:
            raise invalid("The execute command failed because the task is not RUNNING.")
        name = string(p, "container")
        if name is None and len(task.containers) > 1:
            raise invalid("The container name must be specified as the task has several.")
        container = next((c for c in task.containers if name in (None, c.name)), None)
        if container is None:
            raise invalid(f"The container {name} does not exist in the task.")
        session_id = f"ecs-execute-command-{secrets.token_hex(8)}"
        token = secrets.token_urlsafe(24)
        session = self._session(command, token)
        session.session_id = session_id
        session.target = f"ecs:{cluster.name}_{task.task_id}_{container.runtime_id}"
        self._sessions[session_id] = session
        ws_url = endpoint_url.replace("http://", "ws://", 1)
        return {
            "clusterArn": cluster.arn,
            "containerArn": container.arn,
            "containerName": container.name,
            "interactive": True,
            "taskArn": task.arn,
            "session": {
                "sessionId": session_id,
                "streamUrl": f"{ws_url}{DATA_CHANNEL_PATH}{session_id}?role=publish_subscribe",
                "tokenValue": token,
            },
        }

    def _session(self, command: str, token: str) -> _Session:
        user_command, printf = _unwrap(command)
        script = self._find(user_command)
        if printf is not None and script.no_shell:
            text = NO_SHELL
        else:
            text = script.output + (_printf(printf, script.exit_code) if printf else "")
        record = ExecRecord(user_command)
        self.records.append(record)
        # The PTY's output processing (onlcr): every line ends in CRLF.
        return _Session(token, text.replace("\r\n", "\n").replace("\n", "\r\n"), script, record)

    async def serve(self, request: web.BaseRequest) -> web.StreamResponse:
        """The data channel: the token frame first, then the agent's side of the protocol."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            session_id = request.path[len(DATA_CHANNEL_PATH) :]
            session = self._sessions.pop(session_id, None)  # a token opens one channel
            first = await ws.receive()
            if session is None or session.script.refuse_token or not _token_ok(first, session):
                if session is not None:
                    session.record.refused = True
                await ws.close(code=1008, message=b"invalid token")
                return ws
            session.record.connected = True
            try:
                await _Channel(ws, session, self.kms).run()
            except _HandshakeFailed as failed:
                session.record.handshake_error = str(failed)
                await ws.close(code=1011, message=b"handshake failed")
            finally:
                session.record.disconnected = True
        finally:
            self._sockets.discard(ws)
            await ws.close()
        return ws

    async def close(self) -> None:
        """Close every open channel (LocalECS is shutting down)."""
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"LocalECS closing")


def _token_ok(frame: Any, session: _Session) -> bool:
    if frame.type != WSMsgType.TEXT:
        return False
    try:
        opening = json.loads(frame.data)
    except ValueError:
        return False
    return (
        isinstance(opening, dict)
        and opening.get("MessageSchemaVersion") == "1.0"
        and secrets.compare_digest(str(opening.get("TokenValue", "")), session.token)
    )


def _unwrap(command: str) -> tuple[str, list[str] | None]:
    """The user's command and the marker printf's arguments, if aioecs wrapped it.

    Split as the agent splits it (google/shlex, POSIX rules), then as `/bin/sh -c` would
    read the script: `/bin/sh -c <command>` then `printf <format> <args...>`.
    """
    try:
        argv = shlex.split(command)
        if argv[:2] != ["/bin/sh", "-c"] or len(argv) != 3:
            return command, None
        inner = shlex.split(argv[2])
    except ValueError:
        return command, None
    if len(inner) >= 4 and inner[:2] == ["/bin/sh", "-c"] and inner[3] == "printf":
        return inner[2], inner[4:]
    return argv[2], None


def _printf(args: list[str], status: int) -> str:
    """What `printf FORMAT ARGS...` prints, for `%s` formats and `\\n`; `$?` is `status`."""
    fmt, values = args[0].replace("\\n", "\n"), args[1:]
    return fmt % tuple(str(status) if value == "$?" else value for value in values)


class _Channel:
    """One connected data channel: send, resend until acknowledged, close."""

    def __init__(self, ws: web.WebSocketResponse, session: _Session, kms: LocalKMS) -> None:
        self._ws = ws
        self._session = session
        self._kms = kms
        self._cipher: AgentCipher | None = None
        self._inputs: asyncio.Queue[am.AgentMessage] = asyncio.Queue()
        self._script = session.script
        self._record = session.record
        self._next_seq = 0
        self._unacked: dict[int, list[Any]] = {}  # seq -> [frame, last sent]
        self._all_acked = asyncio.Event()

    async def run(self) -> None:
        reader = asyncio.ensure_future(self._read())
        resender = asyncio.ensure_future(self._resend())
        try:
            if self._script.handshake or self._script.kms:
                await self._handshake()
            await self._send_output()
            await self._finish(reader)
        finally:
            for task in (reader, resender):
                task.cancel()
            await asyncio.gather(reader, resender, return_exceptions=True)

    async def _finish(self, reader: asyncio.Future[Any]) -> None:
        """channel_closed once every frame is acknowledged (or at once: ``close_early``)."""
        if self._script.never_close:
            await reader
            return
        if self._script.close_early:
            await self._close_channel()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._all_acked.wait(), CLOSE_GRACE)
            return
        acked: asyncio.Future[Any] = asyncio.ensure_future(self._all_acked.wait())
        try:
            await asyncio.wait([reader, acked], return_when=asyncio.FIRST_COMPLETED)
        finally:
            acked.cancel()
        if self._all_acked.is_set():
            await self._close_channel()

    async def _close_channel(self) -> None:
        await self._ws.send_bytes(_channel_closed(self._session))
        self._record.closed = True

    def _frame(self, payload_type: int, payload: bytes) -> tuple[int, bytes]:
        seq = self._next_seq
        self._next_seq += 1
        message = am.AgentMessage(
            am.MessageType.OUTPUT_STREAM_DATA.value,
            seq,
            payload,
            payload_type,
            flags=1 if seq == 0 else 0,
        )
        frame = am.encode(message)
        self._unacked[seq] = [frame, time.monotonic()]
        return seq, frame

    async def _handshake(self) -> None:
        session_type = {"SessionType": "InteractiveCommands", "Properties": None}
        actions: list[JSON] = [{"ActionType": "SessionType", "ActionParameters": session_type}]
        if self._script.kms:
            kms = {"KMSKeyId": "arn:aws:kms:us-east-1:123456789012:key/local-exec"}
            actions.append({"ActionType": "KMSEncryption", "ActionParameters": kms})
        request = {"AgentVersion": "3.3.0.0", "RequestedClientActions": actions}
        await self._send_all([self._frame(am.PayloadType.HANDSHAKE_REQUEST, _json(request))])
        response = (await self._inputs.get()).json()
        if self._script.kms:
            self._cipher = AgentCipher(self._data_key(response))
            await self._challenge()
        complete = {"HandshakeTimeToComplete": 1000000, "CustomerMessage": ""}
        await self._send_all([self._frame(am.PayloadType.HANDSHAKE_COMPLETE, _json(complete))])

    def _data_key(self, response: JSON) -> bytes:
        """finalizeKMSEncryption: the client's data key, decrypted for this session only."""
        for action in response.get("ProcessedClientActions") or []:
            if action.get("ActionType") == "KMSEncryption" and action.get("ActionStatus") == 1:
                ciphertext = base64.b64decode(action["ActionResult"]["KMSCipherTextKey"])
                session = self._session
                context = {"aws:ssm:SessionId": session.session_id,
                           "aws:ssm:TargetId": session.target}  # fmt: skip
                key = self._kms.decrypt(ciphertext, context)
                if key is None:
                    raise _HandshakeFailed("KMS Decrypt refused the data key for this context")
                return key
        raise _HandshakeFailed("the client did not process KMSEncryption")

    async def _challenge(self) -> None:
        """sendEncryptionChallenge: 64 random bytes, which must come back re-encrypted."""
        assert self._cipher is not None
        challenge = os.urandom(64)
        content = {"Challenge": base64.b64encode(self._cipher.encrypt(challenge)).decode()}
        await self._send_all([self._frame(am.PayloadType.ENC_CHALLENGE_REQUEST, _json(content))])
        answer = (await self._inputs.get()).json()
        if self._cipher.decrypt(base64.b64decode(answer["Challenge"])) != challenge:
            raise _HandshakeFailed("Encryption challenge does not match!")

    async def _send_output(self) -> None:
        data, size = self._session.text.encode(), self._script.frame_size
        cipher = self._cipher
        frames = [
            self._frame(am.PayloadType.OUTPUT, cipher.encrypt(chunk) if cipher else chunk)
            for chunk in (data[i : i + size] for i in range(0, len(data), size))
        ]
        self._record.frames = self._next_seq
        if not self._unacked:
            self._all_acked.set()
        await self._send_all(frames)

    async def _send_all(self, frames: list[tuple[int, bytes]]) -> None:
        script = self._script
        if script.reorder:  # each pair swapped: 1, 0, 3, 2, ...
            for i in range(0, len(frames) - 1, 2):
                frames[i], frames[i + 1] = frames[i + 1], frames[i]
        for seq, frame in frames:
            if script.drop_every and seq % script.drop_every == script.drop_every - 1:
                continue  # lost on the way: the resend loop sends it again
            if script.corrupt:  # the last byte of the payload flipped: the digest fails
                frame = frame[:-1] + bytes([frame[-1] ^ 1])
            await self._ws.send_bytes(frame)
            if script.duplicate:
                await self._ws.send_bytes(frame)

    async def _resend(self) -> None:
        """ResendStreamDataMessageScheduler: the oldest unacknowledged frame, again."""
        while self._script.resend:
            await asyncio.sleep(RESEND_CHECK)
            if not self._unacked:
                continue
            entry = self._unacked[min(self._unacked)]
            if time.monotonic() - entry[1] > RESEND_AFTER:
                entry[1] = time.monotonic()
                self._record.resent += 1
                await self._ws.send_bytes(entry[0])

    async def _read(self) -> None:
        async for frame in self._ws:
            if frame.type != WSMsgType.BINARY:
                continue
            message = am.decode(frame.data)
            if message.message_type == am.MessageType.ACKNOWLEDGE:
                self._acknowledged(message.json())
            elif message.message_type == am.MessageType.INPUT_STREAM_DATA:
                await self._ws.send_bytes(am.acknowledgement(message))
                self._inputs.put_nowait(message)  # the handshake's answers

    def _acknowledged(self, content: JSON) -> None:
        seq = content["AcknowledgedMessageSequenceNumber"]
        self._record.acknowledgements += 1
        self._record.acknowledged.add(seq)
        self._unacked.pop(seq, None)
        if not self._unacked and self._record.frames:
            self._all_acked.set()


def _json(content: Any) -> bytes:
    return json.dumps(content).encode()


def _channel_closed(session: _Session) -> bytes:
    """What the service sends when the session ends (the plugin's ChannelClosed)."""
    content = {
        "MessageId": str(uuid.uuid4()),
        "CreatedDate": str(int(time.time() * 1000)),
        "DestinationId": "",
        "SessionId": "",
        "MessageType": am.MessageType.CHANNEL_CLOSED.value,
        "SchemaVersion": 1,
        "Output": "",
    }
    message = am.AgentMessage(am.MessageType.CHANNEL_CLOSED.value, 0, _json(content), flags=3)
    return am.encode(message)
