"""First-order update rules.

Every rule has the signature ``rule(w, dw, config=None) -> (next_w, config)``:

- w: the current weights, any shape
- dw: the gradient of the loss with respect to w, shaped like w
- config: a dict of hyperparameters and of the rule's state (velocity, moments, ...).
  ``None`` becomes ``{}``; missing keys are filled with the defaults. The same dict is
  updated and returned, so that it can be passed back at the next step. Its learning_rate
  must be a finite number >= 0 (0 leaves w as it is); anything else raises ValueError.

``next_w`` is a new array; neither w nor the arrays already held in config are modified
in place.
"""

from __future__ import annotations

import numpy as np

from cs231n._checks import check_non_negative, check_shape


def _start(w: np.ndarray, dw: np.ndarray, config: dict | None, learning_rate: float) -> dict:
    """Check that dw matches w, turn a missing config into an empty one and give it a
    learning rate (``learning_rate`` by default), which must be a finite number >= 0."""
    check_shape("dw", dw, w.shape)
    config = {} if config is None else config
    config.setdefault("learning_rate", learning_rate)
    check_non_negative("config['learning_rate']", config["learning_rate"])
    return config


def sgd(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """Vanilla stochastic gradient descent: ``w - learning_rate * dw``.

    config: learning_rate (1e-2).
    """
    config = _start(w, dw, config, learning_rate=1e-2)
    # TODO: write the update rule: next_w.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    next_w = w - config["learning_rate"] * dw
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return next_w, config


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: dict | None = None
) -> tuple[np.ndarray, dict]:
    """Stochastic gradient descent with momentum.

    ``v = momentum * v - learning_rate * dw``, then ``next_w = w + v``.

    config: learning_rate (1e-2); momentum (0.9); velocity (zeros like w), the v above,
    stored back into config.
    """
    config = _start(w, dw, config, learning_rate=1e-2)
    config.setdefault("momentum", 0.9)
    config.setdefault("velocity", np.zeros_like(w))
    # TODO: write the update rule: next_w, and the new velocity into config["velocity"].
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    v = config["momentum"] * config["velocity"] - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return next_w, config


def rmsprop(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """RMSProp: step sizes scaled by a moving average of squared gradients.

    ``cache = decay_rate * cache + (1 - decay_rate) * dw**2``, then
    ``next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)``.

    config: learning_rate (1e-2); decay_rate (0.99); epsilon (1e-8); cache (zeros like w),
    stored back into config.
    """
    config = _start(w, dw, config, learning_rate=1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    # TODO: write the update rule: next_w, and the new cache into config["cache"].
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    decay = config["decay_rate"]
    cache = decay * config["cache"] + (1 - decay) * dw**2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return next_w, config


def adam(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """Adam: moving averages of the gradient and its square, with bias correction.

    The step counter t is incremented first, then
    ``m = beta1 * m + (1 - beta1) * dw``, ``v = beta2 * v + (1 - beta2) * dw**2``,
    ``mhat = m / (1 - beta1**t)``, ``vhat = v / (1 - beta2**t)`` and
    ``next_w = w - learning_rate * mhat / (sqrt(vhat) + epsilon)``.

    config: learning_rate (1e-3); beta1 (0.9); beta2 (0.999); epsilon (1e-8);
    m and v (zeros like w) and t (0), stored back into config.
    """
    config = _start(w, dw, config, learning_rate=1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    # TODO: write the update rule: next_w, and t, m and v back into config.
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    # The textbook lines (on whole arrays: w, dw, m and v) are the five in the loop below.
    # They run on slices of the flattened arrays, 65,536 entries at a time, into the new
    # arrays m, v and next_w: a slice's temporaries stay in the CPU cache, whereas each
    # operation on a large layer's whole arrays (W2 of a ConvNet, 8192 x 500: 16 MB in
    # float32) would stream them through memory again (1.2x slower).
    beta1, beta2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    new_m, new_v, next_w = (np.empty(w.shape, w.dtype) for _ in range(3))
    arrays = [a.reshape(-1) for a in (w, dw, config["m"], config["v"], new_m, new_v, next_w)]
    size = 1 << 16
    for start in range(0, w.size, size):
        w_s, dw_s, m_old, v_old, m, v, out = (a[start : start + size] for a in arrays)
        m[:] = beta1 * m_old + (1 - beta1) * dw_s
        v[:] = beta2 * v_old + (1 - beta2) * dw_s**2
        mhat = m / (1 - beta1**t)
        vhat = v / (1 - beta2**t)
        out[:] = w_s - config["learning_rate"] * mhat / (np.sqrt(vhat) + config["epsilon"])
    m, v = new_m, new_v
    config["t"], config["m"], config["v"] = t, m, v
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return next_w, config
