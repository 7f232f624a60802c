"""Get CIFAR-10 ("python version") for the kit: ``python -m cs231n.datasets.fetch [--dest DIR]``.

Where the data comes from, in this order:

1. ``CS231N_CIFAR10`` names a directory: it is validated and used in place; nothing is copied
   or downloaded.
2. ``CS231N_CIFAR10`` names a ``.tar.gz`` archive (cifar-10-python.tar.gz): its MD5 is checked,
   then it is extracted into the destination. A re-packed archive has another checksum; set
   ``CS231N_CIFAR10_MD5=skip`` to accept it (the extracted files are still validated).
3. Otherwise the official archive is downloaded and its MD5 checked, then it is extracted.

The destination is ``cs231n/datasets`` unless ``--dest`` / ``dest_dir`` says otherwise; the data
ends up in ``<dest>/cifar-10-batches-py``. If a valid copy is already there, nothing is done
(even when ``CS231N_CIFAR10`` names an archive, which may then have been deleted).

With the default destination, a folder that ``CS231N_CIFAR10`` names is remembered: its absolute
path is written to ``cs231n/datasets/cifar10_location.txt``, where ``cs231n.data_utils`` looks
when the variable is not set (a new shell, a Jupyter started from the desktop). A later run
without the variable uses that folder. The record is our own small file: a file of that name
that we did not write is never replaced.

Nothing half-written is ever left behind: the download goes to a ``.tmp-*`` file and the
extraction to a ``.tmp-*`` folder, both inside the destination; only a validated folder is moved
into place, with one ``os.replace``. The temporaries are removed on any failure, Ctrl-C
included. Nothing else is ever deleted; an invalid existing copy is reported, not removed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from cs231n import data_utils
from cs231n.data_utils import CIFAR10_ENV_VAR, FIX_HINT, check_cifar10_dir

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
# MD5 of each file of the official archive, once extracted.
OFFICIAL_FILE_MD5 = {
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
MD5_ENV_VAR = "CS231N_CIFAR10_MD5"
FOLDER = "cifar-10-batches-py"
DATASETS_DIR = data_utils.DATASETS_DIR
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
TMP_PREFIX = ".tmp-"
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60


def ensure_cifar10(dest_dir: str | os.PathLike | None = None) -> Path:
    """Make sure CIFAR-10 is available and return its ``cifar-10-batches-py`` folder.

    See the module docstring for where the data comes from. Raises FileNotFoundError,
    ValueError or ConnectionError with a message that says what to do.
    """
    source = os.environ.get(CIFAR10_ENV_VAR)
    if source and Path(source).expanduser().is_dir():
        folder = Path(source).expanduser().resolve()
        check_cifar10_dir(folder)
        print(f"Using CIFAR-10 in place at {folder} (from {CIFAR10_ENV_VAR}).")
        _note_unofficial(folder)
        if dest_dir is None:
            remember(folder)
        return folder

    default = data_utils.DEFAULT_CIFAR10_DIR
    target = Path(dest_dir).expanduser() / FOLDER if dest_dir is not None else default
    if target.exists():
        _check_existing(target)
        print(f"CIFAR-10 already present at {target}.")
        return target
    recorded = data_utils.recorded_cifar10_dir() if dest_dir is None else None
    if recorded is not None and not source:
        check_cifar10_dir(recorded)
        print(f"Using CIFAR-10 at {recorded} (recorded in {data_utils.LOCATION_FILE}).")
        return recorded
    if source:
        _install_local_archive(Path(source).expanduser(), target)
    else:
        _download_and_install(target)
    print(f"CIFAR-10 ready at {target}.")
    return target


def remember(folder: Path) -> None:
    """Record ``folder`` in ``data_utils.LOCATION_FILE`` so that the kit finds it without
    ``CS231N_CIFAR10``, and say so. The default folder, when present, is read first: then
    nothing is recorded. A file of that name that we did not write is left as it is."""
    record, default = data_utils.LOCATION_FILE, data_utils.DEFAULT_CIFAR10_DIR
    if default.exists() and default.resolve() != folder:
        print(f"Without {CIFAR10_ENV_VAR}, the kit reads the copy at {default}.")
        return
    if data_utils.recorded_cifar10_dir() == folder or default.exists():
        print(f"The kit finds it without {CIFAR10_ENV_VAR} (recorded in {record}).")
        return
    if record.exists() and not record.read_text(errors="replace").startswith(
        data_utils.LOCATION_HEADER
    ):
        print(f"Not recording the folder: {record} exists and was not written by this tool.")
        return
    tmp = record.with_name(f"{TMP_PREFIX}{record.name}")
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(f"{data_utils.LOCATION_HEADER}\n{folder}\n", encoding="utf-8")
        os.replace(tmp, record)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        print(
            f"Could not record the folder in {record} ({e}): set {CIFAR10_ENV_VAR} in each shell."
        )
        return
    print(
        f"Recorded this folder in {record}: from now on the kit finds it without "
        f"{CIFAR10_ENV_VAR}, in any shell or Jupyter (delete that file to forget it)."
    )


def _install_local_archive(archive: Path, target: Path) -> None:
    """Check the MD5 of the archive that CS231N_CIFAR10 names, then install it at ``target``."""
    if not (archive.is_file() and archive.name.endswith(ARCHIVE_SUFFIXES)):
        raise FileNotFoundError(
            f"{CIFAR10_ENV_VAR}={str(archive)!r} is neither a directory nor a .tar.gz archive. "
            f"Point it at a {FOLDER} folder or at cifar-10-python.tar.gz, or unset it to "
            f"download from {CIFAR10_URL}."
        )
    if _md5_check_wanted():
        _check_md5(_md5_of_file(archive), str(archive))
    else:
        print(f"{MD5_ENV_VAR}=skip: not checking the MD5 of {archive}.")
    target.parent.mkdir(parents=True, exist_ok=True)
    _install(archive, target)


def _download_and_install(target: Path) -> None:
    """Download the official archive next to ``target``, check its MD5 and install it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_file(target.parent) as (downloaded, out):
        _check_md5(_download(CIFAR10_URL, out), CIFAR10_URL)
        out.close()
        _install(downloaded, target)


def _check_existing(target: Path) -> None:
    """Validate a copy that is already in place; it is never removed, only reported."""
    try:
        check_cifar10_dir(target)
    except (FileNotFoundError, ValueError) as e:
        raise ValueError(
            f"{target} exists but is not a valid CIFAR-10 copy ({_reason(e)}). "
            "Remove it yourself and run this again."
        ) from e


def files_unlike_official(folder: str | os.PathLike) -> list[str]:
    """Names of the files of a CIFAR-10 folder whose MD5 differs from the official release's
    (a re-encoded or re-pickled copy): its accuracies need not match published figures."""
    folder = Path(folder)
    return [n for n, md5 in OFFICIAL_FILE_MD5.items() if _md5_of_file(folder / n) != md5]


def _note_unofficial(folder: Path) -> None:
    differing = files_unlike_official(folder)
    if differing:
        print(
            f"Note: {len(differing)} of the {len(OFFICIAL_FILE_MD5)} files differ from the "
            f"official release ({', '.join(differing)}): this copy was re-encoded or re-pickled, "
            "so accuracies may differ from published figures."
        )


def _reason(error: Exception) -> str:
    """A data_utils error message without its "how to get the data" advice."""
    return str(error).replace(FIX_HINT, "").strip()


def _md5_check_wanted() -> bool:
    """False only when ``CS231N_CIFAR10_MD5=skip``; any other non-empty value is an error."""
    value = os.environ.get(MD5_ENV_VAR, "")
    if value not in ("", "skip"):
        raise ValueError(f"{MD5_ENV_VAR} must be 'skip' or unset, got {value!r}")
    return value != "skip"


def _md5_of_file(path: Path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            md5.update(chunk)
    return md5.hexdigest()


def _check_md5(actual: str, where: str) -> None:
    if actual != CIFAR10_MD5:
        raise ValueError(
            f"MD5 mismatch for {where}: expected {CIFAR10_MD5}, got {actual}. The archive is "
            "damaged or not the official cifar-10-python.tar.gz; fetch it again. For a "
            f"re-packed archive you trust, set {MD5_ENV_VAR}=skip."
        )


def _download(url: str, out: BinaryIO) -> str:
    """Stream ``url`` into ``out`` with a progress bar; return the MD5 of what was received."""
    try:
        from tqdm import tqdm
    except ImportError:  # get_datasets.sh may run a Python without the kit's packages
        tqdm = _NoProgressBar
    md5 = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            size = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, desc=FOLDER) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    md5.update(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as e:
        raise ConnectionError(
            f"Could not download {url}: {getattr(e, 'reason', e)}. Without internet access, copy "
            f"cifar-10-python.tar.gz (or an extracted {FOLDER} folder) to this machine and "
            f"set {CIFAR10_ENV_VAR} to its path."
        ) from e
    return md5.hexdigest()


class _NoProgressBar:
    """Stands in for tqdm where it is not installed: one line at the start and one at the end."""

    def __init__(self, total: int | None = None, desc: str = "", **_: object) -> None:
        self.desc, self.n = desc, 0
        size = f" ({total / 2**20:.0f} MiB)" if total else ""
        print(f"Downloading {desc}{size} ...", flush=True)

    def __enter__(self) -> _NoProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        print(f"Downloaded {self.n / 2**20:.0f} MiB.", flush=True)

    def update(self, n: int) -> None:
        self.n += n


def _install(archive: Path, target: Path) -> None:
    """Extract ``archive`` next to ``target``, validate, and move its folder to ``target``."""
    with _temporary_dir(target.parent) as scratch:
        _safe_extract(archive, scratch)
        extracted = scratch / FOLDER
        try:
            check_cifar10_dir(extracted)
        except (FileNotFoundError, ValueError) as e:
            raise ValueError(
                f"{archive} does not hold a valid {FOLDER} folder: {_reason(e)}"
            ) from e
        try:
            os.replace(extracted, target)
        except OSError:
            if not target.is_dir():
                raise
            _check_existing(target)  # another run finished first; its copy is fine


def _safe_extract(archive: Path, dest: Path) -> None:
    """Extract ``archive`` into ``dest``, refusing links, devices and paths leaving ``dest``."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, archive)
            # The 'data' filter (Python >= 3.11.4 / 3.10.12) repeats these checks in tarfile.
            options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(dest, members=members, **options)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"Cannot extract {archive}: {e}") from e


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
        raise ValueError(
            f"Refusing to extract {archive}: unsafe entry {member.name!r} (absolute path, '..', "
            "or not a plain file or folder)."
        )


@contextmanager
def _temporary_file(folder: Path) -> Iterator[tuple[Path, BinaryIO]]:
    """A new ``.tmp-*`` file in ``folder``, open for writing; always removed afterwards."""
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".tar.gz", dir=folder)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            yield path, out
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def _temporary_dir(folder: Path) -> Iterator[Path]:
    """A new ``.tmp-*`` folder in ``folder``; always removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=folder))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cs231n.datasets.fetch",
        description=(
            f"Put CIFAR-10 in <dest>/{FOLDER}, or check the copy that {CIFAR10_ENV_VAR} names. "
            f"{CIFAR10_ENV_VAR} may name a {FOLDER} folder (used in place) or "
            f"cifar-10-python.tar.gz (extracted); {MD5_ENV_VAR}=skip accepts a re-packed archive."
        ),
    )
    parser.add_argument(
        "--dest", type=Path, default=None, help=f"destination folder (default: {DATASETS_DIR})"
    )
    args = parser.parse_args(argv)
    try:
        ensure_cifar10(args.dest)
    except KeyboardInterrupt:
        print("Interrupted; no partial data was left behind.", file=sys.stderr)
        return 130
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
