"""Numerical gradients by centred differences, to check analytic backward passes.

Every checker perturbs one entry of an input array **in place**, re-evaluates the
function, and restores the saved value exactly, so a function may read the array
through a closure (``lambda _: model.loss(X, y)[0]`` while ``x`` is ``model.params['W1']``).
If the function raises, the entry is still restored before the error propagates.

The derivative at each entry is ``(f(x + h e_i) - f(x - h e_i)) / step``, where ``step``
is the distance actually travelled in ``x``'s dtype (exactly ``2 * h`` up to rounding in
float64, noticeably different in float32).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np


def describe(f: Callable) -> str:
    """How an error names the function under check: its name, or a lambda's own source
    (``lambda x: affine_forward(x, w, b)[0]``), which names what the lambda calls."""
    name = getattr(f, "__qualname__", None) or repr(f)
    if not name.endswith("<lambda>"):
        return name
    try:
        line = inspect.getsource(f)
    except (OSError, TypeError):
        return name
    text = line[line.find("lambda") :].split("\n")[0] if "lambda" in line else line.strip()
    depth = 0
    for end in range(text.find(":") + 1, len(text)):  # the body ends at its caller's , or )
        depth += (text[end] in "([{") - (text[end] in ")]}")
        if depth < 0 or (depth == 0 and text[end] == ","):
            return f"`{text[:end].strip()}`"
    return f"`{text.split('  #')[0].strip()}`"


def _check_output(what: str, f: Callable, output: np.ndarray, like: np.ndarray | None) -> None:
    """Raise ``ValueError`` naming the checker ``what``, the function under check and both
    shapes when ``output`` (what ``f`` returned) is not shaped like the array ``like``, or,
    with ``like`` None, is not a scalar (a loss)."""
    if like is None and output.size != 1:
        raise ValueError(
            f"{what}: the function under check, {describe(f)}, must return a scalar (a loss), "
            f"but returned an output of shape {output.shape}"
        )
    if like is not None and output.shape != np.shape(like):
        raise ValueError(
            f"{what}: the function under check, {describe(f)}, returned an output of shape "
            f"{output.shape}, but the upstream gradient has shape {np.shape(like)}; they must "
            "be the same"
        )


def _centred_difference(
    f: Callable[[], Any], x: np.ndarray, idx: tuple[int, ...], h: float
) -> tuple[Any, Any, float]:
    """Evaluate ``f()`` with ``x[idx]`` moved by +h and by -h; restore ``x[idx]`` exactly.

    Returns (f_plus, f_minus, step) with step the realized ``x_plus - x_minus``.
    Array results are copied, so later calls cannot overwrite them.
    """
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"the perturbed array must have a floating dtype, got {x.dtype}")
    saved = x[idx].copy()
    try:
        x[idx] = saved + h
        x_plus = float(x[idx])
        f_plus = np.array(f(), dtype=np.float64)
        x[idx] = saved - h
        x_minus = float(x[idx])
        f_minus = np.array(f(), dtype=np.float64)
    finally:
        x[idx] = saved
    return f_plus, f_minus, x_plus - x_minus


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, verbose: bool = True, h: float = 1e-5
) -> np.ndarray:
    """Numerical gradient of a scalar function at ``x``.

    Inputs:
    - f: takes the array x, returns a scalar
    - x: any shape, perturbed in place one entry at a time and restored
    - verbose: print each entry's index and derivative
    - h: half the step

    Returns grad shaped like x (float64).
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        f_plus, f_minus, step = _centred_difference(lambda: f(x), x, idx, h)
        _check_output("eval_numerical_gradient", f, f_plus, None)
        grad[idx] = (f_plus - f_minus).item() / step
        if verbose:
            print(idx, grad[idx])
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Numerical gradient of ``sum(f(x) * df)``: backpropagates ``df`` through an array function.

    Inputs:
    - f: takes the array x, returns an array shaped like df
    - x: any shape, perturbed in place one entry at a time and restored
    - df: the upstream gradient, shaped like f(x)
    - h: half the step

    Returns dx shaped like x (float64).
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        f_plus, f_minus, step = _centred_difference(lambda: f(x), x, idx, h)
        _check_output("eval_numerical_gradient_array", f, f_plus, df)
        grad[idx] = np.sum((f_plus - f_minus) * df) / step
    return grad


class BlobLike(Protocol):
    """What the blob checkers need: ``vals`` (the values) and ``diffs`` (their gradient),
    two arrays of the same shape."""

    vals: np.ndarray
    diffs: np.ndarray


class Blob:
    """A minimal blob, as in Caffe-style layers that write into preallocated outputs.

    ``vals`` holds the values; ``diffs`` holds the gradient of the loss with respect to
    them (zeros when not given).
    """

    def __init__(self, vals: np.ndarray, diffs: np.ndarray | None = None) -> None:
        self.vals = vals
        self.diffs = np.zeros_like(vals) if diffs is None else diffs


def eval_numerical_gradient_blobs(
    f: Callable[..., Any], inputs: Sequence[BlobLike], output: BlobLike, h: float = 1e-5
) -> list[np.ndarray]:
    """Numerical gradients of ``sum(output.vals * output.diffs)`` with respect to each input.

    ``f(*inputs, output)`` runs the forward pass and writes its result into
    ``output.vals``; its return value is ignored. ``output.diffs`` is the upstream gradient.

    Returns one array per input, shaped like that input's ``vals`` (float64).
    """

    def run() -> np.ndarray:
        f(*inputs, output)
        return output.vals

    grads = []
    for blob in inputs:
        grad = np.zeros(blob.vals.shape, dtype=np.float64)
        for idx in np.ndindex(blob.vals.shape):
            f_plus, f_minus, step = _centred_difference(run, blob.vals, idx, h)
            _check_output("eval_numerical_gradient_blobs", f, f_plus, output.diffs)
            grad[idx] = np.sum((f_plus - f_minus) * output.diffs) / step
        grads.append(grad)
    return grads


def eval_numerical_gradient_net(
    net: Any, inputs: Sequence[BlobLike], output: BlobLike, h: float = 1e-5
) -> list[np.ndarray]:
    """``eval_numerical_gradient_blobs`` for a net whose ``net.forward()`` reads the input
    blobs and writes ``output.vals``."""
    return eval_numerical_gradient_blobs(lambda *_: net.forward(), inputs, output, h=h)


def grad_check_sparse(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    analytic_grad: np.ndarray,
    num_checks: int = 10,
    h: float = 1e-5,
) -> list[float]:
    """Compare ``analytic_grad`` with the numerical gradient at a few random entries of x.

    Entries are drawn with numpy's global RNG (``np.random``). For each, prints the
    numerical and analytic derivative and their relative error
    ``|num - ana| / max(1e-8, |num| + |ana|)``.

    Inputs: f takes x and returns a scalar; x any shape (perturbed in place and restored);
    analytic_grad shaped like x.
    Returns the relative errors, one per check.
    """
    if np.shape(analytic_grad) != x.shape:
        raise ValueError(
            f"grad_check_sparse: analytic_grad (the gradient under check) has shape "
            f"{np.shape(analytic_grad)}, but x has shape {x.shape}; they must be the same"
        )
    errors = []
    for _ in range(num_checks):
        # The global RNG, so that np.random.seed in a notebook fixes the entries checked.
        idx = tuple(int(np.random.randint(n)) for n in x.shape)  # noqa: NPY002
        f_plus, f_minus, step = _centred_difference(lambda: f(x), x, idx, h)
        _check_output("grad_check_sparse", f, f_plus, None)
        numerical = (f_plus - f_minus).item() / step
        analytic = float(analytic_grad[idx])
        error = abs(numerical - analytic) / max(1e-8, abs(numerical) + abs(analytic))
        print(f"numerical: {numerical:f} analytic: {analytic:f}, relative error: {error:e}")
        errors.append(error)
    return errors
