"""The sandboxed side of Q5's check: run a submitted model on the images the grader sends.

    python -I -S model_worker.py RUNTIME WORKDIR REPLY_FD

The grader copies this file, ``worker.py`` and ``channel.py`` into a fresh RUNTIME folder,
with ``job.json`` (the model's path and framework, what the sandbox may read, the limits) and
``images.npz`` (one uint8 array ``(N, 32, 32, 3)`` per image set, CIFAR-10's own layout; the
labels stay in the grader's process). Like worker.py, and with its code, it limits itself
and greets the grader before the framework is imported or the model read. It then answers
one request per image set (``{"case": set name}``) with one frame: the predicted labels
(``labels``, int64 ``(N,)``), or the error that stopped it (a file that does not load, scores
of the wrong shape).

The model is loaded as data, never as pickled Python: ``torch.jit.load`` (TorchScript) for
PyTorch, ``keras.saving.load_model(..., safe_mode=True)`` for TensorFlow.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BATCH = 250  # images per forward pass
NUM_CLASSES = 10


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def torch_predictor(path: str, threads: int):
    """A function of uint8 images ``(N, 32, 32, 3)`` to labels, from a TorchScript file; the
    module gets the images as ``(N, 3, 32, 32)`` uint8 (what ``torch_utils.save_model`` saves)."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    module = torch.jit.load(path, map_location="cpu")
    module.eval()

    def predict(images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        labels = []
        with torch.inference_mode():
            for start in range(0, len(x), BATCH):
                scores = module(x[start : start + BATCH])
                labels.append(_labels(scores, min(BATCH, len(x) - start), np))
        return np.concatenate(labels)

    return predict


def keras_predictor(path: str, threads: int):
    """A function of uint8 images ``(N, 32, 32, 3)`` to labels, from a ``.keras`` file loaded
    in safe mode (no Python code from the file; what ``tf_utils.save_model`` saves)."""
    import keras
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model = keras.saving.load_model(path, compile=False, safe_mode=True)

    def predict(images: np.ndarray) -> np.ndarray:
        labels = []
        for start in range(0, len(images), BATCH):
            batch = images[start : start + BATCH]
            labels.append(_labels(model(batch, training=False), len(batch), np))
        return np.concatenate(labels)

    return predict


def _labels(scores, n: int, np):
    """The argmax of one batch's scores, checked to be ``(n, NUM_CLASSES)`` numbers."""
    array = np.asarray(scores.numpy() if hasattr(scores, "numpy") else scores)
    if array.shape != (n, NUM_CLASSES) or array.dtype.kind not in "biuf":
        raise ValueError(
            f"the model returned {array.dtype} of shape {array.shape} for {n} images; "
            f"expected scores ({n}, {NUM_CLASSES})"
        )
    return array.argmax(axis=1).astype(np.int64)


PREDICTORS = {"torch": torch_predictor, "keras": keras_predictor}


def run(runtime: Path, workdir: Path, reply: int) -> None:
    worker = _load(runtime / "worker.py", "grade_worker")
    job, channel, requests = worker.enter(runtime, workdir, reply)
    sys.path.extend(job["site"])
    import numpy as np

    images = np.load(runtime / "images.npz", allow_pickle=False)
    try:
        predict, failed = PREDICTORS[job["framework"]](job["model"], job["threads"]), None
    except BaseException as exc:  # a file that is not a model of ours, or an attack
        predict, failed = None, f"it does not load: {worker.describe_error(exc, job['model'])}"
    for asked in channel.requests(requests):
        head, arrays = {"error": failed, "bad_outputs": {}}, {}
        if predict is not None:
            try:
                arrays = {"labels": predict(images[asked["case"]])}
            except BaseException as exc:
                head["error"] = worker.describe_error(exc, job["model"])
        reply_head = {"kind": "result", "case": asked["case"], "nonce": asked["nonce"], **head}
        channel.send(reply, reply_head, arrays)


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
