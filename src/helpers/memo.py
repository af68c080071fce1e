"""Share analysis results between the notebooks one kernel runs.

The site build runs the language versions of a page one after another in one kernel
(:class:`helpers.site.run.KernelSession`) and sets ``HELPERS_MEMO=1`` in it. The loaders
and analyses decorated with :func:`shared` then remember their results for the life of
the kernel: the zh-CN page gets what the en page computed, without computing it again.
Without the variable (a notebook run by hand, papermill, the tests) nothing is kept and
every call computes.

A result is reused only for a call with equal arguments, compared by content:

- numbers, text, ``None``, dates: by value;
- DataFrames, Series and arrays: by their values, index, columns and dtypes (hashed);
- files and folders named by a text or path argument: by name, and by the size and
  modification time of every file (a file rewritten in between is read again);
- lists, tuples, mappings, sets: item by item;
- functions (lambdas too): by their code and the values they close over;
- objects whose class has a ``__memo_key__(self)`` method: by what it returns (a fitted
  model: its estimates and data, not the lambda its lifetimes fitter holds);
- dataclasses: field by field (a DataFrame's pickle depends on its memory layout);
- other objects: by their pickle, or attribute by attribute when they do not pickle.

An argument that cannot be compared this way (an open file, say) means no reuse for
that call. Results are kept as deep copies and handed out as deep copies, so a
notebook that changes a result in place changes only its own copy. A result that
cannot be copied is not kept. Functions whose effects matter beyond their result
(writing files, displaying output) must not be decorated.

``shared(disk=True)`` (the transaction loader) also keeps results as files in
``build/memo`` under the working folder (``HELPERS_MEMO_DIR`` to put them elsewhere), so
the other kernels of a site build, which run the other pages, read what the first one
loaded instead of validating the same file again. A file's name hashes the call's key, the
source of the whole ``helpers`` package and the versions of Python, numpy, pandas and
pyarrow: a change to any of them reads the input again. The least recently read files are
removed beyond :data:`DISK_BYTES`; a file that cannot be read is a miss.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import hashlib
import os
import pickle
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import Any, TypeVar

#: The environment variable that switches sharing on (``"1"``).
ENV = "HELPERS_MEMO"
#: The environment variable naming the folder of ``shared(disk=True)`` results (default :data:`DISK_DIR`).
DIR_ENV = "HELPERS_MEMO_DIR"
DISK_DIR = os.path.join("build", "memo")
#: Bytes the disk results may take; the least recently used files go first beyond it.
DISK_BYTES = 2 * 2**30

_store: dict[str, Any] = {}
#: hits and misses, for tests and curiosity
stats = {"hits": 0, "misses": 0, "unkeyed": 0, "disk_hits": 0}

F = TypeVar("F", bound=Callable[..., Any])


class _Unkeyable(Exception):
    pass


def enabled() -> bool:
    return os.environ.get(ENV) == "1"


def clear() -> None:
    """Forget every kept result."""
    _store.clear()
    for name in stats:
        stats[name] = 0


def _path_state(path: str) -> tuple | None:
    """(size, mtime) of a file, or of every file under a folder; None when no such path."""
    try:
        if len(path) > 4096 or "\0" in path or "\n" in path:
            return None
        here = os.getcwd()
        full = os.path.abspath(path)
        if full == here or here.startswith(full.rstrip(os.sep) + os.sep):
            return None  # "." (a decimal mark, say) or a parent: not an input file
        if os.path.isfile(path):
            st = os.stat(path)
            return ("file", st.st_size, st.st_mtime_ns)
        if os.path.isdir(path):
            files = []
            for current, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    full = os.path.join(current, name)
                    try:
                        st = os.stat(full)
                    except OSError:
                        continue
                    files.append((os.path.relpath(full, path), st.st_size, st.st_mtime_ns))
            return ("dir", tuple(files))
    except (OSError, ValueError):
        return None
    return None


def _feed(digest, value: Any, depth: int = 0, active: set[int] | None = None) -> None:
    if depth > 40:
        raise _Unkeyable("nested too deep")
    active = set() if active is None else active
    update = digest.update
    if value is None or isinstance(value, (bool, int, float, complex)):
        update(f"{type(value).__name__}:{value!r};".encode())
        return
    if isinstance(value, (str, PurePath)):
        text = os.fspath(value)
        update(f"{type(value).__name__}:{len(text)}:".encode() + text.encode("utf-8", "surrogatepass"))
        state = _path_state(os.path.expanduser(text)) if text.strip() else None
        update(repr(state).encode() + b";")
        return
    if isinstance(value, bytes):
        update(b"bytes:" + hashlib.sha256(value).digest())
        return
    if isinstance(value, (dt.date, dt.datetime, dt.time, dt.timedelta)):
        update(f"{type(value).__name__}:{value.isoformat() if hasattr(value, 'isoformat') else value!r};".encode())
        return
    import numpy as np
    import pandas as pd

    if isinstance(value, (pd.DataFrame, pd.Series)):
        update(f"{type(value).__name__}:{value.shape}:".encode())
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
        update(repr(list(frame.index.names)).encode() + repr(getattr(value, "name", None)).encode())
        update(repr(frame.attrs).encode())
        try:
            # one hash per row, combining its cells in column order (names and dtypes are above)
            update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        except TypeError as err:  # unhashable cells (lists, dicts)
            raise _Unkeyable(str(err)) from None
        return
    if isinstance(value, pd.Index):
        _feed(digest, value.to_series(index=pd.RangeIndex(len(value))), depth + 1, active)
        return
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            _feed(digest, pd.Series(value.ravel()), depth + 1, active)
            update(repr(value.shape).encode())
            return
        update(f"ndarray:{value.dtype.str}:{value.shape}:".encode() + hashlib.sha256(np.ascontiguousarray(value).tobytes()).digest())
        return
    if isinstance(value, (np.generic,)):
        update(f"{type(value).__name__}:{value!r};".encode())
        return
    if isinstance(value, (list, tuple)):
        update(f"{type(value).__name__}:{len(value)}[".encode())
        for item in value:
            _feed(digest, item, depth + 1, active)
        update(b"]")
        return
    if isinstance(value, (set, frozenset)):
        parts = []
        for item in value:
            sub = hashlib.sha256()
            _feed(sub, item, depth + 1, active)
            parts.append(sub.digest())
        update(f"{type(value).__name__}:{len(value)}{{".encode() + b"".join(sorted(parts)) + b"}")
        return
    if isinstance(value, Mapping):
        update(f"{type(value).__name__}:{len(value)}{{".encode())
        for k, v in value.items():
            _feed(digest, k, depth + 1, active)
            _feed(digest, v, depth + 1, active)
        update(b"}")
        return
    if isinstance(value, type):
        update(f"type:{value.__module__}.{value.__qualname__};".encode())
        return
    if isinstance(value, types.FunctionType):
        _feed_function(digest, value, depth, active)
        return
    if isinstance(value, (types.BuiltinFunctionType, types.MethodType)):
        owner = getattr(value, "__self__", None)
        update(f"method:{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}:".encode())
        if owner is not None and not isinstance(owner, types.ModuleType):
            _feed(digest, owner, depth + 1, active)
        return
    hook = getattr(type(value), "__memo_key__", None)
    if hook is not None:  # the class says what makes two of its objects the same
        update(f"keyed:{type(value).__module__}.{type(value).__qualname__}:".encode())
        _feed(digest, hook(value), depth + 1, active)
        return
    if dataclasses.is_dataclass(value):  # field by field: a DataFrame's pickle depends on its memory layout
        _feed_state(digest, value, {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, depth, active)
        return
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as err:  # noqa: BLE001 - anything pickle refuses: its attributes, one by one
        if not _pure_python(type(value)):  # state in C fields too (an open file): not comparable
            raise _Unkeyable(f"{type(value).__name__}: {err}") from None
        state = getattr(value, "__dict__", None)
        if not isinstance(state, dict):
            raise _Unkeyable(f"{type(value).__name__}: {err}") from None
        _feed_state(digest, value, state, depth, active)
        return
    update(f"pickle:{type(value).__module__}.{type(value).__qualname__}:".encode() + hashlib.sha256(data).digest())


def _feed_state(digest, value: Any, state: dict, depth: int, active: set[int]) -> None:
    digest.update(f"object:{type(value).__module__}.{type(value).__qualname__}:".encode())
    if id(value) in active:  # a cycle back to an object being fed
        digest.update(b"cycle;")
        return
    active.add(id(value))
    try:
        _feed(digest, state, depth + 1, active)
    finally:
        active.discard(id(value))


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class defined by a class statement


def _pure_python(cls: type) -> bool:
    """A class whose objects keep all their state in ``__dict__`` (every class in its
    MRO but ``object`` written in Python)."""
    return all(c is object or c.__flags__ & _HEAPTYPE for c in cls.__mro__)


def _feed_function(digest, func: types.FunctionType, depth: int, active: set[int]) -> None:
    """A function (a lambda too) by its code, defaults and the values it closes over."""
    code = func.__code__
    digest.update(f"function:{func.__module__}.{func.__qualname__}:".encode())
    digest.update(code.co_code + repr((code.co_names, code.co_varnames)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            digest.update(const.co_code + repr(const.co_names).encode())
        else:
            _feed(digest, const, depth + 1, active)
    _feed(digest, func.__defaults__, depth + 1, active)
    _feed(digest, func.__kwdefaults__, depth + 1, active)
    for cell in func.__closure__ or ():
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell
            contents = None
        _feed(digest, contents, depth + 1, active)


def call_key(func: Callable, args: tuple, kwargs: Mapping[str, Any], *, by_name: tuple[str, ...] = ()) -> str | None:
    """The key of a call: the function and its arguments (bound to their names, defaults
    filled in) by content; None when an argument cannot be compared by content.
    Arguments named in ``by_name`` count by value only (a cache folder the call itself
    fills: its files are not an input)."""
    import inspect

    digest = hashlib.sha256(f"{func.__module__}.{func.__qualname__}\0".encode())
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            digest.update(name.encode() + b"=")
            if name in by_name and isinstance(value, (str, PurePath)):
                digest.update(b"name:" + os.fspath(value).encode("utf-8", "surrogatepass") + b";")
            else:
                _feed(digest, value)
    except _Unkeyable:
        return None
    except TypeError:  # arguments that do not fit the signature: let the call raise
        return None
    return digest.hexdigest()


def shared(func: F | None = None, *, by_name: tuple[str, ...] = (), disk: bool = False) -> Any:
    """Keep ``func``'s results for calls with equal arguments while ``HELPERS_MEMO=1``
    (see the module docstring). ``@shared`` or ``@shared(by_name=("cache_dir",))``;
    ``disk=True`` keeps them on disk too, for the other kernels of the build."""
    if func is None:
        return lambda f: shared(f, by_name=by_name, disk=disk)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not enabled():
            return func(*args, **kwargs)
        key = call_key(func, args, kwargs, by_name=by_name)
        if key is None:
            stats["unkeyed"] += 1
            return func(*args, **kwargs)
        if key in _store:
            stats["hits"] += 1
            return copy.deepcopy(_store[key])
        path = _disk_path(key) if disk else None
        result = _disk_read(path) if path is not None else _MISSING
        if result is not _MISSING:
            stats["disk_hits"] += 1
        else:
            stats["misses"] += 1
            result = func(*args, **kwargs)
            if path is not None:
                _disk_write(path, result)
        try:
            _store[key] = copy.deepcopy(result)
        except Exception:  # noqa: BLE001 - not copyable: not kept
            pass
        return result

    wrapper.__wrapped_shared__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


# ------------------------------------------------------------------- results on disk

_MISSING = object()


#: Files of the package whose content a result may depend on (templates only shape pages).
_FINGERPRINTED = (".py", ".yaml", ".yml", ".json", ".csv", ".txt")


@functools.lru_cache(maxsize=1)
def package_fingerprint() -> str:
    """The package version and a digest of every ``helpers`` module and data file shipped with
    it (templates are left out): what the site's run cache and the disk results key on."""
    from helpers import __version__

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(f"retail-playbooks {__version__}\n".encode())
    for path in sorted(package.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or "templates" in path.relative_to(package).parts:
            continue
        if path.suffix not in _FINGERPRINTED:
            continue
        content = hashlib.sha256(path.read_bytes()).hexdigest()
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + content.encode() + b"\n")
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """:func:`package_fingerprint` and the versions of the libraries whose objects results
    hold: a disk result is reused only by the code that wrote it."""
    import numpy
    import pandas
    import pyarrow

    versions = repr((sys.version, numpy.__version__, pandas.__version__, pyarrow.__version__))
    return hashlib.sha256(f"{versions}\n{package_fingerprint()}".encode()).hexdigest()


def _disk_path(key: str) -> str:
    folder = os.environ.get(DIR_ENV) or DISK_DIR
    name = hashlib.sha256(f"{key}:{code_version()}".encode()).hexdigest()
    return os.path.join(folder, f"{name}.pickle")


def _disk_read(path: str) -> Any:
    """The result kept at ``path``; _MISSING when there is none or it cannot be read."""
    try:
        with open(path, "rb") as handle:
            result = pickle.load(handle)
        os.utime(path)  # recently used: pruned last
    except Exception:  # noqa: BLE001 - none yet, or a truncated or foreign file: compute again (and rewrite it)
        return _MISSING
    return result


def _disk_write(path: str, result: Any) -> None:
    """Keep ``result`` at ``path`` (whole or not at all: other kernels may be reading), then
    remove the least recently used files beyond :data:`DISK_BYTES`. Best effort: a result
    that does not pickle, or a folder that cannot be written, is just not kept."""
    import tempfile

    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        _prune(folder)
    except Exception:  # noqa: BLE001 - best effort (see the docstring)
        pass


def _prune(folder: str) -> None:
    kept = []
    for entry in os.scandir(folder):
        if entry.name.endswith(".pickle"):
            st = entry.stat()
            kept.append((st.st_mtime_ns, st.st_size, entry.path))
    total = sum(size for _, size, _ in kept)
    for _, size, path in sorted(kept)[:-1]:  # oldest first; the newest (just written) stays
        if total <= DISK_BYTES:
            break
        os.unlink(path)
        total -= size
