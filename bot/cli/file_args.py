"""Checks on the files named on the command line, made before anything is read or written.

A FIFO or a device named as an input would block or never end; an output path that cannot be
written must be refused before the work it would record is done.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from bot.errors import UserInputError


def regular_file(flag: str, path: str) -> Path:
    """``path`` if it names an existing regular file, else ``UserInputError`` naming ``flag``."""
    file = Path(path)
    try:
        info = file.stat()
    except FileNotFoundError:
        raise UserInputError(f"{flag}: no file at {path}") from None
    except (OSError, ValueError) as exc:
        raise UserInputError(f"{flag}: cannot read {path} ({getattr(exc, 'strerror', None) or 'bad path'})") from None
    if not stat.S_ISREG(info.st_mode):
        raise UserInputError(f"{flag}: {path} is not a regular file")
    return file


def writable_target(flag: str, path: str) -> Path:
    """``path`` if a file can be written there (its directory exists and takes a new file; an
    existing target is a regular file), else ``UserInputError``. Leaves nothing behind."""
    file = Path(path)
    try:
        if file.exists() and not file.is_file():
            raise UserInputError(f"{flag}: {path} is not a regular file")
        directory = file.parent if str(file.parent) else Path(".")
        if not directory.is_dir():
            raise UserInputError(f"{flag}: no directory {directory} to write {file.name} in")
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".delever-probe-"):
            pass
        if file.exists() and not os.access(file, os.W_OK):
            raise UserInputError(f"{flag}: {path} is not writable")
    except OSError as exc:
        raise UserInputError(f"{flag}: cannot write {path} ({exc.strerror or 'refused'})") from None
    except ValueError:
        raise UserInputError(f"{flag}: not a usable path: {path!r}") from None
    return file
