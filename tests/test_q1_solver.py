"""Solver: bookkeeping, learning-rate decay, best-model selection, checkpoints, argument
checks, divergence, accuracy estimates and actual training, with small models defined here."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from cs231n.layers import affine_backward, affine_forward, softmax_loss
from cs231n.solver import Solver

pytestmark = pytest.mark.q1

NUM_CLASSES = 3
CHECKPOINT_KEYS = {
    "model",
    "update_rule",
    "lr_decay",
    "optim_config",
    "batch_size",
    "num_train_samples",
    "num_val_samples",
    "epoch",
    "loss_history",
    "train_acc_history",
    "val_acc_history",
}


class SoftmaxClassifier:
    """A linear softmax classifier following the model contract."""

    def __init__(self, input_dim: int, num_classes: int, rng: np.random.Generator) -> None:
        self.params = {
            "W": 1e-3 * rng.standard_normal((input_dim, num_classes)),
            "b": np.zeros(num_classes),
        }

    def loss(self, X, y=None):
        scores, cache = affine_forward(X, self.params["W"], self.params["b"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        _, dW, db = affine_backward(dscores, cache)
        return loss, {"W": dW, "b": db}


def always_right(w: float) -> float:
    return 1.0


def unit_loss(w: float) -> float:
    return 1.0


class CounterModel:
    """A model whose one parameter ``w`` grows by the learning rate at every sgd step
    (its gradient is always -1), recording the value it is trained at.

    Inputs are rows (label, position); a row is classified correctly when its position,
    in [0, 1), is below ``reach(w)``, so ``reach`` sets the accuracy as a function of w.
    """

    def __init__(self, reach=always_right, loss_value=unit_loss) -> None:
        self.params = {"w": np.zeros(1)}
        self.reach = reach
        self.loss_value = loss_value
        self.trained_at: list[float] = []

    def loss(self, X, y=None):
        w = float(self.params["w"][0])
        if y is None:
            labels = X[:, 0].astype(int)
            wrong = X[:, 1] >= self.reach(w)
            return np.eye(NUM_CLASSES)[(labels + wrong) % NUM_CLASSES]
        self.trained_at.append(w)
        return self.loss_value(w), {"w": -np.ones(1)}


def counter_data(num_train: int, num_val: int) -> dict[str, np.ndarray]:
    """Rows (label, position) with positions evenly spread over [0, 1)."""

    def split(n):
        y = np.arange(n) % NUM_CLASSES
        return np.stack([y, np.arange(n) / n], axis=1), y

    X_train, y_train = split(num_train)
    X_val, y_val = split(num_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


def blob_data(rng: np.random.Generator, num_train=300, num_val=90, dim=6):
    """Three well separated Gaussian clusters."""
    centres = 3 * rng.standard_normal((NUM_CLASSES, dim))

    def split(n):
        y = np.arange(n) % NUM_CLASSES
        return centres[y] + rng.standard_normal((n, dim)), y

    X_train, y_train = split(num_train)
    X_val, y_val = split(num_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


def counter_solver(model=None, num_train=8, **kwargs) -> Solver:
    kwargs = {"optim_config": {"learning_rate": 1.0}, "verbose": False, **kwargs}
    return Solver(model or CounterModel(), counter_data(num_train, 12), **kwargs)


# ------------------------------------------------------------------------- histories


@pytest.mark.parametrize(
    ("num_train", "batch_size", "num_epochs", "iterations_per_epoch"),
    [(8, 2, 3, 4), (9, 4, 2, 2), (5, 10, 3, 1)],
)
def test_history_lengths(num_train, batch_size, num_epochs, iterations_per_epoch):
    model = CounterModel()
    solver = counter_solver(model, num_train, batch_size=batch_size, num_epochs=num_epochs)
    solver.train()
    assert len(solver.loss_history) == num_epochs * iterations_per_epoch
    # first iteration, then every epoch end (the last iteration ends the last epoch)
    checks = num_epochs + (1 if iterations_per_epoch > 1 else 0)
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == checks
    assert solver.epoch == num_epochs


def test_minibatches_are_sampled_with_replacement():
    # A batch larger than the training set is only possible with replacement.
    solver = counter_solver(num_train=5, batch_size=12, num_epochs=2)
    solver.train()
    assert len(solver.loss_history) == 2


def test_seeded_runs_are_reproducible(rng):
    data = blob_data(rng)
    histories = []
    for _ in range(2):
        np.random.seed(3)  # noqa: NPY002 (the solver samples from numpy's global RNG)
        model = SoftmaxClassifier(6, NUM_CLASSES, np.random.default_rng(0))
        solver = Solver(model, data, batch_size=20, num_epochs=2, verbose=False)
        solver.train()
        histories.append(solver.loss_history)
    assert histories[0] == histories[1]


# -------------------------------------------------------------------------- lr decay


def test_lr_decay_is_applied_to_every_parameter_each_epoch(rng):
    model = SoftmaxClassifier(6, NUM_CLASSES, rng)
    given = {"learning_rate": 0.1}
    solver = Solver(
        model,
        blob_data(rng),
        update_rule="sgd_momentum",
        optim_config=given,
        lr_decay=0.5,
        batch_size=50,
        num_epochs=3,
        verbose=False,
    )
    solver.train()
    assert set(solver.optim_configs) == {"W", "b"}
    for name, config in solver.optim_configs.items():
        assert config["learning_rate"] == pytest.approx(0.1 * 0.5**3)
        assert config["velocity"].shape == model.params[name].shape
    assert solver.optim_configs["W"] is not solver.optim_configs["b"]
    assert given == {"learning_rate": 0.1}


def test_decayed_learning_rate_is_used_for_the_updates():
    # sgd on CounterModel moves w by the current learning rate at every step.
    model = CounterModel()
    solver = counter_solver(model, num_train=4, batch_size=2, num_epochs=3, lr_decay=0.5)
    solver.train()
    assert model.trained_at == [0.0, 1.0, 2.0, 2.5, 3.0, 3.25]


# ------------------------------------------------------------------------ best params


def test_best_params_are_restored():
    # w grows by 1 per step; val accuracy peaks at w = 6, then falls off.
    model = CounterModel(reach=lambda w: 1 - abs(w - 6) / 6)
    solver = counter_solver(model, num_train=4, batch_size=2, num_epochs=6)
    solver.train()
    # checks at w = 1 (first iteration), then 2, 4, ..., 12 (epoch ends)
    assert solver.val_acc_history[3] == 1.0 == solver.best_val_acc
    assert solver.val_acc_history[-1] < solver.best_val_acc
    assert model.params["w"][0] == 6.0 == solver.best_params["w"][0]
    # restored as a copy: changing the model's array does not change the solver's record
    model.params["w"] += 100
    assert solver.best_params["w"][0] == 6.0


class BatchnormCounterModel(CounterModel):
    """A CounterModel with one batchnorm parameter dict whose running mean records w."""

    def __init__(self, reach) -> None:
        super().__init__(reach)
        self.bn_params = [{"mode": "train"}]

    def loss(self, X, y=None):
        if y is not None:
            self.bn_params[0]["running_mean"] = self.params["w"].copy()
        return super().loss(X, y)


def test_batchnorm_running_statistics_are_restored_with_the_best_params():
    model = BatchnormCounterModel(reach=lambda w: 1 - abs(w - 6) / 6)
    counter_solver(model, num_train=4, batch_size=2, num_epochs=6).train()
    # the best check came after the step taken at w = 5 (which set running_mean to 5)
    assert model.params["w"][0] == 6.0
    assert model.bn_params[0]["running_mean"][0] == 5.0
    assert model.bn_params[0]["mode"] == "train"


class InPlaceCounterModel(CounterModel):
    """Moves w by +1 in place inside ``loss`` and reports a zero gradient."""

    def loss(self, X, y=None):
        if y is not None:
            self.params["w"] += 1
            return 1.0, {"w": np.zeros(1)}
        return super().loss(X)


def test_best_params_are_copies_taken_when_val_improved():
    # A model that changes its parameter arrays in place must not change the best copy.
    model = InPlaceCounterModel(reach=lambda w: 1.0 if w < 1.5 else 0.0)
    solver = counter_solver(model, num_train=4, batch_size=2, num_epochs=3)
    solver.train()
    assert solver.val_acc_history == [1.0, 0.0, 0.0, 0.0]
    assert model.params["w"][0] == 1.0


def test_params_are_kept_when_val_accuracy_is_always_zero():
    model = CounterModel(reach=lambda w: 0.0)
    solver = counter_solver(model, num_train=4, batch_size=2, num_epochs=2)
    solver.train()
    assert solver.best_val_acc == 0.0
    assert set(model.params) == {"w"}


# ------------------------------------------------------------------------ checkpoints


def test_checkpoints_are_written_per_epoch_and_loadable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    solver = counter_solver(
        num_train=6,
        batch_size=2,
        num_epochs=3,
        lr_decay=0.9,
        checkpoint_name="run",
        num_val_samples=5,
    )
    solver.train()
    names = {f"run_epoch_{epoch}.pkl" for epoch in (1, 2, 3)}
    assert set(os.listdir(tmp_path)) == names  # no stray temporary files
    for epoch in (1, 2, 3):
        with open(tmp_path / f"run_epoch_{epoch}.pkl", "rb") as f:
            checkpoint = pickle.load(f)
        assert set(checkpoint) == CHECKPOINT_KEYS
        assert checkpoint["epoch"] == epoch
        assert len(checkpoint["loss_history"]) == 3 * epoch
        assert len(checkpoint["val_acc_history"]) == epoch + 1
        assert checkpoint["update_rule"] == "sgd"
        assert checkpoint["lr_decay"] == 0.9
        assert checkpoint["optim_config"] == {"learning_rate": 1.0}
        assert checkpoint["batch_size"] == 2
        assert checkpoint["num_val_samples"] == 5
        # three sgd steps per epoch, each moving w by the (decaying) learning rate
        expected_w = sum(3 * 0.9**e for e in range(epoch))
        assert checkpoint["model"].params["w"][0] == pytest.approx(expected_w)


def test_checkpoint_name_may_include_a_directory(tmp_path):
    (tmp_path / "ckpt").mkdir()
    solver = counter_solver(num_epochs=2, checkpoint_name=str(tmp_path / "ckpt" / "net"))
    solver.train()
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["net_epoch_1.pkl", "net_epoch_2.pkl"]


def test_failed_checkpoint_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = CounterModel()
    model.unpicklable = lambda: None  # a lambda cannot be pickled
    solver = counter_solver(model, num_epochs=2, checkpoint_name="run")
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        solver.train()
    assert os.listdir(tmp_path) == []


def test_no_checkpoints_without_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    counter_solver(num_epochs=2).train()
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------- argument checks


def test_unknown_kwargs_are_rejected():
    with pytest.raises(ValueError, match="learning_rate"):
        counter_solver(learning_rate=1e-3)


def test_unknown_update_rule_is_rejected_with_the_valid_ones():
    with pytest.raises(ValueError, match="update_rule") as info:
        counter_solver(update_rule="adagrad")
    for rule in ("sgd", "sgd_momentum", "rmsprop", "adam"):
        assert repr(rule) in str(info.value)


def test_missing_data_key_is_rejected():
    data = counter_data(4, 4)
    del data["y_val"]
    with pytest.raises(ValueError, match="y_val"):
        Solver(CounterModel(), data, verbose=False)


def test_mismatched_data_lengths_are_rejected():
    data = counter_data(4, 4)
    data["y_train"] = data["y_train"][:3]
    with pytest.raises(ValueError, match="y_train"):
        Solver(CounterModel(), data, verbose=False)


@pytest.mark.parametrize("name", ["batch_size", "num_epochs", "print_every"])
def test_non_positive_counts_are_rejected(name):
    with pytest.raises(ValueError, match=name):
        counter_solver(**{name: 0})


# -------------------------------------------------------------------------- divergence


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_loss_stops_training_with_a_hint(bad):
    model = CounterModel(loss_value=lambda w: bad if w >= 2 else 1.0)
    solver = counter_solver(model, num_train=8, batch_size=2, num_epochs=2)
    with pytest.raises(FloatingPointError, match="learning rate") as info:
        solver.train()
    assert "weight scale" in str(info.value)
    assert "iteration 3" in str(info.value)
    assert solver.loss_history == [1.0, 1.0]


# ---------------------------------------------------------------------- check_accuracy


class RecordingModel:
    """Predicts class 1 for rows whose index (column 0) is even; records its batches."""

    def __init__(self) -> None:
        self.params: dict = {}
        self.batches: list[np.ndarray] = []

    def loss(self, X, y=None):
        self.batches.append(X[:, 0].astype(int))
        return np.eye(2)[(X[:, 0] % 2 == 0).astype(int)]


def recording_setup(N: int):
    X = np.arange(N, dtype=np.float64)[:, None]
    y = np.where(np.arange(N) % 3 == 0, 1, 0)
    model = RecordingModel()
    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    return model, Solver(model, data, verbose=False), X, y


def test_check_accuracy_in_batches():
    model, solver, X, y = recording_setup(250)
    acc = solver.check_accuracy(X, y, batch_size=100)
    assert [len(b) for b in model.batches] == [100, 100, 50]
    assert np.array_equal(np.concatenate(model.batches), np.arange(250))
    assert acc == np.mean((np.arange(250) % 2 == 0) == (y == 1))


def test_check_accuracy_on_a_subsample():
    model, solver, X, y = recording_setup(250)
    acc = solver.check_accuracy(X, y, num_samples=30, batch_size=7)
    rows = np.concatenate(model.batches)
    assert len(rows) == 30 == len(np.unique(rows))
    assert [len(b) for b in model.batches] == [7, 7, 7, 7, 2]
    assert acc == np.mean((rows % 2 == 0) == (y[rows] == 1))


def test_check_accuracy_with_more_samples_than_rows_uses_all():
    model, solver, X, y = recording_setup(40)
    solver.check_accuracy(X, y, num_samples=1000)
    assert np.array_equal(np.concatenate(model.batches), np.arange(40))


# ---------------------------------------------------------------------------- training


@pytest.mark.parametrize(
    ("update_rule", "learning_rate"),
    [("sgd", 0.5), ("sgd_momentum", 0.1), ("rmsprop", 0.01), ("adam", 0.01)],
)
def test_training_reduces_the_loss(update_rule, learning_rate, rng):
    np.random.seed(0)  # noqa: NPY002
    model = SoftmaxClassifier(6, NUM_CLASSES, rng)
    solver = Solver(
        model,
        blob_data(rng),
        update_rule=update_rule,
        optim_config={"learning_rate": learning_rate},
        batch_size=30,
        num_epochs=5,
        verbose=False,
    )
    solver.train()
    first, last = solver.loss_history[0], np.mean(solver.loss_history[-5:])
    assert first == pytest.approx(np.log(NUM_CLASSES), rel=0.05)
    assert last < 0.3 * first
    assert solver.best_val_acc > 0.9
    assert solver.check_accuracy(solver.X_val, solver.y_val) == solver.best_val_acc


def test_verbose_progress(capsys):
    solver = counter_solver(num_train=8, batch_size=2, num_epochs=3, print_every=5, verbose=True)
    solver.train()
    lines = capsys.readouterr().out.splitlines()
    iterations = [line for line in lines if line.startswith("(Iteration")]
    epochs = [line for line in lines if line.startswith("(Epoch")]
    assert [line.split(")")[0] for line in iterations] == [
        "(Iteration 1 / 12",
        "(Iteration 6 / 12",
        "(Iteration 11 / 12",
    ]
    assert "loss: 1.000000" in iterations[0]
    assert [line.split(")")[0] for line in epochs] == [f"(Epoch {e} / 3" for e in range(4)]
    assert "train acc: 1.000000; val_acc: 1.000000" in epochs[0]
    assert all(line.endswith(" s)") for line in iterations + epochs)


# ------------------------------------------------------------------------- time budget


class FakeClock:
    """Stands in for the solver's ``time`` module: ``time()`` and ``perf_counter()`` read one
    clock, which only the model moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now

    perf_counter = time


class TimedModel(CounterModel):
    """A CounterModel whose training steps take ``step(t)`` seconds of a fake clock (t: the
    steps done) and whose accuracy checks take ``row`` seconds per row."""

    def __init__(self, clock: FakeClock, step, row: float = 1e-3) -> None:
        super().__init__()
        self.clock, self.step, self.row = clock, step, row

    def loss(self, X, y=None):
        self.clock.now += self.row * len(X) if y is None else self.step(len(self.trained_at))
        return super().loss(X, y)


def budget_run(monkeypatch, step, row=1e-3, budget_minutes=1.0, num_epochs=4, verbose=False):
    """A run of ``num_epochs`` epochs of 100 iterations on the fake clock, whose checks read
    112 rows: (solver, seconds)."""
    clock = FakeClock()
    monkeypatch.setattr("cs231n.solver.time", clock)
    model = TimedModel(clock, step, row)
    solver = counter_solver(
        model, 100, batch_size=1, num_epochs=num_epochs, budget_minutes=budget_minutes
    )
    solver.verbose = verbose
    solver.train()
    return solver, clock.now


def test_a_budget_cuts_a_slow_run_short_from_its_first_steps(monkeypatch):
    # 0.5 s a step: 400 steps would take 200 s; the budget is 60 s.
    solver, seconds = budget_run(monkeypatch, lambda t: 0.5)
    assert 0.9 * 60 <= seconds <= 60
    assert 100 <= len(solver.loss_history) < 120
    assert len(solver.val_acc_history) == 3  # the first iteration, epoch 1, the last iteration


def test_a_budget_leaves_room_for_the_checks(monkeypatch):
    # Checks of 5.6 s, one at the start, one per epoch and one at the end.
    solver, seconds = budget_run(monkeypatch, lambda t: 0.2, row=0.05)
    assert 0.85 * 60 <= seconds <= 60
    assert len(solver.val_acc_history) == 3


def test_a_budget_holds_when_the_steps_slow_down_mid_run(monkeypatch):
    solver, seconds = budget_run(monkeypatch, lambda t: 0.1 if t < 150 else 0.4)
    assert 0.85 * 60 <= seconds <= 60 + 0.4
    assert 150 < len(solver.loss_history) < 400


def test_a_budget_that_fits_the_run_changes_nothing(monkeypatch):
    solver, seconds = budget_run(monkeypatch, lambda t: 0.01)
    assert len(solver.loss_history) == 400 and solver.epoch == 4
    assert len(solver.val_acc_history) == 5
    assert seconds < 10


def test_a_budget_already_spent_stops_after_the_third_iteration(monkeypatch):
    solver, seconds = budget_run(monkeypatch, lambda t: 30.0)
    assert len(solver.loss_history) == 3
    assert solver.val_acc_history  # the last iteration is checked, the best params kept


def test_the_budget_plan_is_printed_when_it_cuts_the_run(monkeypatch, capsys):
    budget_run(monkeypatch, lambda t: 0.5, verbose=True)
    plans = [line for line in capsys.readouterr().out.splitlines() if "budget" in line]
    assert plans and plans[0].startswith("(budget 1 min: iterations of 0.500 s")
    assert "iterations fit" in plans[0]


@pytest.mark.parametrize("bad", [0, -1.0, "12"])
def test_a_bad_budget_is_rejected(bad):
    with pytest.raises(ValueError, match="budget_minutes must be a positive number"):
        counter_solver(budget_minutes=bad)
