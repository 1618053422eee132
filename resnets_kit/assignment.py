"""The exercise registry: what is graded, declared once.

Each graded function of the assignment is an :class:`Exercise`: its name, the test in
``public_tests`` that checks it, its public cases (declared in ``public_tests``, which students
receive), its hidden cases (declared here: instructors only), the graded functions it calls, and
whether its checks look at a whole network's structure or at a block's values. The notebook's
tests, the sandbox, the checks, the hidden tests, the reference outputs, the class grader and the
quality-assurance catalogues all read this registry; the points come from the grade cells of the
source notebook (:func:`points`), the one place nbgrader reads them from.

Importing this module imports neither TensorFlow nor nbformat: the public side (test functions,
public cases, signatures) is read from ``public_tests`` on first use.

Checks get what they look at from a *provider* (:class:`test_utils.Provider`, re-exported here):
``public_tests.FunctionCalls`` calls the student's function in the notebook's process;
:class:`resnets_kit.grader.checks.Rebuilt` rebuilds the models the sandbox reported. See
``docs/architecture.md`` for where each step runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnets_kit import REPO_ROOT

if TYPE_CHECKING:  # pragma: no cover
    from test_utils import Provider  # noqa: F401


@dataclass(frozen=True)
class Exercise:
    """One graded function.

    Attributes:
        name: the function's name, also the ``grade_id`` of its answer cell and the prefix of
            its test cells' ``grade_id``.
        test_name: its test function in ``public_tests`` (``<name>_test``).
        public_cases_name: the ``public_tests`` list of its public cases.
        hidden: its hidden cases: keyword arguments of ``public_tests.block_case`` for a block,
            the build arguments (``input_shape``, ``classes``) for a network.
        network: True for a whole network (built as ``name(input_shape=..., classes=...)``,
            checked on its structure only: layers, shapes, parameter counts); False for a block
            (built on a ``keras.Input``, checked on its structure and its values).
        uses: graded functions this one calls; when it is graded, the reference solution's are
            bound in their place, so a mistake in a block costs only the block's points.
    """

    name: str
    test_name: str
    public_cases_name: str
    hidden: tuple[dict[str, Any], ...]
    network: bool = False
    uses: tuple[str, ...] = field(default=())

    def test(self) -> Callable:
        """The public test function (``public_tests.<name>_test``); imports TensorFlow."""
        import public_tests

        return getattr(public_tests, self.test_name)

    def public_cases(self) -> list[dict]:
        """The public cases: block cases (``public_tests.block_case``) or network configurations."""
        import public_tests

        cases = getattr(public_tests, self.public_cases_name)
        return list(cases) if isinstance(cases, list) else [cases]

    def hidden_cases(self) -> list[dict]:
        """The hidden cases, in the same form as :meth:`public_cases`."""
        if self.network:
            return [dict(case) for case in self.hidden]
        from public_tests import block_case

        return [block_case(**case) for case in self.hidden]

    def cases(self) -> list[dict]:
        """Public then hidden cases: every case the sandbox runs the function on."""
        return self.public_cases() + self.hidden_cases()

    def parameters(self) -> dict[str, Any]:
        """The expected parameters, name to default (``inspect.Parameter.empty``: required)."""
        import public_tests

        return dict(public_tests.SIGNATURES[self.name])

    def build(self, function: Callable, case: dict):
        """What ``function`` returns for one case: the block's ``keras.Model`` from a
        ``keras.Input`` of the case's shape, or the network ``function(input_shape, classes)``.

        Raises:
            Exception: whatever ``function`` raises.
        """
        if self.network:
            return function(input_shape=tuple(case["input_shape"]), classes=case["classes"])
        import public_tests

        return public_tests.build_block(function, case)


#: The graded functions in notebook order. Hidden cases differ from the public ones in every
#: respect a hard-coded or coincidental answer could rely on: other kernel sizes f, filters with
#: F1, F2 and F3 all different, other strides, non-square inputs, and for ResNet50 another input
#: shape and number of classes (96x96 and 10: stages end at 23, 12, 6, 3; then 1x1x2048).
EXERCISES: dict[str, Exercise] = {
    exercise.name: exercise
    for exercise in (
        Exercise(
            "identity_block",
            "identity_block_test",
            "IDENTITY_CASES",
            hidden=(
                {"f": 3, "filters": [3, 5, 2], "training": False, "shape": (2, 5, 6, 2)},
                {"f": 4, "filters": [6, 4, 2], "training": True, "shape": (2, 7, 7, 2)},
                {"f": 1, "filters": [2, 7, 4], "training": True, "initializer": 0.05, "shape": (3, 3, 5, 4)},
            ),
        ),
        Exercise(
            "convolutional_block",
            "convolutional_block_test",
            "CONVOLUTIONAL_CASES",
            hidden=(
                {"f": 3, "filters": [4, 2, 5], "training": False, "s": 3, "shape": (2, 7, 7, 3)},
                {"f": 4, "filters": [3, 6, 7], "training": True, "s": 1, "shape": (2, 5, 6, 2)},
                {
                    "f": 2,
                    "filters": [5, 3, 4],
                    "training": True,
                    "initializer": 0.05,
                    "s": 2,
                    "shape": (2, 9, 5, 3),
                },
            ),
        ),
        Exercise(
            "ResNet50",
            "ResNet50_test",
            "RESNET50_CASE",
            hidden=({"input_shape": [96, 96, 3], "classes": 10},),
            network=True,
            uses=("identity_block", "convolutional_block"),
        ),
    )
}

#: The source notebook: the reference solution, the grade cells and their points (nbgrader metadata).
SOURCE_NOTEBOOK = REPO_ROOT / "notebooks" / "Residual_Networks_solution.ipynb"

#: The graded functions' names, in notebook order.
GRADED_FUNCTIONS: tuple[str, ...] = tuple(EXERCISES)


def exercise(name: str) -> Exercise:
    """The :class:`Exercise` of a graded function.

    Raises:
        KeyError: ``name`` is not a graded function (the message lists them).
    """
    try:
        return EXERCISES[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a graded function; choose from {list(GRADED_FUNCTIONS)}") from None


def exercise_of(grade_id: str) -> str | None:
    """The graded function a cell belongs to: the longest function name that starts its
    ``grade_id`` (``ResNet50_layers_stage_3`` -> ``ResNet50``), or None."""
    names = [name for name in GRADED_FUNCTIONS if str(grade_id).startswith(name)]
    return max(names, key=len) if names else None


def points(path: Path | None = None) -> dict[str, float]:
    """Each graded function's total points: the sum of the points of its grade cells in the
    source notebook (nbgrader's ``points`` metadata, the one place points are declared).

    Args:
        path: the source notebook (default :data:`SOURCE_NOTEBOOK`).

    Raises:
        FileNotFoundError: the notebook is missing.
    """
    import nbformat

    path = SOURCE_NOTEBOOK if path is None else path

    totals = dict.fromkeys(GRADED_FUNCTIONS, 0.0)
    for cell in nbformat.read(path, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        function = exercise_of(meta.get("grade_id", ""))
        if meta.get("grade") and function:
            totals[function] += float(meta.get("points", 0))
    return totals
