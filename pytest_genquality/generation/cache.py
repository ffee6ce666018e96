"""Model fingerprints and the on-disk caches of ``--gen-cache``: generated images and their features.

An unchanged model's rerun then skips both generation (images keyed by the model's
fingerprint, seeds, prompts and kwargs) and feature extraction (features keyed by the images'
content hash and the extractor's id, which names its weights and preprocessing).

Why fingerprint the *weights*: a cache keyed by a model's name or path would happily serve
yesterday's images after a fine-tuning step changed one tensor. The fingerprint is a sha256
over the bytes of every parameter and buffer (read from a CPU copy), plus everything else that
changes the output of a pipeline: scheduler config, tokenizer vocabulary, pipeline class and
diffusers version. Any changed parameter is therefore a cache miss.

What a callable's fingerprint covers (the limits, also in the README): its module, qualified
name and code object (bytecode, constants, names, nested functions), default arguments,
closure variables, the attributes of a callable object or bound method's ``self`` (three
levels deep), the module globals its code names, and, recursively, functions of the *same
module* that it calls. Every ``nn.Module``, tensor, array or pipeline reached that way is
hashed by content. Code in other modules (library upgrades), files read at call time and
global state not named in the code are *not* covered: clear the cache directory after
changing them.

No memo by ``id(tensor)`` + ``tensor._version`` is kept between calls, on purpose: in-place
edits through ``param.data`` (``ema.data.mul_(...)``, the classic EMA update) do not bump
``_version``, so such a memo would serve stale images. sha256 runs at ~2 GB/s per core and
tensors are hashed in parallel threads (hashlib releases the GIL), so a 1 B-parameter fp16
model costs about a second, small next to generating its images.
"""

from __future__ import annotations

import hashlib
import json
import os
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..store.files import atomic_write_npz
from ..errors import CorruptCacheEntryError, UnhashableModelError  # noqa: F401  (0.2 import path)

CACHE_SCHEMA = 1
_HASH_THREADS = max(1, min(8, os.cpu_count() or 1))
_MAX_OBJECT_DEPTH = 3
_PRIMITIVES = (type(None), bool, int, float, complex, str, bytes)


def _tensor_bytes(tensor: torch.Tensor) -> memoryview:
    """The raw bytes of a tensor's CPU copy (no copy when it already is contiguous on CPU)."""
    if tensor.device.type == "meta":
        raise UnhashableModelError(
            f"a tensor of shape {tuple(tensor.shape)} lives on the 'meta' device (offloaded or not "
            "yet loaded); its bytes cannot be fingerprinted"
        )
    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    return memoryview(flat.view(torch.uint8).numpy())


def _sha256(buffer: memoryview) -> bytes:
    return hashlib.sha256(buffer).digest()


class Fingerprint:
    """Collects tagged parts of a model's identity, then hashes them into one hex digest.

    Tensors are queued and hashed together in a thread pool at the end, each as
    ``dtype, shape, sha256(bytes)``, so the cost is one parallel pass over the weights.
    """

    def __init__(self) -> None:
        self._parts: list[bytes | torch.Tensor | np.ndarray] = []
        self._seen: set[int] = set()

    def text(self, *words: Any) -> None:
        self._parts.append(("\x1f".join(str(w) for w in words) + "\x1e").encode("utf-8"))

    def tensor(self, name: str, value: torch.Tensor | np.ndarray) -> None:
        self.text("tensor", name, value.dtype, tuple(value.shape))
        self._parts.append(value)

    def raw(self, data: bytes) -> None:
        self._parts.append(bytes(data))

    def first_visit(self, obj: Any) -> bool:
        """True the first time ``obj`` is seen: shared modules and cycles are hashed once."""
        if id(obj) in self._seen:
            self.text("seen-before", type(obj).__qualname__)
            return False
        self._seen.add(id(obj))
        return True

    def hexdigest(self) -> str:
        arrays = [p for p in self._parts if not isinstance(p, bytes)]
        buffers = [
            _tensor_bytes(a)
            if isinstance(a, torch.Tensor)
            else memoryview(np.ascontiguousarray(a).view(np.uint8).reshape(-1))
            for a in arrays
        ]
        with ThreadPoolExecutor(_HASH_THREADS) as pool:
            digests = iter(list(pool.map(_sha256, buffers)))
        total = hashlib.sha256()
        for part in self._parts:
            total.update(part if isinstance(part, bytes) else next(digests))
        return total.hexdigest()


def add_module(fp: Fingerprint, module: torch.nn.Module) -> None:
    """Class, every parameter and every buffer (persistent or not) of an nn.Module."""
    if not fp.first_visit(module):
        return
    fp.text("module", type(module).__module__, type(module).__qualname__)
    for name, param in module.named_parameters():
        fp.tensor(name, param)
    for name, buffer in module.named_buffers():
        fp.tensor(name, buffer)


def is_diffusion_pipeline(obj: Any) -> bool:
    """A diffusers pipeline, recognised by its class lineage rather than ``isinstance``.

    ``isinstance`` against ``sys.modules["diffusers"].DiffusionPipeline`` is False for a pipeline
    built before diffusers was re-imported (a test runner that restores ``sys.modules``, or
    ``importlib.reload``): the pipeline was then driven as a plain callable and fingerprinted
    by its repr, so its cached images were never found again.
    """
    return any(
        cls.__name__ == "DiffusionPipeline" and cls.__module__.startswith("diffusers.") for cls in type(obj).__mro__
    )


# Config bookkeeping that does not change what a model computes, and is not stable across runs:
# diffusers builds ``_use_default_values`` from a set (its order follows PYTHONHASHSEED), and
# ``_name_or_path`` / ``_commit_hash`` say where the same weights were loaded from.
_UNSTABLE_CONFIG_KEYS = frozenset({"_use_default_values", "_name_or_path", "_commit_hash"})


def _config_text(config: Any) -> str:
    """diffusers configs are dicts (FrozenDict); transformers configs have ``to_dict``."""
    as_dict = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    stable = {key: value for key, value in as_dict.items() if key not in _UNSTABLE_CONFIG_KEYS}
    return json.dumps(stable, sort_keys=True, default=repr)


def add_pipeline_component(fp: Fingerprint, name: str, component: Any) -> None:
    """Modules by weights; schedulers by config; tokenizers by vocabulary; others by settings."""
    fp.text("component", name, type(component).__module__, type(component).__qualname__)
    if component is None:
        return
    if isinstance(component, torch.nn.Module):
        add_module(fp, component)
        if hasattr(component, "config"):
            fp.text("config", _config_text(component.config))
    elif hasattr(component, "get_vocab"):
        vocab = json.dumps(sorted(component.get_vocab().items()), ensure_ascii=False)
        fp.text(
            "tokenizer", hashlib.sha256(vocab.encode("utf-8")).hexdigest(), getattr(component, "model_max_length", None)
        )
    elif hasattr(component, "config"):
        fp.text("config", _config_text(component.config))
    elif hasattr(component, "to_dict"):
        fp.text("settings", json.dumps(component.to_dict(), sort_keys=True, default=repr))


def add_pipeline(fp: Fingerprint, pipe: Any) -> None:
    if not fp.first_visit(pipe):
        return
    import diffusers

    fp.text("pipeline", type(pipe).__module__, type(pipe).__qualname__, "diffusers", diffusers.__version__)
    for name, component in sorted(pipe.components.items()):
        add_pipeline_component(fp, name, component)


def _add_code(fp: Fingerprint, code: types.CodeType) -> None:
    fp.text("code", code.co_name, code.co_names, code.co_varnames, code.co_freevars)
    fp.raw(code.co_code)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _add_code(fp, const)
        else:
            fp.text("const", repr(const))


def _referenced_globals(function: types.FunctionType) -> dict[str, Any]:
    """Globals the code names, including those named by nested functions and lambdas."""
    names: set[str] = set()
    stack = [function.__code__]
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return {name: function.__globals__[name] for name in sorted(names) if name in function.__globals__}


def _worth_following(value: Any, module_name: str) -> bool:
    """Globals that decide the output: weights, data, and user code of the same module."""
    if isinstance(value, (torch.Tensor, np.ndarray, torch.nn.Module)) or is_diffusion_pipeline(value):
        return True
    if isinstance(value, types.FunctionType):
        return value.__module__ == module_name
    return isinstance(value, _PRIMITIVES + (list, tuple, dict))


def add_function(fp: Fingerprint, function: types.FunctionType, depth: int) -> None:
    if not fp.first_visit(function):
        return
    fp.text("function", function.__module__, function.__qualname__)
    _add_code(fp, function.__code__)
    add_value(fp, "defaults", function.__defaults__, depth)
    add_value(fp, "kwdefaults", function.__kwdefaults__, depth)
    for name, cell in zip(function.__code__.co_freevars, function.__closure__ or ()):
        try:
            contents = cell.cell_contents
        except ValueError:  # an empty cell: the variable is not assigned yet
            contents = "<empty cell>"
        add_value(fp, f"closure:{name}", contents, depth)
    for name, value in _referenced_globals(function).items():
        if _worth_following(value, function.__module__):
            add_value(fp, f"global:{name}", value, depth)


def add_value(fp: Fingerprint, name: str, value: Any, depth: int = 0) -> None:
    """Any object a callable can hold: content for data and weights, code for functions."""
    if isinstance(value, _PRIMITIVES):
        fp.text("value", name, repr(value))
    elif isinstance(value, torch.nn.Module):
        add_module(fp, value)
    elif isinstance(value, (torch.Tensor, np.ndarray)):
        fp.tensor(name, value)
    elif is_diffusion_pipeline(value):
        add_pipeline(fp, value)
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        fp.text("sequence", name, type(value).__qualname__, len(items))
        for index, item in enumerate(items):
            add_value(fp, f"{name}[{index}]", item, depth)
    elif isinstance(value, dict):
        fp.text("mapping", name, len(value))
        for key in sorted(value, key=repr):
            add_value(fp, f"{name}[{key!r}]", value[key], depth)
    elif isinstance(value, types.FunctionType):
        add_function(fp, value, depth)
    elif isinstance(value, types.MethodType):
        add_function(fp, value.__func__, depth)
        add_value(fp, f"{name}.__self__", value.__self__, depth + 1)
    elif isinstance(value, (types.BuiltinFunctionType, types.ModuleType, type)):
        fp.text("named", name, getattr(value, "__module__", ""), getattr(value, "__qualname__", value.__name__))
    elif hasattr(value, "func") and hasattr(value, "keywords"):  # functools.partial
        add_value(fp, f"{name}.func", value.func, depth)
        add_value(fp, f"{name}.args", value.args, depth)
        add_value(fp, f"{name}.keywords", value.keywords, depth)
    else:
        add_object(fp, name, value, depth)


def add_object(fp: Fingerprint, name: str, value: Any, depth: int) -> None:
    """A plain object: its class, its ``__call__`` code and, to a few levels, its attributes."""
    fp.text("object", name, type(value).__module__, type(value).__qualname__)
    if depth >= _MAX_OBJECT_DEPTH or not fp.first_visit(value):
        return
    call = getattr(type(value), "__call__", None)
    if isinstance(call, types.FunctionType):
        add_function(fp, call, depth + 1)
    for attribute, item in sorted(getattr(value, "__dict__", {}).items()):
        add_value(fp, f"{name}.{attribute}", item, depth + 1)


def model_fingerprint(model: Any) -> str:
    """sha256 hex of everything that decides what ``model`` generates (see the module docstring)."""
    fp = Fingerprint()
    if is_diffusion_pipeline(model):
        add_pipeline(fp, model)
    else:
        add_value(fp, "model", model)
    return fp.hexdigest()


def canonical(value: Any) -> Any:
    """A JSON-able, stable form of model kwargs: tensors by content hash, objects by repr.

    An object whose repr holds a memory address gives a new key on every run: a safe miss.
    """
    if isinstance(value, (type(None), bool, int, float, str)):
        return value
    if isinstance(value, (torch.Tensor, np.ndarray)):
        fp = Fingerprint()
        fp.tensor("kwarg", value)
        return {"tensor": fp.hexdigest(), "shape": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    if isinstance(value, dict):
        return {str(key): canonical(item) for key, item in sorted(value.items(), key=lambda kv: str(kv[0]))}
    return repr(value)


def cache_key(
    *, model_fingerprint: str, generator: str, seeds: list[int], prompts: list[str] | None, kwargs: dict, lane: str
) -> str:
    """sha256 hex over everything that makes two requests produce the same images."""
    material = {
        "schema": CACHE_SCHEMA,
        "model": model_fingerprint,
        "generator": generator,
        "seeds": seeds,
        "prompts": prompts,
        "kwargs": canonical(kwargs),
        "lane": lane,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode("utf-8")).hexdigest()


def computing_lock(directory: Path, key: str):
    """A lock held while one process computes ``key``: another process (an xdist worker) asking for the same
    key waits for it and then reads the entry, instead of computing it a second time."""
    from filelock import FileLock

    locks = Path(directory) / ".computing"
    locks.mkdir(parents=True, exist_ok=True)
    return FileLock(str(locks / f"{key}.lock"))


class ImageCache:
    """Generated images on disk, one ``<key>.npz`` per request, under ``directory``.

    Entries are written to a temporary file in the same directory, fsynced, and moved into
    place with ``os.replace`` (atomic on POSIX and Windows) while holding a ``filelock``
    lock, so a reader sees either no entry or a complete one, and concurrent writers of the
    same key (pytest-xdist workers) never interleave. Files are ``.npz`` loaded with
    ``allow_pickle=False``: a cache directory can never execute code.
    """

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.npz"

    def _lock(self):
        from filelock import FileLock

        self.directory.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.directory / ".lock"))

    def read(self, key: str) -> tuple[torch.Tensor, dict] | None:
        """(images uint8 [N,3,H,W], header) of a complete entry, None when absent.

        Raises CorruptCacheEntryError for a file that is not a whole entry of this key.
        """
        path = self.path(key)
        try:
            with np.load(path, allow_pickle=False) as entry:
                header = json.loads(str(entry["header"]))
                images = entry["images"]
        except FileNotFoundError:
            return None
        except Exception as error:  # zip, json or key errors all mean the same: not an entry
            raise CorruptCacheEntryError(f"{path}: not a valid image cache entry ({error})") from error
        if header.get("schema") != CACHE_SCHEMA or header.get("key") != key:
            raise CorruptCacheEntryError(
                f"{path}: header does not match key {key[:12]}… (schema {header.get('schema')})"
            )
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[0] != header.get("count"):
            raise CorruptCacheEntryError(f"{path}: images {images.dtype} {images.shape} do not match the header")
        return torch.from_numpy(images), header

    def get(self, key: str) -> tuple[torch.Tensor, dict] | None:
        """Like ``read`` but a corrupt entry (a crash mid-copy, a hand edit) is a miss."""
        try:
            return self.read(key)
        except CorruptCacheEntryError:
            return None

    def computing(self, key: str):
        return computing_lock(self.directory, key)

    def put(self, key: str, images: torch.Tensor, header: dict) -> Path:
        header = {**header, "schema": CACHE_SCHEMA, "key": key, "count": int(images.shape[0])}
        with self._lock():
            _write_npz_atomically(self.path(key), {"images": images.contiguous().numpy()}, header)
        return self.path(key)


def _write_npz_atomically(path: Path, arrays: dict[str, np.ndarray], header: dict) -> None:
    """``arrays`` and a JSON ``header`` into ``path`` atomically (the caller holds the lock)."""
    atomic_write_npz(path, {**arrays, "header": np.array(json.dumps(header, ensure_ascii=False))})


def images_sha256(images: torch.Tensor) -> str:
    """sha256 hex of a uint8 image tensor's shape and pixels: the same images, the same hash."""
    digest = hashlib.sha256(f"{tuple(images.shape)}|{images.dtype}|".encode("ascii"))
    digest.update(_tensor_bytes(images))
    return digest.hexdigest()


def feature_cache_key(images_hash: str, extractor_id: str) -> str:
    """Features depend on the pixels and on the extractor (architecture, weights, resize mode) only."""
    material = {"schema": CACHE_SCHEMA, "images": images_hash, "extractor": extractor_id}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode("utf-8")).hexdigest()


class FeatureCache:
    """Extracted features on disk, one ``<key>.npz`` of named float arrays per (images, extractor).

    Same file discipline as ``ImageCache`` (atomic replace under a lock, no pickle). A corrupt
    or mismatched entry is a miss: features are always recomputable.
    """

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.npz"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        try:
            with np.load(self.path(key), allow_pickle=False) as entry:
                header = json.loads(str(entry["header"]))
                if header.get("schema") != CACHE_SCHEMA or header.get("key") != key:
                    return None
                return {name: entry[name] for name in header["names"]}
        except Exception:  # absent, truncated, hand-edited: recompute
            return None

    def computing(self, key: str):
        return computing_lock(self.directory, key)

    def put(self, key: str, features: dict[str, np.ndarray], extractor_id: str) -> Path:
        header = {"schema": CACHE_SCHEMA, "key": key, "extractor": extractor_id, "names": sorted(features)}
        from filelock import FileLock

        self.directory.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.directory / ".lock")):
            _write_npz_atomically(
                self.path(key), {f"{name}": np.asarray(rows) for name, rows in features.items()}, header
            )
        return self.path(key)
