"""Read a PyTorch checkpoint into numpy arrays without torch.

Handles both formats ``torch.save`` has written: the legacy stream (torch < 1.6: magic,
protocol, sys info, the pickled object, the storage keys, then each storage as an 8-byte
element count and its raw bytes) and the zip archive (``data.pkl`` plus ``data/<key>``).
Only what a ``state_dict`` of float tensors needs is understood; any other class refuses.
"""

from __future__ import annotations

import collections
import pickle
import struct
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["read_state_dict"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class _StorageType:
    """Stands in for ``torch.FloatStorage`` and friends: only its element type matters."""

    def __init__(self, name: str) -> None:
        self.dtype = _DTYPES[name]


class _Storage:
    """A storage whose bytes are filled in after the object pickle has been read (legacy format)."""

    def __init__(self, dtype: np.dtype[Any], numel: int) -> None:
        self.dtype = dtype
        self.numel = numel
        self.array: np.ndarray | None = None


class _Tensor:
    """A view into a storage, resolved to an array once every storage is read."""

    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage = storage
        self.offset = offset
        self.size = size
        self.stride = stride

    def resolve(self) -> np.ndarray:
        data = self.storage.array
        if data is None:
            raise ValueError("checkpoint storage was never read")
        itemsize = data.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=tuple(s * itemsize for s in self.stride)
        )
        return np.array(view, copy=True)


def _rebuild_tensor_v2(storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...],
                       *_: Any) -> _Tensor:
    return _Tensor(storage, offset, tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    """Maps the few torch names a state_dict pickle uses to the stand-ins above; refuses the rest."""

    def __init__(self, file: IO[bytes], storages: dict[str, _Storage], zip_data: zipfile.ZipFile | None,
                 prefix: str = "") -> None:
        super().__init__(file)
        self._storages = storages
        self._zip = zip_data
        self._prefix = prefix

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"checkpoint refers to {module}.{name}, which is not a plain state_dict")

    def persistent_load(self, pid: Any) -> _Storage:
        kind, storage_type, key, _location, numel = pid[:5]
        if kind != "storage" or not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid[:2]!r}")
        if key not in self._storages:
            storage = _Storage(storage_type.dtype, int(numel))
            if self._zip is not None:
                raw = self._zip.read(f"{self._prefix}data/{key}")
                storage.array = np.frombuffer(raw, dtype=storage.dtype, count=storage.numel)
            self._storages[key] = storage
        return self._storages[key]


def _resolve(obj: Any) -> Any:
    if isinstance(obj, _Tensor):
        return obj.resolve()
    if isinstance(obj, dict):
        return {k: _resolve(v) for k, v in obj.items()}
    return obj


def _read_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if not pickles:
            raise ValueError(f"{path}: a zip without data.pkl is not a torch checkpoint")
        prefix = pickles[0][: -len("data.pkl")]
        with archive.open(pickles[0]) as file:
            return _Unpickler(file, {}, archive, prefix).load()


def _read_legacy(path: Path) -> Any:
    storages: dict[str, _Storage] = {}
    with path.open("rb") as file:
        if pickle.load(file) != _LEGACY_MAGIC:
            raise ValueError(f"{path} is not a torch checkpoint (bad magic number)")
        pickle.load(file)  # protocol version
        pickle.load(file)  # sys info: endianness and type sizes, little-endian assumed
        obj = _Unpickler(file, storages, None).load()
        for key in pickle.load(file):
            storage = storages[key]
            (numel,) = struct.unpack("<q", file.read(8))
            raw = file.read(numel * storage.dtype.itemsize)
            storage.array = np.frombuffer(raw, dtype=storage.dtype, count=numel)
    return obj


def read_state_dict(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a ``torch.save``d state_dict, by name, as numpy arrays."""
    obj = _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    if isinstance(obj, dict) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a state_dict")
    return {str(k): v for k, v in _resolve(obj).items() if isinstance(v, np.ndarray)}
