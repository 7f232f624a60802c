"""Editions of the classic starter: which one a submission is, what it asks, how to call it.

Real submissions come from every edition of the classic assignment-2 starter, 2017 to 2026
(/work/shared/docs/EDITIONS.md has the facts). They differ in what the student writes
(2021 has no TwoLayerNet and no svm_loss; the classic layer_utils gives its sandwiches;
2025 gives the update rules), and in how a function is called (2017's ``use_batchnorm=``;
the dropout argument, which 2017/2018 read as the drop probability and later editions as
the keep probability; Adam's default ``t = 1`` in 2017/2018).

``detect`` reads the submission's own signatures from its source, without running it (ast).
Each edition says which cases it asks (``asks``) and the conventions the programs use to
call it in its terms (programs.OUR_CONVENTIONS). A case an edition does not ask is not
graded; ``rescale`` spreads each question's weight over the cases it does ask.
"""

from __future__ import annotations

import ast
import dataclasses
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tools.collect_submission import marker_blocks
from tools.grade.cases import QUESTIONS, Case

CLASSIC = "cs231n"
NOTHING: frozenset[str] = frozenset()

FC_PART = frozenset(
    {
        "affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss",
        "svm_loss", "affine_relu", "two_layer_net_init", "two_layer_net_loss", "fc_net_init",
        "fc_net_loss", "sgd", "sgd_momentum", "rmsprop", "adam",
    }
)  # fmt: skip
OURS_ONLY = frozenset({"affine_relu", "sgd", "conv_relu_sandwiches", "conv_bn_sandwiches"})
NO_NORMS = frozenset(
    {
        "layernorm_forward", "layernorm_backward", "fc_net_layernorm",
        "spatial_groupnorm_forward", "spatial_groupnorm_backward",
    }
)  # fmt: skip
NO_TWO_LAYER = frozenset({"svm_loss", "two_layer_net_init", "two_layer_net_loss"})
RULES = frozenset({"sgd_momentum", "rmsprop", "adam"})
DROP_PROBABILITY = {"dropout_keyword": "dropout", "dropout_is_drop_probability": True}


@dataclass(frozen=True)
class Edition:
    name: str
    not_asked: frozenset[str] = NOTHING  # case ids the edition does not ask the student to write
    conventions: dict = field(default_factory=dict)  # programs.OUR_CONVENTIONS overrides

    def asks(self, case: Case) -> bool:
        return case.program not in self.not_asked


OURS = Edition("this kit")
EDITIONS = {
    e.name: e
    for e in (
        OURS,
        Edition(
            "2017",
            OURS_ONLY | NO_NORMS,
            {**DROP_PROBABILITY, "batchnorm_keyword": "use_batchnorm", "adam_explicit_t": True},
        ),
        Edition("2018", OURS_ONLY, {**DROP_PROBABILITY, "adam_explicit_t": True}),
        Edition("2019/2020", OURS_ONLY, {"dropout_keyword": "dropout"}),
        Edition("2021-2024", OURS_ONLY | NO_TWO_LAYER),
        Edition("2025", OURS_ONLY | FC_PART),
        Edition("2026", OURS_ONLY | (FC_PART - RULES)),
    )
}


@dataclass
class Detected:
    edition: Edition
    why: str  # the signature that told it, for the report

    def describe(self) -> str:
        return f"{self.edition.name} ({self.why})"


# ---------------------------------------------------------------------------------- source


_PARSE_LOCK = threading.Lock()


def parse(text: str) -> ast.Module | None:
    """``text``'s syntax tree, or None where it cannot be had (a syntax error, null bytes,
    nesting deeper than the parser's recursion limit, no memory).

    One parse at a time in this process: CPython 3.11 keeps the AST constructor's recursion
    count in one shared place, and two threads parsing at once (the grader grades several
    submissions on threads) can end in "SystemError: AST constructor recursion depth
    mismatch" for correct code."""
    with _PARSE_LOCK:
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError, SystemError):
            return None


def _tree(root: Path, rel: str) -> ast.Module | None:
    try:
        return parse((root / CLASSIC / rel).read_text(errors="replace"))
    except OSError:
        return None


def _defs(tree: ast.Module | None) -> dict[str, ast.AST]:
    """Top-level functions and classes of a module, by name."""
    kinds = (ast.FunctionDef, ast.ClassDef)
    return {n.name: n for n in (tree.body if tree else []) if isinstance(n, kinds)}


def init_defaults(root: Path, rel: str, cls: str) -> dict[str, object] | None:
    """``cls.__init__``'s keyword arguments and their literal defaults (None: no such class)."""
    node = _defs(_tree(root, rel)).get(cls)
    if not isinstance(node, ast.ClassDef):
        return None
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            args = item.args.args + item.args.kwonlyargs
            defaults = [None] * (len(item.args.args) - len(item.args.defaults))
            defaults += list(item.args.defaults) + list(item.args.kw_defaults)
            return {a.arg: _literal(d) for a, d in zip(args, defaults, strict=True)}
    return {}


def _literal(node: ast.AST | None) -> object:
    try:
        return ast.literal_eval(node) if node is not None else None
    except ValueError:
        return None


def has_markers(root: Path) -> bool:
    """Whether any module of the package holds a START/END block (the 2025/26 ones do not)."""
    for path in (root / CLASSIC).rglob("*.py"):
        try:
            blocks, _ = marker_blocks(path.read_text(errors="replace").split("\n"))
        except OSError:
            continue
        if blocks:
            return True
    return False


def _rules_left_to_write(root: Path) -> bool:
    """Whether optim.py's sgd_momentum/rmsprop/adam look unwritten in the starter's way (a
    TODO comment, a NotImplementedError or ``next_w = None``): the 2026 starter, not 2025's."""
    try:
        text = (root / CLASSIC / "optim.py").read_text(errors="replace")
    except OSError:
        return True
    start = text.find("def sgd_momentum")
    body = text[start:] if start >= 0 else text
    return any(mark in body for mark in ("TODO", "NotImplementedError", "next_w = None"))


# ------------------------------------------------------------------------------- detection


def detect(root: Path) -> Detected:
    """The edition of the submission under ``root`` (the folder holding ``cs231n/``), from its
    own signatures: FullyConnectedNet's keywords and defaults, what layer_utils and fc_net
    define, the marker lines. Anything unrecognized is graded as this kit."""
    fc = init_defaults(root, "classifiers/fc_net.py", "FullyConnectedNet")
    utils = _defs(_tree(root, "layer_utils.py"))
    fc_defs = _defs(_tree(root, "classifiers/fc_net.py"))
    ours = "conv_bn_relu_pool_forward" in utils or "affine_norm_relu_dropout_forward" in utils
    if fc is not None and "use_batchnorm" in fc:
        return Detected(EDITIONS["2017"], "FullyConnectedNet takes use_batchnorm=")
    if fc is not None and "dropout_keep_ratio" not in fc and "dropout" in fc:
        if fc["dropout"] == 0:
            return Detected(
                EDITIONS["2018"], "FullyConnectedNet takes dropout=0: a drop probability"
            )
        return Detected(
            EDITIONS["2019/2020"], "FullyConnectedNet takes dropout=1: a keep probability"
        )
    if ours:
        return Detected(OURS, "layer_utils has this kit's sandwiches")
    layers = (root / CLASSIC / "layers.py").is_file()
    if layers and not has_markers(root) and (fc is None or "dropout_keep_ratio" in fc):
        if _rules_left_to_write(root):
            return Detected(EDITIONS["2026"], "no marker lines; the update rules left to write")
        return Detected(EDITIONS["2025"], "no marker lines; the update rules given")
    if fc is not None and "dropout_keep_ratio" in fc and "TwoLayerNet" not in fc_defs:
        return Detected(EDITIONS["2021-2024"], "dropout_keep_ratio=, no TwoLayerNet")
    return Detected(OURS, "this kit's signatures" if fc is not None else "not recognized")


# ------------------------------------------------------------------------------- rescaling


def asked(edition: Edition, cases: list[Case]) -> list[Case]:
    """The cases that ``edition`` asks, with each question's weight spread over them: a
    case's points times (question weight / points of the question's asked cases)."""
    kept = [c for c in cases if edition.asks(c)]
    out = []
    for c in kept:
        weight = QUESTIONS[c.question][2]
        table = sum(k.points for k in cases if k.question == c.question)
        mine = sum(k.points for k in kept if k.question == c.question)
        scale = table / mine if mine and abs(table - weight) < 1e-9 else 1.0
        out.append(dataclasses.replace(c, points=c.points * scale) if scale != 1 else c)
    return out


def not_asked_note(edition: Edition, cases: list[Case]) -> str:
    """ "not asked by the 2021-2024 starter: svm_loss, ...; points rescaled" ("" if none)."""
    skipped = [c.function for c in cases if not edition.asks(c)]
    if not skipped:
        return ""
    return (
        f"not graded (the {edition.name} starter does not ask for them): {', '.join(skipped)}; "
        "each question's points are spread over the functions it asks"
    )
