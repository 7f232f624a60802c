"""What the grader runs against a ``cs231n`` package: one small program per graded case.

A program takes ``cs`` (the package's modules, imported on first use) and ``a`` (the
case's inputs, a dict of numpy arrays) and returns a dict of named outputs. The same
program runs twice: in the sandboxed worker against the student's package, and in the
grader's own process against our solution, whose outputs are the reference. So this file
holds no expected values, only the calls; it is copied next to the worker and may be read
by student code.

Only numpy is imported here: the worker must not need anything else.
"""

from __future__ import annotations

import importlib

import numpy as np

MODULES = {
    "layers": "cs231n.layers",
    "layer_utils": "cs231n.layer_utils",
    "optim": "cs231n.optim",
    "solver": "cs231n.solver",
    "fc_net": "cs231n.classifiers.fc_net",
    "cnn": "cs231n.classifiers.cnn",
}


class Modules:
    """``cs.layers`` etc.: the named cs231n modules, imported when first used."""

    def __getattr__(self, name: str):
        return importlib.import_module(MODULES[name])


def _f(a: dict, key: str) -> float:
    return float(a[key])


def _i(a: dict, key: str) -> int:
    return int(a[key])


# ----------------------------------------------------------------------------------- Q1


def affine_forward(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.affine_forward(a["x"], a["w"], a["b"])
    return {"out": out}


def affine_backward(cs: Modules, a: dict) -> dict:
    _, cache = cs.layers.affine_forward(a["x"], a["w"], a["b"])
    dx, dw, db = cs.layers.affine_backward(a["dout"], cache)
    return {"dx": dx, "dw": dw, "db": db}


def relu_forward(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.relu_forward(a["x"])
    return {"out": out}


def relu_backward(cs: Modules, a: dict) -> dict:
    _, cache = cs.layers.relu_forward(a["x"])
    return {"dx": cs.layers.relu_backward(a["dout"], cache)}


def softmax_loss(cs: Modules, a: dict) -> dict:
    loss, dx = cs.layers.softmax_loss(a["x"], a["y"])
    loss_large, _ = cs.layers.softmax_loss(a["x"] * 1e3, a["y"])
    return {"loss": loss, "dx": dx, "loss_large_scores": loss_large}


def svm_loss(cs: Modules, a: dict) -> dict:
    loss, dx = cs.layers.svm_loss(a["x"], a["y"])
    return {"loss": loss, "dx": dx}


def affine_relu(cs: Modules, a: dict) -> dict:
    out, cache = cs.layer_utils.affine_relu_forward(a["x"], a["w"], a["b"])
    dx, dw, db = cs.layer_utils.affine_relu_backward(a["dout"], cache)
    return {"out": out, "dx": dx, "dw": dw, "db": db}


def _init_summary(params: dict, weight_scale: float) -> dict:
    """Shapes, how far each W's spread and mean are from N(0, weight_scale^2), largest bias.

    The spread and mean are random; they are reported as distances from the ideal (std
    ratio 1, mean 0), which the grader compares loosely.
    """
    names = sorted(params)
    weights = [n for n in names if n.startswith("W")]
    biases = [n for n in names if n.startswith("b") and not n.startswith("beta")]
    return {
        "shapes": np.array([d for n in names for d in (params[n].ndim, *params[n].shape)]),
        "weight_std_off": np.array([abs(params[n].std() / weight_scale - 1) for n in weights]),
        "weight_mean_off": np.array([abs(params[n].mean()) / weight_scale for n in weights]),
        "bias_max": np.array([np.abs(params[n]).max() for n in biases]),
    }


def two_layer_net_init(cs: Modules, a: dict) -> dict:
    np.random.seed(_i(a, "seed"))  # noqa: NPY002 (the models draw from the global RNG)
    net = cs.fc_net.TwoLayerNet(
        input_dim=_i(a, "D"),
        hidden_dim=_i(a, "H"),
        num_classes=_i(a, "C"),
        weight_scale=_f(a, "weight_scale"),
    )
    return _init_summary(net.params, _f(a, "weight_scale"))


def _model_outputs(net, a: dict, params: list[str]) -> dict:
    """Scores (test mode), then loss and gradients (train mode), of a net with given params."""
    for name in params:
        net.params[name] = a[name].copy()
    out = {"scores": net.loss(a["X"])}
    loss, grads = net.loss(a["X"], a["y"])
    out["loss"] = loss
    out.update({f"d{name}": grads[name] for name in params})
    return out


def two_layer_net_loss(cs: Modules, a: dict) -> dict:
    net = cs.fc_net.TwoLayerNet(
        input_dim=a["W1"].shape[0],
        hidden_dim=a["W1"].shape[1],
        num_classes=a["W2"].shape[1],
        reg=_f(a, "reg"),
    )
    return _model_outputs(net, a, ["W1", "b1", "W2", "b2"])


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


def fc_net_init(cs: Modules, a: dict) -> dict:
    np.random.seed(_i(a, "seed"))  # noqa: NPY002 (the models draw from the global RNG)
    net = cs.fc_net.FullyConnectedNet(
        [_i(a, "H1"), _i(a, "H2")],
        input_dim=_i(a, "D"),
        num_classes=_i(a, "C"),
        weight_scale=_f(a, "weight_scale"),
        dtype=np.float64,
    )
    return _init_summary(net.params, _f(a, "weight_scale"))


def fc_net_loss(cs: Modules, a: dict) -> dict:
    return _model_outputs(_fc_net(cs, a), a, _fc_param_names(a, norm=False))


def _run_rule(rule, a: dict, state_keys: list[str], config: dict) -> dict:
    """Three steps of an update rule from w with gradients dw[0..2]."""
    w, ws = a["w"], []
    for dw in a["dw"]:
        w, config = rule(w, dw, config)
        ws.append(w)
    out = {"w": np.stack(ws)}
    out.update({key: config[key] for key in state_keys})
    return out


def sgd_momentum(cs: Modules, a: dict) -> dict:
    config = {"learning_rate": _f(a, "lr"), "momentum": _f(a, "momentum"), "velocity": a["v0"]}
    return _run_rule(cs.optim.sgd_momentum, a, ["velocity"], config)


def rmsprop(cs: Modules, a: dict) -> dict:
    config = {"learning_rate": _f(a, "lr"), "decay_rate": _f(a, "decay"), "cache": a["cache0"]}
    return _run_rule(cs.optim.rmsprop, a, ["cache"], config)


def adam(cs: Modules, a: dict) -> dict:
    fresh = _run_rule(cs.optim.adam, a, ["m", "v", "t"], {"learning_rate": _f(a, "lr")})
    config = {"learning_rate": _f(a, "lr"), "m": a["m0"], "v": a["cache0"], "t": _i(a, "t0")}
    resumed = _run_rule(cs.optim.adam, a, ["m", "v", "t"], config)
    out = {f"fresh_{k}": v for k, v in fresh.items()}
    out.update({f"resumed_{k}": v for k, v in resumed.items()})
    return out


class ThresholdModel:
    """A one-parameter model for checking the Solver without depending on its sampling.

    Scores ``[0, x - w]`` predict class 1 where the single feature x exceeds w. The training
    loss ``0.5 * (w - target)**2`` ignores the minibatch, so the path of w depends only on
    the update rule, the learning rate and its decay, not on which rows were sampled.
    """

    def __init__(self, w0: float, target: float) -> None:
        self.params = {"w": np.array([w0])}
        self.target = target

    def loss(self, X, y=None):
        w = self.params["w"][0]
        if y is None:
            return np.stack([np.zeros(len(X)), X[:, 0] - w], axis=1)
        d = w - self.target
        return 0.5 * d * d, {"w": np.array([d])}


def solver(cs: Modules, a: dict) -> dict:
    model = ThresholdModel(0.0, _f(a, "target"))
    data = {"X_train": a["X_train"], "y_train": a["y_train"], "X_val": a["X_val"]}
    data["y_val"] = a["y_val"]
    s = cs.solver.Solver(
        model,
        data,
        update_rule="sgd",
        optim_config={"learning_rate": _f(a, "lr")},
        lr_decay=_f(a, "lr_decay"),
        batch_size=_i(a, "batch_size"),
        num_epochs=_i(a, "num_epochs"),
        verbose=False,
    )
    s.train()
    return {
        "final_w": model.params["w"],
        "best_val_acc": s.best_val_acc,
        "loss_history": np.array(s.loss_history),
        "val_acc_history": np.array(s.val_acc_history),
    }


# ----------------------------------------------------------------------------------- Q2


def _bn_param(a: dict, mode: str) -> dict:
    return {
        "mode": mode,
        "eps": _f(a, "eps"),
        "momentum": _f(a, "momentum"),
        "running_mean": a["running_mean"].copy(),
        "running_var": a["running_var"].copy(),
    }


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


def batchnorm_forward_test(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.batchnorm_forward(a["x"], a["gamma"], a["beta"], _bn_param(a, "test"))
    return {"out": out}


def _bn_backward(backward, cs: Modules, a: dict) -> dict:
    _, cache = cs.layers.batchnorm_forward(a["x"], a["gamma"], a["beta"], _bn_param(a, "train"))
    dx, dgamma, dbeta = backward(a["dout"], cache)
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}


def batchnorm_backward(cs: Modules, a: dict) -> dict:
    return _bn_backward(cs.layers.batchnorm_backward, cs, a)


def batchnorm_backward_alt(cs: Modules, a: dict) -> dict:
    return _bn_backward(cs.layers.batchnorm_backward_alt, cs, a)


def layernorm_forward(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.layernorm_forward(a["x"], a["gamma"], a["beta"], {"eps": _f(a, "eps")})
    return {"out": out}


def layernorm_backward(cs: Modules, a: dict) -> dict:
    _, cache = cs.layers.layernorm_forward(a["x"], a["gamma"], a["beta"], {"eps": _f(a, "eps")})
    dx, dgamma, dbeta = cs.layers.layernorm_backward(a["dout"], cache)
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}


def _fc_net_norm(cs: Modules, a: dict, normalization: str) -> dict:
    net = _fc_net(cs, a, normalization=normalization)
    out = _model_outputs(net, a, _fc_param_names(a, norm=True))
    del out["scores"]  # before training, batchnorm's running statistics are still zero
    out["scores_after_train_step"] = net.loss(a["X"])
    return out


def fc_net_batchnorm(cs: Modules, a: dict) -> dict:
    return _fc_net_norm(cs, a, "batchnorm")


def fc_net_layernorm(cs: Modules, a: dict) -> dict:
    return _fc_net_norm(cs, a, "layernorm")


# ----------------------------------------------------------------------------------- Q3


def dropout_forward_train(cs: Modules, a: dict) -> dict:
    x, p = a["x"], _f(a, "p")
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


def dropout_forward_test(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.dropout_forward(a["x"], {"p": _f(a, "p"), "mode": "test"})
    return {"out": out}


def dropout_backward(cs: Modules, a: dict) -> dict:
    x, dout, p = a["x"], a["dout"], _f(a, "p")
    out, cache = cs.layers.dropout_forward(x, {"p": p, "mode": "train", "seed": _i(a, "seed")})
    dx = cs.layers.dropout_backward(dout, cache)
    _, test_cache = cs.layers.dropout_forward(x, {"p": p, "mode": "test"})
    return {
        # Inverted dropout multiplies dout by the same scaled mask that produced out.
        "train_mismatch": np.abs(dx - dout * out / x).max(),
        "test_dx": cs.layers.dropout_backward(dout, test_cache),
    }


def fc_net_dropout(cs: Modules, a: dict) -> dict:
    names = _fc_param_names(a, norm=False)
    losses = []
    for seed in (1, 2):
        net = _fc_net(cs, a, dropout_keep_ratio=_f(a, "p"), seed=seed)
        out = _model_outputs(net, a, names)
        losses.append(out["loss"])
    return {"scores": out["scores"], "train_loss_varies_with_seed": float(losses[0] != losses[1])}


# ----------------------------------------------------------------------------------- Q4


def _conv_param(a: dict) -> dict:
    return {"stride": _i(a, "stride"), "pad": _i(a, "pad")}


def _pool_param(a: dict) -> dict:
    return {"pool_height": _i(a, "ph"), "pool_width": _i(a, "pw"), "stride": _i(a, "pool_stride")}


def conv_forward_naive(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.conv_forward_naive(a["x"], a["w"], a["b"], _conv_param(a))
    return {"out": out}


def conv_backward_naive(cs: Modules, a: dict) -> dict:
    _, cache = cs.layers.conv_forward_naive(a["x"], a["w"], a["b"], _conv_param(a))
    dx, dw, db = cs.layers.conv_backward_naive(a["dout"], cache)
    return {"dx": dx, "dw": dw, "db": db}


def max_pool_forward_naive(cs: Modules, a: dict) -> dict:
    out, _ = cs.layers.max_pool_forward_naive(a["x"], _pool_param(a))
    return {"out": out}


def max_pool_backward_naive(cs: Modules, a: dict) -> dict:
    _, cache = cs.layers.max_pool_forward_naive(a["x"], _pool_param(a))
    return {"dx": cs.layers.max_pool_backward_naive(a["dout"], cache)}


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


def spatial_batchnorm_backward(cs: Modules, a: dict) -> dict:
    layers, bn_param = cs.layers, _bn_param(a, "train")
    _, cache = layers.spatial_batchnorm_forward(a["x"], a["gamma"], a["beta"], bn_param)
    dx, dgamma, dbeta = layers.spatial_batchnorm_backward(a["dout"], cache)
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}


def spatial_groupnorm_forward(cs: Modules, a: dict) -> dict:
    gn = {"eps": _f(a, "eps")}
    out, _ = cs.layers.spatial_groupnorm_forward(a["x"], a["gamma"], a["beta"], _i(a, "G"), gn)
    return {"out": out}


def spatial_groupnorm_backward(cs: Modules, a: dict) -> dict:
    gn = {"eps": _f(a, "eps")}
    _, cache = cs.layers.spatial_groupnorm_forward(a["x"], a["gamma"], a["beta"], _i(a, "G"), gn)
    dx, dgamma, dbeta = cs.layers.spatial_groupnorm_backward(a["dout"], cache)
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}


def conv_sandwiches(cs: Modules, a: dict) -> dict:
    """Forward and backward of each conv sandwich in layer_utils; outputs named by layer."""
    conv, pool, x, w, b = _conv_param(a), _pool_param(a), a["x"], a["w"], a["b"]
    bn = (a["gamma"], a["beta"], conv, _bn_param(a, "train"))
    sandwiches = [  # (layer, its arguments, the upstream gradient)
        ("conv_relu", (x, w, b, conv), a["dout"]),
        ("conv_relu_pool", (x, w, b, conv, pool), a["dout_pool"]),
        ("conv_bn_relu", (x, w, b, *bn), a["dout"]),
        ("conv_bn_relu_pool", (x, w, b, *bn, pool), a["dout_pool"]),
    ]
    result = {}
    for layer, args, dout in sandwiches:
        out, cache = getattr(cs.layer_utils, f"{layer}_forward")(*args)
        grads = getattr(cs.layer_utils, f"{layer}_backward")(dout, cache)
        names = ("dx", "dw", "db", "dgamma", "dbeta")[: len(grads)]
        result[f"{layer}_out"] = out
        result.update({f"{layer}_{k}": g for k, g in zip(names, grads, strict=True)})
    return result


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
    out = _model_outputs(net, a, ["W1", "b1", "W2", "b2", "W3", "b3"])
    # The initialization on a net big enough for its weights' spread to be measured.
    big = cs.cnn.ThreeLayerConvNet(
        input_dim=(3, 8, 8), num_filters=8, filter_size=3, hidden_dim=50, weight_scale=ws
    )
    out.update({f"init_{k}": v for k, v in _init_summary(big.params, ws).items()})
    return out
