"""What the CPU offers: its model name, whether it computes in bfloat16 natively, how fast.

Mixed precision in bfloat16 pays only on CPUs with bfloat16 instructions (x86: AVX-512 BF16 or
AMX; Arm: the BF16 extension). Elsewhere the frameworks emulate it, and PyTorch's bfloat16
convolutions then run many times slower than float32: on an AVX2-only AMD EPYC, one 3x3
convolution of a batch of 500 32x32 images, 48 -> 192 channels, took 38 s instead of 0.94 s.
So ask ``native_bf16`` (in PyTorch.ipynb: ``torch_utils.native_bf16``) before choosing bfloat16.

``speed_class`` sorts a machine into what the framework notebooks' goals are set for: native
bfloat16, a float32 CPU that reaches ``SLOW_CPU_GFLOPS`` in float32 matrix products (numpy's,
on its threads), or a slower one.

Nothing here imports a framework: ``torch_utils``, ``tf_utils`` and the benchmarks share it.
"""

from __future__ import annotations

import platform
import subprocess
import time
from pathlib import Path

import numpy as np

# /proc/cpuinfo flags (x86) and features (Arm) that mean native bfloat16 arithmetic.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
# Below this float32 speed a CPU is "slow": the framework notebooks' recipes fit fewer epochs
# in their time budget (a 2-core, 2-GHz AVX2 CPU reaches about 70 GFLOP/s).
SLOW_CPU_GFLOPS = 120.0


def cpuinfo(path: Path = Path("/proc/cpuinfo")) -> dict[str, str]:
    """The first processor's ``key: value`` lines of ``/proc/cpuinfo`` (empty off Linux)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {}
    info: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in info:
            info[key.strip()] = value.strip()
    return info


def _sysctl(name: str) -> str:
    """``sysctl -n name`` on macOS, or '' where it is not known."""
    try:
        result = subprocess.run(
            ["sysctl", "-n", name], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip()


def cpu_flags(info: dict[str, str] | None = None) -> set[str]:
    """The CPU's feature flags (``flags`` on x86, ``Features`` on Arm), lower case.

    On macOS, ``{'bf16'}`` where the chip reports the Arm BF16 extension. Empty where the
    system does not tell.
    """
    info = cpuinfo() if info is None else info
    text = info.get("flags") or info.get("Features") or ""
    flags = set(text.lower().split())
    if not flags and platform.system() == "Darwin" and _sysctl("hw.optional.arm.FEAT_BF16") == "1":
        flags.add("bf16")
    return flags


def cpu_model(info: dict[str, str] | None = None) -> str:
    """The CPU's model name, e.g. 'AMD EPYC' or 'Intel(R) Xeon(R) Platinum 8481C CPU'."""
    info = cpuinfo() if info is None else info
    name = info.get("model name") or info.get("Model") or _sysctl("machdep.cpu.brand_string")
    return name or platform.processor() or platform.machine() or "unknown CPU"


def native_bf16(flags: set[str] | None = None) -> tuple[bool, str]:
    """Whether the CPU computes in bfloat16 natively, and why, in words.

    ``flags``: the CPU's flags (default: ``cpu_flags()``).
    """
    flags = cpu_flags() if flags is None else flags
    found = [flag for flag in NATIVE_BF16_FLAGS if flag in flags]
    if found:
        return True, f"the CPU has {' and '.join(found)}"
    if not flags:
        return False, "this system does not report the CPU's flags, so float32 is the safe choice"
    return False, (
        "the CPU has no avx512_bf16, amx_bf16 or Arm bf16: bfloat16 would be emulated, "
        "many times slower than float32"
    )


def float32_gflops(size: int = 1024, seconds: float = 0.5) -> float:
    """The CPU's float32 matrix-product speed in GFLOP/s: numpy products of two (size, size)
    matrices on its BLAS threads, timed one by one for about ``seconds`` after a warm-up; the
    fastest counts, so that a passing burst of load (another process, a framework's threads
    still spinning after training) does not move it. On a machine loaded throughout it reads
    lower."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    for _ in range(2):  # warm-up: thread start, kernel choice
        a @ b
    times, start = [], time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        product_start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - product_start)
    return 2 * size**3 / min(times) / 1e9


def speed_class(flags: set[str] | None = None, gflops: float | None = None) -> tuple[str, str]:
    """``"bf16"`` (native bfloat16), ``"float32"`` (at least ``SLOW_CPU_GFLOPS`` in float32)
    or ``"slow"``, and why, in words. ``gflops``: default ``float32_gflops()``, measured only
    where bfloat16 is not native."""
    native, why = native_bf16(flags)
    if native:
        return "bf16", why
    gflops = float32_gflops() if gflops is None else gflops
    speed = f"float32 matrix products at {gflops:.0f} GFLOP/s"
    if gflops >= SLOW_CPU_GFLOPS:
        return "float32", f"no native bfloat16; {speed}"
    return "slow", f"no native bfloat16; {speed}, under {SLOW_CPU_GFLOPS:.0f}"
