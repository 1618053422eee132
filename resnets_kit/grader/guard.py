"""The guard against changed files, where the sandbox cannot have namespaces of its own.

Files the grading relies on are snapshotted before the sandbox starts; whatever it changed,
deleted or added there is undone afterwards and reported (the verdict ``tampered``).
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from resnets_kit import REPO_ROOT
from resnets_kit.solution import SOURCE_NOTEBOOK


class FileGuard:
    """Snapshot of files the grading relies on; :meth:`restore` undoes any change to them.

    Args:
        files: files whose bytes are kept (changed or deleted ones are written back).
        folders: folders (not recursive) where a new file is removed, given with the file-name
            patterns watched there.
    """

    def __init__(self, files: list[Path], folders: list[tuple[Path, tuple[str, ...]]]):
        self.saved = {path: path.read_bytes() for path in files if path.is_file()}
        self.folders = folders
        self.listing = {folder: self._names(folder, patterns) for folder, patterns in folders}

    @staticmethod
    def _names(folder: Path, patterns: tuple[str, ...]) -> set[str]:
        if not folder.is_dir():
            return set()
        return {p.name for pattern in patterns for p in folder.glob(pattern)}

    def restore(self) -> list[str]:
        """Write back changed or deleted files and remove new ones; return what was undone."""
        undone = []
        for path, data in self.saved.items():
            try:
                same = path.read_bytes() == data
            except OSError:
                same = False
            if not same:
                with contextlib.suppress(OSError):
                    if path.is_symlink() or path.is_dir():
                        shutil.rmtree(path) if path.is_dir() else path.unlink()
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                undone.append(f"restored {path}")
        for folder, patterns in self.folders:
            for name in sorted(self._names(folder, patterns) - self.listing[folder]):
                with contextlib.suppress(OSError):
                    (folder / name).unlink()
                undone.append(f"removed {folder / name}")
        return undone


def guard_for(course_root: Path | None = None) -> FileGuard:
    """The :class:`FileGuard` of the project's grading files, the interpreter's site folders
    and, given a course root, its configuration, source folder and gradebook."""
    import site
    import sysconfig

    package = REPO_ROOT / "resnets_kit"
    files = [
        *REPO_ROOT.glob("*.py"),
        *REPO_ROOT.glob("*.json"),
        *package.rglob("*.py"),
        *package.rglob("*.json"),
    ]
    files.append(SOURCE_NOTEBOOK)
    site_dirs = {Path(sysconfig.get_paths()["purelib"]), Path(sysconfig.get_paths()["platlib"])}
    with contextlib.suppress(AttributeError):
        site_dirs.update(Path(p) for p in site.getsitepackages())
    folders = [(d, ("*.pth", "*customize.py")) for d in sorted(site_dirs)]
    for d in site_dirs:
        files += [*d.glob("*.pth"), *d.glob("*customize.py")]
    if course_root is not None:
        files += [*course_root.glob("*.py"), *course_root.glob("*.db")]
        source = course_root / "source"
        if source.is_dir():
            files += [p for p in source.rglob("*") if p.is_file() and p.suffix in {".py", ".ipynb", ".json"}]
    return FileGuard([p for p in files if p.is_file()], folders)
