"""The one channel between the grader and its worker: framed, bounded messages on pipes.

The grader creates every pipe and holds the other end of each; nothing reaches it through
the file system, so nothing the worker names (a path, a symlink, a FIFO, a device) is ever
opened by the grader's own process.

- **requests**, grader -> worker (the worker's stdin): one line per case,
  ``{"case": id, "nonce": n}``, sent only when the grader is ready to time that case.
- **replies**, worker -> grader (a pipe whose write end the worker gets as fd ``REPLY_FD``):
  one frame per message. A frame is ``MAGIC``, the length of a JSON head and the length of
  a payload (big-endian uint32 each), the head, then the payload: the arrays of the head's
  ``arrays`` list (``[name, dtype, shape]``), raw and C-ordered, one after the other.
  The first frame is ``{"kind": "hello", "note": ...}`` (what the worker applied, sent
  before any student code is imported); then ``{"kind": "result", "case", "nonce",
  "error", "bad_outputs", "arrays"}`` for each request.
- **log** (the worker's stdout and stderr): a pipe of which the grader keeps the last
  ``LOG_TAIL`` bytes.

Student code runs in the worker's process and may write on the reply pipe too. The grader
therefore bounds every frame before reading it (``Reader``), accepts a result only for the
case it asked for last and with that request's nonce, and discards every other frame; a
frame it cannot parse ends the worker, charged to the case that was running. Each array is
checked against its declared dtype and shape (``decode_arrays``): no pickle, no zip, no
allocation larger than the bytes that arrived.

This module imports only the standard library at the top: the worker loads it (by path)
before numpy.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct

MAGIC = b"CS2G"
HEADER = struct.Struct(">4sII")  # magic, head length, payload length
MAX_HEAD_BYTES = 64 * 2**10  # a result's head: an error message and a few names
REPLY_FD = 3  # the reply pipe's write end, in the worker
LOG_TAIL = 4096  # bytes of the worker's stdout and stderr that the grader keeps
MAX_DIMS = 16
DTYPE = re.compile(r"[<>|=][biuf][1248]")  # numeric, no structure, no objects


class ProtocolError(ValueError):
    """The reply pipe carried something that is not a bounded frame."""


# ---------------------------------------------------------------------------- worker side


def send(fd: int, head: dict, arrays: dict | None = None) -> None:
    """Write one frame on ``fd``: ``head`` (JSON) and ``arrays`` (numpy arrays by name)."""
    arrays = arrays or {}
    parts = [a.tobytes(order="C") for a in arrays.values()]
    head = {**head, "arrays": [[k, a.dtype.str, list(a.shape)] for k, a in arrays.items()]}
    text = json.dumps(head).encode()
    payload = b"".join(parts)
    data = HEADER.pack(MAGIC, len(text), len(payload)) + text + payload
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def requests(fd: int):
    """The requests read from ``fd`` (a pipe), one dict per line, until the pipe closes."""
    buffer = b""
    while True:
        while b"\n" not in buffer:
            chunk = os.read(fd, 4096)
            if not chunk:
                return
            buffer += chunk
        line, buffer = buffer.split(b"\n", 1)
        yield json.loads(line)


# ---------------------------------------------------------------------------- grader side


def request(fd: int, case: str, nonce: int) -> None:
    """Ask the worker for ``case`` (a short line: a pipe write this small is atomic)."""
    os.write(fd, json.dumps({"case": case, "nonce": nonce}).encode() + b"\n")


class Reader:
    """Frames out of the bytes of the reply pipe, each bounded before it is read.

    ``feed`` keeps at most one frame's bytes: a head of at most ``MAX_HEAD_BYTES`` and a
    payload of at most ``max_payload`` (set by the grader for the case it is waiting for).
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.max_payload = 0

    def want(self) -> int:
        """How many bytes the frame being read still lacks (at least 1)."""
        if len(self.buffer) < HEADER.size:
            return HEADER.size - len(self.buffer)
        _, head, payload = HEADER.unpack_from(self.buffer)
        return max(1, HEADER.size + head + payload - len(self.buffer))

    def feed(self, data: bytes) -> list[tuple[dict, bytes]]:
        """Add ``data`` (no more than ``want()`` bytes); return the frames now complete."""
        self.buffer += data
        frames = []
        while len(self.buffer) >= HEADER.size:
            magic, head_len, payload_len = HEADER.unpack_from(self.buffer)
            if magic != MAGIC:
                raise ProtocolError("its reply is not a frame of the grader's protocol")
            if head_len > MAX_HEAD_BYTES or payload_len > self.max_payload:
                size = HEADER.size + head_len + payload_len
                limit = HEADER.size + MAX_HEAD_BYTES + self.max_payload
                raise ProtocolError(f"its reply of {size} bytes is larger than {limit} bytes")
            end = HEADER.size + head_len + payload_len
            if len(self.buffer) < end:
                break
            head = _head(bytes(self.buffer[HEADER.size : HEADER.size + head_len]))
            frames.append((head, bytes(self.buffer[HEADER.size + head_len : end])))
            del self.buffer[:end]
        return frames


def _head(text: bytes) -> dict:
    try:
        head = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"its reply's head is not JSON ({type(exc).__name__})") from None
    if not isinstance(head, dict):
        raise ProtocolError("its reply's head is not a JSON object")
    return head


def decode_arrays(head: dict, payload: bytes) -> dict:
    """The arrays a result frame declares, each checked against the payload's bytes."""
    import numpy as np

    declared = head.get("arrays")
    if not isinstance(declared, list):
        raise ProtocolError("its reply declares no list of arrays")
    arrays, offset = {}, 0
    for entry in declared:
        name, dtype, shape = _array_entry(entry)
        count = math.prod(shape)  # exact: no overflow, however large the claim
        size = count * dtype.itemsize
        if size > len(payload) - offset:
            raise ProtocolError(f"its reply declares more bytes than it holds (output {name})")
        arrays[name] = np.frombuffer(payload, dtype, count, offset).reshape(shape)
        offset += size
    if offset != len(payload):
        raise ProtocolError("its reply holds bytes that no array declares")
    return arrays


def _array_entry(entry: object) -> tuple:
    import numpy as np

    ok = isinstance(entry, list) and len(entry) == 3
    name, dtype, shape = entry if ok else (None, None, None)
    ok = ok and isinstance(name, str) and len(name) <= 100
    ok = ok and isinstance(dtype, str) and DTYPE.fullmatch(dtype) is not None
    ok = ok and isinstance(shape, list) and len(shape) <= MAX_DIMS
    ok = ok and all(type(n) is int and 0 <= n < 2**40 for n in shape)
    if not ok:
        raise ProtocolError("its reply declares an array badly (name, numeric dtype, shape)")
    return name, np.dtype(dtype), tuple(shape)
