"""What the grader runs against a ``cs231n`` package: one small program per graded case.

A program takes ``cs`` (the package's modules, imported on first use) and ``a`` (the
case's inputs, a dict of numpy arrays) and returns a dict of named outputs. The same
program runs twice: in the sandboxed worker against the student's package, and in the
grader's own process against our solution, whose outputs are the reference. So this file
holds no expected values, only the calls; it is copied next to the worker and may be read
by student code.

**Editions.** Our solution is always called in this kit's terms. A student's package may
come from another edition of the classic starter (tools/grade/editions.py), which names or
means an argument differently; ``cs.conventions`` (set by the grader from the detected
edition) says how to ask it the same question, e.g. the 2018 starter's ``dropout=`` is the
probability of *dropping* a unit, so the keep probability p is passed as ``dropout=1 - p``.

**Draws.** A case's inputs hold several draws (``"0:x"``, ``"1:x"``, ...), each reaching
other branches of the function (pad 0, stride > 1, ties, ...); ``per_draw`` runs a program on
each and names its outputs ``"dx@0"``, ``"dx@1"``, ... (cases.py).

Only numpy is imported here: the worker must not need anything else.
"""

from __future__ import annotations

import functools
import importlib

import numpy as np

MODULES = {
    "layers": "cs231n.layers",
    "layer_utils": "cs231n.layer_utils",
    "optim": "cs231n.optim",
    "fc_net": "cs231n.classifiers.fc_net",
    "cnn": "cs231n.classifiers.cnn",
}


# How this kit is called; an edition's conventions override some (editions.py).
OUR_CONVENTIONS = {
    "dropout_keyword": "dropout_keep_ratio",  # FullyConnectedNet's dropout argument
    "dropout_is_drop_probability": False,  # the 2017/2018 starters: p = drop probability
    "batchnorm_keyword": None,  # the 2017 starter: use_batchnorm=True, no normalization=
    "adam_explicit_t": False,  # the 2017/2018 starters' Adam defaults to t = 1: pass t = 0
}


class Modules:
    """``cs.layers`` etc.: the named cs231n modules, imported when first used;
    ``cs.conventions``: how to call them (``OUR_CONVENTIONS`` with an edition's changes)."""

    def __init__(self, conventions: dict | None = None) -> None:
        self.conventions = {**OUR_CONVENTIONS, **(conventions or {})}

    def __getattr__(self, name: str):
        return importlib.import_module(MODULES[name])


def _conventions(cs) -> dict:
    """The conventions of ``cs`` (a recognize.PatchedSolution has none: ours)."""
    return getattr(cs, "conventions", None) or OUR_CONVENTIONS


def per_draw(program):
    """Run ``program`` on each draw of the inputs (keys ``"i:name"``); outputs ``"name@i"``.

    Inputs without draw prefixes are one draw, passed as they are."""

    @functools.wraps(program)
    def run(cs, a: dict) -> dict:
        draws = sorted({k.split(":", 1)[0] for k in a if ":" in k}, key=int)
        if not draws:
            return program(cs, a)
        out = {}
        for d in draws:
            one = {k.split(":", 1)[1]: v for k, v in a.items() if k.split(":", 1)[0] == d}
            out.update({f"{name}@{d}": v for name, v in program(cs, one).items()})
        return out

    return run


def _f(a: dict, key: str) -> float:
    return float(a[key])


def _i(a: dict, key: str) -> int:
    return int(a[key])


# ----------------------------------------------------------------------------------- Q1


@per_draw
def affine_forward(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.affine_forward(a["x"], a["w"], a["b"])
    return {"out": out}


@per_draw
def affine_backward(cs: Modules, a: dict) -> dict:
    _, cache = cs.layers.affine_forward(a["x"], a["w"], a["b"])
    dx, dw, db = cs.layers.affine_backward(a["dout"], cache)
    return {"dx": dx, "dw": dw, "db": db}


@per_draw
def relu_forward(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.relu_forward(a["x"])
    return {"out": out}


@per_draw
def relu_backward(cs: Modules, a: dict) -> dict:
    _, cache = cs.layers.relu_forward(a["x"])
    return {"dx": cs.layers.relu_backward(a["dout"], cache)}


@per_draw
def softmax_loss(cs: Modules, a: dict) -> dict:
    loss, dx = cs.layers.softmax_loss(a["x"], a["y"])
    # Huge scores: the loss must stay finite (its value is not compared: a softmax that clips
    # underflowed probabilities before the log is as right as ours) and dx must be right.
    loss_large, dx_large = cs.layers.softmax_loss(a["x"] * 1e3, a["y"])
    finite = float(np.all(np.isfinite(np.asarray(loss_large, dtype=np.float64))))
    return {"loss": loss, "dx": dx, "large_scores_loss_finite": finite, "large_scores_dx": dx_large}


@per_draw
def svm_loss(cs: Modules, a: dict) -> dict:
    loss, dx = cs.layers.svm_loss(a["x"], a["y"])
    return {"loss": loss, "dx": dx}


@per_draw
def affine_relu(cs: Modules, a: dict) -> dict:
    out, cache = cs.layer_utils.affine_relu_forward(a["x"], a["w"], a["b"])
    dx, dw, db = cs.layer_utils.affine_relu_backward(a["dout"], cache)
    return {"out": out, "dx": dx, "dw": dw, "db": db}


def _shape(name: str, value) -> tuple:
    """A parameter's shape; a bias of shape (1, H) counts as (H,) (it broadcasts alike)."""
    shape = np.shape(value)
    return shape[1:] if name.startswith("b") and len(shape) == 2 and shape[0] == 1 else shape


def _init_summary(params: dict, weight_scale: float, expected_names: list[str]) -> dict:
    """Which expected parameter names are missing or extra, the shapes, how far each W's
    spread and mean are from N(0, weight_scale^2), and the largest bias.

    The spread and mean are random; they are reported as distances from the ideal (std
    ratio 1, mean 0), which the grader compares loosely.
    """
    names = sorted(params)
    weights = [n for n in names if n.startswith("W")]
    biases = [n for n in names if n.startswith("b") and not n.startswith("beta")]
    shapes = [(len(_shape(n, params[n])), *_shape(n, params[n])) for n in names]
    return {
        "missing_names": float(len(set(expected_names) - set(names))),
        "unexpected_names": float(len(set(names) - set(expected_names))),
        "shapes": np.array([d for shape in shapes for d in shape]),
        "weight_std_off": np.array([abs(params[n].std() / weight_scale - 1) for n in weights]),
        "weight_mean_off": np.array([abs(params[n].mean()) / weight_scale for n in weights]),
        "bias_max": np.array([np.abs(params[n]).max() for n in biases]),
    }


@per_draw
def two_layer_net_init(cs: Modules, a: dict) -> dict:
    np.random.seed(_i(a, "seed"))  # noqa: NPY002 (the models draw from the global RNG)
    net = cs.fc_net.TwoLayerNet(
        input_dim=_i(a, "D"),
        hidden_dim=_i(a, "H"),
        num_classes=_i(a, "C"),
        weight_scale=_f(a, "weight_scale"),
    )
    return _init_summary(net.params, _f(a, "weight_scale"), ["W1", "b1", "W2", "b2"])


def _model_outputs(net, a: dict, params: list[str]) -> dict:
    """Scores (test mode), then loss and gradients (train mode), of a net with given params."""
    for name in params:
        net.params[name] = a[name].copy()  # a bias shaped (1, H) by the student becomes (H,)
    out = {"scores": net.loss(a["X"])}
    loss, grads = net.loss(a["X"], a["y"])
    out["loss"] = loss
    out.update({f"d{name}": grads[name] for name in params})
    return out


@per_draw
def two_layer_net_loss(cs: Modules, a: dict) -> dict:
    net = cs.fc_net.TwoLayerNet(
        input_dim=a["W1"].shape[0],
        hidden_dim=a["W1"].shape[1],
        num_classes=a["W2"].shape[1],
        reg=_f(a, "reg"),
    )
    return _model_outputs(net, a, ["W1", "b1", "W2", "b2"])


def _fc_kwargs(cs: Modules, normalization: str | None = None, keep: float | None = None) -> dict:
    """FullyConnectedNet's keywords for a normalization and a keep probability, in the
    edition's terms (``cs.conventions``)."""
    conv, kwargs = _conventions(cs), {}
    if normalization is not None:
        if conv["batchnorm_keyword"]:  # the 2017 starter knows batchnorm only
            kwargs[conv["batchnorm_keyword"]] = True
        else:
            kwargs["normalization"] = normalization
    if keep is not None:
        kwargs[conv["dropout_keyword"]] = 1 - keep if conv["dropout_is_drop_probability"] else keep
    return kwargs


def _fc_net(cs: Modules, a: dict, **kwargs):
    n = _i(a, "num_layers")
    hidden = [a[f"W{i}"].shape[1] for i in range(1, n)]
    return cs.fc_net.FullyConnectedNet(
        hidden,
        input_dim=a["W1"].shape[0],
        num_classes=a[f"W{n}"].shape[1],
        reg=_f(a, "reg"),
        dtype=np.float64,
        **kwargs,
    )


def _fc_param_names(a: dict, norm: bool) -> list[str]:
    n = _i(a, "num_layers")
    names = [f"{k}{i}" for i in range(1, n + 1) for k in ("W", "b")]
    if norm:
        names += [f"{k}{i}" for i in range(1, n) for k in ("gamma", "beta")]
    return names


@per_draw
def fc_net_init(cs: Modules, a: dict) -> dict:
    np.random.seed(_i(a, "seed"))  # noqa: NPY002 (the models draw from the global RNG)
    net = cs.fc_net.FullyConnectedNet(
        [_i(a, "H1"), _i(a, "H2")],
        input_dim=_i(a, "D"),
        num_classes=_i(a, "C"),
        weight_scale=_f(a, "weight_scale"),
        dtype=np.float64,
    )
    expected = [f"{k}{i}" for i in (1, 2, 3) for k in ("W", "b")]
    return _init_summary(net.params, _f(a, "weight_scale"), expected)


@per_draw
def fc_net_loss(cs: Modules, a: dict) -> dict:
    return _model_outputs(_fc_net(cs, a), a, _fc_param_names(a, norm=False))


def _run_rule(rule, a: dict, state_keys: list[str], config: dict) -> dict:
    """Three steps of an update rule from w with gradients dw[0..2].

    A rule may update ``w`` (and its state arrays) in place and return it, as the classic
    ``sgd`` does: so each step gets a copy, and what is kept is copied too."""
    w, ws = a["w"].copy(), []
    config = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in config.items()}
    for dw in a["dw"]:
        w, config = rule(np.array(w, copy=True), dw.copy(), config)
        ws.append(np.array(w, copy=True))
    out = {"w": np.stack(ws)}
    out.update({key: np.array(config[key], copy=True) for key in state_keys})
    return out


@per_draw
def sgd(cs: Modules, a: dict) -> dict:
    return _run_rule(cs.optim.sgd, a, [], {"learning_rate": _f(a, "lr")})


@per_draw
def sgd_momentum(cs: Modules, a: dict) -> dict:
    config = {"learning_rate": _f(a, "lr"), "momentum": _f(a, "momentum"), "velocity": a["v0"]}
    return _run_rule(cs.optim.sgd_momentum, a, ["velocity"], config)


@per_draw
def rmsprop(cs: Modules, a: dict) -> dict:
    config = {"learning_rate": _f(a, "lr"), "decay_rate": _f(a, "decay"), "cache": a["cache0"]}
    return _run_rule(cs.optim.rmsprop, a, ["cache"], config)


@per_draw
def adam(cs: Modules, a: dict) -> dict:
    first = {"learning_rate": _f(a, "lr")}
    if _conventions(cs)["adam_explicit_t"]:  # the edition's default is t = 1: start at ours
        first["t"] = 0
    fresh = _run_rule(cs.optim.adam, a, ["m", "v", "t"], first)
    config = {"learning_rate": _f(a, "lr"), "m": a["m0"], "v": a["cache0"], "t": _i(a, "t0")}
    resumed = _run_rule(cs.optim.adam, a, ["m", "v", "t"], config)
    out = {f"fresh_{k}": v for k, v in fresh.items()}
    out.update({f"resumed_{k}": v for k, v in resumed.items()})
    return out


# ----------------------------------------------------------------------------------- Q2


def _bn_param(a: dict, mode: str) -> dict:
    return {
        "mode": mode,
        "eps": _f(a, "eps"),
        "momentum": _f(a, "momentum"),
        "running_mean": a["running_mean"].copy(),
        "running_var": a["running_var"].copy(),
    }


@per_draw
def batchnorm_forward_train(cs: Modules, a: dict) -> dict:
    bn_param = _bn_param(a, "train")
    out, _ = cs.layers.batchnorm_forward(a["x"], a["gamma"], a["beta"], bn_param)
    cs.layers.batchnorm_forward(a["x2"], a["gamma"], a["beta"], bn_param)
    defaults = {"mode": "train"}
    cs.layers.batchnorm_forward(a["x"], a["gamma"], a["beta"], defaults)
    return {
        "out": out,
        "running_mean": bn_param["running_mean"],
        "running_var": bn_param["running_var"],
        "default_running_mean": defaults["running_mean"],
        "default_running_var": defaults["running_var"],
    }


@per_draw
def batchnorm_forward_test(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.batchnorm_forward(a["x"], a["gamma"], a["beta"], _bn_param(a, "test"))
    return {"out": out}


def _bn_backward(backward, cs: Modules, a: dict) -> dict:
    _, cache = cs.layers.batchnorm_forward(a["x"], a["gamma"], a["beta"], _bn_param(a, "train"))
    dx, dgamma, dbeta = backward(a["dout"], cache)
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}


@per_draw
def batchnorm_backward(cs: Modules, a: dict) -> dict:
    return _bn_backward(cs.layers.batchnorm_backward, cs, a)


@per_draw
def batchnorm_backward_alt(cs: Modules, a: dict) -> dict:
    return _bn_backward(cs.layers.batchnorm_backward_alt, cs, a)


@per_draw
def layernorm_forward(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.layernorm_forward(a["x"], a["gamma"], a["beta"], {"eps": _f(a, "eps")})
    return {"out": out}


@per_draw
def layernorm_backward(cs: Modules, a: dict) -> dict:
    _, cache = cs.layers.layernorm_forward(a["x"], a["gamma"], a["beta"], {"eps": _f(a, "eps")})
    dx, dgamma, dbeta = cs.layers.layernorm_backward(a["dout"], cache)
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}


def _fc_net_norm(cs: Modules, a: dict, normalization: str) -> dict:
    net = _fc_net(cs, a, **_fc_kwargs(cs, normalization=normalization))
    for bn_param in getattr(net, "bn_params", None) or []:  # the drawn eps (cases._eps)
        if isinstance(bn_param, dict):
            bn_param["eps"] = _f(a, "eps")
    out = _model_outputs(net, a, _fc_param_names(a, norm=True))
    del out["scores"]  # before training, batchnorm's running statistics are still zero
    out["scores_after_train_step"] = net.loss(a["X"])
    return out


@per_draw
def fc_net_batchnorm(cs: Modules, a: dict) -> dict:
    return _fc_net_norm(cs, a, "batchnorm")


@per_draw
def fc_net_layernorm(cs: Modules, a: dict) -> dict:
    return _fc_net_norm(cs, a, "layernorm")


# ----------------------------------------------------------------------------------- Q3


def _p(cs: Modules, a: dict) -> float:
    """dropout_param's ``p`` for the keep probability ``a["p"]``, in the edition's terms."""
    keep = _f(a, "p")
    return 1 - keep if _conventions(cs)["dropout_is_drop_probability"] else keep


@per_draw
def dropout_forward_train(cs: Modules, a: dict) -> dict:
    x, p = a["x"], _p(cs, a)
    out, _ = cs.layers.dropout_forward(x, {"p": p, "mode": "train"})
    kept = out != 0
    ratio = out[kept] / x[kept]
    again, _ = cs.layers.dropout_forward(x, {"p": p, "mode": "train", "seed": _i(a, "seed")})
    same, _ = cs.layers.dropout_forward(x, {"p": p, "mode": "train", "seed": _i(a, "seed")})
    return {
        "kept_fraction": kept.mean(),
        "kept_scale": np.array([ratio.min(), ratio.max()]),
        "seed_reproducible": float(np.array_equal(again, same)),
        "same_dtype": float(out.dtype == x.dtype),
    }


@per_draw
def dropout_forward_test(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.dropout_forward(a["x"], {"p": _p(cs, a), "mode": "test"})
    return {"out": out}


@per_draw
def dropout_backward(cs: Modules, a: dict) -> dict:
    x, dout, p = a["x"], a["dout"], _p(cs, a)
    out, cache = cs.layers.dropout_forward(x, {"p": p, "mode": "train", "seed": _i(a, "seed")})
    dx = cs.layers.dropout_backward(dout, cache)
    _, test_cache = cs.layers.dropout_forward(x, {"p": p, "mode": "test"})
    return {
        # Inverted dropout multiplies dout by the same scaled mask that produced out (relative
        # to the gradient's scale: float32 inputs round each product).
        "train_mismatch": np.abs(dx - dout * out / x).max() / np.abs(dout * out / x).max(),
        "test_dx": cs.layers.dropout_backward(dout, test_cache),
    }


@per_draw
def fc_net_dropout(cs: Modules, a: dict) -> dict:
    names = _fc_param_names(a, norm=False)
    losses = []
    for seed in (1, 2):
        net = _fc_net(cs, a, **_fc_kwargs(cs, keep=_f(a, "p")), seed=seed)
        out = _model_outputs(net, a, names)
        losses.append(out["loss"])
    return {"scores": out["scores"], "train_loss_varies_with_seed": float(losses[0] != losses[1])}


# ----------------------------------------------------------------------------------- Q4


def _conv_param(a: dict) -> dict:
    return {"stride": _i(a, "stride"), "pad": _i(a, "pad")}


def _pool_param(a: dict) -> dict:
    return {"pool_height": _i(a, "ph"), "pool_width": _i(a, "pw"), "stride": _i(a, "pool_stride")}


@per_draw
def conv_forward_naive(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.conv_forward_naive(a["x"], a["w"], a["b"], _conv_param(a))
    return {"out": out}


@per_draw
def conv_backward_naive(cs: Modules, a: dict) -> dict:
    _, cache = cs.layers.conv_forward_naive(a["x"], a["w"], a["b"], _conv_param(a))
    dx, dw, db = cs.layers.conv_backward_naive(a["dout"], cache)
    return {"dx": dx, "dw": dw, "db": db}


@per_draw
def max_pool_forward_naive(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.max_pool_forward_naive(a["x"], _pool_param(a))
    return {"out": out}


@per_draw
def max_pool_backward_naive(cs: Modules, a: dict) -> dict:
    _, cache = cs.layers.max_pool_forward_naive(a["x"], _pool_param(a))
    dx = cs.layers.max_pool_backward_naive(a["dout"], cache)
    if not _i(a, "ties"):
        return {"dx": dx}
    return {"tie_gradient_ok": _tie_gradient_ok(np.asarray(dx), a)}


def _tie_gradient_ok(dx: np.ndarray, a: dict) -> float:
    """1.0 if ``dx`` routes each window's gradient to the window's maximum, else 0.0.

    For inputs whose windows (not overlapping) have ties at their maximum. The gradient of a
    max may be taken at one tie (ours: the first) or at each of them; both are correct. So
    dx must be zero off the maxima, and each window's maxima get dout once in all, or each
    get it whole."""
    x, dout, ph, pw, s = a["x"], a["dout"], _i(a, "ph"), _i(a, "pw"), _i(a, "pool_stride")
    if dx.shape != x.shape:
        return 0.0
    covered = np.zeros(x.shape, dtype=bool)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = np.s_[:, :, i * s : i * s + ph, j * s : j * s + pw]
            covered[win] = True
            xw, gw, g = x[win], dx[win], dout[:, :, i, j, None, None]
            at_max = xw == xw.max(axis=(2, 3), keepdims=True)
            close = np.isclose(gw, g, rtol=1e-9, atol=1e-12)
            once = np.isclose(gw.sum(axis=(2, 3), keepdims=True), g, rtol=1e-9, atol=1e-12)
            each = np.all(close | ~at_max, axis=(2, 3), keepdims=True)
            if np.any(gw[~at_max] != 0) or not np.all(once | each):
                return 0.0
    return float(not np.any(dx[~covered] != 0))


@per_draw
def spatial_batchnorm_forward(cs: Modules, a: dict) -> dict:
    bn_param = _bn_param(a, "train")
    out, _ = cs.layers.spatial_batchnorm_forward(a["x"], a["gamma"], a["beta"], bn_param)
    test, _ = cs.layers.spatial_batchnorm_forward(
        a["x"], a["gamma"], a["beta"], _bn_param(a, "test")
    )
    return {
        "out": out,
        "running_mean": bn_param["running_mean"],
        "running_var": bn_param["running_var"],
        "test_out": test,
    }


@per_draw
def spatial_batchnorm_backward(cs: Modules, a: dict) -> dict:
    layers, bn_param = cs.layers, _bn_param(a, "train")
    _, cache = layers.spatial_batchnorm_forward(a["x"], a["gamma"], a["beta"], bn_param)
    dx, dgamma, dbeta = layers.spatial_batchnorm_backward(a["dout"], cache)
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}


@per_draw
def spatial_groupnorm_forward(cs: Modules, a: dict) -> dict:
    gn = {"eps": _f(a, "eps")}
    out, _ = cs.layers.spatial_groupnorm_forward(a["x"], a["gamma"], a["beta"], _i(a, "G"), gn)
    return {"out": out}


@per_draw
def spatial_groupnorm_backward(cs: Modules, a: dict) -> dict:
    gn = {"eps": _f(a, "eps")}
    _, cache = cs.layers.spatial_groupnorm_forward(a["x"], a["gamma"], a["beta"], _i(a, "G"), gn)
    dx, dgamma, dbeta = cs.layers.spatial_groupnorm_backward(a["dout"], cache)
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}


def _sandwiches(cs: Modules, a: dict, with_bn: bool) -> dict:
    """Forward and backward of conv sandwiches in layer_utils; outputs named by layer."""
    conv, pool, x, w, b = _conv_param(a), _pool_param(a), a["x"], a["w"], a["b"]
    bn = (a["gamma"], a["beta"], conv, _bn_param(a, "train"))
    sandwiches = [  # (layer, its arguments, the upstream gradient)
        ("conv_bn_relu", (x, w, b, *bn), a["dout"]),
        ("conv_bn_relu_pool", (x, w, b, *bn, pool), a["dout_pool"]),
    ]
    if not with_bn:
        sandwiches = [
            ("conv_relu", (x, w, b, conv), a["dout"]),
            ("conv_relu_pool", (x, w, b, conv, pool), a["dout_pool"]),
        ]
    result = {}
    for layer, args, dout in sandwiches:
        out, cache = getattr(cs.layer_utils, f"{layer}_forward")(*args)
        grads = getattr(cs.layer_utils, f"{layer}_backward")(dout, cache)
        names = ("dx", "dw", "db", "dgamma", "dbeta")[: len(grads)]
        result[f"{layer}_out"] = out
        result.update({f"{layer}_{k}": g for k, g in zip(names, grads, strict=True)})
    return result


@per_draw
def conv_relu_sandwiches(cs: Modules, a: dict) -> dict:
    return _sandwiches(cs, a, with_bn=False)


@per_draw
def conv_bn_sandwiches(cs: Modules, a: dict) -> dict:
    return _sandwiches(cs, a, with_bn=True)


@per_draw
def three_layer_convnet(cs: Modules, a: dict) -> dict:
    F, C, fs, _ = a["W1"].shape
    ws = _f(a, "weight_scale")
    np.random.seed(_i(a, "seed"))  # noqa: NPY002 (the models draw from the global RNG)
    net = cs.cnn.ThreeLayerConvNet(
        input_dim=a["X"].shape[1:],
        num_filters=F,
        filter_size=fs,
        hidden_dim=a["W2"].shape[1],
        num_classes=a["W3"].shape[1],
        reg=_f(a, "reg"),
        dtype=np.float64,
    )
    names = ["W1", "b1", "W2", "b2", "W3", "b3"]
    out = _model_outputs(net, a, names)
    # The initialization on a net big enough for its weights' spread to be measured, with
    # the drawn filter size and a non-square image (a net that ignores either is caught).
    big = cs.cnn.ThreeLayerConvNet(
        input_dim=tuple(int(d) for d in a["init_input_dim"]),
        num_filters=_i(a, "init_filters"),
        filter_size=_i(a, "init_filter_size"),
        hidden_dim=50,
        weight_scale=ws,
    )
    out.update({f"init_{k}": v for k, v in _init_summary(big.params, ws, names).items()})
    return out
