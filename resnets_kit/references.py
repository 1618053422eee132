"""Write ``reference_outputs.json`` (what the public tests expect) and
``resnets_kit/grader/hidden_references.json`` (what the hidden tests expect), computed from the
reference solution in the source notebook, on the cases of the exercise registry
(:mod:`resnets_kit.assignment`).

Run ``python -m resnets_kit.references`` after changing the reference solution or the test cases
in ``public_tests.py``; ``python -m resnets_kit.references --check`` exits non-zero when the
committed file is stale (the test suite runs the same comparison).

For each block function and each test case the file holds the per-layer summary of the block
built on a symbolic input (see ``test_utils.layer_summary``), each row labelled with its role in
the block, and the output of the case; for ResNet50 the labelled per-layer summary and the parameter count.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from resnets_kit import REPO_ROOT
from resnets_kit.solution import load_solution

REFERENCE_FILE = REPO_ROOT / "reference_outputs.json"

# Roles of the layers of each block, in model.layers order (Keras orders layers by depth).
IDENTITY_ROLES = [
    ("InputLayer", "input", "block input X"),
    ("Conv2D", "conv1", "main path component 1: CONV2D 1x1 (F1)"),
    ("BatchNormalization", "bn1", "main path component 1: BatchNorm"),
    ("Activation", "relu1", "main path component 1: ReLU"),
    ("Conv2D", "conv2", "main path component 2: CONV2D f x f, 'same' (F2)"),
    ("BatchNormalization", "bn2", "main path component 2: BatchNorm"),
    ("Activation", "relu2", "main path component 2: ReLU"),
    ("Conv2D", "conv3", "main path component 3: CONV2D 1x1 (F3)"),
    ("BatchNormalization", "bn3", "main path component 3: BatchNorm"),
    ("Add", "add", "Add (main path + shortcut)"),
    ("Activation", "out_relu", "final ReLU after the Add"),
]
CONVOLUTIONAL_ROLES = (
    IDENTITY_ROLES[:8]
    + [
        ("Conv2D", "shortcut_conv", "shortcut: CONV2D 1x1, stride s (F3)"),
        ("BatchNormalization", "bn3", "main path component 3: BatchNorm"),
        ("BatchNormalization", "shortcut_bn", "shortcut: BatchNorm"),
    ]
    + IDENTITY_ROLES[9:]
)
STEM_ROLES = [
    ("InputLayer", "input", "input"),
    ("ZeroPadding2D", "stem_pad", "ZeroPadding2D (3, 3)"),
    ("Conv2D", "stem_conv", "CONV2D 7x7, stride 2"),
    ("BatchNormalization", "stem_bn", "BatchNorm"),
    ("Activation", "stem_relu", "ReLU"),
    ("MaxPooling2D", "stem_pool", "MaxPooling2D 3x3, stride 2"),
]
TOP_ROLES = [
    ("AveragePooling2D", "avg_pool", "AveragePooling2D 2x2"),
    ("Flatten", "flatten", "Flatten"),
    ("Dense", "top", "Dense (softmax)"),
]
#: Identity blocks after the convolutional block of stages 2 to 5 (He et al. 2015, Table 1).
STAGES = {2: 2, 3: 3, 4: 5, 5: 2}


def _label(rows: list[dict], roles: list[tuple[str, str, str]], where: str | None = None) -> list[dict]:
    classes = [r["layer"] for r in rows]
    expected = [c for c, _, _ in roles]
    if classes != expected:
        raise RuntimeError(f"the reference layers {classes} do not follow the expected order {expected}")
    labelled = []
    for row, (_, role, label) in zip(rows, roles, strict=True):
        row = dict(row)
        row["role"], row["label"] = role, label
        if where:
            row["where"] = where
        labelled.append(row)
    return labelled


def _resnet_roles() -> list[tuple[str, str, str, str]]:
    roles = [(c, r, lbl, "stage 1") for c, r, lbl in STEM_ROLES]
    for stage, n_identity in STAGES.items():
        roles += [(c, r, lbl, f"stage {stage}, convolutional block") for c, r, lbl in CONVOLUTIONAL_ROLES[1:]]
        for block in range(1, n_identity + 1):
            roles += [
                (c, r, lbl, f"stage {stage}, identity block {block}") for c, r, lbl in IDENTITY_ROLES[1:]
            ]
    roles += [(c, r, lbl, "top") for c, r, lbl in TOP_ROLES]
    return roles


def _round(array) -> list:
    return np.vectorize(lambda x: float(f"{x:.7g}"))(np.asarray(array, dtype=np.float64)).tolist()


def compute_references(
    identity_cases=None, convolutional_cases=None, resnet50_case=None, solution: dict | None = None
) -> dict:
    """Run the reference solution on test cases and return the reference outputs.

    Args:
        identity_cases, convolutional_cases, resnet50_case: the test cases (default: the public
            ones of ``public_tests``).
        solution: the namespace of the reference solution (default: read from the source notebook).

    Returns:
        A JSON-compatible dict with keys ``identity_block``, ``convolutional_block``, ``ResNet50``.
    """
    import public_tests

    solution = solution or load_solution()
    refs: dict = {
        "_about": "Written by `python -m resnets_kit.references` from the reference solution; do not edit."
    }
    for key, cases, roles in (
        ("identity_block", identity_cases or public_tests.IDENTITY_CASES, IDENTITY_ROLES),
        ("convolutional_block", convolutional_cases or public_tests.CONVOLUTIONAL_CASES, CONVOLUTIONAL_ROLES),
    ):
        function = solution[key]
        outputs = []
        for case in cases:
            out = public_tests.run_block(function, case)
            outputs.append(
                {
                    "name": case["name"],
                    "structure": _label(public_tests.block_summary(function, case), roles),
                    "output_shape": list(out.shape),
                    "output": _round(out),
                }
            )
        refs[key] = {"cases": outputs}
    config = resnet50_case or public_tests.RESNET50_CASE
    model = solution["ResNet50"](input_shape=tuple(config["input_shape"]), classes=config["classes"])
    rows = public_tests.layer_summary(model)
    roles = _resnet_roles()
    summary = _label(rows, [(c, r, lbl) for c, r, lbl, _ in roles])
    for row, (_, _, _, where) in zip(summary, roles, strict=True):
        row["where"] = where
    refs["ResNet50"] = {"config": config, "summary": summary, "total_params": int(model.count_params())}
    return refs


def all_references() -> dict[Path, dict]:
    """The public and the hidden reference outputs, by the file each is written to."""
    from resnets_kit.assignment import EXERCISES
    from resnets_kit.grader.hidden import HIDDEN_REFERENCE_FILE

    solution = load_solution()
    return {
        REFERENCE_FILE: compute_references(solution=solution),
        HIDDEN_REFERENCE_FILE: compute_references(
            EXERCISES["identity_block"].hidden_cases(),
            EXERCISES["convolutional_block"].hidden_cases(),
            EXERCISES["ResNet50"].hidden_cases()[0],
            solution=solution,
        ),
    }


def _dump(refs: dict) -> str:
    return json.dumps(refs, indent=1) + "\n"


def differences(committed: dict, fresh: dict, rtol: float = 1e-5, atol: float = 1e-6) -> list[str]:
    """Where a committed reference file differs from freshly computed references.

    Structures and parameter counts must be equal; output values equal within ``rtol``/``atol``
    (they are recomputed on this machine's CPU kernels).
    """
    problems = []
    for key in ("identity_block", "convolutional_block"):
        old_cases = committed.get(key, {}).get("cases", [])
        if [c["name"] for c in old_cases] != [c["name"] for c in fresh[key]["cases"]]:
            problems.append(f"{key}: test cases differ")
            continue
        for old, new in zip(old_cases, fresh[key]["cases"], strict=True):
            if old.get("structure") != new["structure"]:
                problems.append(f"{key}: structure of case {new['name']!r} differs")
            if old["output_shape"] != new["output_shape"] or not np.allclose(
                old["output"], new["output"], rtol=rtol, atol=atol
            ):
                problems.append(f"{key}: output of case {new['name']!r} differs")
    if committed.get("ResNet50") != fresh["ResNet50"]:
        problems.append("ResNet50: summary or parameter count differs")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="only check that the committed files are up to date"
    )
    args = parser.parse_args(argv)
    stale = []
    for path, fresh in all_references().items():
        if args.check:
            if not path.exists():
                stale.append(f"{path} is missing")
                continue
            problems = differences(json.loads(path.read_text()), fresh)
            if problems:
                stale.append(f"{path} is stale: " + "; ".join(problems))
            continue
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(_dump(fresh))
        tmp.replace(path)
        print(f"wrote {path}")
    if stale:
        print("\n".join(stale) + "\nRun `python -m resnets_kit.references`.", file=sys.stderr)
        return 1
    if args.check:
        print("The reference outputs are up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
