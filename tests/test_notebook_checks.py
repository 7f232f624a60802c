"""cs231n/notebook_checks.py: the lines the notebooks print, and the report reads back; what a
failed check says (the function and output under check, shapes, the worst entry); and the
tests' own assert, which says it the same way."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, assert_equal

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
    with pytest.raises(ValueError, match=r"rel_error: shapes differ, \(2,\) .* vs \(3,\)"):
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


# ------------------------------------------------------------ answers of the wrong shape
# What a notebook's check says when a student's function returns an array of the wrong shape:
# the function and output under check and both shapes, never numpy's broadcasting error.


def assert_names_the_check(err: pytest.ExceptionInfo, name: str, actual, expected) -> None:
    message = str(err.value)
    assert message.startswith(f"{name}: shapes differ"), message
    assert f"{tuple(actual)} (output) vs {tuple(expected)} (expected)" in message, message
    assert "broadcast" not in message


def test_a_layer_of_the_wrong_shape_names_the_check(rng) -> None:
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    out = (x @ w + b).T  # a transposed answer from affine_forward
    with pytest.raises(AssertionError) as err:
        check_close("affine_forward out", out, x @ w + b)
    assert_names_the_check(err, "affine_forward out", (5, 3), (3, 5))
    assert "transpose" in str(err.value)


def test_a_loss_of_the_wrong_shape_names_the_check(rng) -> None:
    scores = rng.standard_normal((6, 4))
    dx = np.zeros((6, 3))  # the gradient of a loss that dropped a column
    with pytest.raises(AssertionError) as err:
        check_close("softmax_loss dx", dx, np.zeros_like(scores))
    assert_names_the_check(err, "softmax_loss dx", (6, 3), (6, 4))
    losses = np.ones(6)  # one loss per example, not their mean
    with pytest.raises(AssertionError) as err:
        check_close("softmax_loss loss", losses, 1.0)
    assert_names_the_check(err, "softmax_loss loss", (6,), ())


def test_an_update_rule_of_the_wrong_shape_names_the_check(rng) -> None:
    w, dw = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    next_w = (w - 1e-2 * dw).ravel()  # adam returning a flat array
    with pytest.raises(AssertionError) as err:
        check_close("adam next_w", next_w, w - 1e-2 * dw, 1e-9)
    assert_names_the_check(err, "adam next_w", (20,), (4, 5))


def test_a_model_gradient_of_the_wrong_shape_names_the_check(rng) -> None:
    W1 = rng.standard_normal((5, 7))
    grads = {"W1": np.zeros((7, 5))}  # a model whose dW1 is transposed
    for per_entry in (True, False):  # the layers' measure and the whole networks'
        with pytest.raises(AssertionError) as err:
            check_close("TwoLayerNet.loss dW1", grads["W1"], np.zeros_like(W1), per_entry=per_entry)
        assert_names_the_check(err, "TwoLayerNet.loss dW1", (7, 5), (5, 7))


def test_rel_error_names_what_it_compares_when_shapes_differ() -> None:
    with pytest.raises(ValueError, match=r"^dropout_backward dx: shapes differ, \(2,\) .* \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3), "dropout_backward dx")


# ------------------------------------------------------------ what a failure prints


def test_a_failed_check_shows_the_worst_entry_not_the_arrays(capsys) -> None:
    expected = np.arange(1.0, 601.0).reshape(20, 30)
    actual = expected.copy()
    actual[7, 11] *= 1.5
    actual[3, 2] *= 1.01
    with pytest.raises(AssertionError) as err:
        check_close("layernorm_forward out", actual, expected, 1e-7)
    message = str(err.value)
    assert "worst entry at index (7, 11): 333 vs 222 expected" in message, message
    assert len(message) < 250 and "[" not in message
    capsys.readouterr()


def test_the_tests_assert_shows_shapes_and_the_worst_entry() -> None:
    expected = np.linspace(-1.0, 1.0, 2000).reshape(40, 50)
    actual = expected.copy()
    actual[31, 4] += 0.5
    actual[2, 40] += 1e-3
    with pytest.raises(AssertionError) as err:
        assert_close(actual, expected, rtol=1e-7, atol=1e-9, err_msg="dW2")
    message = str(err.value)
    assert message.startswith("dW2: 2 of 2000 entries differ"), message
    assert "(shape (40, 50))" in message and "worst entry at index (31, 4)" in message
    assert len(message) < 250
    with pytest.raises(AssertionError, match=r"dx: shapes differ, \(2, 3\) \(output\)"):
        assert_close(np.zeros((2, 3)), np.zeros((3, 2)), err_msg="dx")
    grads = {"W1": np.zeros(4)}
    with pytest.raises(AssertionError, match=r'^grads\["W1"\]: 4 of 4 entries differ'):
        assert_close(grads["W1"], np.ones(4))  # no err_msg: named by the test's expression
    assert_close(np.full(3, np.nan), np.full(3, np.nan))  # NaN where NaN is expected
    assert_close(np.ones(4), 1.0)  # a scalar is compared with every entry
    with pytest.raises(AssertionError, match="1 of 3 entries"):
        assert_equal(np.array([1.0, 2.0, np.inf]), np.array([1.0, 2.0, 3.0]))
