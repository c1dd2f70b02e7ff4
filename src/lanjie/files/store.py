"""Where evidence bytes live: content-addressed, written once, never overwritten.

A file's key is its SHA-256, fanned out over two levels of folders (``ab/cd/abcd…``), so the same bytes
are stored once and a key can only ever hold the bytes it names. Keys are checked against that shape
before any path or object name is built from them: nothing a client sends can reach outside the store.

``LocalFileStore`` (the default) keeps them in a folder; ``S3FileStore`` in an S3-compatible bucket, through
``boto3`` (an optional dependency: ``pip install lanjie[s3]``).

    StoreError
    ├── MissingFile   the key has no bytes (deleted outside lanjie)
    └── CorruptFile   the bytes no longer hash to their key
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

CHUNK = 64 * 1024
_KEY = re.compile(r"^([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class StoreError(Exception):
    """The file store cannot give back what it was given."""


class MissingFile(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no bytes stored under {key}")


class CorruptFile(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"the bytes under {key} do not match their hash")


def key_for(sha256: str) -> str:
    """The storage key of the bytes with this SHA-256 (lower-case hex)."""
    if not _SHA256.match(sha256):
        raise ValueError("a SHA-256 is 64 lower-case hex digits")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def checked_key(key: str) -> str:
    """``key`` when it has the shape ``key_for`` makes; ValueError otherwise (no ``..``, no absolute paths)."""
    found = _KEY.match(key)
    if found is None or found[3][:2] != found[1] or found[3][2:4] != found[2]:
        raise ValueError(f"not a file store key: {key!r}")
    return key


def _verified(key: str, data: bytes) -> bytes:
    if hashlib.sha256(data).hexdigest() != key.rsplit("/", 1)[1]:
        raise CorruptFile(key)
    return data


class FileStore(Protocol):
    """Content-addressed bytes: ``put`` answers the key, ``read`` and ``chunks`` give the bytes back."""

    def put(self, data: bytes) -> str:
        """Store ``data`` under its hash (once: bytes already there are left alone) and answer the key."""
        ...

    def exists(self, key: str) -> bool: ...

    def read(self, key: str) -> bytes:
        """All the bytes, checked against their hash."""
        ...

    def chunks(self, key: str) -> Iterator[bytes]:
        """The bytes in pieces, for streaming; MissingFile is raised by this call, not while iterating."""
        ...


class LocalFileStore:
    """Files in a folder: ``<root>/ab/cd/<sha256>``, written to a temporary file and linked into place."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        """Where the bytes of ``key`` are; only ever inside the root."""
        path = (self.root / checked_key(key)).resolve()
        if not path.is_relative_to(self.root):  # unreachable with a checked key; kept as a second lock
            raise ValueError(f"not a file store key: {key!r}")
        return path

    def put(self, data: bytes) -> str:
        key = key_for(hashlib.sha256(data).hexdigest())
        path = self.path(key)
        if path.exists():
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole and flushed to disk under a temporary name in the same folder, then linked to its
        # final name: a reader never sees a half-written file, and a crash leaves only a ``.tmp-`` file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            _link_no_clobber(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        _fsync_dir(path.parent)
        return key

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def read(self, key: str) -> bytes:
        try:
            return _verified(key, self.path(key).read_bytes())
        except FileNotFoundError:
            raise MissingFile(key) from None

    def chunks(self, key: str) -> Iterator[bytes]:
        try:
            handle = self.path(key).open("rb")
        except FileNotFoundError:
            raise MissingFile(key) from None
        return _pieces(handle)


def _pieces(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while piece := handle.read(CHUNK):
            yield piece


def _link_no_clobber(tmp: str, path: Path) -> None:
    """Give ``tmp`` the name ``path`` unless something has it already (same hash: same bytes)."""
    try:
        os.link(tmp, path)  # fails rather than replace an existing file, unlike rename
    except FileExistsError:
        pass
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        # A file system without hard links: rename, which is atomic too; a twin that won the race in
        # between holds the same bytes, so replacing it changes nothing a reader can see.
        if not path.exists():
            os.replace(tmp, path)


def _fsync_dir(folder: Path) -> None:
    # The new name is durable only once its folder is (POSIX); not possible on every platform.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class S3FileStore:
    """Files in an S3-compatible bucket under ``<prefix>ab/cd/<sha256>``.

    Credentials come from boto3's usual chain (environment, shared config, instance role), never from
    lanjie's settings. Pass ``client`` to use one made elsewhere (tests pass a stubbed one).
    """

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str = "", region: str = "",
                 client: Any = None) -> None:
        if not bucket:
            raise ValueError("an S3 file store needs a bucket (LANJIE_S3_BUCKET)")
        self.bucket, self.prefix = bucket, prefix
        self.client = client if client is not None else _s3_client(endpoint_url, region)

    def _name(self, key: str) -> str:
        return self.prefix + checked_key(key)

    def put(self, data: bytes) -> str:
        key = key_for(hashlib.sha256(data).hexdigest())
        if self.exists(key):
            return key
        # S3 writes are atomic per object; If-None-Match makes the store refuse to replace an object
        # that appeared meanwhile (412), which is the same bytes under the same key: done either way.
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data, IfNoneMatch="*")
        except Exception as exc:
            if _code(exc) not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise
        return key

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _body(self, key: str) -> Any:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise MissingFile(key) from None
            raise

    def read(self, key: str) -> bytes:
        body = self._body(key)
        try:
            return _verified(key, body.read())
        finally:
            body.close()

    def chunks(self, key: str) -> Iterator[bytes]:
        return _s3_pieces(self._body(key))


def _s3_pieces(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


def _code(exc: Exception) -> str:
    """The error code of a botocore ClientError ('' for anything else), without importing botocore."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _s3_client(endpoint_url: str, region: str) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise RuntimeError("the S3 file store needs boto3: pip install 'lanjie[s3]'") from None
    # Checksums only where the API requires them: several S3-compatible stores reject the CRC headers
    # newer botocore sends by default. Integrity is checked by lanjie itself: every key is a SHA-256.
    config = Config(request_checksum_calculation="when_required", response_checksum_validation="when_required")
    return boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config)


def store_from_settings(settings: Any) -> FileStore:
    """The store the settings name: ``file_store`` = ``local`` (``files_dir``, default ``data_dir/files``) or ``s3``."""
    kind = getattr(settings, "file_store", "local") or "local"
    if kind == "s3":
        return S3FileStore(getattr(settings, "s3_bucket", ""), prefix=getattr(settings, "s3_prefix", ""),
                           endpoint_url=getattr(settings, "s3_endpoint_url", ""),
                           region=getattr(settings, "s3_region", ""))
    if kind != "local":
        raise ValueError(f"file_store must be local or s3, not {kind!r}")
    folder = getattr(settings, "files_dir", None) or Path(settings.data_dir) / "files"
    return LocalFileStore(folder)
