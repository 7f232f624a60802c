"""Argument checks shared by the layers, models and solver, and the models' dtype handling.

Each check raises ``ValueError`` with a message that names the argument, what was
expected and what was received, so that a student sees at once which input is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def check_ndim(name: str, x: np.ndarray, ndim: int) -> None:
    """Require ``x.ndim == ndim``."""
    if np.ndim(x) != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D array, got shape {np.shape(x)} ({np.ndim(x)}-D)"
        )


def check_shape(name: str, x: np.ndarray, expected: Sequence[int | None]) -> None:
    """Require ``x.shape`` to match ``expected``; ``None`` entries match any size."""
    shape = np.shape(x)
    ok = len(shape) == len(expected) and all(
        e is None or s == e for s, e in zip(shape, expected, strict=False)
    )
    if not ok:
        sizes = ["*" if e is None else str(e) for e in expected]
        want = "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"
        raise ValueError(f"{name} must have shape {want}, got {shape}")


def check_labels(y: np.ndarray, num_samples: int, num_classes: int) -> None:
    """Require integer labels ``y: (num_samples,)`` with values in ``[0, num_classes)``."""
    check_shape("y", y, (num_samples,))
    if not np.issubdtype(np.asarray(y).dtype, np.integer):
        raise ValueError(f"y must hold integer class labels, got dtype {np.asarray(y).dtype}")
    if num_samples and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"y must hold labels in [0, {num_classes}) for scores with {num_classes} classes, "
            f"got values in [{y.min()}, {y.max()}]"
        )


def check_mode(name: str, mode: object) -> str:
    """Require ``mode`` to be 'train' or 'test' and return it."""
    if mode not in ("train", "test"):
        raise ValueError(f"{name}['mode'] must be 'train' or 'test', got {mode!r}")
    return mode  # type: ignore[return-value]


def check_finite(name: str, x: np.ndarray, hint: str = "") -> None:
    """Require every entry of ``x`` to be finite (no NaN, no infinity); ``hint``, if given,
    ends the message."""
    finite = np.isfinite(x)
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(
            f"{name} must hold finite numbers, got {np.asarray(x)[index]} at index {index} "
            f"({finite.size - np.count_nonzero(finite)} of {finite.size} entries not finite)"
            + (f"; {hint}" if hint else "")
        )


def _is_real(value: object) -> bool:
    """An int, float or numpy scalar of either, not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_probability(name: str, value: object, *, zero_allowed: bool = False) -> float:
    """Require a number in (0, 1] (or [0, 1] with ``zero_allowed``) and return it as a float."""
    low, bracket = (0.0, "[") if zero_allowed else (np.nextafter(0.0, 1.0), "(")
    if not _is_real(value) or not low <= value <= 1:  # a NaN fails the comparison
        raise ValueError(f"{name} must be a probability in {bracket}0, 1], got {value!r}")
    return float(value)


def check_non_negative(name: str, value: object) -> float:
    """Require a finite number >= 0 and return it as a float."""
    if not _is_real(value) or not 0 <= value < np.inf:  # a NaN fails the comparison
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    """Require an integer ``value >= minimum`` and return it as an ``int``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def conv_output_size(name: str, size: int, window: int, stride: int, pad: int = 0) -> int:
    """Output length of a window sliding along one axis of length ``size``.

    ``size`` is padded by ``pad`` on both sides; the window must fit and its positions
    must tile the padded axis exactly: ``(size + 2*pad - window) % stride == 0``.
    ``name`` says which axis, e.g. "height" or "width".
    """
    stride = check_positive_int("stride", stride)
    pad = check_positive_int("pad", pad, minimum=0)
    span = size + 2 * pad - window
    if span < 0:
        raise ValueError(
            f"window {name} {window} does not fit the input {name} {size} padded by {pad} "
            f"on each side (= {size + 2 * pad})"
        )
    if span % stride:
        raise ValueError(
            f"window {name} {window} with stride {stride} does not tile the input {name} "
            f"{size} padded by {pad}: (size + 2*pad - window) = {span} is not a multiple "
            f"of the stride"
        )
    return 1 + span // stride


def check_pool_param(x: np.ndarray, pool_param: dict) -> tuple[int, int, int, int, int]:
    """Validate max pooling of ``x: (N, C, H, W)`` (no padding); return the checked
    (pool_height, pool_width, stride, H', W')."""
    check_ndim("x", x, 4)
    ph = check_positive_int("pool_param['pool_height']", pool_param.get("pool_height"))
    pw = check_positive_int("pool_param['pool_width']", pool_param.get("pool_width"))
    stride = check_positive_int("pool_param['stride']", pool_param.get("stride"))
    H_out = conv_output_size("height", x.shape[2], ph, stride)
    W_out = conv_output_size("width", x.shape[3], pw, stride)
    return ph, pw, stride, H_out, W_out


def check_conv_param(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[int, int, int, int]:
    """Validate a convolution of ``x: (N, C, H, W)`` with ``w: (F, C, HH, WW)`` and
    ``b: (F,)``; return the checked (stride, pad, H', W')."""
    check_ndim("x", x, 4)
    check_ndim("w", w, 4)
    _, C, H, W = x.shape
    F, _, HH, WW = w.shape
    check_shape("w", w, (None, C, None, None))
    check_shape("b", b, (F,))
    stride = check_positive_int("conv_param['stride']", conv_param.get("stride"))
    pad = check_positive_int("conv_param['pad']", conv_param.get("pad"), minimum=0)
    H_out = conv_output_size("height", H, HH, stride, pad)
    W_out = conv_output_size("width", W, WW, stride, pad)
    return stride, pad, H_out, W_out


# ------------------------------------------------------------------------------ models


def check_input_dim(input_dim: Sequence[int]) -> tuple[int, int, int]:
    """``input_dim`` as (C, H, W) of positive ints, else ValueError."""
    if len(input_dim) != 3:
        raise ValueError(f"input_dim must be (C, H, W), got {tuple(input_dim)}")
    C, H, W = (check_positive_int(f"input_dim[{i}]", d) for i, d in enumerate(input_dim))
    return C, H, W


def check_hidden_dims(hidden_dims: Sequence[int]) -> list[int]:
    """``hidden_dims`` as a list of positive ints, else ValueError naming the list."""
    if any(int(h) != h or h < 1 for h in hidden_dims):
        raise ValueError(f"hidden_dims must be positive integers, got {list(hidden_dims)}")
    return [int(h) for h in hidden_dims]


def keep_ratio(dropout_keep_ratio: float, dropout: float | None) -> float:
    """The checked keep probability of a model's dropout, given as ``dropout_keep_ratio`` or
    by its older name ``dropout`` (not both); 1 means no dropout."""
    if dropout is not None:
        if dropout_keep_ratio != 1:
            raise ValueError(
                "give the keep probability as dropout_keep_ratio or as its older name "
                f"dropout, not both (got {dropout_keep_ratio!r} and {dropout!r})"
            )
        dropout_keep_ratio = dropout
    return check_probability("dropout_keep_ratio (keep probability)", dropout_keep_ratio)


def cast_params(params: dict[str, np.ndarray], dtype: type) -> None:
    """Give every array of a model's ``params`` the model's ``dtype`` (float32 to train,
    float64 for gradient checks)."""
    for name, value in params.items():
        params[name] = value.astype(dtype)
