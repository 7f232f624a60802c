"""The catalogue of typical student bugs: each is a patch to our solution, and the grader must
take points off the question the bug belongs to.

Patches are anchored on code lines (not comments) and must match exactly once, so a change
to the solution that moves an anchor fails here loudly instead of testing nothing. All
variants are graded in one batch (two at a time) with Q1-Q4's cases; a bug may also cost
points elsewhere through functions that call the broken one (a wrong batchnorm also breaks
spatial batchnorm), but it must cost points on its own question.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import pytest
from test_grade import Q1_TO_Q4, SEED, describe, grade, make_submission

from tools.grade import runner

pytestmark = pytest.mark.slow


class Bug(NamedTuple):
    name: str
    question: int
    patches: list  # (file under cs231n/, old, new)


L, LU, OPT, SOL = "layers.py", "layer_utils.py", "optim.py", "solver.py"
FC, CNN = "classifiers/fc_net.py", "classifiers/cnn.py"

BUGS = [
    # ------------------------------------------------------------------------------ Q1
    Bug("softmax loss not divided by N", 1, [
        (L, "    loss = -log_probs[rows, y].mean()", "    loss = -log_probs[rows, y].sum()"),
    ]),
    Bug("softmax gradient not divided by N", 1, [
        (L, "    dx[rows, y] -= 1\n    dx /= N\n", "    dx[rows, y] -= 1\n"),
    ]),
    Bug("softmax without the max shift (overflows)", 1, [
        (L, "    shifted = x - x.max(axis=1, keepdims=True)", "    shifted = x"),
    ]),
    Bug("svm margin counted for the correct class", 1, [
        (L, "    margins[rows, y] = 0\n", ""),
    ]),
    Bug("affine dw transposed", 1, [
        (L, "    dw = x2d.T @ dout", "    dw = (x2d.T @ dout).T"),
    ]),
    Bug("affine bias gradient not summed over the batch", 1, [
        (L, "    db = dout.sum(axis=0)\n", "    db = dout.mean(axis=0)\n"),
    ]),
    Bug("relu backward forgets dout", 1, [
        (L, "    dx = dout * (x > 0)", "    dx = 1.0 * (x > 0)"),
    ]),
    Bug("sandwich returns gradients in the wrong order (affine_relu)", 1, [
        (LU, "    dx, dw, db = affine_backward(da, fc_cache)",
         "    dx, db, dw = affine_backward(da, fc_cache)"),
    ]),
    Bug("TwoLayerNet regularization without the 0.5", 1, [
        (FC, "        loss += 0.5 * self.reg * float(np.sum(W1 * W1) + np.sum(W2 * W2))",
         "        loss += self.reg * float(np.sum(W1 * W1) + np.sum(W2 * W2))"),
    ]),
    Bug("TwoLayerNet weights not scaled by weight_scale", 1, [
        (FC, 'self.params["W1"] = weight_scale * np.random.randn(input_dim, hidden_dim)',
         'self.params["W1"] = np.random.randn(input_dim, hidden_dim)'),
    ]),
    Bug("FullyConnectedNet forgets the regularization gradient", 1, [
        (FC, '            grads[f"W{i}"] += self.reg * W', '            grads[f"W{i}"] += 0 * W'),
    ]),
    Bug("FullyConnectedNet backward loop stops before the first layer", 1, [
        (FC, "        for i in range(L - 1, 0, -1):", "        for i in range(L - 1, 1, -1):"),
    ]),
    Bug("momentum with the wrong sign", 1, [
        (OPT, 'config["momentum"] * config["velocity"] - config["learning_rate"] * dw',
         'config["momentum"] * config["velocity"] + config["learning_rate"] * dw'),
    ]),
    Bug("rmsprop without the square root", 1, [
        (OPT, "dw / (np.sqrt(cache) + config", "dw / (cache + config"),
    ]),
    Bug("adam without bias correction", 1, [
        (OPT, "    mhat = m / (1 - beta1**t)", "    mhat = m"),
        (OPT, "    vhat = v / (1 - beta2**t)", "    vhat = v"),
    ]),
    Bug("adam increments t after the update", 1, [
        (OPT, '    t = config["t"] + 1', '    t = config["t"]'),
        (OPT, 'config["t"], config["m"], config["v"] = t, m, v',
         'config["t"], config["m"], config["v"] = t + 1, m, v'),
    ]),
    Bug("Solver forgets the best parameters", 1, [
        (SOL, "self.model.params.update({name: w.copy() for name, w in self.best_params.items()})",
         "pass"),
    ]),
    # ------------------------------------------------------------------------------ Q2
    Bug("batchnorm with the unbiased batch variance", 2, [
        (L, "        var = (xc**2).mean(axis=0)", "        var = (xc**2).sum(axis=0) / (N - 1)"),
    ]),
    Bug("batchnorm running averages with momentum swapped", 2, [
        (L, "        running_mean = momentum * running_mean + (1 - momentum) * mean",
         "        running_mean = (1 - momentum) * running_mean + momentum * mean"),
        (L, "        running_var = momentum * running_var + (1 - momentum) * var",
         "        running_var = (1 - momentum) * running_var + momentum * var"),
    ]),
    Bug("batchnorm test mode uses the batch statistics", 2, [
        (L, "        std = np.sqrt(running_var + eps)\n        xhat = (x - running_mean) / std",
         "        std = np.sqrt(x.var(axis=0) + eps)\n        xhat = (x - x.mean(axis=0)) / std"),
    ]),
    Bug("batchnorm eps outside the square root", 2, [
        (L, "        std = np.sqrt(var + eps)", "        std = np.sqrt(var) + eps"),
    ]),
    Bug("batchnorm backward forgets the mean's gradient", 2, [
        (L, "    dx = dxc - dxc.mean(axis=0)", "    dx = dxc"),
    ]),
    Bug("batchnorm backward dgamma without xhat", 2, [
        (L, "    dbeta = dout.sum(axis=0)\n    dgamma = (dout * xhat).sum(axis=0)\n    dxhat = ",
         "    dbeta = dout.sum(axis=0)\n    dgamma = dout.sum(axis=0)\n    dxhat = "),
    ]),
    Bug("simplified backward drops the xhat term", 2, [
        (L, "(dxhat - mean_dxhat - xhat * mean_dxhat_xhat) / std", "(dxhat - mean_dxhat) / std"),
    ]),
    Bug("layernorm normalizes over the batch axis", 2, [
        (L, "    xc = x - x.mean(axis=1, keepdims=True)",
         "    xc = x - x.mean(axis=0, keepdims=True)"),
    ]),
    Bug("layernorm backward forgets gamma", 2, [
        (L, "    dx = _normalize_backward(dout * gamma, xhat, std, axis=1)",
         "    dx = _normalize_backward(dout, xhat, std, axis=1)"),
    ]),
    # ------------------------------------------------------------------------------ Q3
    Bug("dropout scales at test time", 3, [
        (L, "        out = x.copy()", "        out = x * p"),
    ]),
    Bug("dropout scales kept units by 1/(1-p)", 3, [
        (L, "        mask = (np.random.rand(*x.shape) < p) / p",
         "        mask = (np.random.rand(*x.shape) < p) / (1 - p)"),
    ]),
    Bug("dropout treats p as the drop probability", 3, [
        (L, "        mask = (np.random.rand(*x.shape) < p) / p",
         "        mask = (np.random.rand(*x.shape) >= p) / (1 - p)"),
    ]),
    Bug("dropout backward ignores the mask", 3, [
        (L, "        dx = (dout * mask).astype(dout.dtype, copy=False)", "        dx = dout"),
    ]),
    Bug("the network never applies its dropout layers", 3, [
        (LU, "    if dropout_param is not None:\n        out, dropout_cache",
         "    if False:\n        out, dropout_cache"),
    ]),
    # ------------------------------------------------------------------------------ Q4
    Bug("conv pads one side only", 4, [
        (L, "    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n    out = ",
         "    x_pad = np.pad(x, ((0, 0), (0, 0), (2 * pad, 0), (2 * pad, 0)))\n    out = "),
    ]),
    Bug("conv ignores the stride", 4, [
        (L, "window = x_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]",
         "window = x_pad[:, :, i : i + HH, j : j + WW]"),
    ]),
    Bug("conv bias gradient averaged over the batch", 4, [
        (L, "    db = dout.sum(axis=(0, 2, 3))\n",
         "    db = dout.sum(axis=(0, 2, 3)) / len(dout)\n"),
    ]),
    Bug("conv dw overwritten instead of accumulated", 4, [
        (L, "            dw += np.tensordot(g, x_pad", "            dw = np.tensordot(g, x_pad"),
    ]),
    Bug("max pool averages instead of taking the max", 4, [
        (L, "            out[:, :, i, j] = window.max(axis=(2, 3))",
         "            out[:, :, i, j] = window.mean(axis=(2, 3))"),
    ]),
    Bug("max pool gradient sent to the whole window", 4, [
        (L, "+= (first_max * dout[:, :, i, j, None]).reshape(N, C, ph, pw)",
         "+= dout[:, :, i, j, None, None]"),
    ]),
    Bug("spatial batchnorm over the wrong axes", 4, [
        (L, "    rows = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)",
         "    rows = x.reshape(N * H * W, C)"),
    ]),
    Bug("group norm groups the wrong channels", 4, [
        (L, "    groups = x.reshape(N, G, -1)",
         "    groups = x.reshape(N, C // G, G, H * W).transpose(0, 2, 1, 3).reshape(N, G, -1)"),
    ]),
    Bug("sandwich returns gradients in the wrong order (conv_bn_relu)", 4, [
        (LU, "    da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)",
         "    da, dbeta, dgamma = spatial_batchnorm_backward(dan, bn_cache)"),
    ]),
    Bug("ThreeLayerConvNet forgets W1's regularization gradient", 4, [
        (CNN, '        for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):',
         '        for name, W in (("W2", W2), ("W3", W3)):'),
    ]),
]  # fmt: skip


def test_catalogue_is_large_and_covers_every_question():
    assert len(BUGS) >= 30
    assert {b.question for b in BUGS} == {1, 2, 3, 4}
    assert len({b.name for b in BUGS}) == len(BUGS)


def test_every_bug_loses_points_on_its_question(tmp_path):
    reference = runner.Reference(SEED, Q1_TO_Q4)
    subs = [make_submission(tmp_path / f"bug{i:02d}", bug.patches) for i, bug in enumerate(BUGS)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda s: grade(s, reference), subs))
    lines, missed = [], []
    for bug, result in zip(BUGS, results, strict=True):
        by_q = {q: 0.0 for q in (1, 2, 3, 4)}
        for r in result.results:
            by_q[r.question] += r.case.points - r.earned
        lines.append(
            f"Q{bug.question} {bug.name}: "
            + ", ".join(f"Q{q} -{v:.2f}" for q, v in by_q.items() if v > 1e-9)
        )
        if by_q[bug.question] <= 1e-9:
            missed.append(describe(result))
    print(f"bug catalogue, inputs seed {SEED}:\n" + "\n".join(lines))
    assert not missed, "\n\n".join(missed)
