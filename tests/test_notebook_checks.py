"""cs231n/notebook_checks.py: the lines the notebooks print, and the report reads back."""

from __future__ import annotations

import numpy as np
import pytest

from cs231n.notebook_checks import (
    CHECK_LINE,
    TARGET_LINE,
    check_close,
    check_error,
    rel_error,
    report_target,
)


def test_rel_error_is_the_notebooks_measure() -> None:
    assert rel_error(1.0, 1.0) == 0.0
    assert rel_error(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)
    assert rel_error(0.0, 1e-12) == pytest.approx(1e-4)  # the 1e-8 floor on the denominator
    with pytest.raises(ValueError, match=r"shapes differ, \(2,\) vs \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))


def test_check_close_prints_a_parsable_line(capsys) -> None:
    error = check_close("affine_forward out", np.ones(3), np.ones(3) + 1e-12, level=1e-7)
    line = capsys.readouterr().out.strip()
    match = CHECK_LINE.match(line)
    assert match, line
    assert match["name"] == "affine_forward out" and match["status"] == "ok"
    assert float(match["error"]) == pytest.approx(error, rel=0.01)
    assert float(match["level"]) == 1e-7


@pytest.mark.parametrize("error", [1e-3, float("nan")])
def test_check_error_fails_naming_the_function(capsys, error) -> None:
    with pytest.raises(AssertionError, match="batchnorm_backward dx: relative error"):
        check_error("batchnorm_backward dx", error, level=1e-7)
    assert CHECK_LINE.match(capsys.readouterr().out.strip())["status"] == "FAILED"


def test_report_target_met_and_missed(capsys) -> None:
    assert report_target("TwoLayerNet validation accuracy", 0.521, 0.50)
    match = TARGET_LINE.match(capsys.readouterr().out.strip())
    assert match.groupdict() == {
        "name": "TwoLayerNet validation accuracy",
        "value": "52.10%",
        "op": ">=",
        "target": "50.00%",
        "status": "met",
        "unenforced": None,
    }
    with pytest.raises(AssertionError, match=r"misses the target >= 50.00%"):
        report_target("TwoLayerNet validation accuracy", 0.42, 0.50)
    assert TARGET_LINE.match(capsys.readouterr().out.strip())["status"] == "missed"


def test_report_target_lower_is_better_and_not_enforced(capsys) -> None:
    met = report_target(
        "DeepConvNet wall time", 13.5, 12.0, higher_is_better=False, fmt="{:.1f} min", enforce=False
    )
    assert met is False
    match = TARGET_LINE.match(capsys.readouterr().out.strip())
    assert (match["value"], match["op"], match["target"]) == ("13.5 min", "<=", "12.0 min")
    assert match["status"] == "missed" and match["unenforced"]
