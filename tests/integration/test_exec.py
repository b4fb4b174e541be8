"""ECS Exec end to end on loopback: ExecuteCommand through the client, the data channel
against LocalECS's agent stand-in (which resends unacknowledged frames every 200 ms as the
SSM agent does), and the `aioecs exec` command in a child process."""

from __future__ import annotations

import asyncio
import re
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, WSMsgType, web

from aioecs import (
    AiohttpTransport,
    Credentials,
    ECSClient,
    HttpRequest,
    HttpResponse,
    MockTransport,
)
from aioecs.errors import (
    ExecChannelClosed,
    ExecError,
    ExecNotSupported,
    ExecProtocolError,
    ExecTimeout,
    InvalidParameterException,
)
from aioecs.testing import LocalECS

from .._env import hermetic_environ

TIMEOUT = 30


@pytest.fixture
async def local() -> AsyncIterator[LocalECS]:
    async with LocalECS(seed=23) as server:
        yield server


@pytest.fixture
def task(local: LocalECS) -> str:
    return local.seed_tasks(1, cluster="prod")[0]


def _lines(count: int) -> str:
    return "".join(f"line {i:05d} of the output\n" for i in range(count))


def _crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def _every_frame_acknowledged(local: LocalECS) -> None:
    [record] = local.exec_sessions
    assert record.connected and record.closed
    assert record.acknowledged == set(range(record.frames))


async def test_output_and_exit_code(local: LocalECS, task: str) -> None:
    local.script_exec("python manage.py migrate", output="Applying 0001... OK\n", exit_code=3)
    async with local.client() as ecs:
        result = await ecs.exec_command(
            cluster="prod", task=task, command="python manage.py migrate", timeout=TIMEOUT
        )
    assert result.output == "Applying 0001... OK\r\n"
    assert result.exit_code == 3
    _every_frame_acknowledged(local)
    assert local.exec_sessions[0].command == "python manage.py migrate"


async def test_output_without_a_final_newline_and_empty_output(local: LocalECS, task: str) -> None:
    local.script_exec("printf abc", output="abc")
    local.script_exec("true", output="")
    async with local.client() as ecs:
        partial = await ecs.exec_command(cluster="prod", task=task, command="printf abc")
        empty = await ecs.exec_command(cluster="prod", task=task, command="true")
    assert partial == ("abc", 0)
    assert empty == ("", 0)


async def test_hundreds_of_frames_exactly_once_in_order(local: LocalECS, task: str) -> None:
    text = _lines(2000)  # 52 KB in 64-byte frames: over 800 frames
    local.script_exec("cat big.log", output=text, frame_size=64)
    async with local.client() as ecs:
        result = await ecs.exec_command(cluster="prod", task=task, command="cat big.log")
    assert result.output == _crlf(text)
    [record] = local.exec_sessions
    assert record.frames > 800
    _every_frame_acknowledged(local)


@pytest.mark.parametrize(
    "fault",
    [
        {"reorder": True},
        {"duplicate": True},
        {"drop_every": 5},
        {"reorder": True, "duplicate": True, "drop_every": 3},
    ],
    ids=["out-of-order", "duplicated", "lost-then-resent", "all-at-once"],
)
async def test_faulty_channel_still_delivers_each_frame_once_in_order(
    local: LocalECS, task: str, fault: dict[str, object]
) -> None:
    text = _lines(300)
    local.script_exec("cat app.log", output=text, exit_code=0, frame_size=100, **fault)
    async with local.client() as ecs:
        result = await ecs.exec_command(
            cluster="prod", task=task, command="cat app.log", timeout=TIMEOUT
        )
    assert result == (_crlf(text), 0)
    _every_frame_acknowledged(local)
    [record] = local.exec_sessions
    if fault.get("drop_every"):
        assert record.resent >= record.frames // 5  # each lost frame came again
    if fault.get("duplicate") and not fault.get("drop_every"):
        # Every copy is acknowledged, including those of frames already delivered.
        assert record.acknowledgements >= 2 * record.frames


async def test_frames_the_client_does_not_acknowledge_are_resent(
    local: LocalECS, task: str
) -> None:
    """The stand-in resends like the agent: a slow reader holds acknowledgements back (the
    queue between channel and reader is bounded), so frames come again and are skipped."""
    local.script_exec("cat", output=_lines(3000), frame_size=32)
    received = []
    async with (
        local.client() as ecs,
        ecs.exec_session(cluster="prod", task=task, command="cat") as session,
    ):
        async for text in session.output:
            received.append(text)
            if len(received) == 1:
                await asyncio.sleep(0.5)
    assert "".join(received) == _crlf(_lines(3000))
    [record] = local.exec_sessions
    assert record.resent > 0
    _every_frame_acknowledged(local)


async def test_session_type_handshake(local: LocalECS, task: str) -> None:
    local.script_exec("id -u", output="0\n", handshake=True)
    async with local.client() as ecs:
        result = await ecs.exec_command(cluster="prod", task=task, command="id -u")
    assert result == ("0\r\n", 0)
    _every_frame_acknowledged(local)


@pytest.mark.parametrize(
    "fault", [{}, {"reorder": True, "drop_every": 3}], ids=["in-order", "reordered-and-lost"]
)
async def test_kms_encrypted_session(
    local: LocalECS, task: str, monkeypatch: pytest.MonkeyPatch, fault: dict[str, object]
) -> None:
    """The data key from KMS (LocalECS's, with the session's encryption context), the
    encryption challenge, then output frames that are AES-GCM ciphertext on the wire."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", local.endpoint_url)
    text = _lines(200)
    local.script_exec("env", output=text, exit_code=4, kms=True, frame_size=500, **fault)
    async with local.client() as ecs:
        result = await ecs.exec_command(cluster="prod", task=task, command="env", timeout=TIMEOUT)
    assert result == (_crlf(text), 4)
    _every_frame_acknowledged(local)
    assert local.exec_sessions[0].handshake_error is None


async def test_kms_session_without_cryptography_fails_at_once(
    local: LocalECS, task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", local.endpoint_url)
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None)
    local.script_exec("id -u", output="0\n", kms=True)
    async with local.client() as ecs:
        with pytest.raises(ExecNotSupported, match=r"pip install 'aioecs\[kms\]'"):
            await ecs.exec_command(cluster="prod", task=task, command="id -u", timeout=TIMEOUT)


async def test_refused_token(local: LocalECS, task: str) -> None:
    local.script_exec("ls", output="a\n", refuse_token=True)
    async with local.client() as ecs:
        with pytest.raises(ExecChannelClosed, match="refused the session token") as caught:
            await ecs.exec_command(cluster="prod", task=task, command="ls", timeout=TIMEOUT)
    assert caught.value.refused
    assert local.exec_sessions[0].refused


async def test_channel_that_never_closes_meets_the_deadline(local: LocalECS, task: str) -> None:
    local.script_exec("tail -f app.log", output="started\n", never_close=True)
    async with local.client() as ecs:
        with pytest.raises(ExecTimeout, match=r"timeout of 0\.5 s") as caught:
            await ecs.exec_command(cluster="prod", task=task, command="tail -f app.log",
                                   timeout=0.5)  # fmt: skip
    assert isinstance(caught.value, TimeoutError)
    [record] = local.exec_sessions
    await _until(lambda: record.disconnected)
    assert not record.closed


async def test_dropped_channel_is_a_typed_error(local: LocalECS, task: str) -> None:
    local.script_exec("tail -f app.log", output="started\n", never_close=True)
    async with (
        local.client() as ecs,
        ecs.exec_session(cluster="prod", task=task, command="tail -f app.log") as s,
    ):
        with pytest.raises(ExecChannelClosed, match="before the service ended") as caught:
            async for text in s.output:
                assert text == "started\r\n"
                await local.close()  # the service goes away mid-session
    assert not caught.value.refused


async def test_cancelling_closes_the_websocket(local: LocalECS, task: str) -> None:
    local.script_exec("sleep 1000", output="", never_close=True)
    async with local.client() as ecs:
        running = asyncio.ensure_future(
            ecs.exec_command(cluster="prod", task=task, command="sleep 1000")
        )
        await _until(lambda: bool(local.exec_sessions) and local.exec_sessions[0].connected)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    await _until(lambda: local.exec_sessions[0].disconnected)


async def test_streaming_session(local: LocalECS, task: str) -> None:
    local.script_exec(re.compile(r"seq \d+"), output=_lines(50), exit_code=7, frame_size=80)
    async with (
        local.client() as ecs,
        ecs.exec_session(cluster="prod", task=task, command="seq 50") as session,
    ):
        assert session.exit_code is None
        chunks = [text async for text in session.output]
    assert len(chunks) > 10
    assert "".join(chunks) == _crlf(_lines(50))
    assert session.exit_code == 7


async def test_image_without_a_shell(local: LocalECS, task: str) -> None:
    local.script_exec("ls", output="a\n", no_shell=True)
    async with local.client() as ecs:
        result = await ecs.exec_command(cluster="prod", task=task, command="ls")
    assert result.exit_code is None
    assert "/bin/sh: no such file or directory" in result.output


async def test_unscripted_command_is_not_found(local: LocalECS, task: str) -> None:
    async with local.client() as ecs:
        result = await ecs.exec_command(cluster="prod", task=task, command="rm -rf /")
    assert result == ("/bin/sh: 1: rm: not found\r\n", 127)


async def test_execute_command_is_checked_like_ecs(local: LocalECS, task: str) -> None:
    async with local.client() as ecs:
        with pytest.raises(InvalidParameterException, match="Interactive"):
            await ecs.execute_command(cluster="prod", task=task, command="ls", interactive=False)
        with pytest.raises(InvalidParameterException, match="task was not found"):
            await ecs.exec_command(cluster="prod", task="0" * 32, command="ls")
        answer = await ecs.execute_command(cluster="prod", task=task, command="ls",
                                           interactive=True)  # fmt: skip
    assert answer.task_arn == task and answer.interactive
    assert answer.session is not None and answer.session.stream_url is not None
    assert answer.session.stream_url.startswith("ws://127.0.0.1:")


def _execute_command_answer(stream_url: str) -> MockTransport:
    def handler(request: HttpRequest) -> HttpResponse:
        assert request.operation == "ExecuteCommand"
        body = b'{"session": {"sessionId": "s-1", "streamUrl": "%s", "tokenValue": "t"}}'
        return HttpResponse(200, {}, body % stream_url.encode())

    return MockTransport(handler)


@pytest.mark.parametrize("allow_http", [False, True])
async def test_plain_ws_only_to_loopback(allow_http: bool) -> None:
    """Like plain http: the token is the session's credential."""
    async with ECSClient(
        region="us-east-1",
        credentials=Credentials(access_key_id="AKID", secret_access_key="secret"),
        transport=_execute_command_answer("ws://192.0.2.1:9/v1/data-channel/s-1"),
        allow_http=allow_http,
    ) as ecs:
        if allow_http:  # allowed, so it tries to connect (to a documentation address)
            with pytest.raises(ExecError):
                await ecs.exec_command(task="t", command="ls", timeout=0.5)
        else:
            with pytest.raises(ExecError, match=r"refusing the data channel ws://192\.0\.2\.1"):
                await ecs.exec_command(task="t", command="ls")


async def _until(condition: object, limit: float = TIMEOUT) -> None:
    assert callable(condition)
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not condition():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.01)


# -- the command line ---------------------------------------------------------------------


async def _aioecs_exec(local: LocalECS, home: Path, *args: str) -> tuple[int, str, str]:
    env = hermetic_environ(home) | local.endpoint.env()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aioecs.cli", "exec", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_prints_the_output_and_exits_with_the_code(
    local: LocalECS, task: str, tmp_path: Path
) -> None:
    local.script_exec("ls -l '/app dir'", output="total 0\n", exit_code=2)
    code, out, err = await _aioecs_exec(
        local, tmp_path, "--cluster", "prod", "--task", task, "--", "ls", "-l", "/app dir"
    )
    assert (code, out) == (2, "total 0\n"), err


async def test_cli_exec_errors_are_one_line(local: LocalECS, task: str, tmp_path: Path) -> None:
    local.script_exec("ls", refuse_token=True)
    code, out, err = await _aioecs_exec(local, tmp_path, "--cluster", "prod", "--task", task,
                                        "--timeout", "20", "--", "ls")  # fmt: skip
    assert code == 1 and out == ""
    assert err.startswith("error: the data channel closed before any frame came")
    assert "Traceback" not in err


async def test_frames_resent_after_channel_closed_are_still_delivered(
    local: LocalECS, task: str
) -> None:
    text = _lines(100)
    local.script_exec("cat", output=text, frame_size=100, drop_every=4, close_early=True)
    async with local.client() as ecs:
        result = await ecs.exec_command(cluster="prod", task=task, command="cat", timeout=TIMEOUT)
    assert result == (_crlf(text), 0)
    _every_frame_acknowledged(local)


async def test_frames_lost_for_good_are_an_error_not_a_gap(local: LocalECS, task: str) -> None:
    local.script_exec("cat", output=_lines(100), frame_size=100, drop_every=4, close_early=True,
                      resend=False)  # fmt: skip
    async with local.client() as ecs:
        with pytest.raises(ExecChannelClosed, match="output frame 3 never received"):
            await ecs.exec_command(cluster="prod", task=task, command="cat", timeout=TIMEOUT)


# -- wss:// with the client's CA bundle and proxy --------------------------------------------


class _StreamUrlRewriter:
    """A transport (the public seam) that sends to LocalECS and points ExecuteCommand's
    streamUrl at the TLS relay instead."""

    def __init__(self, old: str, new: str) -> None:
        self._inner = AiohttpTransport()
        self._old, self._new = old.encode(), new.encode()

    async def send(self, request: HttpRequest) -> HttpResponse:
        answer = await self._inner.send(request)
        return answer._replace(body=answer.body.replace(self._old, self._new))

    async def close(self) -> None:
        await self._inner.close()


async def _pipe(source: Any, sink: Any) -> None:
    async for message in source:
        if message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)
    await sink.close()


@pytest.fixture
async def wss_relay(local: LocalECS, certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    """wss://127.0.0.1:<port>, with a self-signed certificate, relaying to LocalECS's ws://."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    upstream = local.endpoint_url.replace("http://", "ws://")

    async def relay(request: web.Request) -> web.StreamResponse:
        downstream = web.WebSocketResponse()
        await downstream.prepare(request)
        async with ClientSession() as http, http.ws_connect(upstream + request.path_qs) as up:
            await asyncio.gather(_pipe(downstream, up), _pipe(up, downstream))
        return downstream

    app = web.Application()
    app.router.add_get("/{path:.*}", relay)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        yield f"wss://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _through_relay(local: LocalECS, relay: str, **options: Any) -> ECSClient:
    upstream = local.endpoint_url.replace("http://", "ws://")
    return local.client(transport=_StreamUrlRewriter(upstream, relay), **options)


async def test_wss_trusts_the_clients_ca_bundle(
    local: LocalECS, task: str, wss_relay: str, certificate: tuple[Path, Path]
) -> None:
    local.script_exec("hostname", output="ip-10-0-0-1\n")
    async with _through_relay(local, wss_relay, ca_bundle=str(certificate[0])) as ecs:
        result = await ecs.exec_command(cluster="prod", task=task, command="hostname")
    assert result == ("ip-10-0-0-1\r\n", 0)


async def test_wss_refuses_an_untrusted_certificate(
    local: LocalECS, task: str, wss_relay: str
) -> None:
    async with _through_relay(local, wss_relay) as ecs:
        with pytest.raises(ExecChannelClosed, match="could not open the data channel to wss://"):
            await ecs.exec_command(cluster="prod", task=task, command="hostname", timeout=TIMEOUT)


@pytest.fixture
async def connect_proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """An HTTP CONNECT proxy on loopback; yields its URL and the CONNECT lines it served."""
    seen: list[str] = []

    async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def tunnel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        line = head.split(b"\r\n", 1)[0].decode()
        seen.append(line)
        host, port = line.split()[1].rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer),
                             return_exceptions=True)  # fmt: skip

    server = await asyncio.start_server(tunnel, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen
    finally:
        server.close()


async def test_wss_goes_through_the_https_proxy(
    local: LocalECS,
    task: str,
    wss_relay: str,
    certificate: tuple[Path, Path],
    connect_proxy: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the client's https requests do (HTTPS_PROXY, unless NO_PROXY matches)."""
    proxy, seen = connect_proxy
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    local.script_exec("hostname", output="ip-10-0-0-1\n")
    async with _through_relay(local, wss_relay, ca_bundle=str(certificate[0])) as ecs:
        result = await ecs.exec_command(cluster="prod", task=task, command="hostname")
    assert result == ("ip-10-0-0-1\r\n", 0)
    assert seen == [f"CONNECT {wss_relay.removeprefix('wss://')} HTTP/1.1"]


async def test_cli_exits_255_when_the_exit_code_is_unknown(
    local: LocalECS, task: str, tmp_path: Path
) -> None:
    local.script_exec("ls", output="a\n", no_shell=True)
    code, out, err = await _aioecs_exec(local, tmp_path, "--cluster", "prod", "--task", task,
                                        "--", "ls")  # fmt: skip
    assert code == 255
    assert "/bin/sh: no such file or directory" in out
    assert "exit code is unknown" in err


async def test_a_corrupt_frame_is_a_protocol_error(local: LocalECS, task: str) -> None:
    local.script_exec("ls", output="a\n", corrupt=True)
    async with local.client() as ecs:
        with pytest.raises(ExecProtocolError, match="SHA-256 does not match PayloadDigest"):
            await ecs.exec_command(cluster="prod", task=task, command="ls", timeout=TIMEOUT)
    await _until(lambda: local.exec_sessions[0].disconnected)


async def test_the_deadline_covers_execute_command(local: LocalECS, task: str) -> None:
    local.latency_ms = 5000  # ECS slow to answer ExecuteCommand
    async with local.client() as ecs:
        with pytest.raises(ExecTimeout):
            await ecs.exec_command(cluster="prod", task=task, command="ls", timeout=0.2)


async def test_output_is_read_once_and_only_inside_the_block(local: LocalECS, task: str) -> None:
    local.script_exec("ls", output="a\n")
    async with local.client() as ecs:
        session = ecs.exec_session(cluster="prod", task=task, command="ls")
        with pytest.raises(RuntimeError, match="async with"):
            session.output  # noqa: B018
        async with session:
            assert [text async for text in session.output] == ["a\r\n"]
            with pytest.raises(RuntimeError, match="only once"):
                session.output  # noqa: B018
    assert session.exit_code == 0
