"""The catalogue of known mistakes: typical student bugs, each as a patch to our solution.

Every entry belongs to one graded case (``cases.py``: the function the student wrote), has a
short name, a hint in our words (what the student probably did and where to look, without
the code) and the patches that reproduce the mistake in our ``cs231n``. The grader uses the
catalogue to recognize a wrong answer (``recognize.py``); the tests apply every entry to our
solution and check that it costs points on its question and is recognized by name
(``tests/test_grade_bugs.py``).

Patches are ``(file under cs231n/, old, new)`` and are anchored on code lines (not comments):
``old`` must occur exactly once, so that a change to the solution that moves an anchor fails
loudly instead of silently patching nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.grade.cases import CASES_BY_ID


@dataclass(frozen=True)
class Mistake:
    case: str  # the graded case (a program in programs.py) the mistake belongs to
    name: str  # short, unique
    hint: str  # what the student probably did, and where to look
    patches: tuple[tuple[str, str, str], ...]  # (file under cs231n/, old, new)

    @property
    def function(self) -> str:
        """The graded function, as the feedback names it."""
        return CASES_BY_ID[self.case].function

    @property
    def question(self) -> int:
        return CASES_BY_ID[self.case].question


def patch_text(text: str, old: str, new: str, where: str) -> str:
    """``text`` with ``old`` replaced by ``new``; ``old`` must occur exactly once."""
    count = text.count(old)
    if count != 1:
        raise ValueError(f"patch for {where}: {old!r} found {count} times, expected once")
    return text.replace(old, new)


def _m(case: str, name: str, hint: str, *patches: tuple[str, str, str]) -> Mistake:
    return Mistake(case, name, hint, tuple(patches))


L, LU, OPT = "layers.py", "layer_utils.py", "optim.py"
FC, CNN = "classifiers/fc_net.py", "classifiers/cnn.py"

# Hints shared by the same mistake in several functions.
UNSCALED = (
    "the initial weights have standard deviation 1; multiply the random draws by weight_scale"
)
NO_REG_GRADIENT = "the loss has the L2 term, but the weight gradients lack its derivative, reg * W"
NO_GAMMA = (
    "dx is computed from dout itself; the normalized x is scaled by gamma, so the gradient "
    "reaching it is dout * gamma"
)
EPS_OUTSIDE = (
    "eps is added to the standard deviation; add it to the variance, inside the square root"
)

CATALOGUE = [
    # ------------------------------------------------------------------------------ Q1
    _m("affine_forward", "affine forward forgets the bias",
       "the output is x times w without the bias b; add b to every row",
       (L, "    out = x.reshape(x.shape[0], D) @ w + b", "    out = x.reshape(x.shape[0], D) @ w")),
    _m("affine_backward", "affine dw transposed",
       "dw comes out transposed, (M, D) instead of (D, M): multiply the flattened x, "
       "transposed, by dout (not the other way round)",
       (L, "    dw = x2d.T @ dout", "    dw = (x2d.T @ dout).T")),
    _m("affine_backward", "affine bias gradient not summed over the batch",
       "db is averaged over the samples; each sample adds its own dout to db, so sum them",
       (L, "    db = dout.sum(axis=0)\n", "    db = dout.mean(axis=0)\n")),
    _m("affine_backward", "affine dx not reshaped like x",
       "dx keeps the flattened shape (N, D); reshape it to the shape of the input x",
       (L, "    dx = (dout @ w.T).reshape(x.shape)", "    dx = dout @ w.T")),
    _m("relu_forward", "relu forward keeps the negative part",
       "the output keeps the negative values and zeroes the positive ones: max and min are "
       "swapped",
       (L, "    out = np.maximum(x, 0)", "    out = np.minimum(x, 0)")),
    _m("relu_backward", "relu backward forgets dout",
       "dx is the 0/1 mask of x > 0 alone; the upstream gradient dout must pass through it",
       (L, "    dx = dout * (x > 0)", "    dx = 1.0 * (x > 0)")),
    _m("relu_backward", "relu backward masks with the sign of dout",
       "the gradient is masked where dout is positive; the mask comes from the forward "
       "input x (the cache)",
       (L, "    dx = dout * (x > 0)", "    dx = dout * (dout > 0)")),
    _m("softmax_loss", "softmax loss not divided by N",
       "the loss is the sum of the per-sample losses; the assignment wants their mean",
       (L, "    loss = -log_probs[rows, y].mean()", "    loss = -log_probs[rows, y].sum()")),
    _m("softmax_loss", "softmax gradient not divided by N",
       "the loss is a mean over the N samples, so its gradient dx must be divided by N too",
       (L, "    dx[rows, y] -= 1\n    dx /= N\n", "    dx[rows, y] -= 1\n")),
    _m("softmax_loss", "softmax without the max shift (overflows)",
       "huge scores overflow exp(); subtract each row's maximum score before exponentiating",
       (L, "    shifted = x - x.max(axis=1, keepdims=True)", "    shifted = x")),
    _m("softmax_loss", "softmax gradient forgets the correct class",
       "dx is the softmax probabilities alone; subtract 1 at each sample's correct class",
       (L, "    dx[rows, y] -= 1\n    dx /= N\n", "    dx /= N\n")),
    _m("svm_loss", "svm margin counted for the correct class",
       "each sample's correct class adds a margin of 1 to the loss; the sum runs over the "
       "other classes only",
       (L, "    margins[rows, y] = 0\n", "")),
    _m("svm_loss", "svm gradient misses the correct class",
       "dx is right for the wrong classes, but the correct class's score gets no gradient: "
       "it loses one dout for every class whose margin is positive",
       (L, "    dx[rows, y] -= dx.sum(axis=1)\n", "")),
    _m("svm_loss", "svm loss not divided by N",
       "the loss is the sum over the samples; the assignment wants their mean (the gradient "
       "already is)",
       (L, "    loss = margins.sum() / N", "    loss = margins.sum()")),
    _m("affine_relu", "sandwich returns gradients in the wrong order (affine_relu)",
       "affine_relu_backward unpacks affine_backward's gradients in the wrong order: db and "
       "dw are swapped",
       (LU, "    dx, dw, db = affine_backward(da, fc_cache)",
        "    dx, db, dw = affine_backward(da, fc_cache)")),
    _m("two_layer_net_init", "TwoLayerNet weights not scaled by weight_scale",
       UNSCALED,
       (FC, 'self.params["W1"] = weight_scale * np.random.randn(input_dim, hidden_dim)',
        'self.params["W1"] = np.random.randn(input_dim, hidden_dim)')),
    _m("two_layer_net_loss", "TwoLayerNet regularization without the 0.5",
       "the L2 term of the loss is missing its factor 0.5 (the gradient reg * W assumes it)",
       (FC, "        loss += 0.5 * self.reg * float(np.sum(W1 * W1) + np.sum(W2 * W2))",
        "        loss += self.reg * float(np.sum(W1 * W1) + np.sum(W2 * W2))")),
    _m("two_layer_net_loss", "TwoLayerNet forgets the regularization gradient",
       NO_REG_GRADIENT,
       (FC, '        grads["W1"] += self.reg * W1\n        grads["W2"] += self.reg * W2\n', "")),
    _m("fc_net_init", "FullyConnectedNet parameters numbered from 0",
       "the parameters are named W0, b0, ...; the layers are numbered from 1: W1, b1 for "
       "the first",
       (FC, '            self.params[f"W{i}"] = weight_scale * np.random.randn(fan_in, fan_out)',
        '            self.params[f"W{i - 1}"] = weight_scale * np.random.randn(fan_in, fan_out)'),
       (FC, '            self.params[f"b{i}"] = np.zeros(fan_out)',
        '            self.params[f"b{i - 1}"] = np.zeros(fan_out)')),
    _m("fc_net_init", "FullyConnectedNet weights not scaled by weight_scale",
       UNSCALED,
       (FC, 'self.params[f"W{i}"] = weight_scale * np.random.randn(fan_in, fan_out)',
        'self.params[f"W{i}"] = np.random.randn(fan_in, fan_out)')),
    _m("fc_net_loss", "FullyConnectedNet forgets the regularization gradient",
       NO_REG_GRADIENT,
       (FC, '            grads[f"W{i}"] += self.reg * W', '            grads[f"W{i}"] += 0 * W')),
    _m("fc_net_loss", "FullyConnectedNet backward loop stops before the first layer",
       "the backward loop over the hidden layers stops one layer early, so the first "
       "layer's gradients are never computed: check the range of the loop",
       (FC, "        for i in range(L - 1, 0, -1):", "        for i in range(L - 1, 1, -1):")),
    _m("fc_net_loss", "FullyConnectedNet regularizes the biases",
       "the L2 term (loss and gradient) includes the biases; regularize the weight "
       "matrices only",
       (FC, "        loss += 0.5 * self.reg * sum(float(np.sum(W * W)) for W in weights)",
        "        loss += 0.5 * self.reg * sum(float(np.sum(W * W)) for W in weights)\n"
        '        loss += 0.5 * self.reg * sum(float(np.sum(self.params[f"b{i}"] ** 2))'
        " for i in range(1, L + 1))"),
       (FC, '            grads[f"W{i}"] += self.reg * W\n',
        '            grads[f"W{i}"] += self.reg * W\n'
        '            grads[f"b{i}"] += self.reg * self.params[f"b{i}"]\n')),
    _m("sgd_momentum", "momentum with the wrong sign",
       "the velocity adds the gradient instead of subtracting it: the step goes uphill",
       (OPT, 'v -= config["learning_rate"] * dw', 'v += config["learning_rate"] * dw')),
    _m("sgd_momentum", "momentum velocity not stored back",
       "the new velocity is never written back into config, so every step starts again "
       "from the initial velocity",
       (OPT, '    config["velocity"] = velocity\n', "")),
    _m("sgd", "sgd steps up the gradient",
       "the step adds the gradient; gradient descent moves against it",
       (OPT, '    next_w = w - config["learning_rate"] * dw\n',
        '    next_w = w + config["learning_rate"] * dw\n')),
    _m("dropout_forward_train", "dropout output in float64 for float32 input",
       "the mask is float64, so the output of a float32 input becomes float64; give the "
       "output the input's dtype",
       (L, "        out = (x * mask).astype(x.dtype, copy=False)", "        out = x * mask")),
    _m("sgd_momentum", "momentum steps with the old velocity",
       "w moves by the previous velocity; update the velocity first, then step with the "
       "new one",
       (OPT, "np.add(w, v, out=next_w)", "np.add(w, v_old, out=next_w)")),
    _m("rmsprop", "rmsprop without the square root",
       "the step divides by the cache itself; divide by its square root (plus epsilon)",
       (OPT, "np.sqrt(cache, out=next_w)", "np.add(cache, 0, out=next_w)")),
    _m("rmsprop", "rmsprop averages the gradient instead of its square",
       "the cache is a moving average of the gradient itself; it should average the "
       "squared gradient (which also keeps it positive)",
       (OPT, "np.multiply(dw, dw, out=cache)", "np.multiply(dw, 1, out=cache)")),
    _m("rmsprop", "rmsprop decay rate swapped",
       "the decay rate weighs the new squared gradient and 1 - decay the old cache: the "
       "other way round",
       (OPT, "        cache *= 1 - decay\n        cache += decay * cache_old",
        "        cache *= decay\n        cache += (1 - decay) * cache_old")),
    _m("adam", "adam without bias correction",
       "m and v are used as they are; divide them by 1 - beta1**t and 1 - beta2**t",
       (OPT, "        mhat = m / (1 - beta1**t)\n", "        mhat = m.copy()\n"),
       (OPT, "np.divide(v, 1 - beta2**t, out=next_w)", "np.divide(v, 1, out=next_w)")),
    _m("adam", "adam increments t after the update",
       "the step counter t is incremented after the bias correction; increment it first "
       "(the first step uses t = 1)",
       (OPT, '    t = config["t"] + 1', '    t = config["t"]'),
       (OPT, 'config["t"], config["m"], config["v"] = t, m, v',
        'config["t"], config["m"], config["v"] = t + 1, m, v')),
    _m("adam", "adam without the square root of v",
       "the step divides by the corrected second moment itself; divide by its square root",
       (OPT, "denominator = np.sqrt(vhat, out=vhat)", "denominator = vhat")),
    _m("batchnorm_forward_train", "batchnorm with the unbiased batch variance",
       "the batch variance divides by N - 1; batch normalization uses the biased variance "
       "(divide by N)",
       (L, "        var = (xc**2).mean(axis=0)", "        var = (xc**2).sum(axis=0) / (N - 1)")),
    _m("batchnorm_forward_train", "batchnorm running averages with momentum swapped",
       "the running mean and variance give the weight momentum to the new batch and "
       "1 - momentum to the old average: the other way round",
       (L, "        running_mean = momentum * running_mean + (1 - momentum) * mean",
        "        running_mean = (1 - momentum) * running_mean + momentum * mean"),
       (L, "        running_var = momentum * running_var + (1 - momentum) * var",
        "        running_var = (1 - momentum) * running_var + momentum * var")),
    _m("batchnorm_forward_test", "batchnorm test mode uses the batch statistics",
       "test mode normalizes with the mean and variance of the batch; it must use the "
       "running averages",
       (L, "        std = np.sqrt(running_var + eps)\n        xhat = (x - running_mean) / std",
        "        std = np.sqrt(x.var(axis=0) + eps)\n        xhat = (x - x.mean(axis=0)) / std")),
    _m("batchnorm_forward_test", "batchnorm test mode treats the running variance as a std",
       "test mode divides by the running variance (plus eps) itself; divide by its square "
       "root",
       (L, "        std = np.sqrt(running_var + eps)\n", "        std = running_var + eps\n")),
    _m("batchnorm_backward", "batchnorm backward forgets the mean's gradient",
       "the gradient through the batch mean is missing: x enters the mean, so every dx "
       "loses the mean of the upstream gradient",
       (L, "    dx = dxc - dxc.mean(axis=0)", "    dx = dxc")),
    _m("batchnorm_backward", "batchnorm backward dgamma without xhat",
       "dgamma is the sum of dout alone; gamma multiplies the normalized x, so weigh dout "
       "by xhat",
       (L, "    dbeta = dout.sum(axis=0)\n    dgamma = (dout * xhat).sum(axis=0)\n    dxhat = ",
        "    dbeta = dout.sum(axis=0)\n    dgamma = dout.sum(axis=0)\n    dxhat = ")),
    _m("batchnorm_backward", "batchnorm backward with the unbiased variance",
       "the backward pass differentiates the variance as if it divided by N - 1, but the "
       "forward pass uses the biased one (divide by N): use the same N in both",
       (L, "    dxc += 2 * xc * dvar / N", "    dxc += 2 * xc * dvar / (N - 1)")),
    _m("batchnorm_backward", "batchnorm backward forgets to divide by N",
       "the gradient through the variance is not divided by N: the variance is a mean "
       "over the batch",
       (L, "    dxc += 2 * xc * dvar / N", "    dxc += 2 * xc * dvar")),
    _m("batchnorm_backward_alt", "simplified backward drops the xhat term",
       "the closed form lacks its last term, xhat times the mean of dxhat * xhat (the "
       "path through the variance)",
       (L, "(dxhat - mean_dxhat - xhat * mean_dxhat_xhat) / std", "(dxhat - mean_dxhat) / std")),
    _m("batchnorm_backward_alt", "simplified backward forgets gamma",
       NO_GAMMA,
       (L, "    dx = _normalize_backward(dout * gamma, xhat, std, axis=0)",
        "    dx = _normalize_backward(dout, xhat, std, axis=0)")),
    _m("batchnorm_backward_alt", "simplified backward averages over the features",
       "the means in the closed form are taken over the features of each sample; batch "
       "normalization averages over the batch (axis 0)",
       (L, "    dx = _normalize_backward(dout * gamma, xhat, std, axis=0)",
        "    dx = _normalize_backward(dout * gamma, xhat, std, axis=1)")),
    _m("layernorm_forward", "layernorm normalizes over the batch axis",
       "the mean is taken over the batch (axis 0); layer normalization centres each sample "
       "over its own features",
       (L, "    xc = x - x.mean(axis=1, keepdims=True)",
        "    xc = x - x.mean(axis=0, keepdims=True)")),
    _m("layernorm_backward", "layernorm backward forgets gamma",
       NO_GAMMA,
       (L, "    dx = _normalize_backward(dout * gamma, xhat, std, axis=1)",
        "    dx = _normalize_backward(dout, xhat, std, axis=1)")),
    _m("layernorm_backward", "layernorm backward averages over the batch",
       "the means in dx's closed form are taken over the batch; layer normalization "
       "averages over each sample's features (axis 1), as in its forward pass",
       (L, "    dx = _normalize_backward(dout * gamma, xhat, std, axis=1)",
        "    dx = _normalize_backward(dout * gamma, xhat, std, axis=0)")),
    _m("fc_net_batchnorm", "FullyConnectedNet stores dgamma and dbeta swapped",
       "the normalization's gradients are stored under each other's names: gamma gets "
       "dbeta's and beta gets dgamma's",
       (FC, 'grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta',
        'grads[f"gamma{i}"], grads[f"beta{i}"] = dbeta, dgamma')),
    _m("fc_net_layernorm", "FullyConnectedNet regularizes gamma",
       "the L2 term (loss and gradient) includes the normalization scales gamma; "
       "regularize the weight matrices only",
       (FC, "        weights = [self.params[f\"W{i}\"] for i in range(1, L + 1)]\n",
        "        weights = [self.params[f\"W{i}\"] for i in range(1, L + 1)]\n"
        "        gammas = [self.params[f\"gamma{i}\"] for i in range(1, L) if self.normalization]\n"
        "        loss += 0.5 * self.reg * sum(float(np.sum(g * g)) for g in gammas)\n"),
       (FC, '            grads[f"W{i}"] += self.reg * W\n',
        '            grads[f"W{i}"] += self.reg * W\n'
        "            if self.normalization is not None and i < L:\n"
        '                grads[f"gamma{i}"] += self.reg * self.params[f"gamma{i}"]\n')),
    # ------------------------------------------------------------------------------ Q3
    _m("dropout_forward_train", "dropout scales kept units by 1/(1-p)",
       "kept units are divided by 1 - p; p is the probability of keeping a unit, so divide "
       "by p",
       (L, "        mask = (np.random.rand(*x.shape) < p) / p",
        "        mask = (np.random.rand(*x.shape) < p) / (1 - p)")),
    _m("dropout_forward_train", "dropout treats p as the drop probability",
       "units are kept with probability 1 - p; in this assignment p is the probability of "
       "keeping a unit",
       (L, "        mask = (np.random.rand(*x.shape) < p) / p",
        "        mask = (np.random.rand(*x.shape) >= p) / (1 - p)")),
    _m("dropout_forward_train", "dropout mask not scaled",
       "kept units are not scaled up; inverted dropout divides them by p so that the "
       "expected output equals x",
       (L, "        mask = (np.random.rand(*x.shape) < p) / p",
        "        mask = (np.random.rand(*x.shape) < p) * 1.0")),
    _m("dropout_forward_test", "dropout scales at test time",
       "test mode multiplies x by p; with inverted dropout the scaling happens in training "
       "and test mode is the identity",
       (L, "        out = x.copy()", "        out = x * p")),
    _m("dropout_backward", "dropout backward ignores the mask",
       "dx is dout unchanged in train mode; the gradient goes through the same mask as the "
       "forward pass",
       (L, "        dx = (dout * mask).astype(dout.dtype, copy=False)", "        dx = dout")),
    _m("dropout_backward", "dropout backward draws a new mask",
       "the backward pass draws a fresh random mask; the gradient must go through the very "
       "mask the forward pass used (it is in the cache)",
       (L, "        dx = (dout * mask).astype(dout.dtype, copy=False)",
        '        p = dropout_param["p"]\n'
        "        dx = dout * (np.random.rand(*dout.shape) < p) / p")),
    _m("fc_net_dropout", "the network never applies its dropout layers",
       "the hidden layers never call dropout, so training is the same for every seed: "
       "check the condition that adds the dropout layer",
       (LU, "    if dropout_param is not None:\n        out, dropout_cache",
        "    if False:\n        out, dropout_cache")),
    # ------------------------------------------------------------------------------ Q4
    _m("conv_forward_naive", "conv pads one side only",
       "the zero padding is added on one side of the image only; pad is added on every "
       "side",
       (L, "    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n    out = ",
        "    x_pad = np.pad(x, ((0, 0), (0, 0), (2 * pad, 0), (2 * pad, 0)))\n    out = ")),
    _m("conv_forward_naive", "conv ignores the stride",
       "the windows move by one pixel; output position i starts at i * stride in the padded "
       "input",
       (L, "window = x_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]",
        "window = x_pad[:, :, i : i + HH, j : j + WW]")),
    _m("conv_forward_naive", "conv forgets the bias",
       "the output lacks the bias: add b[f] to every position of filter f's output",
       (L, "    out += b[:, None, None]\n", "")),
    _m("conv_forward_naive", "conv flips the filters",
       "the filters are flipped (a true convolution); the layer is a cross-correlation, "
       "filter and window aligned as they are",
       (L, "np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))",
        "np.tensordot(window, w[:, :, ::-1, ::-1], axes=([1, 2, 3], [1, 2, 3]))")),
    _m("conv_backward_naive", "conv bias gradient averaged over the batch",
       "db is divided by the number of samples; each sample adds its own gradient, so sum "
       "them",
       (L, "    db = dout.sum(axis=(0, 2, 3))\n",
        "    db = dout.sum(axis=(0, 2, 3)) / len(dout)\n")),
    _m("conv_backward_naive", "conv dw overwritten instead of accumulated",
       "dw keeps only the last output position's contribution; every position adds to it",
       (L, "            dw += np.tensordot(g, x_pad", "            dw = np.tensordot(g, x_pad")),
    _m("conv_backward_naive", "conv backward ignores the stride",
       "the backward pass takes windows one pixel apart; as in the forward pass, output "
       "position i reads the window starting at i * stride",
       (L, "            rows = slice(i * stride, i * stride + HH)\n"
        "            cols = slice(j * stride, j * stride + WW)\n",
        "            rows = slice(i, i + HH)\n            cols = slice(j, j + WW)\n")),
    _m("conv_backward_naive", "conv dx cropped at the wrong offset",
       "dx is cut from the padded gradient starting at 0; the image starts pad pixels in, "
       "so drop pad rows and columns on every side",
       (L, "    dx = dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]",
        "    dx = dx_pad[:, :, : x.shape[2], : x.shape[3]]")),
    _m("max_pool_forward_naive", "max pool averages instead of taking the max",
       "each window gives its mean; max pooling keeps the largest value",
       (L, "            out[:, :, i, j] = window.max(axis=(2, 3))",
        "            out[:, :, i, j] = window.mean(axis=(2, 3))")),
    _m("max_pool_backward_naive", "max pool gradient sent to the whole window",
       "every element of a window gets the window's gradient; only the position of the "
       "maximum does",
       (L, "+= (first_max * dout[:, :, i, j, None]).reshape(N, C, ph, pw)",
        "+= dout[:, :, i, j, None, None]")),
    _m("spatial_batchnorm_forward", "spatial batchnorm over the wrong axes",
       "x is reshaped to (N*H*W, C) without moving the channels last first, so each "
       "'channel' mixes values of different channels: transpose before reshaping",
       (L, "    rows = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)",
        "    rows = x.reshape(N * H * W, C)")),
    _m("spatial_batchnorm_forward", "spatial batchnorm output not transposed back",
       "the normalized rows are reshaped straight to (N, C, H, W); they are laid out as "
       "(N, H, W, C), so reshape to that and move the channels back",
       (L, "    out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)",
        "    out = out_rows.reshape(N, C, H, W)")),
    _m("spatial_batchnorm_backward", "spatial batchnorm backward without the transpose",
       "dout is reshaped to (N*H*W, C) without moving the channels last first, unlike the "
       "forward pass",
       (L, "    drows = dout.transpose(0, 2, 3, 1).reshape(N * H * W, C)",
        "    drows = dout.reshape(N * H * W, C)")),
    _m("spatial_groupnorm_forward", "group norm groups the wrong channels",
       "each group takes every G-th channel; a group is C/G consecutive channels",
       (L, "    groups = x.reshape(N, G, -1)",
        "    groups = x.reshape(N, C // G, G, H * W).transpose(0, 2, 1, 3).reshape(N, G, -1)")),
    _m("spatial_groupnorm_forward", "group norm normalizes each channel alone",
       "each channel is normalized on its own (instance normalization); group norm shares "
       "one mean and variance among the C/G channels of a group",
       (L, "    groups = x.reshape(N, G, -1)", "    groups = x.reshape(N, C, -1)")),
    _m("spatial_groupnorm_backward", "group norm backward forgets gamma",
       NO_GAMMA,
       (L, "    dxhat = (dout * gamma).reshape(N, G, -1)", "    dxhat = dout.reshape(N, G, -1)")),
    _m("spatial_groupnorm_backward", "group norm dgamma and dbeta summed over the batch only",
       "dgamma and dbeta are summed over the samples only; gamma and beta are per channel, "
       "so sum over the samples and every position (H and W too)",
       (L, "    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)\n"
        "    dgamma = (dout * xhat).sum(axis=(0, 2, 3), keepdims=True)\n",
        "    dbeta = dout.sum(axis=0, keepdims=True)\n"
        "    dgamma = (dout * xhat).sum(axis=0, keepdims=True)\n")),
    _m("conv_backward_naive", "conv backward strips the padding as [pad:-pad]",
       "dx is cut out of the padded gradient with a negative end index, which is empty when "
       "pad is 0; end the slice at pad plus the input's size",
       (L, "    dx = dx_pad[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]",
        "    dx = dx_pad[:, :, pad:-pad, pad:-pad]")),
    _m("conv_bn_sandwiches", "sandwich returns gradients in the wrong order (conv_bn_relu)",
       "conv_bn_relu_backward unpacks the spatial batchnorm's gradients in the wrong "
       "order: dgamma and dbeta are swapped",
       (LU, "    da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)",
        "    da, dbeta, dgamma = spatial_batchnorm_backward(dan, bn_cache)")),
    _m("conv_relu_sandwiches", "conv_relu backward skips the ReLU",
       "conv_relu_backward passes dout straight to the convolution's backward pass; it must "
       "go back through the ReLU first",
       (LU, "    da = relu_backward(dout, relu_cache)\n    dx, dw, db = conv_backward_fast(",
        "    da = dout\n    dx, dw, db = conv_backward_fast(")),
    _m("three_layer_convnet", "ThreeLayerConvNet ignores filter_size",
       "the convolution's filters are always 7 by 7; their size is the filter_size argument",
       (CNN, "        F, fs = num_filters, filter_size\n", "        F, fs = num_filters, 7\n")),
    _m("three_layer_convnet", "ThreeLayerConvNet forgets W1's regularization gradient",
       "the convolution's weights W1 get no regularization gradient, though the loss "
       "includes their L2 term",
       (CNN, '        for name, W in (("W1", W1), ("W2", W2), ("W3", W3)):',
        '        for name, W in (("W2", W2), ("W3", W3)):')),
    _m("three_layer_convnet", "ThreeLayerConvNet filters not scaled by weight_scale",
       "the initial convolution filters have standard deviation 1; multiply the random "
       "draws by weight_scale",
       (CNN, 'self.params["W1"] = weight_scale * np.random.randn(F, C, fs, fs)',
        'self.params["W1"] = np.random.randn(F, C, fs, fs)')),
]  # fmt: skip

BY_NAME = {m.name: m for m in CATALOGUE}
BY_CASE: dict[str, list[Mistake]] = {}
for _mistake in CATALOGUE:
    BY_CASE.setdefault(_mistake.case, []).append(_mistake)
