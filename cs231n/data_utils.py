"""Loading CIFAR-10 from its "python version" pickles.

The folder ``cifar-10-batches-py`` holds ``batches.meta``, ``data_batch_1`` .. ``data_batch_5``
and ``test_batch``. Each batch pickles a dict whose ``'data'`` is a uint8 array ``(n, 3072)``:
one row per image, the red, green and blue 32x32 planes one after the other, each plane row by
row; ``'labels'`` is a list of n class indices in ``[0, 10)``.

Images come back as **float32**. Pixel values 0..255 are exact in float32, the models default to
float32, and the full set in float64 would take 1.5 GB (0.74 GB in float32). Labels are int64.

Where the data is looked for (``resolve_cifar10_dir``): an explicit ``cifar10_dir`` argument;
else the environment variable ``CS231N_CIFAR10`` when it names a directory; else
``cs231n/datasets/cifar-10-batches-py`` next to this package (whatever the working directory);
else the folder recorded in ``cs231n/datasets/cifar10_location.txt``, which ``make data``
(``python -m cs231n.datasets.fetch``) writes when ``CS231N_CIFAR10`` named a folder, so that a
new shell or a Jupyter started elsewhere finds the data without the variable.
"""

from __future__ import annotations

import os
import pickle
import shlex
from pathlib import Path

import numpy as np

CIFAR10_ENV_VAR = "CS231N_CIFAR10"
DATASETS_DIR = Path(__file__).resolve().parent / "datasets"
DEFAULT_CIFAR10_DIR = DATASETS_DIR / "cifar-10-batches-py"
# Where `make data` records a folder that CS231N_CIFAR10 named: a comment line, then the path.
LOCATION_FILE = DATASETS_DIR / "cifar10_location.txt"
LOCATION_HEADER = (
    "# CIFAR-10 folder found through CS231N_CIFAR10 by `python -m cs231n.datasets.fetch`"
)
META_FILE = "batches.meta"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
NUM_CLASSES = 10
IMAGE_CHW = (3, 32, 32)

_KIT = DATASETS_DIR.parent.parent
FIX_HINT = (
    f"Get it with: bash {shlex.quote(str(DATASETS_DIR / 'get_datasets.sh'))}"
    + (f" (or `make data` in {_KIT})" if (_KIT / "Makefile").is_file() else "")
    + f". It downloads CIFAR-10 into {DEFAULT_CIFAR10_DIR}; for a copy already on this machine, "
    f"run it once with {CIFAR10_ENV_VAR}=/path/to/cifar-10-batches-py and the kit remembers "
    "that folder."
)


def recorded_cifar10_dir() -> Path | None:
    """The folder recorded in ``LOCATION_FILE`` (see the module docstring), or None when there
    is no record or it does not name a directory."""
    try:
        lines = LOCATION_FILE.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    paths = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if len(paths) != 1 or not Path(paths[0]).is_absolute() or not Path(paths[0]).is_dir():
        return None
    return Path(paths[0])


def resolve_cifar10_dir(cifar10_dir: str | os.PathLike | None = None) -> Path:
    """The folder to read CIFAR-10 from (not checked for existence).

    ``cifar10_dir`` when given; else ``$CS231N_CIFAR10`` if it names a directory (an archive
    there is extracted into the default folder by ``make data``); else ``DEFAULT_CIFAR10_DIR``
    if it exists; else the folder recorded by ``make data`` (``recorded_cifar10_dir``); else
    ``DEFAULT_CIFAR10_DIR``.
    """
    if cifar10_dir is not None:
        return Path(cifar10_dir).expanduser()
    from_env = os.environ.get(CIFAR10_ENV_VAR)
    if from_env and Path(from_env).expanduser().is_dir():
        return Path(from_env).expanduser()
    if DEFAULT_CIFAR10_DIR.exists():
        return DEFAULT_CIFAR10_DIR
    return recorded_cifar10_dir() or DEFAULT_CIFAR10_DIR


def _require_dir(root: Path) -> None:
    """Raise FileNotFoundError, saying how to get the data, when ``root`` is not a directory."""
    if root.is_dir():
        return
    from_env = os.environ.get(CIFAR10_ENV_VAR)
    env_note = (
        f" ({CIFAR10_ENV_VAR}={from_env!r} is not a directory, so it was not used.)"
        if from_env and root == DEFAULT_CIFAR10_DIR
        else ""
    )
    raise FileNotFoundError(f"CIFAR-10 folder {root} not found.{env_note} {FIX_HINT}")


def _unpickle(path: Path) -> object:
    """Load one CIFAR-10 pickle with ``encoding='latin1'`` (the files come from Python 2)."""
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")
    except FileNotFoundError:
        raise FileNotFoundError(f"CIFAR-10 file {path} is missing. {FIX_HINT}") from None
    except OSError:
        raise
    except Exception as e:  # a damaged pickle can fail in many ways; all mean "corrupt"
        raise ValueError(
            f"CIFAR-10 file {path} is corrupt or not a CIFAR-10 pickle ({type(e).__name__}: {e}). "
            f"{FIX_HINT}"
        ) from e


def _field(record: object, key: str, path: Path) -> object:
    """``record[key]``, accepting both str keys (latin1 pickles) and bytes keys."""
    if isinstance(record, dict):
        for k in (key, key.encode()):
            if k in record:
                return record[k]
    raise ValueError(f"CIFAR-10 file {path} has no {key!r} entry; it is corrupt. {FIX_HINT}")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and check one batch file.

    Returns (data, labels): data uint8 (n, 3, 32, 32) as stored (a view of the file's rows),
    labels int64 (n,).
    """
    record = _unpickle(path)
    data = np.asarray(_field(record, "data", path))
    labels = np.asarray(_field(record, "labels", path))
    n_values = int(np.prod(IMAGE_CHW))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != n_values:
        raise ValueError(
            f"CIFAR-10 file {path}: 'data' must be uint8 of shape (n, {n_values}), got "
            f"{data.dtype} {data.shape}. {FIX_HINT}"
        )
    if (
        labels.shape != (data.shape[0],)
        or not np.issubdtype(labels.dtype, np.integer)
        or (labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES))
    ):
        raise ValueError(
            f"CIFAR-10 file {path}: 'labels' must be {data.shape[0]} integers in "
            f"[0, {NUM_CLASSES}), got dtype {labels.dtype} and shape {labels.shape}. {FIX_HINT}"
        )
    return data.reshape(-1, *IMAGE_CHW), labels.astype(np.int64)


def _read_split(root: Path, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the batches ``names`` of ``root``: uint8 (N, 3, 32, 32), int64 (N,)."""
    batches = [_read_batch(root / name) for name in names]
    return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])


def _to_hwc_float(x: np.ndarray) -> np.ndarray:
    """uint8 (N, 3, 32, 32) -> C-contiguous float32 (N, 32, 32, 3).

    The transpose is done on the bytes first: about 4x faster than casting while transposing.
    """
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).astype(np.float32)


def check_cifar10_dir(root: str | os.PathLike) -> None:
    """Raise FileNotFoundError or ValueError unless ``root`` holds a readable CIFAR-10 copy.

    Reads every file: the metadata must name 10 classes and each batch must be well formed.
    """
    root = Path(root)
    _require_dir(root)
    meta = _unpickle(root / META_FILE)
    label_names = _field(meta, "label_names", root / META_FILE)
    if not isinstance(label_names, list) or len(label_names) != NUM_CLASSES:
        raise ValueError(
            f"CIFAR-10 file {root / META_FILE} must list {NUM_CLASSES} label names. {FIX_HINT}"
        )
    for name in (*TRAIN_FILES, TEST_FILE):
        _read_batch(root / name)


def load_CIFAR_batch(filename: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Load one CIFAR-10 batch file.

    Returns (X, Y): X float32 (N, 32, 32, 3) with pixel values 0..255, where
    ``X[i, h, w, c] == data[i, c*1024 + h*32 + w]`` of the stored rows; Y int64 (N,).
    """
    x, y = _read_batch(Path(filename))
    return _to_hwc_float(x), y


def load_CIFAR10(ROOT: str | os.PathLike) -> tuple[np.ndarray, ...]:
    """Load the whole of CIFAR-10 from the folder ``ROOT``.

    Returns (Xtr, Ytr, Xte, Yte): Xtr float32 (50000, 32, 32, 3), batches 1..5 in order;
    Ytr int64 (50000,); Xte float32 (10000, 32, 32, 3); Yte int64 (10000,).
    """
    root = Path(ROOT)
    _require_dir(root)
    x_train, y_train = _read_split(root, TRAIN_FILES)
    x_test, y_test = _read_split(root, (TEST_FILE,))
    return _to_hwc_float(x_train), y_train, _to_hwc_float(x_test), y_test


def _check_count(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def get_CIFAR10_data(
    num_training: int = 49000,
    num_validation: int = 1000,
    num_test: int = 1000,
    subtract_mean: bool = True,
    cifar10_dir: str | os.PathLike | None = None,
) -> dict[str, np.ndarray]:
    """CIFAR-10 split for the classifiers, images as float32 (N, 3, 32, 32).

    - X_train, y_train: training rows [0, num_training)
    - X_val, y_val: training rows [num_training, num_training + num_validation)
    - X_test, y_test: test rows [0, num_test)
    With ``subtract_mean`` the mean image of X_train is subtracted from all three image sets.
    Labels are int64. ``cifar10_dir``: see ``resolve_cifar10_dir``.
    """
    _check_count("num_training", num_training, 1)
    _check_count("num_validation", num_validation, 0)
    _check_count("num_test", num_test, 0)
    root = resolve_cifar10_dir(cifar10_dir)
    _require_dir(root)
    x_train_all, y_train_all = _read_split(root, TRAIN_FILES)
    if num_training + num_validation > len(x_train_all):
        raise ValueError(
            f"num_training + num_validation must be at most the {len(x_train_all)} training "
            f"images in {root}, got {num_training} + {num_validation} = "
            f"{num_training + num_validation}"
        )
    x_test_all, y_test_all = _read_split(root, (TEST_FILE,))
    if num_test > len(x_test_all):
        raise ValueError(
            f"num_test must be at most the {len(x_test_all)} test images in {root}, got {num_test}"
        )

    val = slice(num_training, num_training + num_validation)
    data = {
        "X_train": x_train_all[:num_training].astype(np.float32),
        "y_train": y_train_all[:num_training].copy(),
        "X_val": x_train_all[val].astype(np.float32),
        "y_val": y_train_all[val].copy(),
        "X_test": x_test_all[:num_test].astype(np.float32),
        "y_test": y_test_all[:num_test].copy(),
    }
    if subtract_mean:
        mean_image = data["X_train"].mean(axis=0, dtype=np.float64).astype(np.float32)
        for key in ("X_train", "X_val", "X_test"):
            data[key] -= mean_image  # these arrays were created above, not passed in
    return data
