"""Time of one training epoch of ThreeLayerConvNet, as in ConvolutionalNetworks.ipynb.

The notebook trains ``ThreeLayerConvNet(weight_scale=1e-3, hidden_dim=500, reg=1e-3)``
(float32) for one epoch over 49,000 CIFAR-10 images, minibatches of 50, Adam with
learning rate 1e-3: 980 iterations, plus accuracy checks on 1,000 training and 1,000
validation images at the start and at the end. This script times ``--iters`` of those
iterations (``Solver._step``, the same forward, backward and update) and one accuracy
check, and extrapolates to the epoch. Random images stand in for CIFAR-10: the time
does not depend on the pixel values.

    python benchmarks/bench_convnet_epoch.py [--iters 200] [--threads N] [--cpu-time]

``--threads 1 --cpu-time`` measures the CPU time of the one thread instead of wall time:
stable when other processes compete for the cores, and an upper bound for the wall time
on an idle machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _machine import describe
from _timing import cores
from threadpoolctl import threadpool_limits

from cs231n import fast_layers
from cs231n.classifiers.cnn import ThreeLayerConvNet
from cs231n.solver import Solver

NUM_TRAIN, BATCH_SIZE, CHECK_SAMPLES = 49_000, 50, 1_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=200, help="iterations to time")
    parser.add_argument(
        "--threads", type=int, default=cores(), help="threads of numpy's BLAS and our kernels"
    )
    parser.add_argument("--cpu-time", action="store_true", help="thread CPU time (1 thread)")
    args = parser.parse_args()
    if args.cpu_time and args.threads != 1:
        parser.error("--cpu-time measures one thread: use it with --threads 1")
    threadpool_limits(args.threads)
    fast_layers.set_num_threads(args.threads)
    clock = time.thread_time if args.cpu_time else time.perf_counter

    rng = np.random.default_rng(0)
    # A pool of distinct images to sample minibatches from (49,000 would take 600 MB).
    X = rng.standard_normal((5_000, 3, 32, 32)).astype(np.float32)
    y = rng.integers(10, size=len(X))
    model = ThreeLayerConvNet(weight_scale=1e-3, hidden_dim=500, reg=1e-3, dtype=np.float32)
    data = {"X_train": X, "y_train": y, "X_val": X[:CHECK_SAMPLES], "y_val": y[:CHECK_SAMPLES]}
    solver = Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-3},
        batch_size=BATCH_SIZE,
        num_epochs=1,
        verbose=False,
    )
    for _ in range(3):  # warm up: first allocations, Adam's state
        solver._step()
    start = clock()
    for _ in range(args.iters):
        solver._step()
    per_iter = (clock() - start) / args.iters
    start = clock()
    solver.check_accuracy(X[:CHECK_SAMPLES], y[:CHECK_SAMPLES])
    per_check = clock() - start

    iters = NUM_TRAIN // BATCH_SIZE
    epoch = iters * per_iter + 4 * per_check
    print(describe())
    print(
        f"ThreeLayerConvNet, float32, {fast_layers.get_backend().name} kernels, "
        f"{args.threads} thread(s) on {cores()} core(s), "
        f"{'thread CPU' if args.cpu_time else 'wall'} time\n"
        f"- {1e3 * per_iter:.1f} ms per iteration (forward, backward, Adam; batch "
        f"{BATCH_SIZE}), measured over {args.iters} iterations\n"
        f"- {per_check:.2f} s per accuracy check on {CHECK_SAMPLES} images\n"
        f"- one epoch, extrapolated: {iters} x {1e3 * per_iter:.1f} ms + 4 checks = "
        f"{epoch:.1f} s"
    )


if __name__ == "__main__":
    main()
