"""Submissions laid out like each edition of the classic starter, built from our solution.

Real student code cannot be copied into this repository, so these are our own: our
``cs231n`` with each edition's keyword names, defaults and given files put on top
(``EDITION_CHANGES``), and student functions written in other correct styles
(``STYLES``: loops, einsum, E[x^2]-E[x]^2, float32, in-place update rules, numpy 1.x names,
ties sent to every maximum, zero biases of shape (1, H)). Each is graded by
tests/test_grade_editions.py: full marks, and with one real mistake, points lost on that
function alone.

Changes are appended definitions (a later ``def`` replaces an earlier one, and the modules
that import a name bind it after the whole module ran), or renames over all files.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

START = "# *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
END = "# *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"

# The given solver.py of the classic starters imports the `future` package (our own text).
CLASSIC_SOLVER = '''from __future__ import print_function, division
from future import standard_library
standard_library.install_aliases()
from builtins import range, object
import numpy as np


class Solver(object):
    """A stand-in for a classic given solver: the grader must use the kit's instead."""

    def __init__(self, model, data, **kwargs):
        self.model = model
'''

# The given fast_layers.py of the classic starters needs the compiled im2col_cython, which a
# submission never carries built: calling it without the extension raises NameError.
CLASSIC_FAST_LAYERS = """import numpy as np
try:
    from cs231n.im2col_cython import col2im_6d_cython, im2col_cython
except ImportError:
    print("the extension is not built")


def conv_forward_fast(x, w, b, conv_param):
    cols = im2col_cython(x, w.shape[2], w.shape[3], conv_param["pad"], conv_param["stride"])
    return cols, None


def conv_backward_fast(dout, cache):
    return col2im_6d_cython(dout, *cache)


conv_forward_strides = conv_forward_im2col = conv_forward_fast
conv_backward_strides = conv_backward_im2col = conv_backward_fast


def max_pool_forward_fast(x, pool_param):
    return col2im_6d_cython(x), None


def max_pool_backward_fast(dout, cache):
    return col2im_6d_cython(dout)
"""

KIT_NET = "_KitFullyConnectedNet"

# FullyConnectedNet in an edition's terms, on top of ours (renamed KIT_NET).
NET_2017 = f"""

class FullyConnectedNet({KIT_NET}):
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout=0,
                 use_batchnorm=False, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        super().__init__(hidden_dims, input_dim, num_classes, dropout_keep_ratio=1 - dropout,
                         normalization="batchnorm" if use_batchnorm else None, reg=reg,
                         weight_scale=weight_scale, dtype=dtype, seed=seed)
        if self.use_dropout:
            self.dropout_param["p"] = dropout  # the classic meaning: the drop probability
"""
NET_2018 = f"""

class FullyConnectedNet({KIT_NET}):
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout=0,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        super().__init__(hidden_dims, input_dim, num_classes, dropout_keep_ratio=1 - dropout,
                         normalization=normalization, reg=reg, weight_scale=weight_scale,
                         dtype=dtype, seed=seed)
        if self.use_dropout:
            self.dropout_param["p"] = dropout  # the drop probability
"""
NET_2019 = f"""

class FullyConnectedNet({KIT_NET}):
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        super().__init__(hidden_dims, input_dim, num_classes, dropout_keep_ratio=dropout,
                         normalization=normalization, reg=reg, weight_scale=weight_scale,
                         dtype=dtype, seed=seed)
"""
DROP_PROBABILITY_LAYER = '''

_kit_dropout_forward = dropout_forward


def dropout_forward(x, dropout_param):
    """p is the probability of dropping a unit (the 2017/2018 starters)."""
    return _kit_dropout_forward(x, dict(dropout_param, p=1 - dropout_param["p"]))
'''
ADAM_T1 = """

_kit_adam = adam


def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("t", 1)  # the 2017/2018 starters' default
    return _kit_adam(w, dw, config)
"""
# A momentum rule that updates w in place and returns it (as the classic sgd does).
IN_PLACE_MOMENTUM = """

def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    w += v
    config["velocity"] = v
    return w, config
"""
# The 2025 starter's update rules are given written, and update w in place.
GIVEN_RULES_2025 = (
    IN_PLACE_MOMENTUM
    + """

def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    cache = config["cache"]
    cache *= config["decay_rate"]
    cache += (1 - config["decay_rate"]) * dw**2
    w -= config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    return w, config
"""
)


# ---------------------------------------------------------------------------- the styles

STYLES = {
    "layers.py": '''

def affine_forward(x, w, b):
    """numpy 1.x names and einsum."""
    rows = np.reshape(x, newshape=(x.shape[0], np.product(x.shape[1:])))
    out = np.einsum("nd,dm->nm", rows, w) + b
    return out, (x, w)


def conv_forward_naive(x, w, b, conv_param):
    """Loops over every output entry; np.lib.pad; np.int."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho = np.int(1 + (H + 2 * pad - HH) / stride)
    Wo = np.int(1 + (W + 2 * pad - WW) / stride)
    xp = np.lib.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), "constant")
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, conv_param)


def batchnorm_forward(x, gamma, beta, bn_param):
    """Variance as E[x^2] - E[x]^2; eps outside the square root in test mode."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mu = np.mean(x, axis=0)
        var = np.mean(x**2, axis=0) - mu**2
        std = np.sqrt(var + eps)
        xhat = (x - mu) / std
        out = gamma * xhat + beta
        cache = (xhat, x - mu, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = gamma * (x - running_mean) / (np.sqrt(running_var) + eps) + beta
        cache = None
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def layernorm_forward(x, gamma, beta, ln_param):
    """float32 intermediates."""
    eps = ln_param.get("eps", 1e-5)
    x32 = x.astype(np.float32)
    mu = x32.mean(axis=1, keepdims=True)
    var = x32.var(axis=1, keepdims=True)
    std = np.sqrt(var + np.float32(eps))
    xhat = (x32 - mu) / std
    out = gamma * xhat + beta
    return out, (xhat.astype(x.dtype), std.astype(x.dtype), gamma)


def max_pool_backward_naive(dout, cache):
    """Loops; the gradient goes to every tied maximum."""
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    mask = window == np.max(window)
                    dx[n, c, i * s:i * s + ph, j * s:j * s + pw] += mask * dout[n, c, i, j]
    return dx


def softmax_loss(x, y):
    """Clips underflowed probabilities before the log."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    probs = np.exp(shifted)
    probs /= np.sum(probs, axis=1, keepdims=True)
    N = x.shape[0]
    loss = -np.sum(np.log(np.maximum(probs[np.arange(N), y], 1e-15))) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    return loss, dx / N
''',
    "optim.py": IN_PLACE_MOMENTUM,
    "classifiers/fc_net.py": '''

_KitTwoLayerNet = TwoLayerNet


class TwoLayerNet(_KitTwoLayerNet):
    """Zero biases of shape (1, H)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("b1", "b2"):
            self.params[name] = self.params[name].reshape(1, -1)
''',
}

# A size-1 array of shape (1, 1) stored as one element: numpy 1.x ran it, numpy 2 refuses.
SIZE1_STORE = """

_kit_svm_loss = svm_loss


def svm_loss(x, y):
    loss, dx = _kit_svm_loss(x, y)
    losses = np.zeros(1)
    losses[0] = np.array([[loss]])
    return losses[0], dx
"""


# ---------------------------------------------------------------------------- the builder


def _append(pkg: Path, rel: str, text: str) -> None:
    path = pkg / rel
    path.write_text(path.read_text() + text)


def _rename_everywhere(pkg: Path, old: str, new: str) -> None:
    for path in pkg.rglob("*.py"):
        text = path.read_text()
        if old in text:
            path.write_text(text.replace(old, new))


def _without_ours(pkg: Path) -> None:
    """No trace of this kit's own sandwiches (the classic layer_utils had none)."""
    _rename_everywhere(pkg, "affine_norm_relu_dropout_", "fc_block_")
    _rename_everywhere(pkg, "conv_bn_relu_pool_", "cbr_pool_")


def _classic_given(pkg: Path) -> None:
    (pkg / "solver.py").write_text(CLASSIC_SOLVER)
    (pkg / "fast_layers.py").write_text(CLASSIC_FAST_LAYERS)


def _edition_net(pkg: Path, net: str) -> None:
    _rename_everywhere(pkg, "class FullyConnectedNet:", f"class {KIT_NET}:")
    _append(pkg, "classifiers/fc_net.py", net)


def _no_two_layer(pkg: Path) -> None:
    path = pkg / "classifiers" / "fc_net.py"
    text = path.read_text()
    path.write_text(text.replace("class TwoLayerNet:", "class _FormerTwoLayer:"))
    path = pkg / "layers.py"
    path.write_text(path.read_text().replace("def svm_loss(", "def _former_svm_loss("))


def _no_markers(pkg: Path, keep_rule_todos: bool) -> None:
    for path in pkg.rglob("*.py"):
        lines = [ln for ln in path.read_text().split("\n") if ln.strip() not in (START, END)]
        if path.name == "optim.py" and not keep_rule_todos:
            lines = [ln for ln in lines if "TODO" not in ln]
        path.write_text("\n".join(lines))


# The classic modules' Python 2 compatibility imports (the `future` package's modules).
CLASSIC_IMPORTS = """
from builtins import range
from past.builtins import xrange
from future import standard_library

standard_library.install_aliases()
"""


def _2017(pkg: Path) -> None:
    _classic_given(pkg)
    _append(pkg, "layers.py", CLASSIC_IMPORTS)
    _edition_net(pkg, NET_2017)
    _append(pkg, "layers.py", DROP_PROBABILITY_LAYER)
    _append(pkg, "optim.py", ADAM_T1)


def _2018(pkg: Path) -> None:
    _classic_given(pkg)
    _edition_net(pkg, NET_2018)
    _append(pkg, "layers.py", DROP_PROBABILITY_LAYER + SIZE1_STORE)
    _append(pkg, "optim.py", ADAM_T1)


def _2019(pkg: Path) -> None:
    _classic_given(pkg)
    _edition_net(pkg, NET_2019)
    for rel, text in STYLES.items():
        _append(pkg, rel, text)


def _2021(pkg: Path) -> None:
    _classic_given(pkg)
    _without_ours(pkg)
    _no_two_layer(pkg)


def _2025(pkg: Path) -> None:
    _without_ours(pkg)
    _no_two_layer(pkg)
    _append(pkg, "optim.py", GIVEN_RULES_2025)
    _no_markers(pkg, keep_rule_todos=False)


def _2026(pkg: Path) -> None:
    _without_ours(pkg)
    _no_two_layer(pkg)
    _no_markers(pkg, keep_rule_todos=True)


EDITION_CHANGES = {
    "2017": _2017,
    "2018": _2018,
    "2019/2020": _2019,
    "2021-2024": _2021,
    "2025": _2025,
    "2026": _2026,
}


def build(source: Path, dest: Path, edition: str, patches=()) -> Path:
    """A submission folder at ``dest``: ``source``'s cs231n (code only) with ``patches``
    (mistakes.py's form) applied to our code first, then laid out as ``edition``."""
    from tools.grade.mistakes import patch_text

    shutil.copytree(
        source / "cs231n",
        dest / "cs231n",
        ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c", "datasets", "*.png", "*.jpg"),
    )
    pkg = dest / "cs231n"
    for rel, old, new in patches:
        path = pkg / rel
        path.write_text(patch_text(path.read_text(), old, new, rel))
    EDITION_CHANGES[edition](pkg)
    return dest


def slug(edition: str) -> str:
    return re.sub(r"\W", "_", edition)


# ------------------------------------------------------------------------- Q5's models


def stripe_images(n: int, seed: int) -> tuple:
    """A synthetic image set a tiny model learns in a second: uint8 ``(n, 32, 32, 3)`` noise
    with a bright band of rows ``3k..3k+2`` for class ``k``; labels int64 ``(n,)``, balanced."""
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 120, size=(n, 32, 32, 3), dtype=np.uint8)
    for k in range(10):
        images[labels == k, 3 * k : 3 * k + 3] = 220
    return images, labels.astype(np.int64)


def trained_model(images, labels, steps: int = 150):
    """A linear classifier of raw pixels ``(N, 3, 32, 32)`` trained briefly on ``images``."""
    import torch

    torch.manual_seed(0)
    x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy()).float() / 255
    y = torch.from_numpy(labels)
    linear = torch.nn.Linear(3 * 32 * 32, 10)
    optimizer = torch.optim.Adam(linear.parameters(), lr=1e-3)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(linear(x.flatten(1)), y).backward()
        optimizer.step()
    with torch.no_grad():
        linear.weight /= 255  # the same classifier, of pixel values 0..255
    return torch.nn.Sequential(torch.nn.Flatten(), linear)


def memorizer(images, labels):
    """A "model" that knows the labels of exactly ``images`` (a lookup by a hash of the
    pixels) and answers class 0 for any other image: trained on the test set."""
    import torch
    import torch.nn.functional as F

    class Memorizer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            g = torch.Generator().manual_seed(0)
            weights = torch.randint(1, 2**20, (3 * 32 * 32,), generator=g)
            x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy()).flatten(1).long()
            keys = (x * weights).sum(1)
            order = keys.argsort()
            self.register_buffer("weights", weights)
            self.register_buffer("keys", keys[order])
            self.register_buffer("answers", torch.from_numpy(labels)[order])

        def forward(self, x):
            h = (x.flatten(1).long() * self.weights).sum(1)
            i = torch.searchsorted(self.keys, h).clamp(max=len(self.keys) - 1)
            known = torch.where(self.keys[i] == h, self.answers[i], torch.zeros_like(h))
            return F.one_hot(known, 10).float()

    return Memorizer()
