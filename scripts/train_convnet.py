"""Train a DeepConvNet on CIFAR-10 with the Solver, then report validation and test accuracy.

The default configuration is sized for about 15 minutes of training on two CPU cores:
three stages of 3x3 convolutions with spatial batchnorm (32, 64 and 128 filters), a 2x2 max
pool after each, one affine layer, Adam with a learning rate that decays every epoch, and
random left-right flips of the training images.

Usage (CIFAR-10 found as described in ``cs231n.data_utils``, e.g. through $CS231N_CIFAR10):

    python scripts/train_convnet.py                       # the full run
    python scripts/train_convnet.py --num-train 5000 --epochs 1   # a quick check
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cs231n.classifiers.cnn import DeepConvNet
from cs231n.data_utils import get_CIFAR10_data
from cs231n.solver import Solver


class RandomFlips:
    """Wraps a model for the Solver: in every training minibatch, each image is flipped
    left-right with probability 1/2. Calls without labels (scores) pass through unchanged.

    ``params`` is the wrapped model's own dict, so the Solver's updates reach the model.
    """

    def __init__(self, model: DeepConvNet, seed: int | None = None) -> None:
        self.model = model
        self.params = model.params
        self.rng = np.random.default_rng(seed)

    def loss(self, X: np.ndarray, y: np.ndarray | None = None):
        if y is not None:
            flip = self.rng.random(len(X)) < 0.5
            X = np.where(flip[:, None, None, None], X[..., ::-1], X)
        return self.model.loss(X, y)


def parse_stages(text: str) -> list[list[int]]:
    """'32;64,64;128' -> [[32], [64, 64], [128]]: stages split by ';', convolutions by ','."""
    return [[int(f) for f in stage.split(",")] for stage in text.split(";")]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--stages",
        type=parse_stages,
        default="32;64;128",
        help="filters per conv, ',' within a stage, ';' between stages",
    )
    parser.add_argument("--hidden", type=int, nargs="*", default=[], help="hidden affine sizes")
    parser.add_argument("--num-train", type=int, default=49000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--update-rule", default="adam")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--lr-decay", type=float, default=0.6)
    parser.add_argument("--reg", type=float, default=0.0)
    parser.add_argument("--no-flips", action="store_true", help="train without random flips")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--print-every", type=int, default=100)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    np.random.seed(args.seed)  # noqa: NPY002 (the Solver samples minibatches from it)

    data = get_CIFAR10_data(num_training=args.num_train, num_test=10000)
    # The images come mean-subtracted; give each channel unit variance as well.
    scale = data["X_train"].std(axis=(0, 2, 3), keepdims=True)
    for key in ("X_train", "X_val", "X_test"):
        data[key] = data[key] / scale
    print(
        f"data: {len(data['X_train'])} train, {len(data['X_val'])} val, "
        f"{len(data['X_test'])} test ({time.perf_counter() - start:.1f} s)"
    )

    model = DeepConvNet(
        stage_filters=args.stages, hidden_dims=args.hidden, reg=args.reg, seed=args.seed
    )
    trained = model if args.no_flips else RandomFlips(model, seed=args.seed)
    num_params = sum(p.size for p in model.params.values())
    print(f"DeepConvNet stages {args.stages}, hidden {args.hidden}: {num_params} parameters")

    solver = Solver(
        trained,
        {k: data[k] for k in ("X_train", "y_train", "X_val", "y_val")},
        update_rule=args.update_rule,
        optim_config={"learning_rate": args.lr},
        lr_decay=args.lr_decay,
        batch_size=args.batch_size,
        num_epochs=args.epochs,
        print_every=args.print_every,
    )
    train_start = time.perf_counter()
    solver.train()
    train_time = time.perf_counter() - train_start

    test_acc = solver.check_accuracy(data["X_test"], data["y_test"])
    test_acc_1000 = solver.check_accuracy(data["X_test"][:1000], data["y_test"][:1000])
    print(f"best val accuracy: {solver.best_val_acc:.4f}")
    print(
        f"test accuracy: {test_acc:.4f} on all 10000 test images, "
        f"{test_acc_1000:.4f} on the first 1000"
    )
    print(
        f"training wall time: {train_time:.0f} s ({train_time / 60:.1f} min); "
        f"total {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
