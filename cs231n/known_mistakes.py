"""Known mistakes on the notebooks' fixed inputs: what a failed check adds to its message.

The course staff keep a catalogue of typical mistakes. For each check of a notebook cell on
fixed inputs (``cs231n/notebook_cells.py``) the kit ships, as data, what the checked output and
the expected value were when one of those mistakes was made (``notebook_mistakes.npz``,
written by the staff's tool from their own solution; it holds numbers and hints, no code).

When a check fails, the output and the expected value it was given are compared with each
mistake recorded for that check, with the check's own measure and level. If both agree, the
message gains a line that names the mistake:

    looks like a known mistake in softmax_loss: the loss is a mean over the N samples, ...

Two mistakes that agree equally are both listed. A check whose name, shapes or expected value
differ from the recorded ones (other inputs) gets no line; so does any output that no recorded
mistake explains.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).with_name("notebook_mistakes.npz")
SAMPLE = 1024  # entries kept of a larger array, evenly spaced in its flat order
FLOOR = 1e-12  # the least level a match allows: a check at level 0 still forgives rounding
HINT = "looks like a known mistake"


@dataclass(frozen=True)
class KnownOutput:
    """A mistake's output at one check: where the mistake lies, its hint, the notebook cell
    that checks it (its label) and the (sampled) output and expected value the check was
    given, with their shapes."""

    function: str
    hint: str
    cell: str
    actual: np.ndarray
    actual_shape: tuple[int, ...]
    expected: np.ndarray
    expected_shape: tuple[int, ...]


def sample(values: np.ndarray | float) -> np.ndarray:
    """At most ``SAMPLE`` entries of ``values`` as float64, evenly spaced in its flat order."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size <= SAMPLE:
        return flat
    return flat[np.linspace(0, flat.size - 1, SAMPLE).astype(int)]


def save(path: Path, outputs: dict[str, list[KnownOutput]], fingerprints: dict[str, str]) -> None:
    """Write ``outputs`` (check name -> the known outputs there) to ``path`` (an .npz), with
    ``fingerprints`` (notebook -> a digest of what its outputs were computed from)."""
    arrays, checks = {}, {}
    for name, known in sorted(outputs.items()):
        checks[name] = []
        for k in known:
            key = f"a{len(arrays) // 2}"
            arrays[f"{key}_actual"], arrays[f"{key}_expected"] = k.actual, k.expected
            shapes = {"actual_shape": k.actual_shape, "expected_shape": k.expected_shape}
            where = {"function": k.function, "hint": k.hint, "cell": k.cell, "key": key}
            checks[name].append({**where, **shapes})
    meta = {"fingerprints": fingerprints, "checks": checks}
    np.savez_compressed(path, meta=np.array(json.dumps(meta, indent=0)), **arrays)


def load(path: Path = DATA) -> tuple[dict[str, list[KnownOutput]], dict[str, str]]:
    """(check name -> known outputs, fingerprints) from ``path``; nothing when it is missing."""
    if not path.is_file():
        return {}, {}
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        outputs = {
            name: [
                KnownOutput(
                    k["function"],
                    k["hint"],
                    k["cell"],
                    data[f"{k['key']}_actual"],
                    tuple(k["actual_shape"]),
                    data[f"{k['key']}_expected"],
                    tuple(k["expected_shape"]),
                )
                for k in known
            ]
            for name, known in meta["checks"].items()
        }
    return outputs, meta["fingerprints"]


@cache
def _shipped() -> dict[str, list[KnownOutput]]:
    return load()[0]


def _distance(actual, known: np.ndarray, known_shape: tuple, per_entry: bool) -> float:
    """The check's error between ``actual`` (sampled as ``known`` was) and ``known``; inf
    when the shapes differ or a NaN or inf is not where ``known`` has it."""
    from cs231n.notebook_checks import relative_error  # imports this module when it fails

    if np.shape(actual) != tuple(known_shape):
        return np.inf
    actual = sample(actual)
    odd = ~np.isfinite(known)
    if not np.array_equal(actual[odd], known[odd], equal_nan=True):
        return np.inf
    error = relative_error(actual[~odd], known[~odd], per_entry)
    return error if np.isfinite(error) else np.inf


def matches(name: str, actual, expected, level: float, per_entry: bool = True) -> list[KnownOutput]:
    """The known mistakes at check ``name`` whose output and expected value both agree with
    ``actual`` and ``expected`` within ``level`` (the check's measure), nearest first."""
    found = []
    for known in _shipped().get(name, []):
        d = max(
            _distance(actual, known.actual, known.actual_shape, per_entry),
            _distance(expected, known.expected, known.expected_shape, per_entry),
        )
        if d <= max(level, FLOOR):
            found.append((d, known))
    return [known for _, known in sorted(found, key=lambda pair: pair[0])]


def hint(name: str, actual, expected, level: float, per_entry: bool = True) -> str:
    """The line(s) a failed check ``name`` adds to its message: "" when nothing matches, when
    the values are not numbers (the check's own message says what is wrong then) or when the
    data cannot be read (the hint is an extra, never a new error)."""
    try:
        found = matches(name, actual, expected, level, per_entry)
    except (OSError, KeyError, TypeError, ValueError):
        return ""
    unique = list(dict.fromkeys((k.function, k.hint) for k in found))
    if len(unique) == 1:
        function, text = unique[0]
        return f"\n{HINT} in {function}: {text}"
    lines = [f"\n  - in {function}: {text}" for function, text in unique]
    return f"\n{HINT}, one of these:" + "".join(lines) if lines else ""
