"""The Session Manager AgentMessage: the binary frame of ECS Exec's data channel.

Layout, big-endian, as aws/session-manager-plugin's `src/message/messageparser.go` writes and
reads it (and aws/amazon-ssm-agent's `agent/session/contracts/agentmessage.go`):

    offset  size  field
         0     4  HeaderLength    u32, written as 116: the offset of PayloadLength
         4    32  MessageType     UTF-8, space padded (NULs and spaces trimmed on reading)
        36     4  SchemaVersion   u32
        40     8  CreatedDate     u64, epoch milliseconds, never 0
        48     8  SequenceNumber  i64
        56     8  Flags           u64: SYN 1, FIN 2
        64    16  MessageId       a UUID with its two 8-byte halves swapped
        80    32  PayloadDigest   SHA-256 of the payload
       112     4  PayloadType     u32
       116     4  PayloadLength   u32
       120     *  Payload         starts at HeaderLength + 4
"""

from __future__ import annotations

import enum
import hashlib
import json
import struct
import time
import uuid
from typing import Any, NamedTuple

from ._exceptions import ExecProtocolError

__all__ = [
    "HEADER_LENGTH",
    "AgentMessage",
    "MessageType",
    "PayloadType",
    "acknowledgement",
    "decode",
    "encode",
]

HEADER_LENGTH = 116
_HEADER = struct.Struct(">I32sIQqQ16s32sII")  # through PayloadLength: 120 bytes
_TYPE_LENGTH = 32


class MessageType(str, enum.Enum):
    INPUT_STREAM_DATA = "input_stream_data"
    OUTPUT_STREAM_DATA = "output_stream_data"
    ACKNOWLEDGE = "acknowledge"
    CHANNEL_CLOSED = "channel_closed"
    START_PUBLICATION = "start_publication"
    PAUSE_PUBLICATION = "pause_publication"


class PayloadType(enum.IntEnum):
    OUTPUT = 1
    ERROR = 2
    SIZE = 3
    PARAMETER = 4
    HANDSHAKE_REQUEST = 5
    HANDSHAKE_RESPONSE = 6
    HANDSHAKE_COMPLETE = 7
    ENC_CHALLENGE_REQUEST = 8
    ENC_CHALLENGE_RESPONSE = 9
    FLAG = 10
    STDERR = 11
    EXIT_CODE = 12


class AgentMessage(NamedTuple):
    """One frame. `message_type` is a str: a peer may send types this module does not name."""

    message_type: str
    sequence_number: int
    payload: bytes = b""
    payload_type: int = 0
    flags: int = 0
    message_id: uuid.UUID = uuid.UUID(int=0)
    created_date: int = 0
    schema_version: int = 1

    def json(self) -> Any:
        """The payload as JSON (acknowledgements, channel_closed, handshakes)."""
        try:
            return json.loads(self.payload)
        except ValueError:
            raise ExecProtocolError(
                f"{self.message_type} frame {self.sequence_number}: payload is not JSON"
            ) from None


def _swap_halves(raw: bytes) -> bytes:
    # The Java-born wire format writes the UUID's least significant long first.
    return raw[8:] + raw[:8]


def encode(message: AgentMessage) -> bytes:
    """The frame's bytes; `message_id` nil gets a fresh UUID, `created_date` 0 the time now."""
    kind = message.message_type.encode()
    if len(kind) > _TYPE_LENGTH:
        raise ValueError(f"message type longer than {_TYPE_LENGTH} bytes: {kind!r}")
    message_id = message.message_id if message.message_id.int else uuid.uuid4()
    payload = message.payload
    header = _HEADER.pack(
        HEADER_LENGTH,
        kind.ljust(_TYPE_LENGTH, b" "),
        message.schema_version,
        message.created_date or int(time.time() * 1000),
        message.sequence_number,
        message.flags,
        _swap_halves(message_id.bytes),
        hashlib.sha256(payload).digest(),
        message.payload_type,
        len(payload),
    )
    return header + payload


def decode(frame: bytes) -> AgentMessage:
    """The frame as an `AgentMessage`, checked as the plugin's `Validate` checks it (and the
    lengths besides); a frame that fails is an `ExecProtocolError` naming what is wrong."""
    if len(frame) < _HEADER.size:
        raise ExecProtocolError(f"frame of {len(frame)} bytes: shorter than a 120-byte header")
    (header_length, kind, schema, created, seq, flags, raw_id, digest, payload_type, length) = (
        _HEADER.unpack_from(frame)
    )
    message_type = kind.strip(b"\x00").strip().decode("utf-8", "replace")
    where = f"{message_type or '<no type>'} frame {seq}"
    if message_type in (MessageType.START_PUBLICATION, MessageType.PAUSE_PUBLICATION):
        # The plugin accepts these whatever their header says.
        return AgentMessage(message_type, seq, b"", payload_type, flags)
    if header_length == 0 or header_length + 4 > len(frame):
        raise ExecProtocolError(f"{where}: HeaderLength {header_length} is not within the frame")
    if not message_type:
        raise ExecProtocolError(f"frame {seq}: MessageType is missing")
    if created == 0:
        raise ExecProtocolError(f"{where}: CreatedDate is missing")
    payload = frame[header_length + 4 :]
    if length != len(payload):
        raise ExecProtocolError(
            f"{where}: PayloadLength {length} but {len(payload)} bytes of payload"
        )
    if length and hashlib.sha256(payload).digest() != digest:
        raise ExecProtocolError(f"{where}: the payload's SHA-256 does not match PayloadDigest")
    message_id = uuid.UUID(bytes=_swap_halves(raw_id))
    return AgentMessage(
        message_type, seq, payload, payload_type, flags, message_id, created, schema
    )


def acknowledgement(message: AgentMessage) -> bytes:
    """The `acknowledge` frame for a stream data frame, as the plugin's
    `SendAcknowledgeMessage` builds it: sequence 0, flags 3 (SYN|FIN), a JSON payload."""
    content = {
        "AcknowledgedMessageType": message.message_type,
        "AcknowledgedMessageId": str(message.message_id),
        "AcknowledgedMessageSequenceNumber": message.sequence_number,
        "IsSequentialMessage": True,
    }
    payload = json.dumps(content, separators=(",", ":")).encode()
    return encode(AgentMessage(MessageType.ACKNOWLEDGE.value, 0, payload, flags=3))
