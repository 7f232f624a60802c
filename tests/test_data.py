"""CIFAR-10 loading (cs231n.data_utils) and fetching (cs231n.datasets.fetch).

Most tests use a small fake CIFAR-10 written in the real pickle format (10 images per batch).
The last test reads the real data when CS231N_CIFAR10 names it, and is skipped otherwise.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from tqdm import tqdm

from cs231n import data_utils
from cs231n.data_utils import get_CIFAR10_data, load_CIFAR10, load_CIFAR_batch
from cs231n.datasets import fetch

pytestmark = pytest.mark.data

PER_BATCH = 10
FOLDER = "cifar-10-batches-py"
TRAIN_NAMES = [f"data_batch_{i}" for i in range(1, 6)]
LABEL_NAMES = "airplane automobile bird cat deer dog frog horse ship truck".split()


def _dump(path: Path, record: dict, bytes_keys: bool = False) -> None:
    if bytes_keys:
        record = {k.encode(): v for k, v in record.items()}
    with open(path, "wb") as f:
        pickle.dump(record, f, protocol=2)


def write_fake_cifar(root: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Write a fake CIFAR-10 folder; return the stored rows and labels of each file.

    data_batch_2 uses bytes keys (as a pickle read with encoding='bytes' would show them).
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    _dump(root / "batches.meta", {"label_names": LABEL_NAMES, "num_cases_per_batch": PER_BATCH})
    stored = {}
    for name in [*TRAIN_NAMES, "test_batch"]:
        data = rng.integers(0, 256, size=(PER_BATCH, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=PER_BATCH)]
        record = {"batch_label": name, "data": data, "labels": labels, "filenames": ["x.png"] * 10}
        _dump(root / name, record, bytes_keys=name == "data_batch_2")
        stored[name] = (data, np.array(labels))
    return stored


def nchw(rows: np.ndarray) -> np.ndarray:
    """Stored rows (n, 3072) as float images (n, 3, 32, 32), by explicit indexing."""
    out = np.empty((len(rows), 3, 32, 32))
    for c in range(3):
        for h in range(32):
            out[:, c, h, :] = rows[:, c * 1024 + h * 32 : c * 1024 + h * 32 + 32]
    return out


@pytest.fixture
def fake(tmp_path: Path):
    root = tmp_path / "data" / FOLDER
    return root, write_fake_cifar(root)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch, tmp_path):
    """Each test starts without the CIFAR-10 environment variables, and with the kit's
    default folder and location record in a temporary folder (never the kit's own)."""
    monkeypatch.delenv("CS231N_CIFAR10", raising=False)
    monkeypatch.delenv("CS231N_CIFAR10_MD5", raising=False)
    kit = tmp_path / "kit-datasets"
    monkeypatch.setattr(data_utils, "DEFAULT_CIFAR10_DIR", kit / FOLDER)
    monkeypatch.setattr(data_utils, "LOCATION_FILE", kit / "cifar10_location.txt")
    return kit


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def test_load_batch_layout(fake):
    root, stored = fake
    X, Y = load_CIFAR_batch(root / "data_batch_1")
    data, labels = stored["data_batch_1"]
    assert X.shape == (PER_BATCH, 32, 32, 3) and X.dtype == np.float32
    assert Y.shape == (PER_BATCH,) and np.issubdtype(Y.dtype, np.integer)
    np.testing.assert_array_equal(Y, labels)
    for i, h, w, c in [(0, 0, 0, 0), (3, 5, 7, 2), (9, 31, 31, 1), (4, 31, 0, 2), (7, 0, 31, 0)]:
        assert X[i, h, w, c] == data[i, c * 1024 + h * 32 + w]
    np.testing.assert_array_equal(X, nchw(data).transpose(0, 2, 3, 1))


def test_load_batch_accepts_bytes_keys(fake):
    root, stored = fake
    X, Y = load_CIFAR_batch(root / "data_batch_2")
    data, labels = stored["data_batch_2"]
    np.testing.assert_array_equal(X, nchw(data).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(Y, labels)


def test_load_cifar10_concatenates_in_order(fake):
    root, stored = fake
    Xtr, Ytr, Xte, Yte = load_CIFAR10(root)
    assert Xtr.shape == (5 * PER_BATCH, 32, 32, 3) and Xte.shape == (PER_BATCH, 32, 32, 3)
    assert Xtr.dtype == Xte.dtype == np.float32 and Xtr.flags.c_contiguous
    rows = np.concatenate([stored[n][0] for n in TRAIN_NAMES])
    np.testing.assert_array_equal(Xtr, nchw(rows).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(Ytr, np.concatenate([stored[n][1] for n in TRAIN_NAMES]))
    np.testing.assert_array_equal(Xte, nchw(stored["test_batch"][0]).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(Yte, stored["test_batch"][1])


def _train_rows(stored):
    return (
        np.concatenate([stored[n][0] for n in TRAIN_NAMES]),
        np.concatenate([stored[n][1] for n in TRAIN_NAMES]),
    )


def test_split_without_mean(fake):
    root, stored = fake
    data = get_CIFAR10_data(23, 12, 4, subtract_mean=False, cifar10_dir=root)
    rows, labels = _train_rows(stored)
    expected = {
        "X_train": nchw(rows[:23]),
        "y_train": labels[:23],
        "X_val": nchw(rows[23:35]),
        "y_val": labels[23:35],
        "X_test": nchw(stored["test_batch"][0][:4]),
        "y_test": stored["test_batch"][1][:4],
    }
    assert set(data) == set(expected)
    for key, want in expected.items():
        assert data[key].shape == want.shape, key
        np.testing.assert_array_equal(data[key], want, err_msg=key)
    assert all(data[k].dtype == np.float32 for k in ("X_train", "X_val", "X_test"))


def test_split_subtracts_training_mean(fake):
    root, stored = fake
    data = get_CIFAR10_data(30, 15, 10, cifar10_dir=root)
    rows, _ = _train_rows(stored)
    mean = nchw(rows[:30]).mean(axis=0)
    assert mean.std() > 1  # the fake images have a mean far from zero: subtraction shows
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(data["X_train"], nchw(rows[:30]) - mean, atol=1e-4)
    np.testing.assert_allclose(data["X_val"], nchw(rows[30:45]) - mean, atol=1e-4)
    np.testing.assert_allclose(data["X_test"], nchw(stored["test_batch"][0]) - mean, atol=1e-4)


def test_environment_variable_and_explicit_argument(fake, tmp_path, monkeypatch):
    root, stored = fake
    monkeypatch.setenv("CS231N_CIFAR10", str(root))
    assert data_utils.resolve_cifar10_dir() == root
    data = get_CIFAR10_data(5, 5, 5, subtract_mean=False)
    np.testing.assert_array_equal(data["y_test"], stored["test_batch"][1][:5])

    other = tmp_path / "other" / FOLDER
    other_stored = write_fake_cifar(other, seed=1)
    data = get_CIFAR10_data(5, 5, 5, subtract_mean=False, cifar10_dir=other)
    np.testing.assert_array_equal(data["y_test"], other_stored["test_batch"][1][:5])


def test_default_folder_is_next_to_the_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert data_utils.DATASETS_DIR == Path(data_utils.__file__).resolve().parent / "datasets"
    expected = data_utils.DEFAULT_CIFAR10_DIR  # in a temporary folder here (_no_env)
    assert data_utils.resolve_cifar10_dir() == expected
    monkeypatch.setenv("CS231N_CIFAR10", str(tmp_path / "archive.tar.gz"))  # not a folder
    assert data_utils.resolve_cifar10_dir() == expected


def test_missing_data_says_how_to_fix(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="make data") as info:
        get_CIFAR10_data(cifar10_dir=tmp_path / "nowhere")
    # the fix leads with the command, by its absolute path, that works from any folder
    fix = str(info.value).split("not found. ")[1]
    script = data_utils.DATASETS_DIR / "get_datasets.sh"
    assert fix.startswith(f"Get it with: bash {script}") and script.is_file()
    assert "CS231N_CIFAR10=" in fix and "remembers" in fix

    monkeypatch.setattr(data_utils, "DEFAULT_CIFAR10_DIR", tmp_path / "absent")
    monkeypatch.setenv("CS231N_CIFAR10", str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match="typo.*is not a directory"):
        get_CIFAR10_data()
    with pytest.raises(FileNotFoundError, match="make data"):
        load_CIFAR10(tmp_path / "absent")


def test_missing_or_corrupt_files(fake):
    root, _ = fake
    (root / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3.*missing.*make data"):
        load_CIFAR10(root)
    (root / "data_batch_3").write_bytes(b"\x80\x02not a pickle at all")
    with pytest.raises(ValueError, match="data_batch_3.*corrupt.*make data"):
        get_CIFAR10_data(5, 5, 5, cifar10_dir=root)
    _dump(root / "data_batch_3", {"data": np.zeros((10, 100), np.uint8), "labels": [0] * 10})
    with pytest.raises(ValueError, match=r"uint8 of shape \(n, 3072\)"):
        load_CIFAR_batch(root / "data_batch_3")
    _dump(root / "data_batch_3", {"data": np.zeros((10, 3072), np.uint8), "labels": [10] * 10})
    with pytest.raises(ValueError, match="labels"):
        load_CIFAR_batch(root / "data_batch_3")
    _dump(root / "data_batch_3", {"data": np.zeros((10, 3072), np.uint8)})
    with pytest.raises(ValueError, match="no 'labels' entry"):
        data_utils.check_cifar10_dir(root)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_training": 45, "num_validation": 6}, "at most the 50 training images.*= 51"),
        ({"num_training": 5, "num_validation": 5, "num_test": 11}, "num_test must be at most"),
        ({"num_training": 0}, "num_training must be an integer >= 1"),
        ({"num_training": 5, "num_validation": -1}, "num_validation must be an integer >= 0"),
        ({"num_training": 5.0}, "num_training must be an integer"),
    ],
)
def test_bad_split_sizes(fake, kwargs, message):
    root, _ = fake
    with pytest.raises(ValueError, match=message):
        get_CIFAR10_data(cifar10_dir=root, **kwargs)


def test_default_split_too_big_for_fake_set(fake):
    with pytest.raises(ValueError, match="49000 \\+ 1000 = 50000"):
        get_CIFAR10_data(cifar10_dir=fake[0])


# ---------------------------------------------------------------------------------------------
# Fetching
# ---------------------------------------------------------------------------------------------


def make_archive(root: Path, path: Path, extra: tarfile.TarInfo | None = None) -> str:
    """Pack the folder ``root`` as ``cifar-10-batches-py/...`` in a .tar.gz; return its MD5."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(root, arcname=FOLDER)
        readme = b"<html>fake</html>"
        info = tarfile.TarInfo("readme.html")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))
        if extra is not None:
            tar.addfile(extra, io.BytesIO(b"x" * extra.size) if extra.isfile() else None)
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def archive(fake, tmp_path, monkeypatch):
    """A fake cifar-10-python.tar.gz whose MD5 is the one the fetcher expects."""
    path = tmp_path / "cifar-10-python.tar.gz"
    monkeypatch.setattr(fetch, "CIFAR10_MD5", make_archive(fake[0], path))
    return path


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the fetcher must not download here")

    monkeypatch.setattr(fetch.urllib.request, "urlopen", refuse)


def same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    return names == sorted(p.name for p in b.iterdir()) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names
    )


def test_archive_from_environment_is_extracted(fake, archive, tmp_path, monkeypatch, no_network):
    dest = tmp_path / "dest"
    monkeypatch.setenv("CS231N_CIFAR10", str(archive))
    target = fetch.ensure_cifar10(dest)
    assert target == dest / FOLDER
    assert same_files(target, fake[0])
    assert sorted(os.listdir(dest)) == [FOLDER]  # no temporaries, no readme, no archive copy
    # get_CIFAR10_data then finds the data there through the explicit argument
    assert get_CIFAR10_data(5, 5, 5, cifar10_dir=target)["X_train"].shape == (5, 3, 32, 32)


def test_archive_with_wrong_md5_leaves_nothing(fake, tmp_path, monkeypatch, no_network):
    path = tmp_path / "cifar-10-python.tar.gz"
    make_archive(fake[0], path)
    dest = tmp_path / "dest"
    dest.mkdir()
    monkeypatch.setenv("CS231N_CIFAR10", str(path))
    with pytest.raises(ValueError, match="MD5 mismatch.*CS231N_CIFAR10_MD5=skip"):
        fetch.ensure_cifar10(dest)
    assert os.listdir(dest) == []

    monkeypatch.setenv("CS231N_CIFAR10_MD5", "skip")
    assert same_files(fetch.ensure_cifar10(dest), fake[0])
    monkeypatch.setenv("CS231N_CIFAR10_MD5", "0123")
    (dest / FOLDER).rename(tmp_path / "moved")
    with pytest.raises(ValueError, match="must be 'skip' or unset"):
        fetch.ensure_cifar10(dest)


def test_archive_without_valid_data_leaves_nothing(fake, tmp_path, monkeypatch, no_network):
    (fake[0] / "test_batch").unlink()
    path = tmp_path / "cifar-10-python.tar.gz"
    monkeypatch.setattr(fetch, "CIFAR10_MD5", make_archive(fake[0], path))
    monkeypatch.setenv("CS231N_CIFAR10", str(path))
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="does not hold a valid.*test_batch"):
        fetch.ensure_cifar10(dest)
    assert os.listdir(dest) == []


@pytest.mark.parametrize("kind", ["escape", "symlink", "absolute"])
def test_unsafe_archive_is_refused(fake, tmp_path, monkeypatch, no_network, kind):
    if kind == "symlink":
        extra = tarfile.TarInfo(f"{FOLDER}/link")
        extra.type, extra.linkname = tarfile.SYMTYPE, "/etc/passwd"
    else:
        extra = tarfile.TarInfo("../evil.txt" if kind == "escape" else "/tmp/evil.txt")
        extra.size = 3
    path = tmp_path / "cifar-10-python.tar.gz"
    monkeypatch.setattr(fetch, "CIFAR10_MD5", make_archive(fake[0], path, extra))
    monkeypatch.setenv("CS231N_CIFAR10", str(path))
    dest = tmp_path / "nest" / "dest"
    with pytest.raises(ValueError, match="unsafe entry"):
        fetch.ensure_cifar10(dest)
    assert os.listdir(dest) == [] and not (tmp_path / "nest" / "evil.txt").exists()


def test_interrupt_during_extraction_leaves_nothing(archive, tmp_path, monkeypatch):
    def interrupt(root):
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch, "check_cifar10_dir", interrupt)
    monkeypatch.setenv("CS231N_CIFAR10", str(archive))
    dest = tmp_path / "dest"
    with pytest.raises(KeyboardInterrupt):
        fetch.ensure_cifar10(dest)
    assert os.listdir(dest) == []


def test_folder_from_environment_is_used_in_place(fake, tmp_path, monkeypatch, capsys, no_network):
    monkeypatch.setenv("CS231N_CIFAR10", str(fake[0]))
    dest = tmp_path / "dest"
    assert fetch.ensure_cifar10(dest) == fake[0]
    assert not dest.exists()
    out = capsys.readouterr().out
    assert str(fake[0]) in out
    assert "7 of the 7 files differ from the official release" in out

    (fake[0] / "data_batch_5").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_5"):
        fetch.ensure_cifar10(dest)


def test_folder_from_environment_is_remembered(fake, tmp_path, monkeypatch, capsys, no_network):
    """A new shell (no CS231N_CIFAR10) finds the folder that `make data` once found."""
    record = data_utils.LOCATION_FILE
    monkeypatch.chdir(fake[0].parent)
    monkeypatch.setenv("CS231N_CIFAR10", FOLDER)  # relative: recorded as an absolute path
    assert fetch.ensure_cifar10() == fake[0]
    out = capsys.readouterr().out
    assert f"Recorded this folder in {record}" in out and "without CS231N_CIFAR10" in out
    assert record.read_text().splitlines()[1:] == [str(fake[0])]

    monkeypatch.delenv("CS231N_CIFAR10")
    monkeypatch.chdir(tmp_path)
    assert data_utils.resolve_cifar10_dir() == fake[0]
    data = get_CIFAR10_data(5, 5, 5, subtract_mean=False)
    np.testing.assert_array_equal(data["y_test"], fake[1]["test_batch"][1][:5])
    assert fetch.ensure_cifar10() == fake[0]  # `make data` again: no download
    assert f"Using CIFAR-10 at {fake[0]} (recorded in {record})" in capsys.readouterr().out

    monkeypatch.setenv("CS231N_CIFAR10", str(fake[0]))
    fetch.ensure_cifar10()
    assert "finds it without CS231N_CIFAR10" in capsys.readouterr().out


def test_the_location_record_never_replaces_what_it_did_not_write(fake, monkeypatch, capsys):
    record = data_utils.LOCATION_FILE
    record.parent.mkdir(parents=True)
    record.write_text("my notes\n")
    monkeypatch.setenv("CS231N_CIFAR10", str(fake[0]))
    assert fetch.ensure_cifar10() == fake[0]
    assert "not written by this tool" in capsys.readouterr().out
    assert record.read_text() == "my notes\n"
    monkeypatch.delenv("CS231N_CIFAR10")
    assert data_utils.resolve_cifar10_dir() == data_utils.DEFAULT_CIFAR10_DIR  # not found


def test_a_present_default_folder_needs_no_record(fake, monkeypatch, capsys):
    default = data_utils.DEFAULT_CIFAR10_DIR
    write_fake_cifar(default, seed=2)
    monkeypatch.setenv("CS231N_CIFAR10", str(fake[0]))
    assert fetch.ensure_cifar10() == fake[0]
    assert f"Without CS231N_CIFAR10, the kit reads the copy at {default}" in capsys.readouterr().out
    assert not data_utils.LOCATION_FILE.exists()
    assert fetch.ensure_cifar10(fake[0].parent / "elsewhere") == fake[0]  # --dest: no record
    assert not data_utils.LOCATION_FILE.exists()


def test_files_unlike_official(fake, monkeypatch):
    assert set(fetch.files_unlike_official(fake[0])) == set(fetch.OFFICIAL_FILE_MD5)
    ours = {name: fetch._md5_of_file(fake[0] / name) for name in fetch.OFFICIAL_FILE_MD5}
    monkeypatch.setattr(fetch, "OFFICIAL_FILE_MD5", ours)
    assert fetch.files_unlike_official(fake[0]) == []
    (fake[0] / "test_batch").write_bytes(b"changed")
    assert fetch.files_unlike_official(fake[0]) == ["test_batch"]


def test_environment_naming_nothing_useful(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("CS231N_CIFAR10", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="neither a directory nor a .tar.gz"):
        fetch.ensure_cifar10(tmp_path / "dest")


def test_download_streams_verifies_and_installs(fake, archive, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fetch, "CIFAR10_URL", archive.as_uri())
    monkeypatch.setattr(fetch, "CHUNK_BYTES", 4096)  # several progress updates
    dest = tmp_path / "dest"
    target = fetch.ensure_cifar10(dest)
    assert target == dest / FOLDER and same_files(target, fake[0])
    assert sorted(os.listdir(dest)) == [FOLDER]
    progress = capsys.readouterr().err  # tqdm: every byte counted against Content-Length
    size = tqdm.format_sizeof(archive.stat().st_size, divisor=1024)
    assert "100%" in progress and f"{size}/{size}" in progress


def test_download_without_tqdm(fake, archive, tmp_path, monkeypatch, capsys):
    """get_datasets.sh may run a Python without tqdm: one line before, one after."""
    monkeypatch.setattr(fetch, "CIFAR10_URL", archive.as_uri())
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm raises ImportError
    target = fetch.ensure_cifar10(tmp_path / "dest")
    assert same_files(target, fake[0])
    out = capsys.readouterr().out
    assert f"Downloading {FOLDER}" in out and "Downloaded" in out


def test_shell_wrapper_without_a_python_with_numpy_says_how_to_install(tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for name in ("python", "python3"):  # a Python without numpy, as outside any venv
        (fake_bin / name).write_text("#!/bin/sh\nexit 1\n")
        (fake_bin / name).chmod(0o755)
    root = tmp_path / "kit"  # a kit without .venv (which the wrapper would use first)
    script = root / "cs231n" / "datasets" / "get_datasets.sh"
    script.parent.mkdir(parents=True)
    shutil.copy(Path(fetch.__file__).with_name("get_datasets.sh"), script)
    env = {"PATH": f"{fake_bin}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "no Python with numpy found" in done.stderr
    assert f'pip install -e "{root}[notebooks]"' in done.stderr


def test_download_with_wrong_md5_leaves_nothing(archive, tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "CIFAR10_URL", archive.as_uri())
    monkeypatch.setattr(fetch, "CIFAR10_MD5", "0" * 32)
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="MD5 mismatch"):
        fetch.ensure_cifar10(dest)
    assert os.listdir(dest) == []


class InterruptedResponse:
    """A response that delivers one chunk, then behaves as if Ctrl-C was pressed."""

    headers = {"Content-Length": "1000000"}

    def __init__(self):
        self.calls = 0

    def read(self, n):
        self.calls += 1
        if self.calls > 1:
            raise KeyboardInterrupt
        return b"x" * n

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_interrupted_download_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(fetch.urllib.request, "urlopen", lambda url, timeout: InterruptedResponse())
    dest = tmp_path / "dest"
    with pytest.raises(KeyboardInterrupt):
        fetch.ensure_cifar10(dest)
    assert os.listdir(dest) == []


def test_network_error_says_what_to_do(tmp_path, monkeypatch):
    def fail(url, timeout):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(fetch.urllib.request, "urlopen", fail)
    with pytest.raises(ConnectionError, match="no route to host.*set CS231N_CIFAR10"):
        fetch.ensure_cifar10(tmp_path / "dest")
    assert os.listdir(tmp_path / "dest") == []


def test_present_data_is_not_fetched_again(fake, archive, tmp_path, monkeypatch, no_network):
    dest = tmp_path / "dest"
    monkeypatch.setenv("CS231N_CIFAR10", str(archive))
    target = fetch.ensure_cifar10(dest)
    archive.unlink()  # a second run must not even need the archive
    assert fetch.ensure_cifar10(dest) == target
    monkeypatch.delenv("CS231N_CIFAR10")
    assert fetch.ensure_cifar10(dest) == target  # and would not download either


def test_invalid_existing_copy_is_reported_not_removed(tmp_path, no_network):
    target = tmp_path / "dest" / FOLDER
    target.mkdir(parents=True)
    (target / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="exists but is not a valid.*Remove"):
        fetch.ensure_cifar10(tmp_path / "dest")
    assert (target / "notes.txt").read_text() == "mine"


def test_command_line(fake, tmp_path, monkeypatch, capsys, no_network):
    monkeypatch.setenv("CS231N_CIFAR10", str(fake[0]))
    assert fetch.main(["--dest", str(tmp_path / "dest")]) == 0
    monkeypatch.setenv("CS231N_CIFAR10", str(tmp_path / "missing"))
    assert fetch.main(["--dest", str(tmp_path / "dest")]) == 1
    assert capsys.readouterr().err.startswith("error: CS231N_CIFAR10=")


def test_shell_wrapper_runs_from_any_directory(fake, tmp_path):
    script = Path(fetch.__file__).with_name("get_datasets.sh")
    env = {**os.environ, "CS231N_CIFAR10": os.path.relpath(fake[0], tmp_path)}
    done = subprocess.run(
        ["bash", str(script), "--dest", "dest"],  # not the kit's own folder
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "in place" in done.stdout


# ---------------------------------------------------------------------------------------------
# The real data, when CS231N_CIFAR10 names it
# ---------------------------------------------------------------------------------------------

REAL = os.environ.get("CS231N_CIFAR10", "")


@pytest.mark.skipif(not os.path.isdir(REAL), reason="CS231N_CIFAR10 does not name CIFAR-10")
def test_real_cifar10():
    Xtr, Ytr, Xte, Yte = load_CIFAR10(REAL)
    assert Xtr.shape == (50000, 32, 32, 3) and Ytr.shape == (50000,)
    assert Xte.shape == (10000, 32, 32, 3) and Yte.shape == (10000,)
    assert list(Ytr[:5]) == [6, 9, 9, 4, 1] and list(Yte[:5]) == [3, 8, 8, 0, 6]
    assert np.bincount(Ytr).tolist() == [5000] * 10
    assert 0 <= Xtr.min() and Xtr.max() <= 255 and 110 < Xtr.mean() < 135
    del Xtr, Xte

    data = get_CIFAR10_data(cifar10_dir=REAL)
    shapes = {k: v.shape for k, v in data.items()}
    assert shapes == {
        "X_train": (49000, 3, 32, 32),
        "y_train": (49000,),
        "X_val": (1000, 3, 32, 32),
        "y_val": (1000,),
        "X_test": (1000, 3, 32, 32),
        "y_test": (1000,),
    }
    assert list(data["y_test"][:5]) == [3, 8, 8, 0, 6]
    np.testing.assert_array_equal(data["y_val"], Ytr[49000:])
    assert abs(float(data["X_train"].mean())) < 1e-3
