"""Q1 layers: affine, ReLU, softmax and SVM losses, and the affine-relu sandwich.

PyTorch float64 autograd is the oracle for every forward and backward; centred
differences from ``cs231n.gradient_check`` check the backwards once more.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import assert_close, assert_equal, tn, tt

from cs231n.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
from cs231n.layer_utils import affine_relu_backward, affine_relu_forward
from cs231n.layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)

pytestmark = pytest.mark.q1

# float64 against float64: only rounding separates us from torch.
EXACT = {"rtol": 1e-10, "atol": 1e-12}
# Centred differences with h = 1e-5 in float64.
NUMERIC = {"rtol": 1e-6, "atol": 1e-8}


def torch_affine(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.linear(x.reshape(x.shape[0], -1), w.T, b)


def _scores_and_labels(rng, N: int = 7, C: int = 5, scale: float = 1.0):
    x = scale * rng.normal(size=(N, C))
    y = rng.integers(0, C, size=N)
    return x, y


# ----------------------------------------------------------------------------- affine


AFFINE_SHAPES = [((4, 5), 6), ((1, 3), 2), ((3, 2, 4), 5), ((2, 3, 4, 5), 7)]


def _affine_case(rng, x_shape, M):
    D = int(np.prod(x_shape[1:]))
    x, w, b = rng.normal(size=x_shape), rng.normal(size=(D, M)), rng.normal(size=M)
    return x, w, b, rng.normal(size=(x_shape[0], M))


@pytest.mark.parametrize(("x_shape", "M"), AFFINE_SHAPES)
def test_affine_forward_matches_torch(rng, x_shape, M):
    x, w, b, _ = _affine_case(rng, x_shape, M)
    x0, w0, b0 = x.copy(), w.copy(), b.copy()
    out, _ = affine_forward(x, w, b)
    assert out.shape == (x_shape[0], M)
    assert_close(out, tn(torch_affine(tt(x), tt(w), tt(b))), **EXACT)
    for before, after in ((x0, x), (w0, w), (b0, b)):
        assert_equal(before, after)


@pytest.mark.parametrize(("x_shape", "M"), AFFINE_SHAPES)
def test_affine_backward_matches_torch(rng, x_shape, M):
    x, w, b, dout = _affine_case(rng, x_shape, M)
    _, cache = affine_forward(x, w, b)
    dout0 = dout.copy()
    dx, dw, db = affine_backward(dout, cache)

    xt, wt, bt = tt(x), tt(w), tt(b)
    torch_affine(xt, wt, bt).backward(tt(dout, grad=False))
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    assert_close(dx, tn(xt.grad), **EXACT)
    assert_close(dw, tn(wt.grad), **EXACT)
    assert_close(db, tn(bt.grad), **EXACT)
    assert_equal(dout0, dout)


def test_affine_backward_matches_numeric_gradient(rng):
    x, w, b = rng.normal(size=(3, 2, 3)), rng.normal(size=(6, 4)), rng.normal(size=4)
    dout = rng.normal(size=(3, 4))
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)

    assert_close(
        dx, eval_numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout), **NUMERIC
    )
    assert_close(
        dw, eval_numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout), **NUMERIC
    )
    assert_close(
        db, eval_numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b, dout), **NUMERIC
    )


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "b_shape", "names"),
    [
        ((3, 4), (5, 2), (2,), ("x.shape", "(3, 4)")),  # D mismatch
        ((3, 2, 2), (5, 2), (2,), ("x.shape", "(3, 2, 2)")),  # D mismatch after flattening
        ((3, 4), (4, 2), (3,), ("b", "(3,)")),  # bias length
        ((3, 4), (4,), (2,), ("w", "(4,)")),  # w not 2-D
    ],
)
def test_affine_forward_rejects_mismatched_shapes(x_shape, w_shape, b_shape, names):
    with pytest.raises(ValueError) as err:
        affine_forward(np.zeros(x_shape), np.zeros(w_shape), np.zeros(b_shape))
    for name in names:
        assert name in str(err.value)


# ----------------------------------------------------------------------------- relu


def _relu_case(rng):
    x = rng.normal(size=(4, 3, 5))
    x[0, 0, :2] = 0.0  # torch and we both give zero gradient at exactly zero
    return x, rng.normal(size=x.shape)


def test_relu_forward_matches_torch(rng):
    x, _ = _relu_case(rng)
    x0 = x.copy()
    out, _ = relu_forward(x)
    assert_equal(out, tn(torch.relu(tt(x))))
    assert_equal(x, x0)


def test_relu_backward_matches_torch(rng):
    x, dout = _relu_case(rng)
    dx = relu_backward(dout, relu_forward(x)[1])
    xt = tt(x)
    torch.relu(xt).backward(tt(dout, grad=False))
    assert_equal(dx, tn(xt.grad))


def test_relu_backward_matches_numeric_gradient(rng):
    x = rng.normal(size=(5, 6))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink
    dout = rng.normal(size=x.shape)
    dx = relu_backward(dout, relu_forward(x)[1])
    numeric = eval_numerical_gradient_array(lambda v: relu_forward(v)[0], x, dout)
    assert_close(dx, numeric, **NUMERIC)


# ----------------------------------------------------------------------------- losses


def test_softmax_loss_at_uniform_scores_is_log_num_classes():
    C = 10
    loss, dx = softmax_loss(np.zeros((4, C)), np.arange(4))
    assert_close(loss, np.log(C), rtol=1e-12)
    assert_close(dx.sum(axis=1), 0.0, atol=1e-15)


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_softmax_loss_matches_torch(rng, scale):
    x, y = _scores_and_labels(rng, scale=scale)
    x0 = x.copy()
    loss, dx = softmax_loss(x, y)

    xt = tt(x)
    loss_t = F.cross_entropy(xt, torch.from_numpy(y))
    loss_t.backward()
    assert isinstance(loss, float)
    assert_close(loss, loss_t.item(), **EXACT)
    assert_close(dx, tn(xt.grad), **EXACT)
    assert_equal(x, x0)


def test_softmax_loss_is_stable_for_huge_logits(rng):
    x, y = _scores_and_labels(rng, N=6, C=4)
    x = 1e3 * x  # exp(1e3) overflows float64
    x[0] = [1e3, -1e3, 0.0, 1e3]
    y[0] = 1
    loss, dx = softmax_loss(x, y)

    xt = tt(x)
    loss_t = F.cross_entropy(xt, torch.from_numpy(y))
    loss_t.backward()
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    assert loss > 100  # the wrong classes win by hundreds
    assert_close(loss, loss_t.item(), **EXACT)
    assert_close(dx, tn(xt.grad), **EXACT)


def test_svm_loss_matches_torch(rng):
    x, y = _scores_and_labels(rng, N=8, C=6, scale=0.7)
    C = x.shape[1]
    loss, dx = svm_loss(x, y)

    # torch averages the hinge terms over the C classes as well; we only average over N.
    xt = tt(x)
    loss_t = C * F.multi_margin_loss(xt, torch.from_numpy(y), margin=1.0)
    loss_t.backward()
    assert isinstance(loss, float)
    assert_close(loss, loss_t.item(), **EXACT)
    assert_close(dx, tn(xt.grad), **EXACT)
    # Some margins are active and some are not, so the test exercises both branches.
    margins = x - x[np.arange(len(y)), y][:, None] + 1
    assert 0 < np.sum(margins > 0) - len(y) < x.size - len(y)


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss])
def test_losses_match_numeric_gradient(rng, loss_fn):
    x, y = _scores_and_labels(rng, N=5, C=4)
    _, dx = loss_fn(x, y)
    numeric = eval_numerical_gradient(lambda v: loss_fn(v, y)[0], x, verbose=False)
    assert_close(dx, numeric, **NUMERIC)


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss])
@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.array([0, 1, 4]), "[0, 4)"),  # label == C
        (np.array([0, -1, 2]), "[0, 4)"),  # negative label
        (np.array([0.0, 1.0, 2.0]), "integer"),  # float labels
        (np.array([0, 1]), "got (2,)"),  # wrong length
    ],
)
def test_losses_reject_bad_labels(loss_fn, y, message):
    with pytest.raises(ValueError) as err:
        loss_fn(np.zeros((3, 4)), y)
    assert message in str(err.value)


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_losses_reject_scores_that_are_not_finite(rng, loss_fn, bad):
    x, y = _scores_and_labels(rng, N=4, C=3)
    x[2, 1] = bad
    with pytest.raises(ValueError) as err:
        loss_fn(x, y)
    message = str(err.value)
    assert message.startswith(f"x must hold finite numbers, got {bad} at index (2, 1)")
    assert "(1 of 12 entries not finite)" in message and "learning rate" in message


# ----------------------------------------------------------------------------- sandwich


def test_affine_relu_matches_torch_and_numeric_gradient(rng):
    x, w, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(12, 10)), rng.normal(size=10)
    dout = rng.normal(size=(2, 10))
    out, cache = affine_relu_forward(x, w, b)
    dx, dw, db = affine_relu_backward(dout, cache)

    xt, wt, bt = tt(x), tt(w), tt(b)
    out_t = torch.relu(torch_affine(xt, wt, bt))
    out_t.backward(tt(dout, grad=False))
    assert 0 < np.count_nonzero(out) < out.size  # both sides of the ReLU are exercised
    assert_close(out, tn(out_t), **EXACT)
    for ours, leaf in ((dx, xt), (dw, wt), (db, bt)):
        assert_close(ours, tn(leaf.grad), **EXACT)

    def f(v):
        return affine_relu_forward(x, v, b)[0]

    assert_close(dw, eval_numerical_gradient_array(f, w, dout), **NUMERIC)
