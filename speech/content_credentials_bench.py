"""What signing Content Credentials costs: ms per clip by format and length, next to encoding the same clip.

    python -m speech.content_credentials_bench [--repeat 7] [--seconds 2 10 60]

Runs in its own temporary media folder with a development certificate (made before timing starts). Prints a
Markdown table: the median of `--repeat` runs of encoding, signing (embedding, or a sidecar for opus) and
verifying each clip, and the bytes the manifest adds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from importlib import metadata


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("CSM_MODEL", "sesame/csm-1b")
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="csm-c2pa-bench-")
    import django

    django.setup()


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def _median_ms(run, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seconds", type=float, nargs="+", default=[2, 10, 60])
    parser.add_argument("--formats", nargs="+", default=["wav", "mp3", "flac", "opus"])
    args = parser.parse_args()
    _setup()

    import c2pa
    import numpy as np

    from speech import audio
    from speech import content_credentials as cc

    cc.credentials()  # the development certificate: made once, outside the timings
    rng = np.random.default_rng(0)
    print(f"- machine: {_cpu()}, {os.cpu_count()} CPUs; python {platform.python_version()}")
    print(f"- c2pa-python {metadata.version('c2pa-python')} (c2pa-rs {c2pa.sdk_version()})")
    print(f"- median of {args.repeat} runs per cell, one thread\n")
    print("| format | length | file bytes | encode ms | sign ms | verify ms | manifest bytes |")
    print("|---|---|---|---|---|---|---|")
    for fmt in args.formats:
        for seconds in args.seconds:
            n = int(seconds * audio.SAMPLE_RATE)
            t = np.arange(n) / audio.SAMPLE_RATE
            pcm = (0.3 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
            pcm += (0.02 * rng.standard_normal(n)).astype(np.float32)
            encode_ms, data = _median_ms(lambda p=pcm, f=fmt: audio.encode(p, f, metadata={"comment": "bench"}), 3)
            claims = cc.Claims(clip_id="bench")
            sign_ms, signed = _median_ms(lambda d=data, f=fmt, c=claims: cc.sign(d, f, c, sidecar=True), args.repeat)
            verify_ms, checked = _median_ms(lambda s=signed: cc.verify(s.data, manifest=s.sidecar), args.repeat)
            assert checked.valid and checked.signed_by_this_server
            added = len(signed.sidecar) if signed.sidecar is not None else len(signed.data) - len(data)
            kind = "" if signed.embedded else " (sidecar)"
            print(
                f"| {fmt}{kind} | {seconds:g} s | {len(data):,} | {encode_ms:.1f} | {sign_ms:.1f} | {verify_ms:.1f} "
                f"| {added:,} |"
            )


if __name__ == "__main__":
    main()
