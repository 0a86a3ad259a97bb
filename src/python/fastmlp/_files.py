"""Writing a file so that its path holds either the old file or the whole
new one, never a part: model saves and checkpoints go through here."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import BinaryIO


def _temporary_file(path: str) -> tuple[str, BinaryIO]:
    """(name, binary file) of a new file beside `path`, created with the usual
    permissions (not mkstemp's 0600), so the renamed result gets them too."""
    folder, base = os.path.split(path)
    for _ in range(100):
        name = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        return name, os.fdopen(fd, "wb")
    raise FileExistsError(f"could not create a temporary file beside {path}")


def _fsync_folder(folder: str) -> None:
    """Make the rename durable (POSIX); best effort elsewhere."""
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str) -> Iterator[BinaryIO]:
    """Yields a binary file that replaces `path` when the block ends cleanly
    (flushed, fsynced, renamed). On any error, Ctrl-C included, the temporary
    file is removed and `path` is left as it was."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    temp_name, handle = _temporary_file(path)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _fsync_folder(os.path.dirname(path))
