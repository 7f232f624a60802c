"""Training loop for classification models: minibatch updates, accuracy tracking,
learning-rate decay, best-model selection and checkpoints.

The model contract:

- ``model.params``: a dict from parameter name to numpy array
- ``model.loss(X)``: class scores (N, C) for inputs X (N, ...)
- ``model.loss(X, y)``: ``(loss, grads)`` with ``grads`` keyed like ``model.params``

Example::

    solver = Solver(model, data, update_rule="sgd",
                    optim_config={"learning_rate": 1e-3}, lr_decay=0.95,
                    num_epochs=10, batch_size=100, print_every=100)
    solver.train()
    solver.best_val_acc, solver.loss_history
"""

from __future__ import annotations

import math
import os
import pickle
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from cs231n import optim

DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")

# The fraction of a time budget kept back for what the estimate from past steps cannot foresee.
BUDGET_MARGIN = 0.03


def update_rules() -> dict[str, Callable]:
    """The update rules defined in ``cs231n.optim``, by name."""
    return {
        name: fn
        for name, fn in vars(optim).items()
        if callable(fn) and not name.startswith("_") and fn.__module__ == optim.__name__
    }


class Solver:
    """Trains a model with minibatch gradient descent.

    Required arguments:
    - model: follows the model contract above
    - data: dict with 'X_train' (N_train, ...), 'y_train' (N_train,), 'X_val' (N_val, ...)
      and 'y_val' (N_val,)

    Optional keyword arguments:
    - update_rule: name of a rule in ``cs231n.optim`` ('sgd')
    - optim_config: hyperparameters given to the rule, copied for each parameter ({})
    - lr_decay: learning rate multiplier applied at the end of every epoch (1.0)
    - batch_size: minibatch size (100)
    - num_epochs: number of epochs to train (10)
    - num_train_samples: training samples used to estimate train accuracy (1000; None: all)
    - num_val_samples: validation samples used to estimate val accuracy (None: all)
    - checkpoint_name: when set, a checkpoint "<checkpoint_name>_epoch_<e>.pkl" is written at
      the end of every epoch
    - print_every: print the loss every this many iterations (10)
    - verbose: print progress (True)
    - budget_minutes: a wall-time budget for ``train()``, accuracy checks included (None: no
      budget). From the third iteration on, the solver plans how many iterations fit, from
      the median time of the recent iterations and of the checks so far, and stops there
      (never later than ``num_epochs``); a slow machine trains fewer iterations instead of
      running over. The last epoch may end early; its check still runs.

    Attributes: epoch, best_val_acc, best_params, loss_history, train_acc_history,
    val_acc_history and optim_configs (one config dict per parameter name).
    """

    def __init__(self, model: Any, data: dict[str, np.ndarray], **kwargs: Any) -> None:
        missing = [key for key in DATA_KEYS if key not in data]
        if missing:
            raise ValueError(f"data is missing the keys {missing}; expected keys {list(DATA_KEYS)}")
        for split in ("train", "val"):
            X, y = data[f"X_{split}"], data[f"y_{split}"]
            if len(X) != len(y):
                raise ValueError(
                    f"data['X_{split}'] and data['y_{split}'] must have the same length, "
                    f"got {len(X)} and {len(y)}"
                )
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]

        self.update_rule: str = kwargs.pop("update_rule", "sgd")
        self.optim_config: dict = dict(kwargs.pop("optim_config", {}))
        self.lr_decay: float = kwargs.pop("lr_decay", 1.0)
        self.batch_size: int = kwargs.pop("batch_size", 100)
        self.num_epochs: int = kwargs.pop("num_epochs", 10)
        self.num_train_samples: int | None = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples: int | None = kwargs.pop("num_val_samples", None)
        self.checkpoint_name: str | None = kwargs.pop("checkpoint_name", None)
        self.print_every: int = kwargs.pop("print_every", 10)
        self.verbose: bool = kwargs.pop("verbose", True)
        self.budget_minutes: float | None = kwargs.pop("budget_minutes", None)
        if kwargs:
            raise ValueError(f"Unrecognized arguments {sorted(kwargs)}")

        rules = update_rules()
        if self.update_rule not in rules:
            raise ValueError(
                f"update_rule must be one of {sorted(rules)}, got {self.update_rule!r}"
            )
        self._update: Callable = rules[self.update_rule]
        for name in ("batch_size", "num_epochs", "print_every"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        budget = self.budget_minutes
        if budget is not None and not (isinstance(budget, (int, float)) and budget > 0):
            raise ValueError(f"budget_minutes must be a positive number or None, got {budget!r}")

        self._reset()

    def _reset(self) -> None:
        """Initialize the bookkeeping; called once by the constructor."""
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params: dict[str, np.ndarray] = {}
        self._best_bn_stats: list[dict[str, np.ndarray]] = []
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    def _step(self) -> None:
        """One gradient update on a minibatch sampled with replacement."""
        num_train = self.X_train.shape[0]
        # numpy's global RNG throughout, so that np.random.seed makes a run reproducible.
        batch = np.random.choice(num_train, self.batch_size)  # noqa: NPY002
        loss, grads = self.model.loss(self.X_train[batch], self.y_train[batch])
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {loss} at iteration {len(self.loss_history) + 1} "
                f"(epoch {self.epoch}); the learning rate or the weight scale is probably "
                f"too large (optim_config {self.optim_config})"
            )
        self.loss_history.append(float(loss))
        missing = self.model.params.keys() - grads.keys()
        if missing:
            raise ValueError(
                f"model.loss returned no gradients for the parameters {sorted(missing)}"
            )
        for name, w in self.model.params.items():
            next_w, next_config = self._update(w, grads[name], self.optim_configs[name])
            self.model.params[name] = next_w
            self.optim_configs[name] = next_config

    def _checkpoint_state(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
        }

    def _save_checkpoint(self) -> None:
        """Write the checkpoint atomically: to a temporary file beside it, then renamed."""
        filename = f"{self.checkpoint_name}_epoch_{self.epoch}.pkl"
        if self.verbose:
            print(f'Saving checkpoint to "{filename}"')
        fd, tmp_name = tempfile.mkstemp(
            dir=os.path.dirname(filename) or ".", prefix=".checkpoint-", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(self._checkpoint_state(), f)
            os.replace(tmp_name, filename)
        except BaseException:
            os.unlink(tmp_name)
            raise

    def check_accuracy(
        self, X: np.ndarray, y: np.ndarray, num_samples: int | None = None, batch_size: int = 100
    ) -> float:
        """Accuracy of the model on (X, y).

        Inputs:
        - X: (N, ...) inputs; y: (N,) labels
        - num_samples: when set and smaller than N, accuracy on that many rows drawn
          without replacement
        - batch_size: rows per call to ``model.loss``

        Returns the fraction of correctly classified rows.
        """
        N = X.shape[0]
        if num_samples is not None and num_samples < N:
            rows = np.random.choice(N, num_samples, replace=False)  # noqa: NPY002
            X, y = X[rows], y[rows]
            N = num_samples
        y_pred = np.concatenate(
            [
                np.argmax(self.model.loss(X[start : start + batch_size]), axis=1)
                for start in range(0, N, batch_size)
            ]
        )
        return float(np.mean(y_pred == y))

    def train(self) -> None:
        """Run the optimization, then put the best parameters back into ``model.params``
        (and the batchnorm running statistics of that moment into ``model.bn_params``)."""
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        start = time.time()
        self._step_seconds: list[float] = []
        self._check_seconds: list[float] = []
        self._printed_plan: int | None = None

        t = 0
        while t < num_iterations:
            step_start = time.perf_counter()
            self._step()
            self._step_seconds.append(time.perf_counter() - step_start)
            if self.budget_minutes is not None and t >= 2:
                num_iterations = self._plan(t + 1, num_iterations, iterations_per_epoch, start)
            if self.verbose and t % self.print_every == 0:
                print(
                    f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f} "
                    f"({time.time() - start:.1f} s)"
                )

            epoch_end = (t + 1) % iterations_per_epoch == 0
            if epoch_end:
                self.epoch += 1
                for config in self.optim_configs.values():
                    config["learning_rate"] *= self.lr_decay

            if t == 0 or epoch_end or t == num_iterations - 1:
                check_start = time.perf_counter()
                self._record_accuracies(start)
                self._check_seconds.append(time.perf_counter() - check_start)
            if epoch_end and self.checkpoint_name is not None:
                self._save_checkpoint()
            t += 1

        self.model.params.update({name: w.copy() for name, w in self.best_params.items()})
        for bn_param, stats in zip(self._bn_params(), self._best_bn_stats, strict=True):
            bn_param.update({key: value.copy() for key, value in stats.items()})

    def _plan(self, done: int, planned: int, iterations_per_epoch: int, start: float) -> int:
        """The number of iterations that fit in ``budget_minutes`` (at most ``planned``, at
        least ``done``), after ``done`` iterations of a run that began at ``start``
        (``time.time()``): the time left, less the margin and the run's last check, divided
        among iterations and the check that ends each epoch. Prints the first plan that cuts
        the run short, and each change of plan at the end of an epoch."""
        assert self.budget_minutes is not None
        step = statistics.median(self._step_seconds[1:][-20:])  # the first one warms up
        check = statistics.median(self._check_seconds)
        left = 60 * self.budget_minutes * (1 - BUDGET_MARGIN) - (time.time() - start) - check
        total = min(planned, done + steps_that_fit(left, step, check, iterations_per_epoch))
        first = total != planned and self._printed_plan is None
        changed = self._printed_plan not in (None, total) and done % iterations_per_epoch == 0
        if self.verbose and (first or changed):
            self._printed_plan = total
            print(
                f"(budget {self.budget_minutes:g} min: iterations of {step:.3f} s and checks of "
                f"{check:.1f} s; {total} iterations fit, {total / iterations_per_epoch:.2f} "
                f"epochs)"
            )
        return total

    def _bn_params(self) -> list[dict]:
        """The model's batchnorm parameter dicts (``model.bn_params``), if it has any."""
        return list(getattr(self.model, "bn_params", None) or [])

    def _record_accuracies(self, start: float) -> None:
        """Append train and val accuracy; keep a copy of the parameters when val improves."""
        train_acc = self.check_accuracy(self.X_train, self.y_train, self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if self.verbose:
            print(
                f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; "
                f"val_acc: {val_acc:f} ({time.time() - start:.1f} s)"
            )
        if val_acc > self.best_val_acc or not self.best_params:
            self.best_val_acc = val_acc
            self.best_params = {name: w.copy() for name, w in self.model.params.items()}
            # The running statistics belong to the best model as much as its parameters.
            self._best_bn_stats = [
                {
                    key: np.copy(value)
                    for key, value in bn_param.items()
                    if key.startswith("running_")
                }
                for bn_param in self._bn_params()
            ]


def steps_that_fit(seconds: float, step: float, check: float, steps_per_epoch: int) -> int:
    """How many training steps of ``step`` seconds fit in ``seconds``, with a validation check
    of ``check`` seconds after every ``steps_per_epoch`` steps (0 if none)."""
    return max(0, math.floor(seconds / (step + check / steps_per_epoch)))
