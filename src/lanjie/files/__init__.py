"""Evidence files (photos of a returned parcel, invoices, claim forms): checked, stored by content hash,
served to their own shop only."""

from __future__ import annotations

from lanjie.files.limits import (
    ALLOWED_TYPES,
    DEFAULT_MAX_BYTES,
    IMAGE_TYPES,
    EmptyFile,
    FileRejected,
    FileTooLarge,
    UnsupportedType,
    sniff,
)
from lanjie.files.service import EvidenceFile, Upload, accept, file_id, files_of, find, get, read, record, save
from lanjie.files.store import (
    CorruptFile,
    FileStore,
    LocalFileStore,
    MissingFile,
    S3FileStore,
    StoreError,
    key_for,
    store_from_settings,
)

__all__ = [
    "ALLOWED_TYPES", "DEFAULT_MAX_BYTES", "IMAGE_TYPES", "CorruptFile", "EmptyFile", "EvidenceFile", "FileRejected",
    "FileStore", "FileTooLarge", "LocalFileStore", "MissingFile", "S3FileStore", "StoreError", "Upload",
    "UnsupportedType", "accept", "file_id", "files_of", "find", "get", "key_for", "read", "record", "save", "sniff",
    "store_from_settings",
]
