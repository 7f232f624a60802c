"""Fully connected networks built from the layers and sandwiches in ``cs231n.layer_utils``.

Both models follow the contract ``cs231n.solver.Solver`` relies on: a ``params`` dict of
arrays, and ``loss(X)`` returning class scores while ``loss(X, y)`` returns
``(loss, grads)`` with ``grads`` keyed like ``params``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cs231n._checks import cast_params, check_hidden_dims, keep_ratio
from cs231n.layer_utils import (
    affine_norm_relu_dropout_backward,
    affine_norm_relu_dropout_forward,
    affine_relu_backward,
    affine_relu_forward,
    check_normalization,
)
from cs231n.layers import affine_backward, affine_forward, softmax_loss


class TwoLayerNet:
    """Two-layer net: affine - relu - affine - softmax.

    Input dimension D, hidden dimension H, C classes. Weights are drawn from
    N(0, weight_scale^2) and biases start at zero. ``params`` holds W1 (D, H), b1 (H,),
    W2 (H, C) and b2 (C,).
    """

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
    ) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.reg = reg
        # TODO: initialize the parameters: W1, b1, W2, b2 in self.params, weights from
        # N(0, weight_scale^2) with np.random.randn (so that np.random.seed fixes them),
        # biases zero.
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        # The global RNG, so that np.random.seed in a notebook fixes the initialization.
        self.params["W1"] = weight_scale * np.random.randn(input_dim, hidden_dim)  # noqa: NPY002
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = weight_scale * np.random.randn(hidden_dim, num_classes)  # noqa: NPY002
        self.params["b2"] = np.zeros(num_classes)
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """Scores, or loss and gradients, for a minibatch.

        Inputs:
        - X: (N, d_1, ..., d_k) with d_1 * ... * d_k == D
        - y: (N,) integer labels in [0, C), or None

        Returns scores (N, C) when y is None; otherwise (loss, grads), where loss is the
        softmax loss plus ``0.5 * reg * (sum(W1**2) + sum(W2**2))`` and grads maps each
        parameter name to its gradient.
        """
        # TODO: write the forward pass: scores (N, C), keeping each layer's cache.
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        hidden, hidden_cache = affine_relu_forward(X, W1, b1)
        scores, scores_cache = affine_forward(hidden, W2, b2)
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        if y is None:
            return scores

        # TODO: write the backward pass: loss (softmax loss plus the L2 term) and grads,
        # the gradient of every parameter keyed like self.params.
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * float(np.sum(W1 * W1) + np.sum(W2 * W2))
        grads = {}
        dhidden, grads["W2"], grads["b2"] = affine_backward(dscores, scores_cache)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, hidden_cache)
        grads["W1"] += self.reg * W1
        grads["W2"] += self.reg * W2
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        return loss, grads


class FullyConnectedNet:
    """Fully connected net with any number of hidden layers:

    {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax

    ``params`` holds W1..WL and b1..bL, plus gamma1..gamma(L-1) and beta1..beta(L-1)
    when there is a normalization. Weights are drawn from N(0, weight_scale^2), biases
    and betas start at zero, gammas at one; every parameter has dtype ``dtype``
    (float32 for training, float64 for gradient checks).
    """

    def __init__(
        self,
        hidden_dims: Sequence[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        dropout_keep_ratio: float = 1,
        normalization: str | None = None,
        reg: float = 0.0,
        weight_scale: float = 1e-2,
        dtype: type = np.float32,
        seed: int | None = None,
        *,
        dropout: float | None = None,
    ) -> None:
        """Inputs:
        - hidden_dims: the size of each hidden layer
        - input_dim: D, the size of a flattened input
        - num_classes: C
        - dropout_keep_ratio: probability of keeping a hidden unit, in (0, 1]; 1 means no
          dropout. ``dropout`` is accepted as its older name.
        - normalization: None, 'batchnorm' or 'layernorm'
        - reg: L2 regularization strength on the weight matrices
        - weight_scale: standard deviation of the initial weights
        - dtype: numpy float type of all parameters and computations
        - seed: if given, seeds the dropout masks so that they are reproducible
        """
        dropout_keep_ratio = keep_ratio(dropout_keep_ratio, dropout)
        check_normalization(normalization)
        check_hidden_dims(hidden_dims)
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params: dict[str, np.ndarray] = {}
        # TODO: initialize the parameters: W1..WL and b1..bL in self.params and, with a
        # normalization, gamma1.. (ones) and beta1.. (zeros) for the hidden layers;
        # weights from N(0, weight_scale^2) with np.random.randn, biases zero.
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(1, self.num_layers + 1):
            fan_in, fan_out = dims[i - 1], dims[i]
            # The global RNG, so that np.random.seed in a notebook fixes the initialization.
            self.params[f"W{i}"] = weight_scale * np.random.randn(fan_in, fan_out)  # noqa: NPY002
            self.params[f"b{i}"] = np.zeros(fan_out)
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(fan_out)
                self.params[f"beta{i}"] = np.zeros(fan_out)
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        cast_params(self.params, dtype)
        # The dropout layers share one parameter dict; one dict per normalization layer, where
        # batchnorm keeps its running statistics. Each loss call sets their mode.
        self.dropout_param: dict = {}
        if self.use_dropout:
            seeded = {} if seed is None else {"seed": seed}
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio, **seeded}
        self.bn_params: list[dict] = []
        if normalization is not None:
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """Scores, or loss and gradients, for a minibatch.

        Inputs:
        - X: (N, d_1, ..., d_k) with d_1 * ... * d_k == input_dim; cast to ``dtype``
        - y: (N,) integer labels in [0, C), or None

        With y None the net runs in test mode (dropout off, batchnorm on its running
        statistics) and returns scores (N, C). Otherwise it runs in train mode and
        returns (loss, grads): the softmax loss plus ``0.5 * reg * sum(W**2)`` over every
        weight matrix, and the gradient of each parameter keyed like ``params``.
        """
        X = np.asarray(X).astype(self.dtype, copy=False)
        self._set_mode("test" if y is None else "train")
        # TODO: write the forward pass: scores (N, C), keeping each layer's cache. A plain
        # hidden layer (no normalization, no dropout) is affine_relu_forward; with either, it is
        # affine_norm_relu_dropout_forward, which you write in BatchNormalization.ipynb.
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        L = self.num_layers
        plain = self.normalization is None and not self.use_dropout
        out = X
        caches = []
        for i in range(1, L):
            W, b = self.params[f"W{i}"], self.params[f"b{i}"]
            if plain:
                out, cache = affine_relu_forward(out, W, b)
            else:
                gamma, beta = self.params.get(f"gamma{i}"), self.params.get(f"beta{i}")
                bn_param = self.bn_params[i - 1] if self.bn_params else None
                dropout_param = self.dropout_param if self.use_dropout else None
                out, cache = affine_norm_relu_dropout_forward(
                    out, W, b, gamma, beta, bn_param, self.normalization, dropout_param
                )
            caches.append(cache)
        scores, scores_cache = affine_forward(out, self.params[f"W{L}"], self.params[f"b{L}"])
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        if y is None:
            return scores

        # TODO: write the backward pass: loss (softmax loss plus the L2 term on every W)
        # and grads, the gradient of every parameter keyed like self.params, back through the
        # same sandwiches as the forward pass.
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        loss, dscores = softmax_loss(scores, y)
        weights = [self.params[f"W{i}"] for i in range(1, L + 1)]
        loss += 0.5 * self.reg * sum(float(np.sum(W * W)) for W in weights)

        grads = {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, scores_cache)
        for i in range(L - 1, 0, -1):
            if plain:
                dout, grads[f"W{i}"], grads[f"b{i}"] = affine_relu_backward(dout, caches[i - 1])
                continue
            dout, dw, db, dgamma, dbeta = affine_norm_relu_dropout_backward(dout, caches[i - 1])
            grads[f"W{i}"], grads[f"b{i}"] = dw, db
            if self.normalization is not None:
                grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta
        for i, W in enumerate(weights, start=1):
            grads[f"W{i}"] += self.reg * W
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        return loss, grads

    def _set_mode(self, mode: str) -> None:
        """Put the dropout and normalization layers in ``mode``, 'train' or 'test'."""
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
