"""The speed targets: fast conv and max-pool layers and a ThreeLayerConvNet training iteration
against PyTorch (CPU), on 2 threads and on 1.

Every row runs ours and PyTorch's on the same inputs in the same process, in turns
(``_timing.round_robin``), twice:

- primary: wall time with ``--threads`` threads (default 2) for numpy's BLAS, our Cython
  kernels and PyTorch alike, median of ``--repeat``;
- secondary: CPU time of one thread (``time.thread_time``) with everything on 1 thread, median.

Both columns give ours / PyTorch; the target column is the bound on the primary ratio. The
table ends with our ThreeLayerConvNet speed-up from 1 to 2 threads (wall time), and the GFLOP/s
of the largest convolution, ours and PyTorch's, beside the rates of large matrix products.
Rows whose case ends in ``*`` are the ones the targets name. Timing is only meaningful on an
idle machine: the script warns when the load average is above 1. The output starts with the
CPU model and numpy's BLAS configuration (threadpoolctl), which the ratios depend on.

    python benchmarks/bench_fast_layers.py [--threads 2] [--repeat 7] [--strategies]
    python benchmarks/bench_fast_layers.py --profile [--steps 30]

``--strategies`` adds a row for every strategy behind the fast layers. ``--profile`` prints
only where one ThreeLayerConvNet step goes, phase by phase, ours and PyTorch's side by side
(``profile_step.py``): wall time, or with ``--threads 1`` the CPU time of the one thread.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from _machine import describe
from _timing import cores, ms, round_robin, warn_if_busy
from profile_step import print_profile
from threadpoolctl import threadpool_limits

from cs231n import fast_layers
from cs231n.classifiers.cnn import ThreeLayerConvNet
from cs231n.solver import Solver

# (x shape, w shape, stride, pad); CONV_TARGET: the bound on the ratio by dtype. The second case is
# ThreeLayerConvNet's convolution (batch 50).
CONV_CASES = [
    ((100, 3, 31, 31), (25, 3, 3, 3), 2, 1),
    ((50, 3, 32, 32), (32, 3, 7, 7), 1, 3),
    ((128, 64, 16, 16), (64, 64, 3, 3), 1, 1),
]
CONV_TARGET = {np.float32: 1.3, np.float64: 0.8}
# (x shape, pool size, stride, target): 2x2 windows that tile, 3x3 windows that overlap.
POOL_CASES = [
    ((100, 32, 32, 32), 2, 2, 1.0),
    ((50, 32, 32, 32), 2, 2, None),  # ThreeLayerConvNet's pooling
    ((128, 64, 16, 16), 2, 2, None),
    ((50, 32, 31, 31), 3, 2, None),
]
CONV = {
    "conv": (fast_layers.conv_forward_fast, fast_layers.conv_backward_fast),
    "conv im2col": (fast_layers.conv_forward_im2col, fast_layers.conv_backward_im2col),
}
POOL = {
    "pool": (fast_layers.max_pool_forward_fast, fast_layers.max_pool_backward_fast),
    "pool reshape": (fast_layers.max_pool_forward_reshape, fast_layers.max_pool_backward_reshape),
    "pool im2col": (fast_layers.max_pool_forward_im2col, fast_layers.max_pool_backward_im2col),
}
ITERATION_TARGET = 1.5
BATCH, HIDDEN, POOL_SIZE = 50, 500, 1000  # ThreeLayerConvNet's training in the notebook


def numpy_layer(forward: Callable, backward: Callable, dout: np.ndarray, *inputs) -> Callable:
    def run():
        _, cache = forward(*inputs)
        backward(dout, cache)

    return run


def torch_layer(op: Callable, dout: np.ndarray, x: np.ndarray, *params: np.ndarray) -> Callable:
    tx = torch.tensor(x, requires_grad=True)
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    tdout = torch.tensor(dout)

    def run():
        op(tx, *tparams).backward(tdout)

    return run


def our_iteration(X: np.ndarray, y: np.ndarray) -> Callable:
    """One ``Solver`` step of the notebook's ThreeLayerConvNet (float32, Adam)."""
    model = ThreeLayerConvNet(weight_scale=1e-3, hidden_dim=HIDDEN, reg=1e-3, dtype=np.float32)
    data = {"X_train": X, "y_train": y, "X_val": X[:BATCH], "y_val": y[:BATCH]}
    solver = Solver(
        model, data, update_rule="adam", optim_config={"learning_rate": 1e-3}, batch_size=BATCH
    )
    return solver._step


def torch_iteration(X: np.ndarray, y: np.ndarray) -> Callable:
    """The same model in PyTorch: ``F.conv2d``, ``F.max_pool2d``, two linear layers, the
    same L2 term and ``torch.optim.Adam``; minibatches sampled with replacement."""
    tX, ty = torch.tensor(X), torch.tensor(y)
    shapes = {"W1": (32, 3, 7, 7), "b1": (32,), "W2": (32 * 16 * 16, HIDDEN), "b2": (HIDDEN,)}
    shapes |= {"W3": (HIDDEN, 10), "b3": (10,)}
    p = {k: (1e-3 * torch.randn(s)).requires_grad_() for k, s in shapes.items()}
    optimizer = torch.optim.Adam(p.values(), lr=1e-3)

    def step():
        batch = torch.randint(len(tX), (BATCH,))
        a = F.max_pool2d(F.relu(F.conv2d(tX[batch], p["W1"], p["b1"], padding=3)), 2)
        hidden = F.relu(a.flatten(1) @ p["W2"] + p["b2"])
        scores = hidden @ p["W3"] + p["b3"]
        l2 = sum((p[k] * p[k]).sum() for k in ("W1", "W2", "W3"))
        loss = F.cross_entropy(scores, ty[batch]) + 0.5e-3 * l2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


@contextmanager
def on_threads(n: int) -> Iterator[None]:
    """numpy's BLAS, our kernels and PyTorch on ``n`` threads each."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(n), fast_layers.limited_threads(n):
            yield
    finally:
        torch.set_num_threads(previous)


def timed(fns: dict[str, Callable], threads: int, repeat: int) -> dict[str, tuple[float, float]]:
    """Median seconds of each function on ``threads`` threads (wall time), and on 1 (CPU
    time)."""
    medians = {}
    for n, clock in ((threads, time.perf_counter), (1, time.thread_time)):
        with on_threads(n):
            for name, (_, t) in round_robin(fns, repeat=repeat, clock=clock).items():
                medians.setdefault(name, []).append(t)
    return {name: (t[0], t[1]) for name, t in medians.items()}


class Table:
    def __init__(self, threads: int, repeat: int) -> None:
        self.threads, self.repeat = threads, repeat
        print(
            "| layer | case | dtype | ours | PyTorch | ours / PyTorch | target "
            "| ours, 1 thread | PyTorch, 1 thread | ours / PyTorch, 1 thread |\n"
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
        )

    def rows(self, case: str, dtype, ours: dict[str, Callable], theirs: Callable, target):
        """Time ``ours`` (the first is the fast layer, the others its strategies) beside
        ``theirs``; print a row each. Returns the (wall, CPU) median times by name, PyTorch's
        as "torch"."""
        times = timed({**ours, "torch": theirs}, self.threads, self.repeat)
        t_wall, t_cpu = times["torch"]
        for k, name in enumerate(ours):
            wall, cpu = times[name]
            ratio = wall / t_wall
            verdict = "-"
            if target is not None and k == 0:
                verdict = f"{target:.1f} {'met' if ratio <= target else 'MISSED'}"
            print(
                f"| {name} | {case} | {np.dtype(dtype).name} | {ms(wall)} | {ms(t_wall)} | "
                f"{ratio:.2f} | {verdict} | {ms(cpu)} | {ms(t_cpu)} | {cpu / t_cpu:.2f} |",
                flush=True,
            )
        return times


def conv_rows(table: Table, rng, strategies: bool) -> float:
    """The conv rows; returns the median 2-thread times of the largest case (float32), ours and
    PyTorch's."""
    names = ["conv"] + (["conv im2col"] if strategies else [])
    largest = (0.0, 0.0)
    for dtype in (np.float32, np.float64):
        for x_shape, w_shape, stride, pad in CONV_CASES:
            x = rng.standard_normal(x_shape).astype(dtype)
            w = rng.standard_normal(w_shape).astype(dtype)
            b = rng.standard_normal(w_shape[0]).astype(dtype)
            param = {"stride": stride, "pad": pad}
            out, _ = fast_layers.conv_forward_fast(x, w, b, param)
            dout = rng.standard_normal(out.shape).astype(dtype)
            ours = {name: numpy_layer(*CONV[name], dout, x, w, b, param) for name in names}

            def conv(tx, tw, tb, stride=stride, pad=pad):
                return F.conv2d(tx, tw, tb, stride=stride, padding=pad)

            case = f"x{x_shape} w{w_shape} s{stride} p{pad} *"
            times = table.rows(
                case, dtype, ours, torch_layer(conv, dout, x, w, b), CONV_TARGET[dtype]
            )
            if dtype == np.float32 and x_shape == CONV_CASES[-1][0]:
                largest = times["conv"][0], times["torch"][0]
    return largest


def pool_rows(table: Table, rng, strategies: bool) -> None:
    for x_shape, size, stride, target in POOL_CASES:
        x = rng.standard_normal(x_shape).astype(np.float32)
        param = {"pool_height": size, "pool_width": size, "stride": stride}
        out, _ = fast_layers.max_pool_forward_fast(x, param)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        names = ["pool"] + (["pool im2col"] if strategies else [])
        names += ["pool reshape"] if strategies and size == stride else []
        ours = {name: numpy_layer(*POOL[name], dout, x, param) for name in names}

        def pool(tx, size=size, stride=stride):
            return F.max_pool2d(tx, size, stride)

        case = f"x{x_shape} {size}x{size} s{stride}" + (" *" if target else "")
        table.rows(case, np.float32, ours, torch_layer(pool, dout, x), target)


def sgemm_rates(threads: int) -> dict[str, float]:
    """GFLOP/s of 2048 x 2048 float32 products, best of 5: numpy's BLAS and PyTorch's."""
    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    ta = torch.tensor(a)
    with on_threads(threads):
        times = round_robin({"numpy": lambda: a @ a, "PyTorch": lambda: ta @ ta}, repeat=5)
    return {name: 2 * 2048**3 / best / 1e9 for name, (best, _) in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=min(2, cores()))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--strategies", action="store_true", help="a row for every strategy")
    parser.add_argument("--profile", action="store_true", help="only the step, phase by phase")
    parser.add_argument("--steps", type=int, default=30, help="steps timed by --profile")
    args = parser.parse_args()
    load = warn_if_busy()
    rng = np.random.default_rng(0)
    print(
        f"{describe()}\n"
        f"ours ({fast_layers.get_backend().name} kernels) vs PyTorch {torch.__version__}; "
        f"{args.threads} thread(s) on {cores()} core(s), load average {load:.2f}, "
        f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT', 'unset')}"
    )
    X = rng.standard_normal((POOL_SIZE, 3, 32, 32)).astype(np.float32)
    y = rng.integers(10, size=POOL_SIZE)
    if args.profile:
        with on_threads(args.threads):
            clock = time.thread_time if args.threads == 1 else time.perf_counter
            print_profile(X, y, BATCH, HIDDEN, args.steps, clock)
        return
    print(
        f"median of {args.repeat}, ms per forward + backward (per training step for the "
        "iteration)\n"
    )
    table = Table(args.threads, args.repeat)
    largest = conv_rows(table, rng, args.strategies)
    pool_rows(table, rng, args.strategies)
    case = f"ThreeLayerConvNet, batch {BATCH}, hidden {HIDDEN}, Adam *"
    times = table.rows(
        case,
        np.float32,
        {"iteration": our_iteration(X, y)},
        torch_iteration(X, y),
        ITERATION_TARGET,
    )

    with on_threads(1):
        one = round_robin({"iteration": our_iteration(X, y)}, repeat=args.repeat)["iteration"][1]
    speedup = one / times["iteration"][0]
    print(
        f"\nThreeLayerConvNet iteration, ours: {ms(one)} ms on 1 thread (wall), "
        f"{ms(times['iteration'][0])} ms on {args.threads}: {speedup:.2f}x "
        f"(target 1.6x: {'met' if speedup >= 1.6 else 'MISSED'}); one epoch of 980 "
        f"iterations: {980 * times['iteration'][0]:.0f} s"
    )
    x_shape, w_shape = CONV_CASES[-1][:2]
    N, _, H, W = x_shape
    flops = 3 * 2 * N * H * W * int(np.prod(w_shape)) / 1e9  # forward, dx and dw products
    rates = {n: sgemm_rates(n) for n in (args.threads, 1)}
    print(
        f"largest conv, float32, {args.threads} threads: ours {flops / largest[0]:.0f} GFLOP/s, "
        f"PyTorch {flops / largest[1]:.0f} GFLOP/s. SGEMM 2048^3 (the product rate the "
        "libraries reach): "
        + "; ".join(
            f"{n} thread(s): numpy {r['numpy']:.0f}, PyTorch {r['PyTorch']:.0f} GFLOP/s"
            for n, r in rates.items()
        )
    )


if __name__ == "__main__":
    main()
