"""The project's dependency sets, read from ``pyproject.toml`` (the one place where they are pinned).

Standard library only: ``resnets_kit.bootstrap`` imports this module before anything is installed.

Three sets, each including the one before:

=============  =============================  ==================================================
set            pyproject.toml                 who needs it
=============  =============================  ==================================================
``student``    ``[project] dependencies``     students: TensorFlow, Keras, NumPy, h5py,
                                              matplotlib, Pillow, JupyterLab, nbgrader (Validate)
``instructor`` ``+ [optional] grading``       instructors: the grader's process watcher, Dask,
                                              latex2mathml (feedback math without a network)
``maintainer`` ``+ [optional] dev``           maintainers: pytest (+ xdist), ruff, Playwright, uv
=============  =============================  ==================================================

A requirement is a PEP 508 string pinned with ``==``, with an optional environment marker (the
TensorFlow package differs per platform). ``python -m resnets_kit.dependencies SET`` prints a set,
one requirement a line (a requirements file).

``python -m resnets_kit.dependencies --resolve`` resolves every set for every platform of
:data:`PLATFORMS` and Python of :data:`PYTHONS` against the package index, without installing
anything, with ``uv pip compile --python-platform P --python-version V --only-binary :all:`` (uv,
in the maintainers' set, evaluates the environment markers for the target platform, which
``pip --platform`` does not), and prints a table: ``resolves (N packages)``, or the package
that has no wheel there.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
#: The project's own distribution name, as its optional sets refer to each other.
PROJECT = "resnets-keras"
#: Each set and the optional groups (``[project.optional-dependencies]``) it adds to ``dependencies``.
SETS = {"student": (), "instructor": ("grading",), "maintainer": ("grading", "dev")}

#: Target platforms: name -> uv's ``--python-platform``. Supported: the first four.
PLATFORMS = {
    "Linux x86_64": "x86_64-manylinux_2_28",
    "macOS arm64": "aarch64-apple-darwin",
    "Windows amd64": "x86_64-pc-windows-msvc",
    "Linux aarch64": "aarch64-manylinux_2_28",
}
#: Platforms without TensorFlow 2.21 wheels: they must fail to resolve, naming TensorFlow.
UNSUPPORTED_PLATFORMS = {"macOS x86_64 (Intel)": "x86_64-apple-darwin"}
PYTHONS = ("3.11", "3.12")

_PIN = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<extras>\[[A-Za-z0-9_,.-]+\])?==(?P<version>[A-Za-z0-9.+!-]+)"
)


def _project(pyproject: Path) -> dict:
    import tomllib  # Python 3.11+; imported here so that older Pythons reach bootstrap's version message

    try:
        return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    except FileNotFoundError:
        raise FileNotFoundError(f"{pyproject} is missing: run this from a checkout of the project") from None
    except (tomllib.TOMLDecodeError, KeyError) as error:
        raise ValueError(f"{pyproject} has no readable [project] table: {error}") from None


def requirements(which: str = "student", pyproject: Path = PYPROJECT) -> list[str]:
    """The pinned requirements of one set, in ``pyproject.toml``'s order, without duplicates.

    Args:
        which: ``"student"``, ``"instructor"`` or ``"maintainer"`` (see the module's table).
        pyproject: the ``pyproject.toml`` to read.

    Returns:
        PEP 508 strings such as ``"keras==3.15.1"`` or ``'tensorflow==2.21.0; sys_platform == "darwin"'``;
        the optional groups' references to the project itself (``resnets-keras[grading]``) are
        replaced by the groups they name.

    Raises:
        ValueError: ``which`` names no set; a requirement is not pinned as ``name==version``; a
            group refers to a group that does not exist.
        FileNotFoundError: ``pyproject`` does not exist.
    """
    if which not in SETS:
        raise ValueError(f"no dependency set {which!r}; choose one of {', '.join(SETS)}")
    project = _project(pyproject)
    optional = project.get("optional-dependencies", {})
    result: list[str] = []

    def add(entries: list[str], where: str) -> None:
        for entry in entries:
            spec = entry.split(";", 1)[0].strip()
            if spec.lower().startswith(PROJECT + "["):
                for group in spec[len(PROJECT) + 1 : -1].split(","):
                    if group not in optional:
                        raise ValueError(f"{pyproject}: {where} refers to a missing group {group!r}")
                    add(optional[group], f"optional group {group!r}")
                continue
            if not _PIN.fullmatch(spec):
                raise ValueError(f"{pyproject}: {where}: {entry!r} is not pinned as name==version")
            if entry not in result:
                result.append(entry)

    add(project.get("dependencies", []), "dependencies")
    for group in SETS[which]:
        if group not in optional:
            raise ValueError(f"{pyproject}: [project.optional-dependencies] has no group {group!r}")
        add(optional[group], f"optional group {group!r}")
    return result


def pin(requirement: str) -> tuple[str, str, str]:
    """``(name, version, marker)`` of one pinned requirement; ``marker`` is ``""`` when there is none.

    Raises:
        ValueError: the requirement is not pinned as ``name==version``.
    """
    spec, _, marker = requirement.partition(";")
    match = _PIN.fullmatch(spec.strip())
    if not match:
        raise ValueError(f"{requirement!r} is not pinned as name==version")
    return match.group("name").lower(), match.group("version"), marker.strip()


def gpu_requirements(entries: list[str]) -> list[str]:
    """The same requirements with TensorFlow's CUDA build: every ``tensorflow`` / ``tensorflow-cpu``
    entry becomes one ``tensorflow[and-cuda]==VERSION`` (for Linux with an NVIDIA GPU).

    Raises:
        ValueError: the entries hold no TensorFlow requirement, or two different versions of it.
    """
    versions = {pin(e)[1] for e in entries if pin(e)[0] in ("tensorflow", "tensorflow-cpu")}
    if len(versions) != 1:
        raise ValueError(f"expected one pinned TensorFlow version, found {sorted(versions) or 'none'}")
    rest = [e for e in entries if pin(e)[0] not in ("tensorflow", "tensorflow-cpu")]
    return [f"tensorflow[and-cuda]=={versions.pop()}", *rest]


def requirements_file(which: str = "student", pyproject: Path = PYPROJECT) -> str:
    """The text of a requirements file for one set, with a header saying where it comes from."""
    header = (
        f"# The {which}s' dependencies of {PROJECT}, written from its pyproject.toml "
        "(python -m resnets_kit.dependencies).\n"
        "# Install them with: python -m pip install -r requirements.txt   (Python 3.11 or 3.12)\n"
    )
    return header + "".join(entry + "\n" for entry in requirements(which, pyproject))


class IndexUnreachable(RuntimeError):
    """The package index could not be reached (offline, or behind a proxy)."""


_NETWORK_ERRORS = ("error sending request", "dns error", "failed to fetch", "connection", "timed out")


def resolve(
    which: str, platform: str, python: str, uv: str = "uv", offline: bool = False
) -> tuple[bool, str]:
    """Resolve one set for one platform and Python against the package index, installing nothing.

    Args:
        which: the set (:data:`SETS`).
        platform: uv's ``--python-platform`` (a value of :data:`PLATFORMS`).
        python: ``"3.11"`` or ``"3.12"``.
        uv: the uv executable.
        offline: use only uv's cache (what an earlier resolution fetched); a package missing
            from it is reported as a failure that mentions the offline mode.

    Returns:
        ``(True, "N packages")`` when every requirement, with its dependencies, has a wheel there;
        ``(False, reason)`` otherwise, the reason being uv's explanation (it names the package
        and the platform tag that has no wheel).

    Raises:
        IndexUnreachable: uv could not reach the package index.
        FileNotFoundError: uv is not installed (it is in the maintainers' set).
    """
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "requirements.in"
        listing.write_text("\n".join(requirements(which)) + "\n")
        result = subprocess.run(
            [uv, "pip", "compile", str(listing), "--python-platform", platform, "--python-version", python,
             "--only-binary", ":all:", "--no-header", "--no-annotate", "--quiet", "--color", "never",
             *(["--offline"] if offline else [])],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    if result.returncode == 0:
        count = sum(1 for line in result.stdout.splitlines() if "==" in line and not line.startswith("#"))
        return True, f"{count} packages"
    text = result.stderr.strip()
    if any(marker in text.lower() for marker in _NETWORK_ERRORS) and "no solution found" not in text.lower():
        raise IndexUnreachable(text)
    return False, text


def resolve_all(uv: str = "uv", workers: int = 8) -> dict[tuple[str, str, str], tuple[bool, str]]:
    """:func:`resolve` for every set, platform (supported and not) and Python, ``workers`` at a time.

    The maintainers' set (which holds the others) is resolved first against the index; the other
    sets then resolve from uv's cache, and again against the index if the cache lacks something.

    Returns:
        ``{(set, platform name, python): (resolves, packages or reason)}``, in table order.

    Raises:
        IndexUnreachable, FileNotFoundError: as :func:`resolve`.
    """
    from concurrent.futures import ThreadPoolExecutor

    targets = {**PLATFORMS, **UNSUPPORTED_PLATFORMS}
    keys = [(which, name, python) for name in targets for which in SETS for python in PYTHONS]
    widest = list(SETS)[-1]

    def run(key: tuple[str, str, str]) -> tuple[bool, str]:
        which, name, python = key
        if which != widest:
            ok, text = resolve(which, targets[name], python, uv, offline=True)
            if ok or "offline" not in text.lower():
                return ok, text
        return resolve(which, targets[name], python, uv)

    results: dict[tuple[str, str, str], tuple[bool, str]] = {}
    with ThreadPoolExecutor(workers) as pool:
        first = [key for key in keys if key[0] == widest]
        results.update(zip(first, pool.map(run, first), strict=True))
        rest = [key for key in keys if key[0] != widest]
        results.update(zip(rest, pool.map(run, rest), strict=True))
    return {key: results[key] for key in keys}


def failure_cause(text: str) -> str:
    """The sentence of uv's explanation that names the package without a wheel (one line)."""
    cause = next((line for line in text.splitlines() if "Because" in line), text)
    return " ".join(cause.replace("cause:", "").split())


def resolution_table(uv: str = "uv") -> str:
    """A markdown table: each set x platform x Python, resolves or why not (see :func:`resolve_all`)."""
    rows = ["| set | platform | Python | result |", "|---|---|---|---|"]
    for (which, name, python), (ok, text) in resolve_all(uv).items():
        result = f"resolves, {text}" if ok else f"fails: {failure_cause(text)[:160]}"
        rows.append(f"| {which} | {name} | {python} | {result} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m resnets_kit.dependencies", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("set", nargs="?", default="student", choices=list(SETS))
    parser.add_argument("--gpu", action="store_true", help="TensorFlow's CUDA build (Linux, NVIDIA GPU)")
    parser.add_argument(
        "--resolve", action="store_true", help="resolve every set for every platform (uv), print a table"
    )
    args = parser.parse_args(argv)
    if args.resolve:
        print(resolution_table(str(Path(sys.executable).parent / "uv")))
        return 0
    entries = requirements(args.set)
    print("\n".join(gpu_requirements(entries) if args.gpu else entries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
