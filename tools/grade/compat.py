"""The classic course environment, inside the grader's worker (run before any student code).

Student code of the classic starters was written for the course's environment: numpy 1.16
to 1.18 and the packages of its ``requirements.txt`` (``future``, whose ``past`` and
``future`` modules the classic files import). Our worker runs numpy 2, which removed names
and keywords that such code uses. ``install`` answers them with numpy 1.x's meaning (the
removed aliases, ``np.lib.pad``, ``np.reshape(newshape=)``) and registers small stand-ins
for ``future`` and ``past`` where they are not installed. ``fault`` tells, for an error the
student's code raised, whether numpy 1.x would have run that line (a size-1 array stored as
one element or turned into a float): then the error is the environment's, not the student's.

Copied next to the worker; imports only the standard library and numpy.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib.util
import linecache
import sys
import types
import warnings

# numpy 1.x names that numpy 2 removed, and what they meant.
REMOVED = {
    "int": int, "float": float, "bool": bool, "object": object, "str": str, "complex": complex,
    "long": int, "unicode": str, "product": "prod", "cumproduct": "cumprod", "sometrue": "any",
    "alltrue": "all", "round_": "round", "float_": "float64", "complex_": "complex128",
    "unicode_": "str_", "string_": "bytes_", "int0": "intp", "uint0": "uintp", "bool8": "bool_",
    "NaN": "nan", "NAN": "nan", "Inf": "inf", "Infinity": "inf", "infty": "inf", "PINF": "inf",
    "in1d": "isin", "trapz": "trapezoid", "row_stack": "vstack", "asmatrix": "asmatrix",
    "mat": "asmatrix",
}  # fmt: skip


# numpy attributes the worker puts back (below): an AttributeError for one of them was not
# raised by numpy (envfaults.py does not count it as the machine's fault).
ANSWERED = frozenset(REMOVED) | {"NINF", "asscalar", "msort", "alen", "asfarray", "warnings", "pad"}


def _install_numpy(np) -> None:
    for name, meaning in REMOVED.items():
        if name not in np.__dict__:
            value = getattr(np, meaning) if isinstance(meaning, str) else meaning
            setattr(np, name, value)
    extra = {
        "NINF": -np.inf,
        "asscalar": lambda a: np.asarray(a).item(),
        "msort": lambda a: np.sort(a, axis=0),
        "alen": lambda a: len(np.asarray(a)),
        "asfarray": lambda a, dtype=np.float64: np.asarray(a, dtype=dtype),
        "warnings": warnings,
    }
    for name, value in extra.items():
        if name not in np.__dict__:
            setattr(np, name, value)
    if "pad" not in np.lib.__dict__:
        np.lib.pad = np.pad
    reshape = np.reshape

    @functools.wraps(reshape)
    def reshape_1x(a, *args, newshape=None, **kwargs):  # numpy 1.x's keyword
        if newshape is not None and not args and "shape" not in kwargs:
            args = (newshape,)
        return reshape(a, *args, **kwargs)

    np.reshape = reshape_1x


def _module(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


def _install_future() -> None:
    """``future`` and ``past`` stand-ins (Python 3 already is what they provide)."""
    if importlib.util.find_spec("future") is None:

        class _Hooks:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        std = _module("future.standard_library", install_aliases=lambda: None, hooks=_Hooks)
        utils = _module(
            "future.utils",
            PY2=False,
            PY3=True,
            iteritems=lambda d, **k: iter(d.items(**k)),
            itervalues=lambda d, **k: iter(d.values(**k)),
            iterkeys=lambda d, **k: iter(d.keys(**k)),
            string_types=(str,),
            native_str=str,
            with_metaclass=lambda meta, *bases: meta("_Base", bases or (object,), {}),
        )
        top = _module("future", standard_library=std, utils=utils, builtins=builtins)
        sys.modules.update({"future": top, std.__name__: std, utils.__name__: utils})
        sys.modules["future.builtins"] = builtins
    if importlib.util.find_spec("past") is None:
        past_builtins = _module(
            "past.builtins",
            xrange=range,
            basestring=str,
            unicode=str,
            long=int,
            reduce=functools.reduce,
            raw_input=input,
        )
        sys.modules["past"] = _module("past", builtins=past_builtins)
        sys.modules["past.builtins"] = past_builtins


def install(np) -> None:
    """numpy 1.x's removed names and keywords, and the classic packages' stand-ins."""
    _install_numpy(np)
    _install_future()


# ----------------------------------------------------------------------------------- faults

SCALAR_ERRORS = (
    "setting an array element with a sequence",
    "only 0-dimensional arrays can be converted",
    "only length-1 arrays can be converted",
    "only size-1 arrays can be converted",
)


def _innermost(tb):
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb


def _values(node: ast.AST, frame) -> list:
    """What the stored values or converted arguments of the line ``node`` evaluate to."""
    exprs = []
    targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
    if isinstance(node, ast.Assign | ast.AugAssign) and any(
        isinstance(t, ast.Subscript) for t in targets
    ):
        exprs.append(node.value)
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and getattr(sub.func, "id", "") in ("float", "int"):
            exprs.extend(sub.args[:1])
    values = []
    for expr in exprs:
        try:
            code = compile(ast.Expression(expr), "<fault>", "eval")
            values.append(eval(code, frame.f_globals, dict(frame.f_locals)))  # noqa: S307
        except Exception:  # the line's own names may be gone; then it tells nothing
            continue
    return values


def fault(exc: BaseException, np) -> str | None:
    """``_fault``, which never raises (it runs in the worker's error path)."""
    try:
        return _fault(exc, np)
    except BaseException:  # the student's code, evaluated again, may raise anything
        return None


def _fault(exc: BaseException, np) -> str | None:
    """The environment's cause of ``exc`` if numpy 1.x would not have raised it, else None.

    numpy 1.x stored a size-1 array of any shape as one element (``out[i] = a`` with ``a`` of
    shape (1, 1)) and turned it into a float; numpy 2 raises. The failing line is read
    again and its stored or converted value evaluated in the failing frame."""
    message = str(exc)
    if not isinstance(exc, ValueError | TypeError) or not any(e in message for e in SCALAR_ERRORS):
        return None
    tb = _innermost(exc.__traceback__)
    if tb is None:
        return None
    frame = tb.tb_frame
    line = linecache.getline(frame.f_code.co_filename, tb.tb_lineno).strip()
    try:
        node = ast.parse(line).body[0]
    except (SyntaxError, ValueError, IndexError, RecursionError, MemoryError, SystemError):
        return None
    for value in _values(node, frame):
        if isinstance(value, np.ndarray) and value.ndim > 0 and value.size == 1:
            return (
                f"numpy 2 refuses a size-1 array of shape {value.shape} as one number, "
                "which the course's numpy 1.x accepted"
            )
    return None
