# ruff: noqa: E501 (the patches quote code lines whole)
"""Diagnosis on mistakes written as students write them, not as the catalogue patches them.

``TYPICAL`` holds mistakes of our own, each written differently from the catalogue entry of
the same concept (or of a concept the catalogue lacks), with the diagnoses that would name it
right: a catalogue entry, or a relation (tools/grade/relations.py). Graded in one batch, the
grader must name at least three quarters of them right and none wrong (a diagnosis whose key
is not among the right ones is wrong). The leave-one-out test removes each catalogue entry in
turn and offers its own outputs: no other entry and no relation may name another concept.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from test_grade import Q1_TO_Q4, SEED, grade_all, make_submission

from tools.grade import diagnose, recognize, runner
from tools.grade.cases import CASES_BY_ID
from tools.grade.mistakes import BY_CASE, CATALOGUE

pytestmark = pytest.mark.slow

L, OPT = "layers.py", "optim.py"
FC, CNN = "classifiers/fc_net.py", "classifiers/cnn.py"


@dataclass(frozen=True)
class Typical:
    name: str
    case: str
    patches: tuple[tuple[str, str, str], ...]
    right: frozenset[str]  # diagnosis keys that name it right


def _t(name, case, patches, *right) -> Typical:
    return Typical(name, case, tuple(patches), frozenset(right))


TYPICAL = [
    _t("leaky ReLU", "relu_forward",
       [(L, "    out = np.maximum(x, 0)", "    out = np.where(x > 0, x, 0.01 * x)")],
       "out wrong only where x <= 0"),
    _t("ReLU backward unmasked", "relu_backward",
       [(L, "    dx = dout * (x > 0)", "    dx = dout.copy()")],
       "dx equals the input dout", "dx wrong only where x <= 0"),
    _t("softmax summed over the batch", "softmax_loss",
       [(L, "    loss = -log_probs[rows, y].mean()", "    loss = -np.sum(log_probs[rows, y])"),
        (L, "    dx[rows, y] -= 1\n    dx /= N", "    dx[rows, y] -= 1")],
       "softmax loss not divided by N", "softmax gradient not divided by N",
       "loss N times too large", "dx N times too large"),
    _t("svm loss a sum", "svm_loss",
       [(L, "    loss = margins.sum() / N", "    loss = np.sum(margins)")],
       "svm loss not divided by N", "loss N times too large"),
    _t("affine db a mean", "affine_backward",
       [(L, "    db = dout.sum(axis=0)", "    db = np.mean(dout, axis=0)")],
       "affine bias gradient not summed over the batch", "db N times too small"),
    _t("affine dx flat", "affine_backward",
       [(L, "    dx = (dout @ w.T).reshape(x.shape)", "    dx = dout.dot(w.T)")],
       "affine dx not reshaped like x", "dx not reshaped"),
    _t("affine dw the other way round", "affine_backward",
       [(L, "    dw = x2d.T @ dout", "    dw = dout.T.dot(x2d)")],
       "affine dw transposed", "dw transposed"),
    _t("batchnorm var with ddof=1", "batchnorm_forward_train",
       [(L, "        var = (xc**2).mean(axis=0)", "        var = np.var(x, axis=0, ddof=1)")],
       "batchnorm with the unbiased batch variance", "out sqrt((N-1)/N) times too small"),
    _t("running statistics never written back", "batchnorm_forward_train",
       [(L, "        running_mean = momentum * running_mean + (1 - momentum) * mean\n"
            "        running_var = momentum * running_var + (1 - momentum) * var",
            "        new_mean = momentum * running_mean + (1 - momentum) * mean\n"
            "        new_var = momentum * running_var + (1 - momentum) * var")],
       "running_mean never stored back", "running_var never stored back",
       "default_running_mean never stored back", "default_running_var never stored back"),
    _t("batchnorm test std without the root", "batchnorm_forward_test",
       [(L, "        std = np.sqrt(running_var + eps)", "        std = running_var + eps")],
       "batchnorm test mode treats the running variance as a std"),
    _t("layernorm over the batch", "layernorm_forward",
       [(L, "    xc = x - x.mean(axis=1, keepdims=True)\n"
            "    std = np.sqrt((xc**2).mean(axis=1, keepdims=True) + eps)",
            "    xc = x - np.mean(x, axis=0)\n    std = np.sqrt(np.var(x, axis=0) + eps)")],
       "layernorm normalizes over the batch axis", "out normalized over the wrong axes"),
    _t("momentum as v = mu*v + lr*dw, w -= v", "sgd_momentum",
       [(OPT, '        v -= config["learning_rate"] * dw\n'
              "        # next_w = w + v\n        np.add(w, v, out=next_w)",
              '        v += config["learning_rate"] * dw\n'
              "        # next_w = w + v\n        np.subtract(w, v, out=next_w)")],
       "momentum with the wrong sign"),
    _t("velocity kept in a local", "sgd_momentum",
       [(OPT, '    config["velocity"] = velocity', "    kept = velocity  # noqa: F841")],
       "momentum velocity not stored back", "velocity never stored back"),
    _t("rmsprop cache kept in a local", "rmsprop",
       [(OPT, '    config["cache"] = cache', "    new_cache = cache  # noqa: F841")],
       "cache never stored back"),
    _t("rmsprop divides by the cache", "rmsprop",
       [(OPT, "        denominator = np.sqrt(cache, out=next_w)",
              "        denominator = np.multiply(cache, 1.0, out=next_w)")],
       "rmsprop without the square root"),
    _t("adam t never stored back", "adam",
       [(OPT, '    config["t"], config["m"], config["v"] = t, m, v',
              '    config["m"], config["v"] = m, v')],
       "fresh_t never stored back", "resumed_t never stored back"),
    _t("adam without bias correction, as mhat = m", "adam",
       [(OPT, "        mhat = m / (1 - beta1**t)\n"
              "        vhat = np.divide(v, 1 - beta2**t, out=next_w)",
              "        mhat = np.array(m)\n        vhat = np.copyto(next_w, v) or next_w")],
       "adam without bias correction"),
    _t("sgd without the learning rate", "sgd",
       [(OPT, '    next_w = w - config["learning_rate"] * dw\n', "    next_w = w - dw\n")],
       "w: the step missing the learning rate"),
    _t("dropout backward passes dout", "dropout_backward",
       [(L, "        dx = (dout * mask).astype(dout.dtype, copy=False)", "        dx = dout")],
       "dropout backward ignores the mask"),
    _t("FullyConnectedNet L2 without the 0.5", "fc_net_loss",
       [(FC, "        loss += 0.5 * self.reg * sum(float(np.sum(W * W)) for W in weights)",
             "        loss += self.reg * sum(np.sum(W**2) for W in weights)")],
       "loss off by reg/2 * sum(W^2) over all the weights"),
    _t("ThreeLayerConvNet L2 without the 0.5", "three_layer_convnet",
       [(CNN, "        loss += 0.5 * self.reg * sum(float(np.vdot(W, W)) for W in (W1, W2, W3))",
              "        loss += self.reg * (np.sum(W1**2) + np.sum(W2**2) + np.sum(W3**2))")],
       "loss off by reg/2 * sum(W^2) over all the weights"),
    _t("ThreeLayerConvNet L2 gradient doubled", "three_layer_convnet",
       [(CNN, '        for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):\n            grads[name] += self.reg * W',
              '        for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):\n            grads[name] += 2 * self.reg * W')],
       "dW1 off by reg * W1", "dW2 off by reg * W2", "dW3 off by reg * W3"),
    _t("conv dw divided by N", "conv_backward_naive",
       [(L, "    db = dout.sum(axis=(0, 2, 3))", "    db = dout.sum(axis=(0, 2, 3))\n    dw /= x.shape[0]")],
       "dw N times too small"),
    _t("conv db a mean over the batch", "conv_backward_naive",
       [(L, "    db = dout.sum(axis=(0, 2, 3))", "    db = dout.mean(axis=0).sum(axis=(1, 2))")],
       "conv bias gradient averaged over the batch", "db N times too small"),
    _t("spatial batchnorm over each image", "spatial_batchnorm_forward",
       [(L, "    rows = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)\n"
            "    out_rows, cache = batchnorm_forward(rows, gamma, beta, bn_param)\n"
            "    out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)",
            "    rows = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)\n"
            "    out_rows, cache = batchnorm_forward(rows, gamma, beta, bn_param)\n"
            "    mu = x.mean(axis=(0, 2, 3), keepdims=True)\n"
            "    sd = np.sqrt(x.var(axis=(0, 2, 3), keepdims=True, ddof=1) + bn_param.get('eps', 1e-5))\n"
            "    out = gamma.reshape(1, C, 1, 1) * (x - mu) / sd + beta.reshape(1, C, 1, 1)")],
       "out normalized with the unbiased variance", "out sqrt((N-1)/N) times too small"),
    _t("relu backward with >= 0", "relu_backward",
       [(L, "    dx = dout * (x > 0)", "    dx = np.where(x >= 0, dout, 0) * (x != 0) * 2")],
       "dx twice too large"),
    # Concepts the catalogue lacks: only a relation can name them.
    _t("conv pads by repeating the edge", "conv_forward_naive",
       [(L, "    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n    out = np.empty(",
            "    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode='edge')\n    out = np.empty(")],
       "out wrong only at the border of the image", "out wrong only with pad > 0"),
    _t("max pool backward overwrites overlapping windows", "max_pool_backward_naive",
       [(L, "            dx[:, :, rows, cols] += (first_max * dout[:, :, i, j, None]).reshape(N, C, ph, pw)",
            "            dx[:, :, rows, cols] = (first_max * dout[:, :, i, j, None]).reshape(N, C, ph, pw)")],
       "dx wrong only with pooling windows that overlap"),
    _t("conv forward loop one column short", "conv_forward_naive",
       [(L, "        for j in range(W_out):\n            window = x_pad",
            "        for j in range(W_out - 1):\n            window = x_pad")],
       "out wrong only at the last index of axis 3"),
    _t("max pool forward loop one row short", "max_pool_forward_naive",
       [(L, "    for i in range(H_out):\n        for j in range(W_out):\n            window = x[",
            "    out[:] = 0\n    for i in range(H_out - 1):\n        for j in range(W_out):\n            window = x[")],
       "out wrong only at the last index of axis 2"),
    _t("ReLU after the last layer", "fc_net_loss",
       [(FC, '        scores, scores_cache = affine_forward(out, self.params[f"W{L}"], self.params[f"b{L}"])',
             '        scores, scores_cache = affine_forward(out, self.params[f"W{L}"], self.params[f"b{L}"])\n'
             "        scores = np.maximum(scores, 0)")],
       "scores clipped at zero"),
    _t("batchnorm dbeta a mean", "batchnorm_backward_alt",
       [(L, "    dbeta = dout.sum(axis=0)\n    dgamma = (dout * xhat).sum(axis=0)\n    dx = _normalize_backward(dout * gamma, xhat, std, axis=0)",
            "    dbeta = dout.mean(axis=0)\n    dgamma = (dout * xhat).sum(axis=0)\n    dx = _normalize_backward(dout * gamma, xhat, std, axis=0)")],
       "dbeta N times too small"),
    _t("batchnorm alt returns dgamma and dbeta swapped", "batchnorm_backward_alt",
       [(L, "    dx = _normalize_backward(dout * gamma, xhat, std, axis=0)\n    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****\n    return dx, dgamma, dbeta",
            "    dx = _normalize_backward(dout * gamma, xhat, std, axis=0)\n    dgamma, dbeta = dbeta, dgamma\n    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****\n    return dx, dgamma, dbeta")],
       "dgamma holds dbeta", "dbeta holds dgamma"),
    _t("svm gradient of the wrong sign", "svm_loss",
       [(L, "    dx[rows, y] -= dx.sum(axis=1)\n    dx /= N", "    dx[rows, y] -= dx.sum(axis=1)\n    dx /= -N")],
       "dx of the opposite sign"),
    _t("velocity stored with the wrong sign", "sgd_momentum",
       [(OPT, '    config["velocity"] = velocity', '    config["velocity"] = -velocity')],
       "velocity of the opposite sign"),
    _t("rmsprop learning rate applied twice", "rmsprop",
       [(OPT, 'step = np.divide(config["learning_rate"] * dw, denominator',
              'step = np.divide(config["learning_rate"] ** 2 * dw, denominator')],
       "w: the step learning-rate times too small"),
    _t("adam returns the old w", "adam",
       [(OPT, "    m, v = new_m, new_v\n", "    m, v = new_m, new_v\n    next_w = w\n")],
       "fresh_w never changes", "resumed_w never changes"),
    _t("FullyConnectedNet L2 loss leaves out the last layer", "fc_net_loss",
       [(FC, '        weights = [self.params[f"W{i}"] for i in range(1, L + 1)]\n        loss += 0.5 * self.reg * sum(float(np.sum(W * W)) for W in weights)',
             '        weights = [self.params[f"W{i}"] for i in range(1, L + 1)]\n        loss += 0.5 * self.reg * sum(float(np.sum(W * W)) for W in weights[:-1])')],
       "loss off by -reg/2 * sum(W3^2)"),
    _t("adam stores m and v swapped", "adam",
       [(OPT, '    config["t"], config["m"], config["v"] = t, m, v', '    config["t"], config["m"], config["v"] = t, v, m')],
       "fresh_m holds fresh_v", "fresh_v holds fresh_m", "resumed_m holds resumed_v", "resumed_v holds resumed_m"),
    _t("dropout test mode divides by p", "dropout_forward_test",
       [(L, "        mask = None\n        out = x.copy()", "        mask = None\n        out = x / p")],
       "out 1/p times what it should be"),
    _t("TwoLayerNet db2 never filled", "two_layer_net_loss",
       [(FC, '        dhidden, grads["W2"], grads["b2"] = affine_backward(dscores, scores_cache)',
             '        dhidden, grads["W2"], _ = affine_backward(dscores, scores_cache)\n        grads["b2"] = np.zeros_like(b2)')],
       "db2 all zeros"),
    _t("FullyConnectedNet weights from rand", "fc_net_init",
       [(FC, '            self.params[f"W{i}"] = weight_scale * np.random.randn(fan_in, fan_out)  # noqa: NPY002',
             '            self.params[f"W{i}"] = weight_scale * np.random.rand(fan_in, fan_out)  # noqa: NPY002')],
       "weight_mean_off wrong", "weight_std_off wrong"),
    _t("TwoLayerNet biases start random", "two_layer_net_init",
       [(FC, '        self.params["W2"] = weight_scale * np.random.randn(hidden_dim, num_classes)  # noqa: NPY002',
             '        self.params["W2"] = weight_scale * np.random.randn(hidden_dim, num_classes)  # noqa: NPY002\n'
             '        self.params["b1"] = np.random.randn(hidden_dim)  # noqa: NPY002')],
       "bias_max wrong"),
    _t("softmax loss a mean over every entry", "softmax_loss",
       [(L, "    loss = -log_probs[rows, y].mean()", "    loss = -log_probs[rows, y].sum() / x.size")],
       "loss C times too small"),
    _t("dropout test mode returns zeros", "dropout_forward_test",
       [(L, "        mask = None\n        out = x.copy()", "        mask = None\n        out = np.zeros_like(x)")],
       "out all zeros"),
]  # fmt: skip


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> list[runner.Result]:
    reference = runner.Reference(SEED, Q1_TO_Q4)
    tmp = tmp_path_factory.mktemp("typical")
    subs = [make_submission(tmp / f"t{i:02d}", t.patches) for i, t in enumerate(TYPICAL)]
    return grade_all(subs, reference)


def _named(result: runner.Result, case: str) -> set[str]:
    (own,) = [r for r in result.results if r.case.program == case]
    return set(own.mistakes) | set(own.clues)


def test_typical_mistakes_written_otherwise_are_named_right_and_never_wrong(graded):
    right, wrong, silent = [], [], []
    for t, result in zip(TYPICAL, graded, strict=True):
        named = _named(result, t.case)
        (right if named & t.right else silent).append(t.name)
        if named - t.right:
            wrong.append(f"{t.name}: {sorted(named - t.right)}")
    print(f"\n{len(right)} of {len(TYPICAL)} named right, {len(wrong)} wrong, not named: {silent}")
    assert len(TYPICAL) >= 24
    assert not wrong, wrong
    assert len(right) >= 0.75 * len(TYPICAL), f"named right: {len(right)}; not: {silent}"


def test_leaving_out_each_catalogue_entry_names_no_other_concept():
    """Each entry's outputs, diagnosed with the rest of its function's catalogue only: what is
    named instead is a relation or nothing, never another entry."""
    reference = runner.Reference(SEED, Q1_TO_Q4)
    wrong = []
    for m in CATALOGUE:
        outcome = recognize.outcome(m, reference)
        if outcome is None:
            continue
        case = CASES_BY_ID[m.case]
        report = {"error": outcome} if isinstance(outcome, str) else {"outputs": outcome}
        others = [o for o in BY_CASE[m.case] if o is not m]
        outcomes = {o.name: recognize.outcome(o, reference) for o in others}
        hints = {o.name: o.hint for o in others}
        found = diagnose.diagnose(case, report, reference.inputs[m.case],
                                  reference.outputs[m.case], outcomes, hints)  # fmt: skip
        named = [n for f in found for n in f.mistakes]
        if named:
            wrong.append(f"{m.name} -> {named}")
    assert not wrong, wrong
