"""The reference solution of TensorFlow.ipynb's open-ended Part V: a CIFAR-10 network in Keras.

``part5_model`` is a VGG-style network (three stages of two 3x3 conv-batchnorm-ReLU units and a
2x2 max pool, a global max pool and a linear layer); ``train_part5`` trains it with SGD and
Nesterov momentum on a warm-up + cosine schedule, label smoothing, weight decay, random crops
and flips, in bfloat16. The notebook's answer to Question 3 explains the choices. Solution only:
the student release (``tools/release.py``) leaves this module out, and students build their own
model instead. Like ``cs231n.tf_utils`` it imports TensorFlow, which nothing else in the kit does.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

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


def train_part5(
    X_train: np.ndarray,
    y_train: np.ndarray,
    val_dset: tf.data.Dataset,
    quick: bool,
    device: str,
) -> tuple[keras.Model, keras.callbacks.History]:
    """Build ``part5_model`` and train it on normalized images ``X_train (N, 32, 32, 3)`` and
    labels ``y_train (N,)``, validating on ``val_dset`` (batches of images and integer labels).

    10 epochs of batches of 256 (``quick``: 3 epochs of 64, so that a 2,000-image subset still
    makes enough steps to warm up). Returns the model and the ``History`` of its ``fit``, whose
    ``history`` holds ``loss``, ``accuracy``, ``val_loss`` and ``val_accuracy`` per epoch.
    """
    epochs = 3 if quick else 10
    batch_size = 64 if quick else 256
    peak_lr, warmup_fraction = 0.2, 0.2
    steps = epochs * -(-len(X_train) // batch_size)
    warmup_steps = int(warmup_fraction * steps)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak_lr / 20,
        decay_steps=steps - warmup_steps,
        warmup_target=peak_lr,
        warmup_steps=warmup_steps,
    )
    # Layers built under the "mixed_bfloat16" policy keep float32 weights but compute in
    # bfloat16, which the course CPU (AVX512-BF16) runs about 1.4x faster; the scores layer
    # stays float32.
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = part5_model()
    keras.mixed_precision.set_global_policy("float32")
    model.compile(
        optimizer=keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=5e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        metrics=["accuracy"],
    )
    train = make_dataset(X_train, y_train, batch_size, shuffle=True, augment=True).map(_one_hot)
    with tf.device(device):
        fit = model.fit(
            train,
            epochs=epochs,
            validation_data=val_dset.map(_one_hot),
            shuffle=False,  # make_dataset already reshuffles on every pass
            verbose=2,
        )
    return model, fit
