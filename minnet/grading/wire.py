"""Messages between the grader's processes: a small JSON header and plain numpy arrays.

An array travels as its raw bytes, with its dtype and shape in the header, and is read back
only if that dtype holds real numbers (bool, int, float): whatever a student's process sends
can only ever become numbers and JSON in the process that reads it, never an object of the
sender's making. A message has a size limit, so an answer cannot fill the reader's memory.
"""

from __future__ import annotations

import json
import math
from typing import BinaryIO

import numpy as np

LIMIT = 2**28  # bytes in one message (256 MiB)
NUMBERS = "biuf"  # dtype kinds an array may have: bool, int, unsigned int, float


class WireError(BaseException):
    """The other side sent something that is not a message.

    A BaseException, as the grader's other interruptions (process.ChildGone, remote.Late):
    it must pass through the `except Exception` with which the gradient checker guards a
    student's code, and end the part."""


def send(stream: BinaryIO, header: dict, arrays: list[np.ndarray] = ()) -> None:
    write(stream, pack(header, arrays))


def pack(header: dict, arrays: list[np.ndarray] = ()) -> bytes:
    """A message as bytes; raises TypeError if an array does not hold real numbers."""
    arrays = [np.asarray(a) for a in arrays]
    for a in arrays:
        if a.dtype.kind not in NUMBERS:
            raise TypeError(f"an array of {a.dtype} is not an array of numbers")
    head = json.dumps({**header, "arrays": [[a.dtype.str, a.shape] for a in arrays]}).encode()
    return b"".join([len(head).to_bytes(4, "little"), head, *(a.tobytes("C") for a in arrays)])


def write(stream: BinaryIO, body: bytes) -> None:
    stream.write(len(body).to_bytes(8, "little") + body)  # one write: one wake-up of the reader
    stream.flush()


def receive(stream: BinaryIO, limit: int = LIMIT) -> tuple[dict, list[np.ndarray]]:
    """The next message: (header, arrays). EOFError when the other side has closed."""
    size = int.from_bytes(_exactly(stream, 8, eof_ok=True), "little")
    if size > limit:
        raise WireError(f"a message of {size:,} bytes, over the limit of {limit:,}")
    body = memoryview(_exactly(stream, size))
    try:
        n = int.from_bytes(body[:4], "little")
        head = json.loads(bytes(body[4:4 + n]))
        arrays, at = [], 4 + n
        for descr, shape in head.pop("arrays"):
            dtype = np.dtype(descr)
            if dtype.kind not in NUMBERS:
                raise ValueError(f"dtype {dtype}")
            count = math.prod(shape)
            if not all(isinstance(s, int) and s >= 0 for s in shape) \
                    or at + count * dtype.itemsize > size:
                raise ValueError(f"shape {shape}")
            arrays.append(np.frombuffer(body, dtype, count, at).reshape(shape).copy())
            at += count * dtype.itemsize
    except Exception as e:  # anything malformed, whoever wrote it
        raise WireError(f"not a message ({type(e).__name__}: {e})") from None
    return head, arrays


def _exactly(stream: BinaryIO, n: int, eof_ok: bool = False) -> bytes:
    data = stream.read(n)
    if eof_ok and not data:
        raise EOFError("the other process closed its end")
    if data is None or len(data) != n:
        raise WireError(f"the message stopped after {len(data or b'')} of {n} bytes")
    return data


def write_into(d: dict, names: list[str], arrays: list[np.ndarray]) -> None:
    """d[name] = array for each name: in place when d holds an array of that shape and dtype,
    so that whoever keeps a reference to it sees the new values."""
    for name, value in zip(names, arrays):
        old = d.get(name)
        if isinstance(old, np.ndarray) and old.shape == value.shape \
                and old.dtype == value.dtype and old.flags.writeable:
            old[...] = value
        else:
            d[name] = value


def encode(value, arrays: list):
    """value as JSON, each array in it replaced by {"array": i}, i its place in `arrays`."""
    if isinstance(value, np.ndarray):
        arrays.append(value)
        return {"array": len(arrays) - 1}
    if isinstance(value, (list, tuple)):
        return [encode(v, arrays) for v in value]
    if isinstance(value, dict):
        return {"dict": {k: encode(v, arrays) for k, v in value.items()}}
    return value


def decode(value, arrays: list):
    if isinstance(value, list):
        return [decode(v, arrays) for v in value]
    if isinstance(value, dict):
        if "array" in value:
            return arrays[value["array"]]
        return {k: decode(v, arrays) for k, v in value["dict"].items()}
    return value
