"""TensorFlow helpers for TensorFlow.ipynb: device choice, normalization and a tf.data pipeline.

This is the only module of the kit that imports TensorFlow (an optional extra:
``pip install -e .[tensorflow]``); nothing else in ``cs231n`` imports it.

Images are channels-last float32 arrays ``(N, H, W, C)``, TensorFlow's native layout.
Augmentation works on whole batches with tensor operations (so it runs wherever the
pipeline runs) and is driven by stateless random ops: a pipeline built with the same
``seed`` yields the same batches, and every pass over it draws fresh crops and flips.

``save_model`` saves Part V's model for the grader (``TensorFlow_model.keras``).
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from cs231n import _cpu
from cs231n._checks import check_ndim, check_positive_int, check_shape

# Part V's test-accuracy goal on each class of machine (_cpu.speed_class), from what a
# reference network reached in 15 minutes: 85.4% where it fit 10 epochs, 79.4% on a 2-core
# AVX2 EPYC (Zen 3, 4.2 epochs in float32), 75.8% on a 2-GHz, 2-core AVX2 CPU (Zen 1, 2.6).
PART5_GOALS = {"gpu": 0.85, "bf16": 0.85, "float32": 0.78, "slow": 0.74}


def pick_device() -> str:
    """``'/GPU:0'`` when TensorFlow sees a GPU, else ``'/CPU:0'``."""
    return "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"


def part5_goal(device: str) -> tuple[float, str]:
    """Part V's test-accuracy goal on ``device`` (``pick_device``'s), and why: 85% on a GPU or
    a CPU with native bfloat16, 78% on a float32 CPU that reaches ``_cpu.SLOW_CPU_GFLOPS``,
    74% on a slower one (fewer epochs fit in 15 minutes)."""
    if "GPU" in device.upper():
        return PART5_GOALS["gpu"], "a GPU"
    kind, why = _cpu.speed_class()
    return PART5_GOALS[kind], why


def channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of images ``x: (N, H, W, C)``.

    Returns (mean, std), each float32 ``(C,)``, computed in float64.
    """
    check_ndim("x", x, 4)
    x64 = np.asarray(x, dtype=np.float64)
    return x64.mean(axis=(0, 1, 2)).astype(np.float32), x64.std(axis=(0, 1, 2)).astype(np.float32)


def normalize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` channel by channel, as a new float32 array ``(N, H, W, C)``.

    ``mean`` and ``std`` are ``(C,)``, usually from ``channel_stats`` of the training set.
    """
    check_ndim("x", x, 4)
    channels = np.shape(x)[-1]
    check_shape("mean", mean, (channels,))
    check_shape("std", std, (channels,))
    if np.any(np.asarray(std) <= 0):
        raise ValueError(f"std must be positive in every channel, got {np.asarray(std)}")
    return ((np.asarray(x, dtype=np.float32) - mean) / std).astype(np.float32)


def random_crop_flip(images: tf.Tensor, seed: tf.Tensor, pad: int = 4) -> tf.Tensor:
    """Random crop after zero padding, and random horizontal flip, image by image.

    images: ``(N, H, W, C)``. Each image is padded with ``pad`` zeros on every side, a window
    of ``(H, W)`` is cut at a uniformly random offset in ``[0, 2*pad]`` along each axis, and
    the window is mirrored left-right with probability 1/2. ``seed``: int ``(2,)`` seed of the
    stateless random ops (same seed, same result). Returns a new tensor of the input's shape.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"images must be a 4-D tensor (N, H, W, C), got shape {images.shape}")
    pad = check_positive_int("pad", pad, minimum=0)
    n, h, w = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))

    padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    offsets = tf.random.stateless_uniform(
        (n, 2), crop_seed, minval=0, maxval=2 * pad + 1, dtype=tf.int32
    )
    rows = offsets[:, :1] + tf.range(h)[None, :]  # (N, H): padded rows each image keeps
    cols = offsets[:, 1:] + tf.range(w)[None, :]  # (N, W)
    # Reading the kept columns right to left is the horizontal flip.
    flip = tf.random.stateless_uniform((n, 1), flip_seed) < 0.5
    cols = tf.where(flip, tf.reverse(cols, axis=[1]), cols)

    out = tf.gather(padded, rows, axis=1, batch_dims=1)  # (N, H, W + 2*pad, C)
    return tf.gather(out, cols, axis=2, batch_dims=1)  # (N, H, W, C)


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = False,
    augment: bool = False,
    pad: int = 4,
    seed: int = 0,
) -> tf.data.Dataset:
    """A ``tf.data`` pipeline of ``(images, labels)`` batches over ``x: (N, H, W, C)``, ``y: (N,)``.

    One pass yields every example exactly once, in order unless ``shuffle`` (a new order on each
    pass); the last batch may be smaller. With ``augment`` each batch goes through
    ``random_crop_flip(..., pad)``. ``seed`` fixes the shuffling and augmentation sequences.
    Batches are prefetched so that preparing the next one overlaps training on this one.
    """
    check_ndim("x", x, 4)
    check_shape("y", y, (np.shape(x)[0],))
    batch_size = check_positive_int("batch_size", batch_size)
    pad = check_positive_int("pad", pad, minimum=0)

    ds = tf.data.Dataset.from_tensor_slices((np.asarray(x, dtype=np.float32), np.asarray(y)))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(
            lambda batch, s: (random_crop_flip(batch[0], s, pad), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)


GRADED_MODEL_FILE = "TensorFlow_model.keras"  # in the kit's top folder, beside the notebook


def save_model(
    model: keras.Model,
    mean: np.ndarray,
    std: np.ndarray,
    tta: bool = True,
    path: str | os.PathLike = GRADED_MODEL_FILE,
) -> Path:
    """Save ``model`` as the grader evaluates it, a ``.keras`` file; returns the path.

    ``model`` maps normalized images ``(N, 32, 32, 3)`` to scores ``(N, 10)``; ``mean, std``
    ``(C,)`` are the channel statistics it was normalized with (``normalize``). The saved model
    takes uint8 images ``(N, 32, 32, 3)``, normalizes them with a Keras ``Normalization``
    layer and, with ``tta``, adds the scores of the mirror images (as Part V's test cell), so
    the grader needs nothing of this notebook to run it. The grader loads it in Keras's safe
    mode, which runs no Python code from the file: ``model`` must be a functional or
    ``Sequential`` model of Keras's own layers (no subclassed model, no ``Lambda`` layer).
    The file is loaded back here the same way, and a ValueError says when it does not load
    or does not reproduce ``model``'s scores.
    """
    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    check_shape("std", std, mean.shape)
    inputs = keras.Input((32, 32, 3), dtype="uint8")
    x = keras.layers.Normalization(mean=mean, variance=np.square(std), dtype="float32")(inputs)
    scores = model(x)
    if tta:
        scores = scores + model(keras.ops.flip(x, axis=2))
    wrapped = keras.Model(inputs, scores)
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.keras")  # Keras asks for the suffix
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    try:
        wrapped.save(tmp)
        loaded = keras.saving.load_model(tmp, compile=False, safe_mode=True)
        same = np.allclose(loaded(images), wrapped(images), rtol=1e-4, atol=1e-4)
    except (TypeError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise ValueError(
            f"model: {type(model).__name__} cannot be saved for the grader, which loads it "
            "without running Python code: build it with the functional API or "
            f"keras.Sequential from Keras's own layers ({type(exc).__name__}: {exc})"[:800]
        ) from None
    if not same:
        tmp.unlink(missing_ok=True)
        raise ValueError("model: the saved model gives other scores than the model itself")
    os.replace(tmp, path)
    return path
