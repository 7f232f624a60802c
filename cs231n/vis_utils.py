"""Tile images into one array for display (first-layer weights, activations, samples)."""

from __future__ import annotations

import math

import numpy as np

from cs231n._checks import check_ndim


def _tile(images: np.ndarray, padding: int, fill: float) -> np.ndarray:
    """Lay out a (rows, cols, H, W, C) stack as one (rows*(H+padding), cols*(W+padding), C)
    image, with ``padding`` pixels of ``fill`` after every image along both axes."""
    rows, cols, H, W, C = images.shape
    padded = np.pad(
        images,
        ((0, 0), (0, 0), (0, padding), (0, padding), (0, 0)),
        constant_values=fill,
    )
    return padded.transpose(0, 2, 1, 3, 4).reshape(rows * (H + padding), cols * (W + padding), C)


def _square(Xs: np.ndarray, fill: float) -> np.ndarray:
    """Arrange N images (N, H, W, C) row by row on a ceil(sqrt(N)) square, filling the
    empty cells with ``fill``. Returns (G, G, H, W, C)."""
    N, H, W, C = Xs.shape
    G = math.ceil(math.sqrt(N))
    cells = np.full((G * G, H, W, C), fill, dtype=np.float64)
    cells[:N] = Xs
    return cells.reshape(G, G, H, W, C)


def _rescale(x: np.ndarray, low: np.ndarray, high: np.ndarray, ubound: float) -> np.ndarray:
    """Map [low, high] linearly onto [0, ubound]; a constant input maps to 0."""
    span = high - low
    return ubound * (x - low) / np.where(span > 0, span, 1.0)


def visualize_grid(Xs: np.ndarray, ubound: float = 255.0, padding: int = 1) -> np.ndarray:
    """Tile N images on a square grid, each rescaled on its own to [0, ubound].

    Inputs:
    - Xs: (N, H, W, C) images
    - ubound: the upper bound of every rescaled image
    - padding: zero pixels between neighbouring images

    Returns (G*(H+padding) - padding, G*(W+padding) - padding, C) with G = ceil(sqrt(N));
    cells past the N-th are zeros.
    """
    check_ndim("Xs", Xs, 4)
    low = Xs.min(axis=(1, 2, 3), keepdims=True)
    high = Xs.max(axis=(1, 2, 3), keepdims=True)
    grid = _tile(_square(_rescale(Xs, low, high, ubound), 0.0), padding, 0.0)
    return grid[: grid.shape[0] - padding, : grid.shape[1] - padding]


def vis_grid(Xs: np.ndarray) -> np.ndarray:
    """Tile N images on a square grid, one pixel apart, rescaled together to [0, 1].

    Inputs: Xs (N, H, W, C).
    Returns (G*(H+1), G*(W+1), C) with G = ceil(sqrt(N)); separators and empty cells take
    the smallest value of Xs before rescaling (0 after).
    """
    check_ndim("Xs", Xs, 4)
    low, high = Xs.min(), Xs.max()
    grid = _tile(_square(Xs, low), 1, low)
    return _rescale(grid, low, high, 1.0)


def vis_nn(rows: list[list[np.ndarray]]) -> np.ndarray:
    """Tile a table of images, one pixel apart, rescaled together to [0, 1].

    Inputs: rows, a list of R lists of M images each, all (H, W, C).
    Returns (R*(H+1), M*(W+1), C); separators take the smallest value (0 after rescaling).
    """
    images = np.asarray(rows, dtype=np.float64)
    check_ndim("rows (as an array of images)", images, 5)
    low, high = images.min(), images.max()
    return _rescale(_tile(images, 1, low), low, high, 1.0)
