"""Where one ThreeLayerConvNet training step goes: a per-phase table, ours and PyTorch's side
by side (``python benchmarks/bench_fast_layers.py --profile``).

Ours: ``Solver._step`` of the notebook's model (batch 50, hidden 500, float32, Adam), with
timers wrapped around the layer functions the model calls, ``model.loss`` and the update
rule, so that each phase is measured inside a real step. PyTorch: the same model and step
as in ``bench_fast_layers.torch_iteration``, timed phase by phase. Medians over ``steps``
steps after a warm-up, on the threads the caller set for everything, by ``clock``: wall time
(``time.perf_counter``), or the CPU time of the calling thread (``time.thread_time``, for
1 thread: what other processes on the machine disturb least).
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from cs231n.classifiers import cnn
from cs231n.classifiers.cnn import ThreeLayerConvNet
from cs231n.solver import Solver

# The functions ThreeLayerConvNet.loss calls, by the phase they belong to.
LAYERS = {
    "conv_relu_pool_forward": "forward: conv - relu - pool",
    "affine_relu_forward": "forward: affine - relu",
    "affine_forward": "forward: affine",
    "softmax_loss": "forward: softmax loss",
    "affine_backward": "backward: affine",
    "affine_relu_backward": "backward: affine - relu",
    "max_pool_backward_fast": "backward: pool",
    "relu_backward": "backward: relu",
    "conv_backward_fast": "backward: conv (no dx: the images need none)",
}


class Timers:
    """Seconds per label, summed within a step and kept step by step."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.step: dict[str, float] = defaultdict(float)
        self.steps: list[dict[str, float]] = []

    def wrap(self, label: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            start = self.clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.step[label] += self.clock() - start

        return timed

    def end_step(self) -> None:
        self.steps.append(dict(self.step))
        self.step.clear()

    def medians(self) -> dict[str, float]:
        return {k: statistics.median(s.get(k, 0.0) for s in self.steps) for k in self.steps[0]}


def ours(X: np.ndarray, y: np.ndarray, batch: int, hidden: int, steps: int, clock) -> dict:
    """Median ms per phase of our step."""
    model = ThreeLayerConvNet(weight_scale=1e-3, hidden_dim=hidden, reg=1e-3, dtype=np.float32)
    data = {"X_train": X, "y_train": y, "X_val": X[:batch], "y_val": y[:batch]}
    solver = Solver(
        model, data, update_rule="adam", optim_config={"learning_rate": 1e-3}, batch_size=batch
    )
    timers = Timers(clock)
    originals = {name: getattr(cnn, name) for name in LAYERS}
    try:
        for name, label in LAYERS.items():
            setattr(cnn, name, timers.wrap(label, originals[name]))
        model.loss = timers.wrap("model.loss", model.loss)
        solver._update = timers.wrap("update: Adam, 6 parameters", solver._update)
        step = timers.wrap("step", solver._step)
        for k in range(steps + 5):
            step()
            if k < 5:
                timers.step.clear()  # warm-up
            else:
                timers.end_step()
    finally:
        for name, fn in originals.items():
            setattr(cnn, name, fn)
    for t in timers.steps:  # the parts outside the timed functions, step by step
        layers = sum(t.get(label, 0.0) for label in LAYERS.values())
        t["loss: the rest (L2 term, reg gradient)"] = t["model.loss"] - layers
        update = t.pop("update: Adam, 6 parameters")
        t["Solver: batch sampling, checks"] = t["step"] - t.pop("model.loss") - update
        t["update: Adam, 6 parameters"] = update
        t["step"] = t.pop("step")
    t = timers.medians()
    return {k: 1e3 * v for k, v in t.items()}


def theirs(X: np.ndarray, y: np.ndarray, batch: int, hidden: int, steps: int, clock) -> dict:
    """Median ms per phase of the PyTorch step (``bench_fast_layers.torch_iteration``)."""
    tX, ty = torch.tensor(X), torch.tensor(y)
    shapes = {"W1": (32, 3, 7, 7), "b1": (32,), "W2": (32 * 16 * 16, hidden), "b2": (hidden,)}
    shapes |= {"W3": (hidden, 10), "b3": (10,)}
    p = {k: (1e-3 * torch.randn(s)).requires_grad_() for k, s in shapes.items()}
    optimizer = torch.optim.Adam(p.values(), lr=1e-3)
    rows = []
    for k in range(steps + 5):
        t0 = clock()
        batch_rows = torch.randint(len(tX), (batch,))
        xb, yb = tX[batch_rows], ty[batch_rows]
        t1 = clock()
        a = F.max_pool2d(F.relu(F.conv2d(xb, p["W1"], p["b1"], padding=3)), 2)
        t2 = clock()
        scores = F.relu(a.flatten(1) @ p["W2"] + p["b2"]) @ p["W3"] + p["b3"]
        t3 = clock()
        l2 = sum((p[k] * p[k]).sum() for k in ("W1", "W2", "W3"))
        loss = F.cross_entropy(scores, yb) + 0.5e-3 * l2
        t4 = clock()
        optimizer.zero_grad()
        loss.backward()
        t5 = clock()
        optimizer.step()
        t6 = clock()
        if k >= 5:
            rows.append([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t6 - t0])
    labels = [
        "batch sampling",
        "forward: conv - relu - pool",
        "forward: affine - relu - affine",
        "forward: loss with L2 term",
        "backward: all layers (autograd)",
        "update: Adam, 6 parameters",
        "step",
    ]
    return {label: 1e3 * statistics.median(r[i] for r in rows) for i, label in enumerate(labels)}


def print_profile(
    X: np.ndarray, y: np.ndarray, batch: int, hidden: int, steps: int, clock=time.perf_counter
) -> None:
    """The two profiles side by side, phases in step order: ms and share of the step."""
    tables = ours(X, y, batch, hidden, steps, clock), theirs(X, y, batch, hidden, steps, clock)
    what = "CPU time of one thread" if clock is time.thread_time else "wall time"
    print(
        f"\nOne ThreeLayerConvNet step (batch {batch}, hidden {hidden}, float32, Adam): median "
        f"ms per phase over {steps} steps, {what}\n\n"
        "| ours (numpy) | ms | share | PyTorch | ms | share |\n|---|---:|---:|---|---:|---:|"
    )

    def cell(table: dict[str, float], label: str | None) -> str:
        if label is None:
            return " | | "
        return f"{label} | {table[label]:.1f} | {100 * table[label] / table['step']:.0f}%"

    phases = [[k for k in table if k != "step"] for table in tables]
    for row in itertools.zip_longest(*phases):
        print(f"| {cell(tables[0], row[0])} | {cell(tables[1], row[1])} |")
    print(f"| {cell(tables[0], 'step')} | {cell(tables[1], 'step')} |")
