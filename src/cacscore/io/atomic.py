"""Atomic output: write beside the target under a hidden name, then rename over it.

A reader never sees a half-written file or folder, and an interrupted run leaves nothing visible behind.
Hidden names carry the writing process's id (``.<name>.tmp-<pid>-...``, ``.<name>.partial-<pid>``,
``.<name>.old-<pid>``) so that the next run can tell what a killed process left (:func:`stale_siblings`)
from what a running one is writing.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: Linux renameat2(2) flag that swaps two paths in one step, and the "current directory" descriptor.
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100

#: Hidden names this module and the case-folder writer give their temporaries: .<name>.<kind>-<pid>...
_STAGING = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|partial|old)-(?P<pid>\d+)(?:-.*)?$")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it to ``path``, else delete it.

    The temporary name keeps the target's full suffix (``.nii.gz``, ``.mhd``) so that writers that choose
    the format from the name still work. Temporaries of this target left by killed processes are removed.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in stale_siblings(target.parent, target.stem, kinds=("tmp",)):
        stale.unlink(missing_ok=True)
    suffix = "".join(target.suffixes) or ".tmp"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.tmp-{os.getpid()}-", suffix=suffix,
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp creates the file 0600; give the output the permissions a plain open() would (0666 & ~umask)
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def staging_name(name: str, kind: str) -> str:
    """The hidden sibling name under which this process writes (``kind`` "partial") or parks ("old")
    the folder ``name``."""
    return f".{name}.{kind}-{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """True when a process with this id runs (this one included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def stale_siblings(folder: Path, name: str, kinds: tuple[str, ...] = ("tmp", "partial", "old")) -> list[Path]:
    """Hidden temporaries of ``name`` in ``folder`` whose writing process is gone (killed mid-write)."""
    found = []
    for entry in folder.glob(f".{glob.escape(name)}.*-*"):
        match = _STAGING.match(entry.name)
        if match and match["name"] == name and match["kind"] in kinds and not pid_alive(int(match["pid"])):
            found.append(entry)
    return sorted(found)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where that is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(a))


def replace_folder(new: Path, target: Path) -> None:
    """Move the folder ``new`` to ``target`` so that ``target`` always shows the old or the new content.

    An existing ``target`` is swapped with ``new`` in one step (Linux) and then removed. Where the system
    cannot swap, the old folder is parked as ``.<name>.old-<pid>`` first; a run killed between the two
    renames leaves it there, and :func:`recover_folder` puts it back.
    """
    if not target.exists():
        os.replace(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old content
        return
    old = target.parent / staging_name(target.name, "old")
    os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def recover_folder(target: Path) -> None:
    """Clean what killed runs left of the folder ``target``: a parked old version comes back when the
    target is missing (a kill between the two renames of :func:`replace_folder`), the rest is removed."""
    for stale in stale_siblings(target.parent, target.name, kinds=("old", "partial")):
        if stale.name.startswith(f".{target.name}.old-") and not target.exists():
            os.replace(stale, target)
        else:
            shutil.rmtree(stale, ignore_errors=True)


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
