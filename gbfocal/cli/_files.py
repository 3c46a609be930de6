"""Output files written all or nothing, and the signals that must not cut them.

Every file a command writes (the tune JSON, a model, predictions, plots) goes through
:func:`write_file`: into a temporary file beside the target (``.NAME.XXXXXXXX.tmp``),
flushed to disk, then renamed over it (without ``--force`` only where no file has the name
yet), so that a failure, Ctrl-C (SIGINT) or SIGTERM leaves either the old file or the
complete new one, and no temporary file. :func:`interrupt_handlers` makes SIGTERM end a
command the way Ctrl-C does (:class:`Terminated`) and keeps the steps that create, register
and rename a temporary file whole. :func:`check_outputs` refuses clashing or existing
outputs before any work. Separate from the commands because this is the one place that
touches the file system's guarantees (links, renames, fsync, permissions).
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from ._messages import CLIError

__all__ = ["Terminated", "check_outputs", "interrupt_handlers", "write_bytes", "write_file"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt.

    A KeyboardInterrupt (the same ``except`` clauses catch it) so that SIGTERM ends a command
    the way Ctrl-C does: ``finally`` blocks remove temporary files and stop worker processes;
    :func:`gbfocal.cli.main` then returns :data:`gbfocal.cli.EXIT_TERMINATED`.
    """


class _Interrupts:
    """The SIGINT / SIGTERM handler of :func:`gbfocal.cli.main`, with sections that a signal
    cannot cut.

    Outside :meth:`held` sections a signal raises at once (KeyboardInterrupt for SIGINT,
    :class:`Terminated` for SIGTERM), after removing the temporary files registered with
    :meth:`track`: a signal that arrives while a ``finally`` block is about to remove one
    would otherwise leave it behind. Inside, it is remembered and raised when the outermost
    section ends: creating a temporary file and registering it, or renaming a finished
    file into place, happen completely or not at all.
    """

    def __init__(self) -> None:
        self._depth = 0
        self._pending: int | None = None
        self._temporaries: set[str] = set()

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self._depth:
            self._pending = self._pending or signum
            return
        self._remove_temporaries()
        raise self._exception(signum)

    @staticmethod
    def _exception(signum: int) -> KeyboardInterrupt:
        if signum == getattr(signal, "SIGTERM", None):
            return Terminated(f"signal {signum} (SIGTERM)")
        return KeyboardInterrupt()

    @contextmanager
    def held(self) -> Iterator[None]:
        """A section that a signal does not interrupt; it raises when the section ends."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth and self._pending is not None:
                signum, self._pending = self._pending, None
                self._remove_temporaries()
                raise self._exception(signum)

    def track(self, path: str) -> None:
        self._temporaries.add(path)

    def forget(self, path: str) -> None:
        self._temporaries.discard(path)

    def _remove_temporaries(self) -> None:
        for path in list(self._temporaries):
            _remove(path)
            self._temporaries.discard(path)


_INTERRUPTS = _Interrupts()


@contextmanager
def interrupt_handlers() -> Iterator[None]:
    """SIGINT and SIGTERM raise (see :class:`_Interrupts`) while the block runs; the
    previous handlers come back after it.

    A signal the parent process ignores (SIG_IGN: ``nohup``, a background job of a
    non-interactive shell) stays ignored. Only the main thread can set handlers: elsewhere
    (``main`` called from a thread) the block runs with the handlers as they are.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    try:
        for name in ("SIGINT", "SIGTERM"):
            signum = getattr(signal, name, None)
            if signum is None or signal.getsignal(signum) is signal.SIG_IGN:
                continue
            previous[signum] = signal.signal(signum, _INTERRUPTS.handle)
        yield
    finally:
        for signum, handler in previous.items():
            # None: a handler set outside Python, which cannot be put back; the default is
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(outputs: Sequence[str | None], inputs: Sequence[str | None], *,
                  force: bool) -> None:
    """Refuse, before any work, outputs that exist (without ``force``) or clash.

    An output is never an input file (not even with ``force``: it would be replaced by
    what was computed from it), nor another output; its folder must exist.

    Parameters
    ----------
    outputs : sequence of str or None
        The files a command will write (None: an output not asked for).
    inputs : sequence of str or None
        The files it reads.
    force : bool
        ``--force``: an existing output may be replaced.

    Raises
    ------
    CLIError
        The first output that may not be written, and why.
    """
    given = [o for o in outputs if o is not None]
    for i, output in enumerate(given):
        for source in inputs:
            if source is not None and _same_file(output, source):
                raise CLIError(f"refusing to write {output}: it is the input file {source}")
        for other in given[:i]:
            if _same_file(output, other):
                raise CLIError(f"{output} is given for two outputs: use two files")
        file = Path(output)
        if file.is_dir():
            raise CLIError(f"cannot write {output}: it is a directory")
        if file.exists() and not force:
            raise CLIError(f"{output} exists: pass --force to overwrite it")
        folder = file.parent
        if not folder.is_dir():
            raise CLIError(f"cannot write {output}: the folder {folder} does not exist")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:  # gone already, or not ours to remove any more
        pass


def _new_file_mode(target: str) -> int:
    """The permission bits the written file gets: an existing target's, else what
    ``open()`` would create (0o666 less the umask); a temporary file starts with 0o600."""
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _sync(path: str) -> None:
    """Flush a file's data to the disk."""
    fd = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: str) -> None:
    """Flush a folder's entries (a rename) to the disk, where folders can be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse it for folders
        pass
    finally:
        os.close(fd)


def _exists_error(path: str) -> CLIError:
    return CLIError(f"{path} exists: pass --force to overwrite it")


def _commit(tmp: str, target: str, shown: str, *, force: bool) -> None:
    """Put the finished file ``tmp`` in the place of ``target`` in one step.

    With ``force`` a rename replaces the old file. Without, a hard link creates the name
    only if nothing has it (a file that appeared after :func:`check_outputs` is kept, with
    no window in between); where the file system has no hard links, an exclusively
    created empty file reserves the name and the rename replaces it.
    """
    if force:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError as exc:
        raise _exists_error(shown) from exc
    except OSError:  # no hard links here (FAT, some network file systems)
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError as exc:
            raise _exists_error(shown) from exc
        try:
            os.replace(tmp, target)
        except BaseException:
            _remove(target)  # the empty file that reserved the name
            raise
    else:
        _remove(tmp)


@contextmanager
def _replacing(path: str, *, force: bool) -> Iterator[str]:
    """Write ``path`` all or nothing: the block writes the file whose name it gets.

    That is a new temporary file beside the target (``.NAME.XXXXXXXX.tmp``, in the same
    folder: the rename stays on one file system). When the block ends normally the file is
    flushed to disk and renamed to ``path`` (:func:`_commit`: without ``force`` an existing
    ``path`` is never replaced); when it raises, or SIGINT / SIGTERM arrive, the temporary
    file is removed and ``path`` stays as it was. A device or pipe (``/dev/null``,
    ``/dev/stdout``) is written in place: there is nothing to replace.
    """
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        yield path
        return
    # a link: the file it points to is replaced, as writing through the link would do
    target = os.path.realpath(path)
    folder, name = os.path.split(target)
    with _INTERRUPTS.held():  # no temporary file without its registration
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        except OSError as exc:
            raise CLIError(
                f"cannot write {path}: no temporary file can be created in {folder} "
                f"({exc.strerror or exc})"
            ) from exc
        os.close(fd)
        _INTERRUPTS.track(tmp)
    try:
        yield tmp
        _sync(tmp)
        os.chmod(tmp, _new_file_mode(target))
        with _INTERRUPTS.held():  # a signal now is raised once the new file is in place
            _commit(tmp, target, path, force=force)
            _INTERRUPTS.forget(tmp)
        _sync_folder(folder)
    finally:
        with _INTERRUPTS.held():
            _remove(tmp)  # after a commit the name is gone (or the target's link): no-op
            _INTERRUPTS.forget(tmp)


def write_file(path: str, write: Callable[[str], None], *, force: bool) -> None:
    """``write(file_name)`` through :func:`_replacing` ``path``: ``write`` fills the file
    it is given, which then replaces ``path`` in one step (all or nothing)."""
    with _replacing(path, force=force) as file_name:
        write(file_name)


def write_bytes(path: str, data: bytes, *, force: bool) -> None:
    """Write ``data`` to ``path`` all or nothing (:func:`write_file`)."""
    def write(file_name: str) -> None:
        with open(file_name, "wb") as handle:
            handle.write(data)

    write_file(path, write, force=force)
