"""Numerical gradient checkers: accuracy on functions with known gradients, exact restoring
of the perturbed inputs, the blob contract and the sparse check's report."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import assert_close, check_close, tn, tt

from cs231n.gradient_check import (
    Blob,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    eval_numerical_gradient_blobs,
    eval_numerical_gradient_net,
    grad_check_sparse,
)

pytestmark = pytest.mark.q1


def cube_sum(x: np.ndarray) -> float:
    return float(np.sum(x**3))


@pytest.fixture
def x(rng) -> np.ndarray:
    """Values that stepping back and forth (``x += h; x -= 2 * h; x += h``) does not give
    back bitwise, so that only restoring the saved value passes the bitwise checks."""
    x = rng.uniform(0.1, 2.0, size=(3, 4))
    assert not np.array_equal(((x + 1e-5) - 2e-5) + 1e-5, x)
    return x


# ---------------------------------------------------------------- eval_numerical_gradient


def test_numerical_gradient_matches_known_gradient(x):
    grad = eval_numerical_gradient(cube_sum, x, verbose=False)
    assert grad.shape == x.shape
    check_close("grad", grad, 3 * x**2, 1e-8)


def test_numerical_gradient_is_centred(x):
    # For x**3 the centred difference is exactly 3x^2 + h^2; a one-sided one is off by ~3xh.
    h = 1e-2
    grad = eval_numerical_gradient(cube_sum, x, verbose=False, h=h)
    assert_close(grad - 3 * x**2, h**2, rtol=1e-4)


def test_numerical_gradient_restores_x_bitwise(x):
    before = x.copy()
    eval_numerical_gradient(cube_sum, x, verbose=False)
    assert x.tobytes() == before.tobytes()


def test_numerical_gradient_reads_x_through_a_closure(x):
    # The notebooks' pattern: f ignores its argument and reads the array it closes over.
    w = np.arange(x.size, dtype=np.float64).reshape(x.shape)
    grad = eval_numerical_gradient(lambda _: float(np.sum(w * np.sin(x))), x, verbose=False)
    check_close("grad", grad, w * np.cos(x), 1e-8)


def test_numerical_gradient_verbose_prints_every_entry(x, capsys):
    eval_numerical_gradient(cube_sum, x, verbose=True)
    assert len(capsys.readouterr().out.splitlines()) == x.size
    eval_numerical_gradient(cube_sum, x, verbose=False)
    assert capsys.readouterr().out == ""


def test_numerical_gradient_float32_divides_by_the_realized_step(rng):
    # In float32, x +- 1e-5 rounds to a step that differs from 2e-5 by up to ~1e-2 relative;
    # dividing by the step actually taken keeps a linear function's slope exact.
    x = rng.uniform(1.0, 2.0, size=(4, 5)).astype(np.float32)
    c = rng.standard_normal((4, 5))
    grad = eval_numerical_gradient(lambda v: float(np.sum(c * v.astype(np.float64))), x, False)
    check_close("grad", grad, c, 1e-9)


def test_numerical_gradient_restores_x_when_f_raises(x):
    before = x.copy()

    def fails(_):
        raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError):
        eval_numerical_gradient(fails, x, verbose=False)
    assert x.tobytes() == before.tobytes()


def test_integer_input_is_rejected():
    with pytest.raises(ValueError, match="floating"):
        eval_numerical_gradient(cube_sum, np.arange(3), verbose=False)


# ---------------------------------------------------------- eval_numerical_gradient_array


def test_array_gradient_matches_torch(x, rng):
    w = rng.standard_normal((4, 6))
    df = rng.standard_normal((3, 6))
    xt = tt(x)
    torch.tanh(xt @ tt(w, grad=False)).backward(tt(df, grad=False))

    before = x.copy()
    dx = eval_numerical_gradient_array(lambda v: np.tanh(v @ w), x, df)
    assert dx.shape == x.shape
    check_close("dx", dx, tn(xt.grad), 1e-8)
    assert x.tobytes() == before.tobytes()


def test_array_gradient_copies_results_held_in_a_reused_buffer(x, rng):
    # A function that writes into one preallocated output and returns it each time.
    out = np.empty_like(x)
    df = rng.standard_normal(x.shape)

    def into_buffer(v):
        np.multiply(v, v, out=out)
        return out

    dx = eval_numerical_gradient_array(into_buffer, x, df)
    check_close("dx", dx, 2 * x * df, 1e-8)


# -------------------------------------------------------------------- blobs and nets


def blob_forward(a, b, out):
    """A Caffe-style layer: reads the input blobs and writes ``out.vals``."""
    out.vals[...] = a.vals * b.vals + np.sin(a.vals)


def test_blob_gradients_match_known_gradients(x, rng):
    a = Blob(x)
    b = SimpleNamespace(vals=rng.standard_normal(x.shape), diffs=None)  # any object will do
    out = Blob(np.zeros(x.shape), rng.standard_normal(x.shape))
    saved = a.vals.copy(), b.vals.copy()

    da, db = eval_numerical_gradient_blobs(blob_forward, (a, b), out)
    check_close("da", da, (b.vals + np.cos(a.vals)) * out.diffs, 1e-8)
    check_close("db", db, a.vals * out.diffs, 1e-8)
    assert a.vals.tobytes() == saved[0].tobytes()
    assert b.vals.tobytes() == saved[1].tobytes()


def test_blob_diffs_default_to_zeros(x):
    blob = Blob(x)
    assert blob.vals is x
    assert np.array_equal(blob.diffs, np.zeros_like(x))


def test_net_gradients_use_net_forward(x, rng):
    a, b = Blob(x), Blob(rng.standard_normal(x.shape))
    out = Blob(np.zeros(x.shape), rng.standard_normal(x.shape))
    net = SimpleNamespace(forward=lambda: blob_forward(a, b, out))

    da, db = eval_numerical_gradient_net(net, [a, b], out)
    check_close("da", da, (b.vals + np.cos(a.vals)) * out.diffs, 1e-8)
    check_close("db", db, a.vals * out.diffs, 1e-8)


# ----------------------------------------------------------------------- grad_check_sparse


def test_sparse_check_reports_small_errors_for_the_right_gradient(x, capsys):
    before = x.copy()
    errors = grad_check_sparse(cube_sum, x, 3 * x**2, num_checks=7)
    lines = capsys.readouterr().out.splitlines()
    assert len(errors) == 7 and len(lines) == 7
    assert all("numerical:" in line and "relative error:" in line for line in lines)
    assert max(errors) < 1e-8
    assert x.tobytes() == before.tobytes()


def test_sparse_check_reports_large_errors_for_a_wrong_gradient(x):
    # |3x^2 - 6x^2| / (3x^2 + 6x^2) = 1/3 at every entry
    errors = grad_check_sparse(cube_sum, x, 6 * x**2, num_checks=5)
    assert_close(errors, 1 / 3, rtol=1e-6)


def test_sparse_check_entries_follow_the_global_seed(x, capsys):
    analytic = 3 * x**2 + np.arange(x.size).reshape(x.shape)  # a distinct error per entry
    np.random.seed(0)  # noqa: NPY002 (the checker uses the global RNG)
    first = grad_check_sparse(cube_sum, x, analytic, num_checks=4)
    np.random.seed(0)  # noqa: NPY002 (the checker uses the global RNG)
    second = grad_check_sparse(cube_sum, x, analytic, num_checks=4)
    np.random.seed(1)  # noqa: NPY002
    other = grad_check_sparse(cube_sum, x, analytic, num_checks=4)
    assert first == second
    assert first != other


def test_sparse_check_rejects_a_gradient_of_the_wrong_shape(x):
    with pytest.raises(ValueError, match="analytic_grad"):
        grad_check_sparse(cube_sum, x, np.zeros(x.size))


# ---------------------------------------------------------------- outputs of the wrong shape


def test_array_checker_names_the_function_whose_output_is_misshaped(x, rng):
    w = rng.standard_normal((4, 5))

    def affine_forward(x, w):  # a student's forward pass that returns out transposed
        return (x @ w).T, None

    dout = rng.standard_normal((3, 5))
    with pytest.raises(ValueError) as err:
        eval_numerical_gradient_array(lambda x: affine_forward(x, w)[0], x, dout)
    message = str(err.value)
    assert "`lambda x: affine_forward(x, w)[0]`" in message
    assert "(5, 3)" in message and "(3, 5)" in message and "operands" not in message


def test_scalar_checkers_name_a_loss_that_is_not_a_scalar(x):
    def svm_loss(x):  # a loss per example instead of their mean
        return np.sum(x**2, axis=1), 2 * x

    for checker in (
        lambda f: eval_numerical_gradient(f, x, verbose=False),
        lambda f: grad_check_sparse(f, x, 2 * x, num_checks=2),
    ):
        with pytest.raises(ValueError, match=r"svm_loss\(x\)\[0\].*must return a scalar.*\(3,\)"):
            checker(lambda x: svm_loss(x)[0])
    # a one-entry array is a scalar
    assert (
        eval_numerical_gradient(lambda x: np.sum(x).reshape(1), x, verbose=False).shape == x.shape
    )


def test_blob_checker_names_the_function_whose_output_is_misshaped(x, rng):
    def square_into(a, out):
        out.vals = a.vals[:2] ** 2  # two rows of three

    out = Blob(np.zeros(x.shape), rng.standard_normal(x.shape))
    with pytest.raises(ValueError, match=r"square_into.*\(2, 4\).*\(3, 4\)"):
        eval_numerical_gradient_blobs(square_into, [Blob(x)], out)
