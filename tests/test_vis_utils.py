"""visualize_grid / vis_grid / vis_nn: grid geometry, placement and rescaling."""

from __future__ import annotations

import numpy as np
import pytest

from cs231n.vis_utils import vis_grid, vis_nn, visualize_grid

pytestmark = pytest.mark.q1


def test_visualize_grid_places_and_rescales_each_image(rng):
    N, H, W, C = 5, 4, 3, 2
    Xs = rng.normal(size=(N, H, W, C))
    grid = visualize_grid(Xs, ubound=255.0, padding=2)
    G = 3  # ceil(sqrt(5))
    assert grid.shape == (G * (H + 2) - 2, G * (W + 2) - 2, C)
    for k in range(N):
        r, c = divmod(k, G)
        cell = grid[r * (H + 2) : r * (H + 2) + H, c * (W + 2) : c * (W + 2) + W]
        x = Xs[k]
        np.testing.assert_allclose(cell, 255.0 * (x - x.min()) / (x.max() - x.min()))
    # padding and the empty cells past N are zeros
    assert np.all(grid[H : H + 2] == 0)
    assert np.all(grid[2 * (H + 2) :, 2 * (W + 2) :] == 0)


def test_visualize_grid_constant_image_is_finite():
    grid = visualize_grid(np.ones((1, 2, 2, 3)))
    assert np.all(np.isfinite(grid))


def test_vis_grid_rescales_jointly_to_unit_range(rng):
    Xs = rng.normal(size=(4, 3, 3, 1))
    grid = vis_grid(Xs)
    assert grid.shape == (2 * 4, 2 * 4, 1)
    assert grid.min() == 0.0 and grid.max() == 1.0
    np.testing.assert_allclose(grid[4:7, 4:7], (Xs[3] - Xs.min()) / (Xs.max() - Xs.min()))


def test_vis_nn_tiles_rows(rng):
    rows = [[rng.normal(size=(2, 3, 3)) for _ in range(4)] for _ in range(2)]
    out = vis_nn(rows)
    assert out.shape == (2 * 3, 4 * 4, 3)
    assert out.min() == 0.0 and out.max() == 1.0


def test_bad_rank_is_a_clear_error():
    with pytest.raises(ValueError, match="Xs must be a 4-D array"):
        visualize_grid(np.zeros((3, 32, 32)))
