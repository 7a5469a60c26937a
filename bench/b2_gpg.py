"""2. The peer's approach (SecureDrop's): gzip, then OpenPGP encryption with `gpg` from Debian.

Same incompressible data and disk as benchmark 1. The peer pipeline is `gzip -c -6 | gpg
--encrypt -r KEY` to a freshly generated RSA-4096 key (SecureDrop's journalist key type), gpg
with its default settings (which compress again, as SecureDrop's python-gnupg calls do), in a
throwaway GNUPGHOME. Target: ours at least 10x faster. Note that SecureDrop itself gzips with
Python's GzipFile at level 9, slower than the gzip CLI's level 6 used here: the ratio is
conservative.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from bench.b1_envelope import write_random
from bench.common import MIB, BenchResult, Config, info, ratio_figure, scratch
from keys import envelope, keytypes

TITLE = "Ours vs gzip + gpg (the peer's approach), incompressible data"
GPG_BASE = [
    "gpg",
    "--batch",
    "--yes",
    "--quiet",
    "--no-tty",
    "--pinentry-mode",
    "loopback",
    "--passphrase",
    "",
]


def _gpg_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["GNUPGHOME"] = str(home)
    return env


def _pipeline(
    first: list[str], second: list[str], env: dict[str, str], out: Path | None, timeout: float
) -> float:
    """Run `first | second` (second's stdout to `out` if given); seconds until both ended."""
    start = time.perf_counter()
    sink = out.open("wb") if out is not None else subprocess.DEVNULL
    try:
        producer = subprocess.Popen(
            first,
            stdout=subprocess.PIPE,
            env=env,  # noqa: S603
            stderr=subprocess.DEVNULL,
        )
        consumer = subprocess.Popen(
            second,
            stdin=producer.stdout,
            stdout=sink,  # noqa: S603
            env=env,
            stderr=subprocess.PIPE,
        )
        assert producer.stdout is not None  # noqa: S101
        producer.stdout.close()
        try:
            _, err = consumer.communicate(timeout=timeout)
            producer.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            producer.kill()
            consumer.kill()
            raise
    finally:
        if out is not None and not isinstance(sink, int):
            sink.close()
    if producer.returncode != 0 or consumer.returncode != 0:
        raise RuntimeError(f"pipeline failed: {err.decode(errors='replace')[-300:]}")
    return time.perf_counter() - start


def _run(args: list[str], env: dict[str, str], timeout: float) -> float:
    start = time.perf_counter()
    subprocess.run(
        args,
        env=env,
        check=True,
        timeout=timeout,  # noqa: S603
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return time.perf_counter() - start


def run(config: Config) -> BenchResult:
    result = BenchResult(2, TITLE)
    if shutil.which("gpg") is None or shutil.which("gzip") is None:
        result.skipped = "gpg or gzip not installed (scripts/system-packages.txt: gnupg, gzip)"
        return result
    size = config.size(256 * MIB, 64 * MIB)
    mib = size / MIB
    timeout = 600.0
    with scratch(config, "gpg") as work:
        home = work / "gnupg"
        home.mkdir(mode=0o700)
        env = _gpg_env(home)
        try:
            keygen = _run(
                [
                    *GPG_BASE,
                    "--quick-generate-key",
                    "WBS Bench <bench@example.invalid>",
                    "rsa4096",
                    "cert,encr",
                    "never",
                ],
                env,
                120,
            )
            listing = subprocess.run(
                ["gpg", "--batch", "--with-colons", "--list-keys"],  # noqa: S607
                env=env,
                capture_output=True,
                check=True,
                text=True,
            )
            fingerprint = next(
                line.split(":")[9]
                for line in listing.stdout.splitlines()
                if line.startswith("fpr:")
            )
            source = work / "plain.bin"
            write_random(source, size)

            # Ours: best of three, file to file, the same disk.
            identity = keytypes.new_recipient_identity()
            ours_enc, ours_dec = [], []
            for _ in range(3):
                start = time.perf_counter()
                with source.open("rb") as src, (work / "ours.env").open("wb") as out:
                    envelope.encrypt(src, out, [identity.public_key])
                ours_enc.append(time.perf_counter() - start)
                start = time.perf_counter()
                with (work / "ours.env").open("rb") as src, (work / "ours.out").open("wb") as out:
                    envelope.decrypt(src, out, [identity])
                ours_dec.append(time.perf_counter() - start)
                (work / "ours.out").unlink()
            ours_size = (work / "ours.env").stat().st_size
            (work / "ours.env").unlink()

            # The peer: one run each way (it is the slow side; its noise matters little).
            sealed = work / "peer.gpg"
            peer_enc = _pipeline(
                ["gzip", "-c", "-6", str(source)],
                [
                    *GPG_BASE,
                    "--trust-model",
                    "always",
                    "--encrypt",
                    "--recipient",
                    fingerprint,
                    "--output",
                    str(sealed),
                ],
                env,
                None,
                timeout,
            )
            peer_size = sealed.stat().st_size
            restored = work / "peer.out"
            peer_dec = _pipeline(
                [*GPG_BASE, "--decrypt", str(sealed)], ["gzip", "-dc"], env, restored, timeout
            )
            same = restored.stat().st_size == size
            restored.unlink()
            sealed.unlink()
            # OpenPGP alone, without gzip and without gpg's own compression: the peer's floor.
            gpg_only = _run(
                [
                    *GPG_BASE,
                    "--trust-model",
                    "always",
                    "--compress-algo",
                    "none",
                    "--encrypt",
                    "--recipient",
                    fingerprint,
                    "--output",
                    str(sealed),
                    str(source),
                ],
                env,
                timeout,
            )
            sealed.unlink()
        finally:
            subprocess.run(
                ["gpgconf", "--kill", "gpg-agent"],
                env=env,  # noqa: S607
                check=False,
                capture_output=True,
                timeout=30,
            )

    ours_e, ours_d = mib / min(ours_enc), mib / min(ours_dec)
    result.figures += [
        ratio_figure(
            "ours encrypt vs gzip|gpg --encrypt",
            ours_e,
            mib / peer_enc,
            "MiB/s",
            minimum=10,
            note="reference: gzip -6 | gpg --encrypt (RSA-4096, defaults)",
        ),
        info(
            "ours decrypt vs gpg --decrypt|gunzip (no target)",
            ours_d,
            "MiB/s",
            reference=mib / peer_dec,
        ),
        info(
            "gpg --encrypt alone, no compression (peer floor)",
            mib / gpg_only,
            "MiB/s",
            reference=ours_e,
            note="ratio here = gpg-only / ours",
        ),
        info("size overhead ours", (ours_size - size) / size * 100, "%"),
        info("size overhead peer", (peer_size - size) / size * 100, "%"),
        info("data size", mib, "MiB"),
    ]
    result.notes.append(
        f"ours best of 3, peer one run each way; gpg key generation took {keygen:.1f} s; "
        f"peer round trip {'ok' if same else 'SIZE MISMATCH'}"
    )
    return result
