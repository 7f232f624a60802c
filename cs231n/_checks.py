"""Argument checks shared by the layers, models and solver.

Each helper raises ``ValueError`` with a message that names the argument, what was
expected and what was received, so that a student sees at once which input is wrong.
"""

from __future__ import annotations

from typing import Sequence

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
        e is None or s == e for s, e in zip(shape, expected)
    )
    if not ok:
        want = "(" + ", ".join("*" if e is None else str(e) for e in expected) + ")"
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
