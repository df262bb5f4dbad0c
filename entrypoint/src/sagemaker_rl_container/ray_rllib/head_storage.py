"""A sweep's storage on the head host, for trials on every host of a multi-host job.

Ray Tune keeps a sweep's state and its trials' checkpoints in one storage location that every
trial must reach (Ray 2.7+ needs a shared filesystem or cloud storage). A SageMaker job's
hosts share neither: each has its own /opt/ml/checkpoints, and SageMaker uploads the head's
for a spot restart. So the sweep's storage is the head's directory, reached through a Ray
actor pinned to the head (`Store`), behind an fsspec filesystem (`HeadFileSystem`) that
pyarrow, and so Tune, takes as `storage_filesystem`. A trial on another host writes its
checkpoint through it, and PBT's exploit reads another host's trial's checkpoint the same way.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Any

import fsspec

STORE_NAME = "sagemaker_rl_sweep_storage"
NAMESPACE = "sagemaker_rl"


class Store:
    """The head's side: plain file operations under the head's own filesystem."""

    def ls(self, path: str) -> list[dict[str, Any]]:
        return [_info(entry.path) for entry in os.scandir(path)]

    def info(self, path: str) -> dict[str, Any] | None:
        return _info(path) if os.path.lexists(path) else None

    def read(self, path: str) -> bytes:
        return Path(path).read_bytes()

    def write(self, path: str, data: bytes) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.partial")
        staging.write_bytes(data)
        staging.replace(target)

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def remove(self, path: str, recursive: bool) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            if recursive:
                shutil.rmtree(path)
            else:
                os.rmdir(path)
        else:
            os.remove(path)

    def move(self, source: str, target: str) -> None:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)


def _info(path: str) -> dict[str, Any]:
    stat = os.stat(path)
    kind = "directory" if os.path.isdir(path) else "file"
    return {
        "name": path,
        "size": stat.st_size if kind == "file" else 0,
        "type": kind,
        "mtime": stat.st_mtime,
    }


def start_store() -> Any:
    """The store actor on this (the head's) node, for the sweep's lifetime."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = ray.get_runtime_context().get_node_id()
    actor = ray.remote(num_cpus=0)(Store).options(
        name=STORE_NAME,
        namespace=NAMESPACE,
        get_if_exists=True,
        scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False),
    )
    store = actor.remote()
    ray.get(store.makedirs.remote("/"))  # up before Tune writes through it
    return store


class HeadFileSystem(fsspec.AbstractFileSystem):
    """fsspec's view of the head's files, from any host of the cluster (through `Store`)."""

    protocol = "sagemaker-rl-head"
    root_marker = "/"

    def _store(self) -> Any:
        import ray

        return ray.get_actor(STORE_NAME, namespace=NAMESPACE)

    def _call(self, method: str, *args: Any) -> Any:
        import ray

        return ray.get(getattr(self._store(), method).remote(*args))

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        info = self._call("info", path)
        if info is None:
            raise FileNotFoundError(path)
        entries = self._call("ls", path) if info["type"] == "directory" else [info]
        return entries if detail else [entry["name"] for entry in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        info = self._call("info", path)
        if info is None:
            raise FileNotFoundError(path)
        return info

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        self._call("makedirs", self._strip_protocol(path))

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        self.makedirs(path, exist_ok=True)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        for one in [path] if isinstance(path, str) else path:
            self._call("remove", self._strip_protocol(one), recursive)

    def rm_file(self, path: str) -> None:
        self._call("remove", self._strip_protocol(path), False)

    def rmdir(self, path: str) -> None:
        self._call("remove", self._strip_protocol(path), False)

    def mv(self, path1: str, path2: str, recursive: bool = False, **kwargs: Any) -> None:
        self._call("move", self._strip_protocol(path1), self._strip_protocol(path2))

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        path = self._strip_protocol(path)
        if "r" in mode:
            return io.BytesIO(self._call("read", path))
        if "a" in mode:
            raise NotImplementedError("appending to a file on the head")
        return _Upload(self, path)


class _Upload(io.BytesIO):
    """A file written in memory and sent to the head whole when closed."""

    def __init__(self, fs: HeadFileSystem, path: str) -> None:
        super().__init__()
        self.fs, self.path = fs, path

    def close(self) -> None:
        if not self.closed:
            self.fs._call("write", self.path, self.getvalue())
        super().close()


def filesystem() -> Any:
    """The head's storage as the pyarrow filesystem Tune takes (`storage_filesystem`)."""
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    return PyFileSystem(FSSpecHandler(HeadFileSystem()))
