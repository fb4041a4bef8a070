"""Where the prediction log lives: a local directory, or a bucket on S3-compatible storage.

The log's code works on paths. A local workspace uses :class:`pathlib.Path`, unchanged. A
workspace on object storage uses :class:`ObjectPath`: the part of the pathlib API the log
needs (``/``, ``name``, ``parent``, ``iterdir``, ``glob``, ``rglob``, ``stat``, ``exists``,
``read_text``, ``unlink``) over :class:`pyarrow.fs.S3FileSystem`, plus :meth:`ObjectPath.write_bytes`
(one PUT: the object appears whole or not at all, so no temporary name and no rename) and
:meth:`ObjectPath.rmtree`. A listing carries each object's size and modification time, so
the signatures of cached files and the sizes in ``stats`` cost no request of their own.

Connection settings come from the standard AWS variables: ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL`` (a MinIO, Ceph or moto server; unset for AWS itself), ``AWS_REGION`` or
``AWS_DEFAULT_REGION``, and credentials from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``
/ ``AWS_SESSION_TOKEN``, ``~/.aws`` profiles or the instance role (pyarrow's and polars' own
credential chains). Polars reads the Parquet files itself, with :func:`storage_options`.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

__all__ = ["ObjectPath", "ObjectStore", "is_url", "parse_url", "prefetch", "storage_options", "url_scheme", "StoragePath"]

# ``Path("s3://b/p")`` prints as ``s3:/b/p``: a URL that went through a CLI Path option
_URL_RE = re.compile(r"^s3:/+(?P<bucket>[^/]+)(?:/(?P<prefix>.*?))?/*$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


_SCHEME_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+):/")


def url_scheme(value: Any) -> str | None:
    """The scheme of ``value`` when it looks like a URL (``s3``, ``gs``, ``file``...), else None."""
    match = _SCHEME_RE.match(str(value)) if isinstance(value, (str, os.PathLike)) else None
    return match.group("scheme").lower() if match else None


def is_url(value: Any) -> bool:
    """True for ``s3://bucket[/prefix]`` (also in the ``s3:/bucket`` form a Path makes of it)."""
    return isinstance(value, (str, os.PathLike)) and str(value).startswith("s3:/")


def parse_url(value: str | os.PathLike[str]) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (``bucket``, ``prefix`` without slashes at either end).

    >>> parse_url("s3://mlmm-logs/team-a/")
    ('mlmm-logs', 'team-a')
    >>> parse_url(Path("s3://mlmm-logs"))
    ('mlmm-logs', '')
    """
    text = str(value)
    match = _URL_RE.match(text)
    if match is None or not _BUCKET_RE.fullmatch(match.group("bucket")):
        raise ValueError(f"workspace={text!r}: expected s3://bucket/prefix (a bucket name of 3-63 lower-case letters,"
                         " digits, '.' or '-')")
    prefix = "/".join(p for p in (match.group("prefix") or "").split("/") if p)
    return match.group("bucket"), prefix


@dataclasses.dataclass(frozen=True)
class _Settings:
    endpoint: str | None  # full URL, e.g. http://127.0.0.1:9000
    region: str | None


def _settings_from_env() -> _Settings:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    return _Settings(endpoint, region)


class ObjectStore:
    """One S3 connection (pyarrow file system and the matching polars options), shared by
    every :class:`ObjectPath` of a process that uses the same endpoint and region."""

    def __init__(self, settings: _Settings) -> None:
        self.settings = settings
        kwargs: dict[str, Any] = {}
        options: dict[str, str] = {}
        if settings.endpoint:
            parts = urlsplit(settings.endpoint if "://" in settings.endpoint else f"https://{settings.endpoint}")
            kwargs["endpoint_override"] = parts.netloc + parts.path.rstrip("/")
            kwargs["scheme"] = parts.scheme
            options["aws_endpoint_url"] = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
            if parts.scheme == "http":
                options["aws_allow_http"] = "true"
        if settings.region:
            kwargs["region"] = settings.region
            options["aws_region"] = settings.region
        self._kwargs = kwargs
        self._fs: Any = None
        self._pid = -1
        self.storage_options = options

    @property
    def fs(self) -> Any:
        """The pyarrow ``S3FileSystem`` (made again in a forked child: the AWS SDK's
        connections do not survive a fork)."""
        if self._fs is None or self._pid != os.getpid():
            import pyarrow.fs as pafs

            # delayed open: a small object is stored with one PUT when the stream closes,
            # instead of a multipart upload (three requests); bigger ones still go up in
            # parts, and appear only when the upload completes
            self._fs = pafs.S3FileSystem(allow_delayed_open=True, **self._kwargs)
            self._pid = os.getpid()
        return self._fs

    def describe(self) -> str:
        return self.settings.endpoint or "AWS S3"


_STORES: dict[_Settings, ObjectStore] = {}
_STORES_LOCK = threading.Lock()


def store() -> ObjectStore:
    """The store for the current AWS environment variables (one per endpoint and region)."""
    key = _settings_from_env()
    with _STORES_LOCK:
        found = _STORES.get(key)
        if found is None:
            found = _STORES[key] = ObjectStore(key)
        return found


@dataclasses.dataclass(frozen=True)
class _Stat:
    """The fields of ``os.stat_result`` the log uses."""

    st_size: int
    st_mtime_ns: int
    st_ino: int = 0

    @property
    def st_mtime(self) -> float:
        return self.st_mtime_ns / 1e9


def _missing(exc: OSError) -> bool:
    """Whether an error of pyarrow's S3 file system means the object is not there."""
    text = str(exc)
    return "RESOURCE_NOT_FOUND" in text or "NoSuchKey" in text or "Path does not exist" in text


class ObjectPath:
    """An object (or a prefix, the "directory") in a bucket, with a pathlib-like API.

    ``key`` is ``bucket/key`` without a scheme or a trailing slash; ``str()`` gives the
    ``s3://`` URL. Paths from a listing remember whether they are files and their size and
    modification time (equality ignores that).
    """

    __slots__ = ("store", "key", "_kind", "_size", "_mtime_ns", "children")

    def __init__(self, store: ObjectStore, key: str, kind: str | None = None, size: int | None = None,
                 mtime_ns: int | None = None) -> None:
        self.store = store
        self.key = key.strip("/")
        self._kind = kind  # "file", "dir" or None (not known without a request)
        self._size = size
        self._mtime_ns = mtime_ns
        # what a listing found right under this prefix, when it was listed ahead (prefetch)
        self.children: list[ObjectPath] | None = None

    @classmethod
    def from_url(cls, url: str | os.PathLike[str]) -> ObjectPath:
        bucket, prefix = parse_url(url)
        return cls(store(), f"{bucket}/{prefix}" if prefix else bucket)

    # -- pure path ------------------------------------------------------------------------
    def __truediv__(self, name: str | os.PathLike[str]) -> ObjectPath:
        tail = str(name).strip("/")
        return ObjectPath(self.store, f"{self.key}/{tail}" if tail else self.key)

    @property
    def name(self) -> str:
        return self.key.rpartition("/")[2]

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.name).suffix

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem

    @property
    def parent(self) -> ObjectPath:
        head = self.key.rpartition("/")[0]
        return ObjectPath(self.store, head) if head else self

    @property
    def parents(self) -> list[ObjectPath]:
        out, current = [], self
        while "/" in current.key:
            current = current.parent
            out.append(current)
        return out

    @property
    def bucket(self) -> str:
        return self.key.partition("/")[0]

    def with_name(self, name: str) -> ObjectPath:
        return self.parent / name

    def relative_to(self, other: ObjectPath) -> PurePosixPath:
        if self.key == other.key:
            return PurePosixPath(".")
        if not self.key.startswith(other.key + "/"):
            raise ValueError(f"{self} is not in {other}")
        return PurePosixPath(self.key[len(other.key) + 1:])

    def __str__(self) -> str:
        return f"s3://{self.key}"

    def __repr__(self) -> str:
        return f"ObjectPath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectPath) and other.key == self.key and other.store is self.store

    def __hash__(self) -> int:
        return hash(("s3", self.key))

    def __lt__(self, other: ObjectPath) -> bool:
        return self.key < other.key

    # -- listing (one request per call) ---------------------------------------------------
    def _list(self, recursive: bool) -> list[ObjectPath]:
        import pyarrow.fs as pafs

        infos = self.store.fs.get_file_info(pafs.FileSelector(self.key, recursive=recursive, allow_not_found=True))
        out = []
        for info in infos:
            if info.type == pafs.FileType.File:
                out.append(ObjectPath(self.store, info.path, "file", info.size, info.mtime_ns))
            elif info.type == pafs.FileType.Directory:
                out.append(ObjectPath(self.store, info.path, "dir"))
        return out

    def iterdir(self) -> Iterator[ObjectPath]:
        """Objects and prefixes right under this one (nothing when it does not exist)."""
        return iter(self._list(recursive=False))

    def glob(self, pattern: str) -> Iterator[ObjectPath]:
        if "/" in pattern or "**" in pattern:
            raise ValueError(f"pattern={pattern!r}: expected one path segment")
        return (p for p in self._list(recursive=False) if fnmatch.fnmatchcase(p.name, pattern))

    def rglob(self, pattern: str) -> Iterator[ObjectPath]:
        return (p for p in self._list(recursive=True) if fnmatch.fnmatchcase(p.name, pattern))

    # -- one object -----------------------------------------------------------------------
    def _info(self) -> tuple[str | None, int | None, int | None]:
        import pyarrow.fs as pafs

        if self._kind is None or (self._kind == "file" and self._size is None):
            info = self.store.fs.get_file_info(self.key)
            if info.type == pafs.FileType.File:
                return "file", info.size, info.mtime_ns
            if info.type == pafs.FileType.Directory:
                return "dir", None, None
            return None, None, None
        return self._kind, self._size, self._mtime_ns

    def exists(self) -> bool:
        return self._info()[0] is not None

    def is_file(self) -> bool:
        return self._info()[0] == "file"

    def is_dir(self) -> bool:
        return self._info()[0] == "dir"

    def stat(self) -> _Stat:
        kind, size, mtime_ns = self._info()
        if kind is None:
            raise FileNotFoundError(f"{self}: no such object")
        return _Stat(size or 0, mtime_ns or 0)

    def read_bytes(self) -> bytes:
        """The object's bytes; :class:`FileNotFoundError` when it does not exist (or was
        removed while being read), as for a local file."""
        try:
            with self.store.fs.open_input_stream(self.key) as fh:
                return fh.read()
        except FileNotFoundError:
            raise
        except OSError as exc:
            if _missing(exc):
                raise FileNotFoundError(f"{self}: no such object") from exc
            raise

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def open_input(self) -> Any:
        """A random-access pyarrow file (for Parquet footers)."""
        return self.store.fs.open_input_file(self.key)

    def write_bytes(self, data: bytes) -> int:
        """Store ``data`` under this key with one upload: readers see all of it or nothing."""
        with self.store.fs.open_output_stream(self.key) as out:
            out.write(data)
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        return self.write_bytes(text.encode(encoding))

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.store.fs.delete_file(self.key)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def rmtree(self) -> None:
        """Delete every object under this prefix."""
        self.store.fs.delete_dir(self.key)

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: a prefix exists as soon as an object is stored under it."""


StoragePath = Path | ObjectPath

_PREFETCH_THREADS = 16


def write_atomic(path: StoragePath, data: bytes, *, durable: bool = True) -> None:
    """``data`` to ``path``, whole or not at all: on a local disk a temporary file renamed into
    place (:func:`mlmm._util.atomic_write_bytes`), in a bucket one upload."""
    if isinstance(path, ObjectPath):
        path.write_bytes(data)
        return
    from ._util import atomic_write_bytes

    atomic_write_bytes(path, data, durable=durable)


def write_json(path: StoragePath, obj: Any) -> None:
    """A small JSON record (import record, manifest, index metadata), atomically."""
    import json

    write_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())


def prefetch(folders: list[ObjectPath]) -> None:
    """List ``folders`` concurrently (one request each, in parallel) and keep each listing in
    ``folder.children``: a window of 30 days costs about one round trip instead of 30."""
    todo = [f for f in folders if f.children is None]
    if len(todo) == 1:
        todo[0].children = todo[0]._list(recursive=False)
    elif todo:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(_PREFETCH_THREADS, len(todo))) as pool:
            for folder, listing in zip(todo, pool.map(lambda f: f._list(recursive=False), todo), strict=True):
                folder.children = listing


def storage_options(path: StoragePath) -> dict[str, str] | None:
    """Options for polars' readers of ``path`` (None for a local file)."""
    return path.store.storage_options if isinstance(path, ObjectPath) else None
