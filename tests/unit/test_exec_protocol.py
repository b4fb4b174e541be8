"""ECS Exec's wire format and the text around the command, without a server.

The codec's fixed values are those of aws/session-manager-plugin's own Go tests
(`src/message/messageparser_test.go`: messageId `dd01e56b-ff48-483e-a508-b5f073f31b16`,
createdDate 1503434274948, payload "payload", sequence 1, flags 2).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import pickle
import shlex
import struct
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aioecs import _agentmessage as am
from aioecs._exec import _Marker, wrap_command
from aioecs._exec_kms import SessionCipher, _data_key, target_id
from aioecs.errors import ExecChannelClosed, ExecError, ExecProtocolError, ExecTimeout

MESSAGE_ID = uuid.UUID("dd01e56b-ff48-483e-a508-b5f073f31b16")
CREATED = 1503434274948
PAYLOAD = b"payload"


def _go_test_message() -> am.AgentMessage:
    """TestSerializeAndDeserializeClientMessage's ClientMessage."""
    return am.AgentMessage(
        "input_stream_data",
        1,
        PAYLOAD,
        flags=2,
        message_id=MESSAGE_ID,
        created_date=CREATED,
        schema_version=1,
    )


def test_the_plugin_test_message_byte_by_byte() -> None:
    frame = am.encode(_go_test_message())
    assert len(frame) == 120 + len(PAYLOAD)
    assert frame[0:4] == (116).to_bytes(4, "big")
    assert frame[4:36] == b"input_stream_data".ljust(32, b" ")
    assert frame[36:40] == (1).to_bytes(4, "big")
    assert frame[40:48] == CREATED.to_bytes(8, "big") == bytes.fromhex("0000015e0baa7884")
    assert frame[48:56] == (1).to_bytes(8, "big")
    assert frame[56:64] == (2).to_bytes(8, "big")
    # putUuid: the least significant half first, then the most significant.
    assert frame[64:80] == bytes.fromhex("a508b5f073f31b16dd01e56bff48483e")
    assert frame[80:112] == hashlib.sha256(PAYLOAD).digest()
    assert frame[112:116] == (0).to_bytes(4, "big")
    assert frame[116:120] == len(PAYLOAD).to_bytes(4, "big")
    assert frame[120:] == PAYLOAD


def test_the_plugin_test_message_reads_back() -> None:
    message = am.decode(am.encode(_go_test_message()))
    assert message == _go_test_message()
    assert str(message.message_id) == "dd01e56b-ff48-483e-a508-b5f073f31b16"


def test_message_type_trims_nuls_and_spaces() -> None:
    frame = bytearray(am.encode(_go_test_message()))
    frame[4:36] = b"\x00output_stream_data".ljust(32, b"\x00")
    assert am.decode(bytes(frame)).message_type == "output_stream_data"


def test_acknowledgement_as_the_plugin_sends_it() -> None:
    """SerializeClientMessageWithAcknowledgeContent: type acknowledge, seq 0, flags 3."""
    acked = am.AgentMessage("output_stream_data", 2, b"x", 1, message_id=MESSAGE_ID)
    ack = am.decode(am.acknowledgement(acked))
    assert (ack.message_type, ack.sequence_number, ack.flags) == ("acknowledge", 0, 3)
    assert ack.created_date > 0 and ack.message_id.int != 0
    assert json.loads(ack.payload) == {
        "AcknowledgedMessageType": "output_stream_data",
        "AcknowledgedMessageId": "dd01e56b-ff48-483e-a508-b5f073f31b16",
        "AcknowledgedMessageSequenceNumber": 2,
        "IsSequentialMessage": True,
    }


def _corrupt(offset: int, value: bytes) -> bytes:
    frame = bytearray(am.encode(_go_test_message()))
    frame[offset : offset + len(value)] = value
    return bytes(frame)


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        (_corrupt(120, b"PAYLOAD"), "SHA-256 does not match"),
        (_corrupt(40, bytes(8)), "CreatedDate is missing"),
        (_corrupt(4, b" " * 32), "MessageType is missing"),
        (_corrupt(0, bytes(4)), "HeaderLength 0"),
        (_corrupt(0, struct.pack(">I", 4000)), "HeaderLength 4000"),
        (_corrupt(116, struct.pack(">I", 8)), "PayloadLength 8 but 7 bytes"),
        (am.encode(_go_test_message())[:119], "shorter than a 120-byte header"),
    ],
)
def test_invalid_frames_are_refused_saying_why(frame: bytes, says: str) -> None:
    with pytest.raises(ExecProtocolError, match=says) as caught:
        am.decode(frame)
    assert isinstance(caught.value, ExecError)


def test_publication_messages_pass_whatever_their_header() -> None:
    """The plugin's Validate lets start_publication and pause_publication through."""
    frame = _corrupt(4, b"pause_publication".ljust(32, b" "))
    frame = frame[:40] + bytes(8) + frame[48:]
    assert am.decode(frame).message_type == "pause_publication"


@given(
    message_type=st.sampled_from([t.value for t in am.MessageType]),
    seq=st.integers(-(2**63), 2**63 - 1),
    payload=st.binary(max_size=3000),
    payload_type=st.integers(0, 2**32 - 1),
    flags=st.integers(0, 2**64 - 1),
    message_id=st.uuids(),
    created=st.integers(1, 2**64 - 1),
    schema=st.integers(0, 2**32 - 1),
)
def test_round_trip(
    message_type: str,
    seq: int,
    payload: bytes,
    payload_type: int,
    flags: int,
    message_id: uuid.UUID,
    created: int,
    schema: int,
) -> None:
    message = am.AgentMessage(
        message_type, seq, payload, payload_type, flags, message_id, created, schema
    )
    if message_type in ("start_publication", "pause_publication"):
        message = message._replace(payload=b"", message_id=uuid.UUID(int=0), created_date=0)
        message = message._replace(schema_version=1)
        assert am.decode(am.encode(message))[:5] == message[:5]
    else:
        assert am.decode(am.encode(message)) == message


# -- the marker that carries the exit code ----------------------------------------------------


def _terminal(text: str) -> str:
    return text.replace("\n", "\r\n")


def _printed(output: str, token: str, status: int) -> str:
    """What the wrapped command prints under a PTY: the output, then the marker line."""
    return _terminal(f"{output}\n__aioecs_{token}:{status}\n")


def _through(marker: _Marker, chunks: list[str]) -> str:
    return "".join(marker.feed(chunk) for chunk in chunks) + marker.finish()


@given(
    # Pieces of the marker (the token one character short: a random token cannot be guessed
    # by the output), so that near misses split across frames are tried too.
    output=st.lists(
        st.sampled_from(["\n", "\r", "__aioecs_", "0123456789abcde", ":", "7", "a b"]),
        max_size=12,
    ).map("".join),
    status=st.integers(0, 255),
    cuts=st.lists(st.integers(0, 200), max_size=8),
)
def test_marker_is_taken_out_wherever_the_frames_split(
    output: str, status: int, cuts: list[int]
) -> None:
    token = "0123456789abcdef"
    printed = _printed(output, token, status)
    bounds = sorted({0, len(printed), *(c for c in cuts if c < len(printed))})
    chunks = [printed[a:b] for a, b in itertools.pairwise(bounds)]
    marker = _Marker(token)
    assert _through(marker, chunks) == _terminal(output)
    assert marker.exit_code == status


def test_no_marker_means_no_exit_code() -> None:
    marker = _Marker("0123456789abcdef")
    text = "Unable to start command: fork/exec /bin/sh: no such file or directory\r\n"
    assert _through(marker, [text[:30], text[30:]]) == text
    assert marker.exit_code is None and marker.shell_missing


def test_text_like_the_marker_with_another_token_stays() -> None:
    marker = _Marker("0123456789abcdef")
    other = "\r\n__aioecs_ffffffffffffffff:0\r\n"
    assert _through(marker, [other, _printed("", "0123456789abcdef", 4)]) == other
    assert marker.exit_code == 4


@given(st.text(min_size=1, max_size=80).filter(lambda s: "\x00" not in s))
def test_the_wrapped_command_splits_back_as_the_agent_and_sh_split_it(command: str) -> None:
    """The agent splits the command (google/shlex, POSIX rules); /bin/sh reads the script."""
    argv = shlex.split(wrap_command(command, "0123456789abcdef"))
    assert argv[:2] == ["/bin/sh", "-c"] and len(argv) == 3
    script = shlex.split(argv[2])
    assert script[:3] == ["/bin/sh", "-c", command]
    assert script[3:] == ["printf", "\\n%s%s:%s\\n", "__aioecs_", "0123456789abcdef", "$?"]
    assert "__aioecs_0123456789abcdef" not in wrap_command(command, "0123456789abcdef")


def test_exec_errors_pickle_with_their_attributes() -> None:
    closed = pickle.loads(pickle.dumps(ExecChannelClosed("refused", refused=True)))
    assert (str(closed), closed.refused) == ("refused", True)
    timeout = pickle.loads(pickle.dumps(ExecTimeout("late")))
    assert isinstance(timeout, TimeoutError) and str(timeout) == "late"


# -- KMS-encrypted sessions -------------------------------------------------------------------


def test_kms_target_is_the_cli_s_ecs_target() -> None:
    assert (
        target_id(
            "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
            "arn:aws:ecs:eu-west-1:123456789012:task/prod/0f9c3b1e0a1b4c2d",
            "0f9c3b1e0a1b4c2d-265927825",
        )
        == "ecs:prod_0f9c3b1e0a1b4c2d_0f9c3b1e0a1b4c2d-265927825"
    )


def test_session_cipher_halves_mirror_the_agent_s() -> None:
    """The client decrypts with the first half and encrypts with the second; the agent, the
    other way round: a cipher on the swapped key stands for the agent."""
    key = bytes(range(64))
    client, agent = SessionCipher(key, b"blob"), SessionCipher(key[32:] + key[:32], b"blob")
    sealed = agent.encrypt(b"output")
    assert len(sealed) == 12 + len(b"output") + 16  # nonce, ciphertext, GCM tag
    assert client.decrypt(sealed) == b"output"
    assert agent.decrypt(client.encrypt(b"challenge")) == b"challenge"
    with pytest.raises(ExecProtocolError, match="AES-GCM"):
        client.decrypt(client.encrypt(b"not for me"))


@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (400, b'{"__type": "AccessDeniedException", "message": "no"}', "AccessDeniedException no"),
        (500, b"<html>", "HTTP 500"),
        (200, b'{"KeyId": "k"}', "without a data key"),
    ],
)
def test_kms_failures_are_exec_errors(status: int, body: bytes, says: str) -> None:
    with pytest.raises(ExecError, match=says):
        _data_key(status, body)
