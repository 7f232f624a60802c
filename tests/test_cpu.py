"""cs231n/_cpu.py: the CPU's model and flags, and whether it computes in bfloat16 natively."""

from __future__ import annotations

import pytest

from cs231n import _cpu

pytestmark = pytest.mark.q5

ZEN1 = {
    "processor": "0",
    "model name": "AMD EPYC",
    "flags": "fpu sse sse2 avx fma avx2 bmi2",
}
SAPPHIRE_RAPIDS = {
    "model name": "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz",
    "flags": "avx2 avx512f avx512_bf16 amx_bf16 amx_tile",
}
GRAVITON3 = {"Features": "fp asimd sve bf16 i8mm", "CPU implementer": "0x41"}


def test_cpuinfo_reads_the_first_processor(tmp_path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nmodel name\t: First\n\nprocessor\t: 1\nmodel name\t: Second\n")
    assert _cpu.cpuinfo(path)["model name"] == "First"
    assert _cpu.cpuinfo(tmp_path / "missing") == {}


def test_flags_and_model_fromcpuinfo() -> None:
    assert "avx2" in _cpu.cpu_flags(ZEN1) and "avx512_bf16" not in _cpu.cpu_flags(ZEN1)
    assert _cpu.cpu_flags(GRAVITON3) == {"fp", "asimd", "sve", "bf16", "i8mm"}
    assert _cpu.cpu_model(ZEN1) == "AMD EPYC"
    assert _cpu.cpu_model(SAPPHIRE_RAPIDS).startswith("Intel(R) Xeon(R) Platinum")


@pytest.mark.parametrize(
    ("info", "native", "said"),
    [
        (ZEN1, False, "no avx512_bf16"),
        (SAPPHIRE_RAPIDS, True, "avx512_bf16 and amx_bf16"),
        (GRAVITON3, True, "bf16"),
        ({}, False, "does not report"),
    ],
)
def test_native_bf16(info, native, said, monkeypatch) -> None:
    monkeypatch.setattr(_cpu.platform, "system", lambda: "Linux")
    got, why = _cpu.native_bf16(_cpu.cpu_flags(info))
    assert got is native and said in why


def test_this_machine_answers() -> None:
    native, why = _cpu.native_bf16()
    assert isinstance(native, bool) and why
    assert _cpu.cpu_model()


def test_float32_gflops_measures_a_plausible_speed() -> None:
    gflops = _cpu.float32_gflops(size=256, seconds=0.05)
    assert 0.1 < gflops < 1e5


@pytest.mark.parametrize(
    ("flags", "gflops", "kind"),
    [({"amx_bf16"}, 10.0, "bf16"), ({"avx2"}, 120.0, "float32"), ({"avx2"}, 119.0, "slow")],
)
def test_speed_class(flags, gflops, kind) -> None:
    got, why = _cpu.speed_class(flags, gflops)
    assert got == kind, why
