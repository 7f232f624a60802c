"""The reference solution of TensorFlow.ipynb's open-ended Part V: a CIFAR-10 network in Keras.

``part5_model`` is a VGG-style network (three stages of two 3x3 conv-batchnorm-ReLU units and a
2x2 max pool, a global max pool and a linear layer); ``train_part5`` trains it with SGD and
Nesterov momentum on a warm-up + cosine schedule, label smoothing, weight decay, random crops
and flips, in bfloat16 where the machine computes in it natively (else float32), within a time
budget that fixes the run's length from its first steps. The notebook's answer to Question 3
explains the choices. Solution only: the student release (``tools/release.py``) leaves this
module out, and students build their own model instead. Like ``cs231n.tf_utils`` it imports
TensorFlow, which nothing else in the kit does.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from cs231n import _cpu
from cs231n.reference_models_budget import FORWARD_SHARE, TimeBudget, WarmupSchedule
from cs231n.tf_utils import make_dataset


def conv_bn_relu(x: keras.KerasTensor, channels: int) -> keras.KerasTensor:
    """3x3 convolution -> batch normalization -> ReLU (the batchnorm supplies the bias)."""
    x = layers.Conv2D(channels, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.ReLU()(x)


def part5_model(widths: tuple[int, ...] = (32, 64, 128), num_classes: int = 10) -> keras.Model:
    """VGG-style stages of two conv-BN-ReLU units and a 2x2 max-pool, global max-pool, Dense.

    Maps images ``(N, 32, 32, 3)`` to float32 scores ``(N, num_classes)``.
    """
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for channels in widths:
        x = conv_bn_relu(x, channels)
        x = conv_bn_relu(x, channels)
        x = layers.MaxPool2D()(x)
    x = layers.GlobalMaxPool2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes, dtype="float32")(x))


def _one_hot(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return x, tf.one_hot(y, 10)


class WarmupCosine(WarmupSchedule):
    """Learning-rate factor of each step: linear from ``start_factor`` up to 1 over the first
    ``warmup`` fraction of ``total_steps``, then a half cosine down to 0 at ``total_steps``,
    which ``TimeBudget`` may change during training."""

    def decay(self, done: float) -> float:
        return 0.5 * (1 + math.cos(math.pi * done))


class BudgetCallback(keras.callbacks.Callback):
    """Drives a ``fit`` step by step: sets the learning rate to ``peak_lr * schedule(step)``
    before each step, records the seconds of each step and of each validation check
    (``step_seconds``, ``check_seconds``), and, given a ``budget``, asks it after each step how
    many steps to train in all, stopping the fit once they are done."""

    def __init__(self, schedule: WarmupCosine, peak_lr: float, budget: TimeBudget | None) -> None:
        super().__init__()
        self.schedule, self.peak_lr, self.budget = schedule, peak_lr, budget
        self.step_seconds: list[float] = []
        self.check_seconds: list[float] = []
        self.done = 0
        self.clock = time.perf_counter()

    def on_train_begin(self, logs=None) -> None:
        self.clock = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None) -> None:
        self.model.optimizer.learning_rate.assign(self.peak_lr * self.schedule(self.done))

    def on_train_batch_end(self, batch, logs=None) -> None:
        now = time.perf_counter()
        self.step_seconds.append(now - self.clock)
        self.clock, self.done = now, self.done + 1
        total = self.budget(self.done, self) if self.budget is not None else None
        if total is not None and self.done >= total:
            self.model.stop_training = True

    def on_test_begin(self, logs=None) -> None:
        self.check_start = time.perf_counter()

    def on_test_end(self, logs=None) -> None:
        self.clock = time.perf_counter()
        self.check_seconds.append(self.clock - self.check_start)


def part5_precision(device: str) -> tuple[str, str]:
    """The Keras dtype policy for Part V on ``device``, and why: ``mixed_bfloat16`` on a GPU
    or on a CPU that computes in bfloat16 natively (there about 1.4x faster than float32),
    ``float32`` elsewhere (TensorFlow's emulated bfloat16 gains nothing there)."""
    if "GPU" in device.upper():
        return "mixed_bfloat16", "a GPU"
    native, why = _cpu.native_bf16()
    return ("mixed_bfloat16" if native else "float32"), why


def train_part5(
    X_train: np.ndarray,
    y_train: np.ndarray,
    val_dset: tf.data.Dataset,
    quick: bool,
    device: str,
    budget_minutes: float | None = None,
    start: float | None = None,
    test_checks: float = 20.0,
) -> tuple[keras.Model, keras.callbacks.History]:
    """Build ``part5_model`` and train it on normalized images ``X_train (N, 32, 32, 3)`` and
    labels ``y_train (N,)``, validating on ``val_dset`` (batches of images and integer labels).

    At most 10 epochs of batches of 256 (``quick``: one epoch of 64, 32 steps on a 2,000-image
    subset: enough to show that the pipeline runs and to save a model the grader can
    evaluate), in the precision of ``part5_precision``.
    ``budget_minutes``: the wall time that training and the test evaluation (``test_checks``
    times a validation pass; the notebook's test, 10,000 images and their mirror images against
    1,000 validation images, is 20) may take, counted from ``start`` (a ``time.perf_counter()``
    value; default: now): ``TimeBudget`` then fixes the number of steps from the first steps'
    times. Returns the model and the ``History`` of its ``fit``, whose ``history`` holds
    ``loss``, ``accuracy``, ``val_loss`` and ``val_accuracy`` per epoch.
    """
    start = time.perf_counter() if start is None else start
    epochs = 1 if quick else 10
    batch_size = 64 if quick else 256
    steps_per_epoch = -(-len(X_train) // batch_size)
    schedule = WarmupCosine(epochs * steps_per_epoch, warmup=0.2, start_factor=1 / 20)
    policy, why = part5_precision(device)
    print(f"precision: {policy} ({why})")
    # Layers built under the "mixed_bfloat16" policy keep float32 weights but compute in
    # bfloat16; the scores layer stays float32.
    keras.mixed_precision.set_global_policy(policy)
    model = part5_model()
    keras.mixed_precision.set_global_policy("float32")
    model.compile(
        optimizer=keras.optimizers.SGD(0.0, momentum=0.9, nesterov=True, weight_decay=5e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        metrics=["accuracy"],
    )
    budget = None
    if budget_minutes is not None:
        budget = TimeBudget(
            60 * budget_minutes,
            start,
            schedule,
            steps_per_epoch,
            test_checks,
            check_steps=FORWARD_SHARE * 1000 / batch_size,
            max_steps=schedule.total_steps,
        )
    train = make_dataset(X_train, y_train, batch_size, shuffle=True, augment=True).map(_one_hot)
    with tf.device(device):
        fit = model.fit(
            train,
            epochs=epochs,
            validation_data=val_dset.map(_one_hot),
            shuffle=False,  # make_dataset already reshuffles on every pass
            callbacks=[BudgetCallback(schedule, 0.2, budget)],
            verbose=2,
        )
    return model, fit
