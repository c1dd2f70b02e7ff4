"""The local file store: content-addressed paths, written once and atomically, never outside its folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from lanjie.files.store import (
    CorruptFile,
    LocalFileStore,
    MissingFile,
    _link_no_clobber,
    key_for,
    store_from_settings,
)
from lanjie.settings import Settings
from tests.files.samples import PDF, png


def test_bytes_are_stored_under_their_sha256_fanned_out_in_two_folders(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    sha = hashlib.sha256(PDF).hexdigest()
    key = store.put(PDF)
    assert key == f"{sha[:2]}/{sha[2:4]}/{sha}"
    assert (tmp_path / sha[:2] / sha[2:4] / sha).read_bytes() == PDF
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [key]
    assert store.read(key) == PDF
    assert b"".join(store.chunks(key)) == PDF
    assert store.exists(key) is True


def test_the_same_bytes_twice_are_stored_once_and_the_first_file_is_left_alone(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    key = store.put(PDF)
    path = store.path(key)
    before = (path.stat().st_ino, path.stat().st_mtime_ns)
    assert store.put(PDF) == key
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == before
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1


def test_a_file_appearing_during_a_write_is_not_overwritten(tmp_path: Path) -> None:
    # Another writer linked the same key between our existence check and our link: its file stays.
    path = tmp_path / "final"
    path.write_bytes(PDF)
    inode = path.stat().st_ino
    tmp = tmp_path / ".tmp-1"
    tmp.write_bytes(PDF)
    _link_no_clobber(str(tmp), path)
    assert (path.stat().st_ino, path.read_bytes()) == (inode, PDF)


def test_a_write_that_fails_leaves_no_file_under_the_key_nor_a_temporary_one(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalFileStore(tmp_path)
    key = key_for(hashlib.sha256(PDF).hexdigest())

    def crash(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="No space left"):
        store.put(PDF)
    assert not store.exists(key)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("key", [
    "../../etc/passwd", "/etc/passwd", "ab/cd/../../../etc/passwd", "ab/cd/" + "0" * 64, "AB/CD/" + "ab" * 32,
    "ab/cd/abcd" + "0" * 60 + "/x", "ab\\cd\\abcd" + "0" * 60, ""])
def test_a_key_not_made_by_the_store_reaches_no_path(tmp_path: Path, key: str) -> None:
    store = LocalFileStore(tmp_path / "files")
    with pytest.raises(ValueError, match="not a file store key"):
        store.path(key)
    with pytest.raises(ValueError):
        store.read(key)


def test_bytes_changed_on_disk_are_refused_on_read(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    key = store.put(png())
    store.path(key).write_bytes(png(rgb=(0, 0, 0)))
    with pytest.raises(CorruptFile):
        store.read(key)


def test_missing_bytes_raise_missing_file_when_asked_for(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    key = key_for(hashlib.sha256(b"gone").hexdigest())
    with pytest.raises(MissingFile):
        store.read(key)
    with pytest.raises(MissingFile):
        store.chunks(key)
    assert store.exists(key) is False


def test_the_default_store_is_a_files_folder_in_the_data_dir(tmp_path: Path) -> None:
    store = store_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalFileStore)
    assert store.root == (tmp_path / "files").resolve()
