"""What the figures were measured on: the CPU model and numpy's BLAS configuration."""

from __future__ import annotations

import os

from threadpoolctl import threadpool_info

from cs231n import _cpu


def cpu_model() -> str:
    """The CPU's model name, with its family/model numbers (a hypervisor may hide the name:
    "AMD EPYC" alone) and the widest vector extension it reports."""
    info = _cpu.cpuinfo()
    flags = _cpu.cpu_flags(info)
    vector = next(
        (f for f in ("avx512f", "avx2", "avx", "sse4_2") if f in flags), "unknown vectors"
    )
    family = f"family {info['cpu family']} model {info['model']}, " if "cpu family" in info else ""
    extra = " + AMX" if "amx_tile" in flags else ""
    return f"{_cpu.cpu_model(info)} ({family}{vector}{extra}, {os.cpu_count()} logical CPUs)"


def blas_config() -> str:
    """numpy's BLAS libraries as threadpoolctl sees them: library, version, kernel
    architecture (the CPU type OpenBLAS picked), threads."""
    libs = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    if not libs:
        return "no BLAS found by threadpoolctl"
    return "; ".join(
        f"{lib['internal_api']} {lib.get('version')} ({lib.get('architecture', '?')} kernels, "
        f"{lib.get('threading_layer', '?')}, {lib['num_threads']} threads)"
        for lib in libs
    )


def describe() -> str:
    """One line naming the machine and the BLAS, for the head of every benchmark's output."""
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    forced = f"; OPENBLAS_CORETYPE={coretype}" if coretype else ""
    return f"CPU: {cpu_model()}. numpy's BLAS: {blas_config()}{forced}"
