"""Shared test helpers: the notebooks' agreement measure and numpy <-> torch bridges."""

from __future__ import annotations

import numpy as np
import pytest
import torch

torch.set_num_threads(2)


def rel_error(x, y) -> float:
    """The notebooks' measure: max(|x - y| / max(1e-8, |x| + |y|))."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def tt(a: np.ndarray, grad: bool = True) -> torch.Tensor:
    """A float64 leaf tensor copied from ``a`` (with requires_grad when ``grad``)."""
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def tn(t: torch.Tensor) -> np.ndarray:
    """A torch tensor (or its .grad) as a numpy array."""
    return t.detach().numpy()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(231)
