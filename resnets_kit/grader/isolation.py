"""The grading sandbox's confinement: bubblewrap, an unprivileged user, a file system of its own.

Student code runs under `bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``, the
Debian package ``bubblewrap``, as Flatpak uses it) in new mount, PID, network, IPC and UTS
namespaces. Its file system holds only:

- the system's programs and libraries (``/usr``, ``/bin``, ``/lib``...) and the Python runtime
  with its packages, read-only;
- the few project files the sandbox imports (:data:`SANDBOX_FILES`: the setup cell's modules,
  the public tests and their reference outputs, the sandbox harness), read-only under
  :data:`GRADER_MOUNT`;
- its scratch folder (writable, :data:`SCRATCH_MOUNT`), a private ``/tmp`` (tmpfs of
  :data:`TMP_SIZE` bytes), a minimal ``/dev``, its own ``/proc``, and an ``/etc`` with nothing
  but ``passwd``, ``group`` and the dynamic linker's cache.

The course folder, the project's notebooks, reference solution and hidden references, home
folders, the rest of ``/root`` and ``/etc``, and other students' files are absent, not just
read-only; the grader's processes are invisible; there is no network. When the grader runs as
root, the code runs as a fresh unprivileged user (:func:`sandbox_uid`, a random id that owns no
file) with no capabilities and ``no_new_privs`` (``setpriv``); otherwise bubblewrap runs
unprivileged in a user namespace, as the grader's user.

Where bubblewrap is missing or cannot start, grading stops with a :class:`GradingError` that says
how to install it, unless the instructor chooses another mode with the environment setting
:data:`SETTING`:

- ``user`` (a grader run as root only): the code runs as a fresh unprivileged user (the same
  ``setpriv`` drop, no capabilities, ``no_new_privs``, the same limits) but without namespaces: it
  sees every file of the machine that any user may read, the machine's processes (not their
  environments) and its network. For single-purpose grading containers in which bubblewrap cannot
  start (Docker's default seccomp profile refuses the namespaces it needs), such as Gradescope's
  and PrairieLearn's: the grader there makes its own files readable by root only
  (:mod:`resnets_kit.export`), and the container holds nothing else of value.
- ``auto``: ``bwrap`` where it starts, else ``user`` where the grader is root.
- ``off``: no confinement at all (the sandbox runs as the grader's user, and the file guard
  restores the grading files it changed).

See ``docs/instructors.md`` (the sandbox).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

from resnets_kit import REPO_ROOT
from resnets_kit.grader.outcomes import GradingError

#: The environment setting that chooses the sandbox's confinement: ``bwrap`` (the default),
#: ``user`` (an unprivileged user without namespaces, for grading containers), ``auto`` (``bwrap``
#: where it starts, else ``user``) or ``off`` (no confinement: the instructor's opt-in to the
#: weaker mode).
SETTING = "RESNETS_SANDBOX_ISOLATION"
#: The values :data:`SETTING` accepts.
MODES = ("bwrap", "user", "auto", "off")
#: Where the scratch folder is mounted inside the sandbox (its only writable folder but /tmp).
SCRATCH_MOUNT = "/sandbox"
#: Where :data:`SANDBOX_FILES` are mounted inside the sandbox.
GRADER_MOUNT = "/grader"
#: Size of the sandbox's private ``/tmp`` (bytes).
TMP_SIZE = 256 * 2**20
#: The project files the sandbox needs, relative to the project's root: the package's entry
#: points it imports, the setup cell's modules and the public reference outputs. Nothing else
#: of the project (notebooks, reference solution, hidden references, course) is mounted.
SANDBOX_FILES = (
    "resnets_kit/__init__.py",
    "resnets_kit/assignment.py",
    "resnets_kit/grader/__init__.py",
    "resnets_kit/grader/sandbox.py",
    "public_tests.py",
    "test_utils.py",
    "resnets_utils.py",
    "reference_outputs.json",
)
#: Folders of the system bound read-only when they exist (symbolic links are recreated as such).
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: Files of ``/etc`` bound read-only when they exist: the dynamic linker's cache and configuration.
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf")
#: Sandbox user ids are drawn from here: above any id a system or LDAP directory hands out.
UID_RANGE = (2**24, 2**31 - 2)


def _python_paths() -> list[Path]:
    """Folders of the running Python (its prefix, base prefix and package folders), outermost
    only, without those under :data:`SYSTEM_DIRS` (bound anyway)."""
    candidates = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    candidates |= {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    candidates.add(str(Path(sys.executable).parent))
    resolved = set()
    for candidate in candidates:
        for path in (Path(candidate), Path(os.path.realpath(candidate))):
            if path.is_dir():
                resolved.add(path)
    system = [Path(d) for d in SYSTEM_DIRS]
    keep = [
        p
        for p in resolved
        if not any(p != q and p.is_relative_to(q) for q in resolved)
        and not any(p.is_relative_to(s) for s in system if not s.is_symlink())
    ]
    return sorted(keep)


def _dirs_to(paths, keep=()) -> list[str]:
    """``--perms 0755 --dir`` arguments for every ancestor folder of ``paths`` (root and the
    folders in ``keep``, mounted already, excluded), outermost first: bubblewrap run as root would
    otherwise create them readable by root only."""
    ancestors = sorted(
        {str(a) for p in paths for a in Path(p).parents if str(a) != "/" and str(a) not in keep},
        key=lambda a: (a.count("/"), a),
    )
    return [arg for a in ancestors for arg in ("--perms", "0755", "--dir", a)]


def sandbox_uid() -> int:
    """A random user id that no account and no running process uses (for a grader run as root)."""
    import psutil

    used = {p.info["uids"].real for p in psutil.process_iter(["uids"]) if p.info.get("uids")}
    while True:
        uid = secrets.randbelow(UID_RANGE[1] - UID_RANGE[0]) + UID_RANGE[0]
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if uid not in used:
                return uid


def etc_files(folder: Path, uid: int) -> dict[str, Path]:
    """Write the sandbox's ``/etc/passwd`` and ``/etc/group`` (root and the sandbox user only)
    into ``folder``; return their paths inside the sandbox to their paths here."""
    folder.mkdir(parents=True, exist_ok=True)
    passwd = folder / "passwd"
    passwd.write_text(
        "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
        f"sandbox:x:{uid}:{uid}:grading sandbox:{SCRATCH_MOUNT}:/usr/sbin/nologin\n"
    )
    group = folder / "group"
    group.write_text(f"root:x:0:\nsandbox:x:{uid}:\n")
    for path in (folder, passwd, group):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return {"/etc/passwd": passwd, "/etc/group": group}


@dataclass(frozen=True)
class Confinement:
    """How this grader confines its sandboxes: ``bwrap`` (the program's path; None in the ``user``
    mode: no namespaces) and ``as_root`` (the grader is root: drop to a fresh user with
    ``setpriv``; else a user namespace)."""

    bwrap: str | None
    setpriv: str | None
    as_root: bool

    @property
    def namespaces(self) -> bool:
        """Whether the sandbox has a file system of its own (bubblewrap), with the grading files
        mounted at :data:`GRADER_MOUNT` and its scratch folder at :data:`SCRATCH_MOUNT`."""
        return self.bwrap is not None

    def describe(self) -> str:
        """One line for logs: the mode and what it isolates."""
        if self.namespaces:
            who = "a fresh unprivileged user" if self.as_root else "the grader's user in a user namespace"
            return f"bwrap: a file system, processes and network of its own, as {who}"
        return "user: a fresh unprivileged user without namespaces (the machine's readable files and network)"


def setpriv_command(command: list[str], setpriv: str, uid: int) -> list[str]:
    """``command`` run as the fresh user ``uid`` with no groups, no capabilities and
    ``no_new_privs`` (util-linux ``setpriv``; the grader must be root)."""
    return [
        setpriv,
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
        *command,
    ]


def bwrap_command(
    command: list[str], scratch: Path, etc: dict[str, Path], how: Confinement, uid: int | None
) -> list[str]:
    """``command`` wrapped to run confined (see the module's docstring), in ``SCRATCH_MOUNT``.

    Args:
        command: the program and its arguments, as seen inside the sandbox.
        scratch: the folder mounted writable at :data:`SCRATCH_MOUNT`.
        etc: files of ``/etc`` inside the sandbox to the files here that provide them.
        how: the :class:`Confinement`.
        uid: the sandbox user (``how.as_root`` only).
    """
    binds: list[tuple[str, str, str]] = []  # (option, source, destination)
    for name in SYSTEM_DIRS:
        path = Path(name)
        if path.is_symlink():
            binds.append(("--symlink", os.readlink(path), name))
        elif path.is_dir():
            binds.append(("--ro-bind", name, name))
    for path in _python_paths():
        binds.append(("--ro-bind", str(path), str(path)))
    for rel in SANDBOX_FILES:
        binds.append(("--ro-bind", str(REPO_ROOT / rel), f"{GRADER_MOUNT}/{rel}"))
    for name in ETC_FILES:
        if Path(name).exists():
            binds.append(("--ro-bind", name, name))
    for inside, outside in etc.items():
        binds.append(("--ro-bind", str(outside), inside))
    args = [
        how.bwrap,
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "sandbox",
    ]
    if not how.as_root:
        args += ["--unshare-user", "--cap-drop", "ALL"]
    # The sandbox's own /tmp, /proc and /dev first: a bind below one of them (a project checked
    # out under /tmp, say) then lands on top of it instead of being hidden by it.
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "1777", "--size", str(TMP_SIZE), "--tmpfs", "/tmp"]
    destinations = [d for _, _, d in binds] + [SCRATCH_MOUNT]
    args += _dirs_to(destinations, keep=("/tmp", "/proc", "/dev"))
    for option, source, destination in binds:
        args += [option, source, destination]
    args += ["--bind", str(scratch), SCRATCH_MOUNT, "--chdir", SCRATCH_MOUNT]
    if how.as_root:
        return [*args, "--", *setpriv_command(command, how.setpriv or "setpriv", uid)]
    return [*args, "--", *command]


def grader_copy(folder: Path) -> Path:
    """Copy :data:`SANDBOX_FILES` into ``folder`` (readable by all, writable by the grader only)
    for a sandbox without namespaces, which imports them from there; return ``folder``."""
    for rel in SANDBOX_FILES:
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / rel, target)
        target.chmod(0o644)
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    return folder


_STATE: dict[str, object] = {}


def _probe(how: Confinement) -> str | None:
    """Start a confined Python that checks its user and file system; None if it works, else why."""
    with tempfile.TemporaryDirectory(prefix="resnets-probe-") as tmp:
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        uid = sandbox_uid() if how.as_root else None
        if uid is not None:
            os.chown(scratch, uid, uid)
        os.chmod(tmp, 0o755)
        if how.namespaces:
            probe = (
                "import os, sys\n"
                f"assert os.path.isdir({GRADER_MOUNT!r}), 'no grader files'\n"
                f"open({SCRATCH_MOUNT!r} + '/ok', 'w').write(str(os.getuid()))\n"
            )
            etc = etc_files(Path(tmp) / "etc", uid if uid is not None else os.getuid())
            command = bwrap_command([sys.executable, "-I", "-c", probe], scratch, etc, how, uid)
        else:  # the grader's Python, as another user: its standard library too, not a stand-in
            probe = (
                "import os\n"
                f"open({str(scratch / 'stdlib')!r}, 'w').write(os.path.dirname(os.__file__))\n"
                f"open({str(scratch / 'ok')!r}, 'w').write(str(os.getuid()))\n"
            )
            command = setpriv_command([sys.executable, "-I", "-c", probe], how.setpriv or "setpriv", uid)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as err:
            return f"{type(err).__name__}: {err}"
        ok = scratch / "ok"
        if done.returncode != 0 or not ok.exists():
            return (done.stderr or done.stdout or f"exit status {done.returncode}").strip()[-500:]
        if how.as_root and ok.read_text() == "0":
            return "the sandbox ran as root"
        stdlib = os.path.dirname(os.__file__)
        if not how.namespaces and (scratch / "stdlib").read_text() != stdlib:
            return (
                f"an unprivileged user cannot read this Python's standard library ({stdlib}; it found "
                f"{(scratch / 'stdlib').read_text()} instead): run the grader with a Python installed where "
                "every user can read it (the exported packages' setup installs one)"
            )
    return None


def confinement() -> Confinement | None:
    """How sandboxes are confined here, checked once per process (a confined Python is started).

    Returns:
        A :class:`Confinement`, or None where the instructor chose the weaker mode
        (``RESNETS_SANDBOX_ISOLATION=off``).

    Raises:
        GradingError: the chosen mode cannot start a sandbox here (bubblewrap missing or refused;
            ``user`` without root or ``setpriv``), or the setting is not one of :data:`MODES`
            (the message names the cause and the ways on).
    """
    mode = os.environ.get(SETTING, "bwrap").strip().lower() or "bwrap"
    if mode == "off":
        return None
    if mode not in MODES:
        raise GradingError(f"{SETTING}={mode!r} is not a confinement mode: use one of {', '.join(MODES)}.")
    if mode not in _STATE:
        as_root = os.geteuid() == 0
        setpriv = shutil.which("setpriv")
        how, why = None, None
        if mode in ("bwrap", "auto"):
            bwrap = shutil.which("bwrap")
            if bwrap is None:
                why = "bubblewrap (the `bwrap` program) is not installed"
            elif as_root and setpriv is None:
                why = "`setpriv` (util-linux) is not installed"
            else:
                how = Confinement(bwrap, setpriv, as_root)
                why = _probe(how)
        if mode == "user" or (mode == "auto" and why is not None):
            how, before = None, (why + "; " if why else "")
            if not as_root:
                why = before + f"{SETTING}=user needs a grader run as root"
            elif setpriv is None:
                why = before + "`setpriv` (util-linux) is not installed"
            else:
                how = Confinement(None, setpriv, True)
                why = _probe(how)
        _STATE[mode] = (how if why is None else None, why)
    how, why = _STATE[mode]
    if how is None:
        raise GradingError(
            f"the grading sandbox cannot be confined: {why}. Student code would see this "
            "machine's files (the course, the gradebook, other students' work). Install bubblewrap "
            "(Debian/Ubuntu: `sudo apt-get install bubblewrap`; it needs root or unprivileged user "
            f"namespaces); in a grading container run as root, {SETTING}=user; or accept the weaker "
            f"mode knowingly with {SETTING}=off."
        )
    return how


def isolation_available() -> bool:
    """Whether sandboxes run confined here (bubblewrap works and the setting is not ``off``)."""
    try:
        return confinement() is not None
    except GradingError:
        return False


def confine(command: list[str], scratch: Path, etc_folder: Path) -> tuple[list[str], int | None]:
    """``command`` wrapped to run confined with ``scratch`` as its writable folder; the scratch
    folder is handed to the sandbox user (mode 700: no other sandbox reads it). Returns the command
    and that user's id (None: the grader's own, in a user namespace).

    Raises:
        GradingError: as :func:`confinement`, or where the setting is ``off`` (nothing to confine).
    """
    how = confinement()
    if how is None:
        raise GradingError(f"{SETTING}=off: the sandbox is not confined")
    uid = sandbox_uid() if how.as_root else None
    if uid is not None:
        for path in [scratch, *scratch.rglob("*")]:
            os.chown(path, uid, uid, follow_symlinks=False)
        scratch.chmod(0o700)
    if not how.namespaces:
        return setpriv_command(command, how.setpriv or "setpriv", uid), uid
    etc = etc_files(etc_folder, uid if uid is not None else os.getuid())
    return bwrap_command(command, scratch, etc, how, uid), uid
