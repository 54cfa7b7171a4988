"""A restricted unpickler for model files: numpy arrays and scipy sparse matrices, nothing else.

Pickles can run arbitrary code when loaded (a ``__reduce__`` naming ``os.system`` is enough), so
painctl never calls ``pickle.load`` on a file it did not write. This unpickler resolves only the
globals that array reconstruction needs; chumpy arrays (older FLAME/SMPL files) are rebuilt as numpy
arrays through a stand-in class, without importing chumpy. Any other global is refused, before
anything it names is called, with a PainctlError naming it.
"""

from __future__ import annotations

import _codecs
import io
import os
import pickle
from typing import Any

import numpy as np

from painctl.errors import PainctlError

#: numpy globals array pickles use (numpy 1.x and 2.x module paths).
_NUMPY_GLOBALS = {
    (module, name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {
    (module, "_frombuffer") for module in ("numpy.core.numeric", "numpy._core.numeric")
} | {("numpy", "ndarray"), ("numpy", "dtype")}

#: scipy.sparse classes, by their public and private module paths across scipy versions.
_SPARSE_NAMES = ("csc_matrix", "csr_matrix", "coo_matrix", "csc_array", "csr_array", "coo_array")
_SPARSE_MODULES = ("scipy.sparse", "scipy.sparse.csc", "scipy.sparse.csr", "scipy.sparse.coo",
                   "scipy.sparse._csc", "scipy.sparse._csr", "scipy.sparse._coo")


_BUILTINS = {"object": object, "set": set, "frozenset": frozenset, "bytearray": bytearray}


class ChumpyArray:
    """Stand-in for chumpy's ``Ch`` and friends: keeps only the array in the pickled state's 'x'."""

    chumpy_class = "chumpy.ch.Ch"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        self.array = None
        if isinstance(state, dict) and "x" in state:
            self.array = np.asarray(state["x"])


def _safe_reconstructor(cls: type, base: type, state: Any) -> Any:
    """``copyreg._reconstructor`` limited to the stand-in and scipy sparse classes on ``object``."""
    if base is not object or not (isinstance(cls, type) and (issubclass(cls, ChumpyArray) or cls in _sparse_classes())):
        raise PainctlError(f"refusing to rebuild {getattr(cls, '__name__', cls)!r} from a pickle")
    return object.__new__(cls)


def _sparse_classes() -> tuple[type, ...]:
    import scipy.sparse

    return tuple(getattr(scipy.sparse, name) for name in _SPARSE_NAMES if hasattr(scipy.sparse, name))


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` admits only array reconstruction (see module docstring)."""

    def __init__(self, file: io.BufferedIOBase, where: str = "pickle") -> None:
        super().__init__(file, encoding="latin1")
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        if module in ("copyreg", "copy_reg") and name == "_reconstructor":
            return _safe_reconstructor
        if module in ("builtins", "__builtin__") and name in _BUILTINS:
            # Plain containers (chumpy's pickled state holds sets); constructing them runs no code.
            return _BUILTINS[name]
        if module == "_codecs" and name == "encode":
            # Python 3 pickles of bytes at protocol 2 rebuild them as encode(str, 'latin1'): no side effects.
            return _codecs.encode
        if module in _SPARSE_MODULES and name in _SPARSE_NAMES:
            import scipy.sparse

            if hasattr(scipy.sparse, name):
                return getattr(scipy.sparse, name)
        if module == "chumpy" or module.startswith("chumpy."):
            return type(name, (ChumpyArray,), {"chumpy_class": f"{module}.{name}"})
        raise PainctlError(f"{self.where}: refusing to load: the pickle asks for {module}.{name}, "
                           "which is not array data (is this file what it claims to be?)")

    def persistent_load(self, pid: Any) -> Any:
        raise PainctlError(f"{self.where}: refusing to load: the pickle uses persistent ids")


def _plain(value: Any, where: str, key: str = "") -> Any:
    """Replace chumpy stand-ins by their numpy arrays, recursively through dicts and lists."""
    if isinstance(value, ChumpyArray):
        if value.array is None:
            raise PainctlError(f"{where}: {key or 'a value'} is a {value.chumpy_class} object without array data")
        return value.array
    if isinstance(value, dict):
        return {k: _plain(v, where, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v, where, key) for v in value)
    return value


def load_pickle(path: str | os.PathLike) -> Any:
    """Load a pickle of arrays safely: numpy arrays, numpy scalars, scipy sparse matrices and plain
    containers; chumpy arrays come back as numpy. Raises PainctlError for anything else or a
    damaged file."""
    where = str(path)
    try:
        with open(path, "rb") as fh:
            value = RestrictedUnpickler(fh, where).load()
    except PainctlError:
        raise
    except FileNotFoundError:
        raise PainctlError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise PainctlError(f"{where}: is a directory, expected a pickle file") from None
    except Exception as exc:  # noqa: BLE001 - any failure inside a damaged pickle is one error
        raise PainctlError(f"{where}: not a readable pickle ({exc.__class__.__name__}: {exc})") from None
    return _plain(value, where)

