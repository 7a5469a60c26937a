"""Child process for benchmark 1: runs only the envelope work and the libsodium ceiling.

    python -m bench.envelope_child SOURCE WORKDIR ROUNDS

Prints one JSON object. Peak memory: VmHWM is reset (/proc/self/clear_refs) right before the
first encryption and read right after it, and again around the first decryption, so the growth
is that of the envelope code alone; the ceiling runs only afterwards (it needs a big buffer).
The ceiling is libsodium's secretstream called through PyNaCl's cffi handle on preallocated
buffers: 64 KiB chunks, no allocation, no I/O, the same process and the same data size.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import nacl.bindings as sodium
import nacl.public
from nacl._sodium import ffi, lib  # the cffi handle PyNaCl itself uses

from bench.common import proc_status, reset_hwm
from keys import envelope

CHUNK = envelope.CHUNK_SIZE
ABYTES = envelope.ABYTES
TAG_MESSAGE = envelope.TAG_MESSAGE
TAG_FINAL = envelope.TAG_FINAL


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class Clock:
    """Wall and CPU seconds of a block (CPU time is less disturbed by other load)."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def ceiling(size: int) -> tuple[Clock, Clock]:
    """Time to push then pull `size` bytes as 64 KiB secretstream messages, in memory."""
    chunks = size // CHUNK  # the data sizes used are whole numbers of chunks
    key = os.urandom(32)
    statebytes = lib.crypto_secretstream_xchacha20poly1305_statebytes()
    push_state = ffi.new("unsigned char[]", statebytes)
    pull_state = ffi.new("unsigned char[]", statebytes)
    header = ffi.new("unsigned char[]", sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES)
    message = ffi.from_buffer("unsigned char[]", bytearray(os.urandom(CHUNK)))
    sealed_buffer = bytearray(chunks * (CHUNK + ABYTES))
    sealed = ffi.from_buffer("unsigned char[]", sealed_buffer)
    plain = ffi.new("unsigned char[]", CHUNK)
    tag = ffi.new("unsigned char *")
    step = CHUNK + ABYTES
    push = lib.crypto_secretstream_xchacha20poly1305_push
    pull = lib.crypto_secretstream_xchacha20poly1305_pull
    null = ffi.NULL

    with Clock() as push_clock:
        lib.crypto_secretstream_xchacha20poly1305_init_push(push_state, header, key)
        for index in range(chunks):
            flag = TAG_FINAL if index == chunks - 1 else TAG_MESSAGE
            if push(push_state, sealed + index * step, null, message, CHUNK, null, 0, flag) != 0:
                raise RuntimeError("push failed")
    with Clock() as pull_clock:
        lib.crypto_secretstream_xchacha20poly1305_init_pull(pull_state, header, key)
        for index in range(chunks):
            if pull(pull_state, plain, null, tag, sealed + index * step, step, null, 0) != 0:
                raise RuntimeError("pull failed")
    if tag[0] != TAG_FINAL:
        raise RuntimeError("ceiling stream did not end with the final tag")
    return push_clock, pull_clock


def binding_push(size: int) -> Clock:
    """The same pushes through PyNaCl's Python binding (one new bytes object per chunk)."""
    chunks = size // CHUNK
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_push(state, os.urandom(32))
    message = os.urandom(CHUNK)
    with Clock() as clock:
        for index in range(chunks):
            flag = TAG_FINAL if index == chunks - 1 else TAG_MESSAGE
            sodium.crypto_secretstream_xchacha20poly1305_push(state, message, None, flag)
    return clock


def plain_copy(source: Path, target: Path) -> Clock:
    """The file I/O alone, as the envelope code does it: 1 MiB reads into one buffer and 1 MiB
    writes to a new file. With the ceiling, the floor of any file-to-file run."""
    buffer = bytearray(envelope.streaming.BATCH_PLAIN)
    target.unlink(missing_ok=True)
    with Clock() as clock, source.open("rb") as src, target.open("wb") as out:
        while got := src.readinto(buffer):
            out.write(memoryview(buffer)[:got])
    target.unlink()
    return clock


def main() -> int:
    source, work, rounds = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    size = source.stat().st_size
    identity = nacl.public.PrivateKey.generate()
    recipient = identity.public_key
    sealed_path = work / "sealed.env"
    plain_path = work / "plain.out"
    result: dict[str, object] = {"size": size, "rounds": rounds}
    series: dict[str, list[tuple[float, float]]] = {
        name: [] for name in ("encrypt", "decrypt", "push", "pull", "binding_push", "copy")
    }
    # Everything imported and allocated before the first measurement.
    envelope.encrypt_bytes(b"warm-up", [recipient])
    for index in range(rounds):
        for path in (sealed_path, plain_path):
            path.unlink(missing_ok=True)
        # Ours, then the ceiling, in every round: both see the same machine, round by round.
        before = proc_status()
        hwm_reset = reset_hwm()
        base = proc_status()["VmHWM"] if hwm_reset else before["VmHWM"]
        with Clock() as clock, source.open("rb") as src, sealed_path.open("wb") as out:
            envelope.encrypt(src, out, [recipient])
        series["encrypt"].append((clock.wall, clock.cpu))
        after = proc_status()
        if index == 0:
            result["encrypt_hwm_growth"] = max(0, after["VmHWM"] - base)  # counters are lazy
            result["hwm_reset"] = hwm_reset
            result["rss_before"] = before["VmRSS"]
            reset_hwm()
            base = proc_status()["VmHWM"] if hwm_reset else after["VmHWM"]
        with Clock() as clock, sealed_path.open("rb") as src, plain_path.open("wb") as out:
            envelope.decrypt(src, out, [identity])
        series["decrypt"].append((clock.wall, clock.cpu))
        if index == 0:
            result["decrypt_hwm_growth"] = max(0, proc_status()["VmHWM"] - base)
            result["sealed_size"] = sealed_path.stat().st_size
            result["roundtrip_ok"] = _sha256(source) == _sha256(plain_path)
        for path in (sealed_path, plain_path):
            path.unlink(missing_ok=True)
        push, pull = ceiling(size)
        series["push"].append((push.wall, push.cpu))
        series["pull"].append((pull.wall, pull.cpu))
        binding = binding_push(size)
        series["binding_push"].append((binding.wall, binding.cpu))
        copy = plain_copy(source, plain_path)
        series["copy"].append((copy.wall, copy.cpu))
    result.update(series)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
