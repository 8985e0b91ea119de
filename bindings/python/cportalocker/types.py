"""Type aliases of the public API, under the names the reference
``portalocker.types`` gives them (code written against
``portalocker.types.Mode`` & co. imports them from here unchanged).

They only describe values; nothing here runs when a lock is taken.

- `TextMode` / `BinaryMode`: every mode string ``open()`` accepts, split
  by the kind of file object it gives, so that ``Lock(path, 'rb')`` is typed
  ``Lock[IO[bytes]]`` and ``fh.read()`` is ``bytes``.
- `Mode`: both, flat (``typing.get_args(Mode)`` lists the strings
  themselves, so ``mode in typing.get_args(Mode)`` validates a mode).
- `Filename`, `IO`, `FileOpenKwargs`, `HasFileno`, `FileArgument`: the
  argument types of the lock classes and of ``lock()`` / ``unlock()``.
"""

from __future__ import annotations

import io
import pathlib
import typing

# Each literal below lists, per base mode (r, w, a, x), the base alone or
# with 't'/'b' in either order, then every order of base, '+' and 't'/'b'.
# Python 3.11 removed the 'U' modes, so they are not here.

#: A mode that makes ``open()`` return a text file object (``IO[str]``).
TextMode = typing.Literal[
    'r', 'rt', 'tr',
    'w', 'wt', 'tw',
    'a', 'at', 'ta',
    'x', 'xt', 'tx',
    'r+', '+r', 'rt+', 'r+t', '+rt', 'tr+', 't+r', '+tr',
    'w+', '+w', 'wt+', 'w+t', '+wt', 'tw+', 't+w', '+tw',
    'a+', '+a', 'at+', 'a+t', '+at', 'ta+', 't+a', '+ta',
    'x+', '+x', 'xt+', 'x+t', '+xt', 'tx+', 't+x', '+tx',
]

#: A mode that makes ``open()`` return a binary file object (``IO[bytes]``).
BinaryMode = typing.Literal[
    'rb', 'br',
    'wb', 'bw',
    'ab', 'ba',
    'xb', 'bx',
    'rb+', 'r+b', '+rb', 'br+', 'b+r', '+br',
    'wb+', 'w+b', '+wb', 'bw+', 'b+w', '+bw',
    'ab+', 'a+b', '+ab', 'ba+', 'b+a', '+ba',
    'xb+', 'x+b', '+xb', 'bx+', 'b+x', '+bx',
]

#: Any mode ``open()`` accepts: `TextMode` and `BinaryMode` together,
#: written out (a Union of the two Literals would make
#: ``typing.get_args(Mode)`` return the two aliases, not the strings).
Mode = typing.Literal[
    'r', 'rt', 'tr',
    'w', 'wt', 'tw',
    'a', 'at', 'ta',
    'x', 'xt', 'tx',
    'r+', '+r', 'rt+', 'r+t', '+rt', 'tr+', 't+r', '+tr',
    'w+', '+w', 'wt+', 'w+t', '+wt', 'tw+', 't+w', '+tw',
    'a+', '+a', 'at+', 'a+t', '+at', 'ta+', 't+a', '+ta',
    'x+', '+x', 'xt+', 'x+t', '+xt', 'tx+', 't+x', '+tx',
    'rb', 'br',
    'wb', 'bw',
    'ab', 'ba',
    'xb', 'bx',
    'rb+', 'r+b', '+rb', 'br+', 'b+r', '+br',
    'wb+', 'w+b', '+wb', 'bw+', 'b+w', '+bw',
    'ab+', 'a+b', '+ab', 'ba+', 'b+a', '+ba',
    'xb+', 'x+b', '+xb', 'bx+', 'b+x', '+bx',
]

#: A path as the lock classes take it: a str or a pathlib.Path (they also
#: accept bytes and any os.PathLike at run time, as open() does).
Filename = typing.Union[str, pathlib.Path]

#: An open file object, text or binary.
IO = typing.Union[typing.IO[str], typing.IO[bytes]]


class FileOpenKwargs(typing.TypedDict):
    """The keyword arguments of ``open()`` after ``file`` and ``mode``,
    which ``Lock(..., **file_open_kwargs)`` passes on to it."""

    #: 0: unbuffered (binary only), 1: line buffered (text), > 1: buffer size.
    buffering: int | None
    #: Text encoding (text modes only).
    encoding: str | None
    #: How encoding errors are handled ('strict', 'ignore', ...).
    errors: str | None
    #: Newline translation ('', '\n', '\r', '\r\n' or None).
    newline: str | None
    #: Whether closing the file object closes the descriptor.
    closefd: bool | None
    #: ``opener(path, flags) -> fd``, used instead of os.open.
    opener: typing.Callable[[str, int], int] | None


class HasFileno(typing.Protocol):
    """Anything with a ``fileno()`` (file objects, sockets, ...)."""

    def fileno(self) -> int:
        """The descriptor to lock."""
        ...


#: What ``lock()`` / ``unlock()`` take: a file object, anything with a
#: ``fileno()``, or a descriptor number.
FileArgument = typing.Union[typing.IO[typing.Any], io.TextIOWrapper, int, HasFileno]

__all__ = [
    'IO',
    'BinaryMode',
    'FileArgument',
    'FileOpenKwargs',
    'Filename',
    'HasFileno',
    'Mode',
    'TextMode',
]
