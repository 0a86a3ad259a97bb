"""Tests for fastmlp.datasets: IDX parsing, folder resolution, downloads, real MNIST.

No test reaches the internet: downloads go to a local http.server, and every
mirror environment variable defaults to a closed local port.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from fastmlp.datasets import (
    DatasetDownloadError,
    DatasetFormatError,
    IDXFormatError,
    fashion_mnist,
    mnist,
    read_idx,
)
from fastmlp.datasets.mnist import FILENAMES, DatasetSpec, load_mnist_format

TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = FILENAMES

# Captured before the autouse fixture clears FASTMLP_DATA for the other tests.
_REAL_MNIST_ENV = os.environ.get("FASTMLP_DATA")
_REAL_MNIST_FALLBACK = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"

_ISOLATED_ENV_VARS = (
    "FASTMLP_DATA",
    "FASTMLP_FASHION_MNIST_DATA",
    "FASTMLP_CACHE",
    "XDG_CACHE_HOME",
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
)


def _unused_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch, tmp_path):
    """Keep tests off the real cache, the user's settings and the internet."""
    for name in _ISOLATED_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    closed_port_url = f"http://127.0.0.1:{_unused_port()}/"
    monkeypatch.setenv("FASTMLP_MNIST_MIRROR", closed_port_url)
    monkeypatch.setenv("FASTMLP_FASHION_MNIST_MIRROR", closed_port_url)


# ---------------------------------------------------------------------------
# Helpers to build small IDX files and datasets.


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialize ``array`` as IDX (big-endian for multi-byte types)."""
    type_codes = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}
    code = type_codes[array.dtype.kind + str(array.dtype.itemsize)]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def small_split(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=count, dtype=np.uint8)
    return images, labels


def write_small_dataset(folder: Path, *, compressed: bool = True, seed: int = 0) -> dict:
    """Write a 5-train/3-test MNIST-layout dataset; return {gz name: md5} and arrays."""
    folder.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = small_split(5, seed), small_split(3, seed + 1)
    arrays = {TRAIN_IMAGES: x_train, TRAIN_LABELS: y_train, TEST_IMAGES: x_test, TEST_LABELS: y_test}
    md5_by_file = {}
    for name, array in arrays.items():
        raw = idx_bytes(array)
        if compressed:
            content = gzip.compress(raw, mtime=0)
            (folder / name).write_bytes(content)
        else:
            content = raw
            (folder / name.removesuffix(".gz")).write_bytes(content)
        md5_by_file[name] = hashlib.md5(content).hexdigest()
    return {"md5": md5_by_file, "arrays": arrays}


def small_spec(md5_by_file: dict, **overrides) -> DatasetSpec:
    fields = dict(
        name="TinyMNIST",
        cache_subdir="tiny-mnist",
        md5_by_file=md5_by_file,
        mirrors=(),
        mirror_env_var="FASTMLP_MNIST_MIRROR",
    )
    fields.update(overrides)
    return DatasetSpec(**fields)


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    request_paths: list  # set per server by FileServer

    def do_GET(self):
        self.request_paths.append(self.path)
        super().do_GET()

    def log_message(self, *args):  # keep test output quiet
        pass


@contextlib.contextmanager
def file_server(folder: Path):
    """Serve ``folder`` over HTTP on 127.0.0.1; yields (base_url, request_paths)."""
    request_paths: list[str] = []
    handler = functools.partial(
        type("Handler", (CountingHandler,), {"request_paths": request_paths}),
        directory=str(folder),
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # A short poll interval keeps shutdown() (and so each test) fast.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", request_paths
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def assert_same_split(loaded, expected_images, expected_labels):
    images, labels = loaded
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)


# ---------------------------------------------------------------------------
# Real MNIST.


@pytest.fixture(scope="module")
def real_mnist():
    folder = Path(_REAL_MNIST_ENV) if _REAL_MNIST_ENV else _REAL_MNIST_FALLBACK
    if not folder.is_dir():
        message = f"real MNIST files not found (FASTMLP_DATA or {_REAL_MNIST_FALLBACK})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Load through the FASTMLP_DATA variable, as a user would.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FASTMLP_DATA", str(folder))
        return mnist.load_data(download=False)


def test_real_mnist_shapes_and_dtypes(real_mnist):
    (x_train, y_train), (x_test, y_test) = real_mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8
        assert array.flags.c_contiguous and array.flags.writeable


def test_real_mnist_known_facts(real_mnist):
    (x_train, y_train), (x_test, y_test) = real_mnist
    assert y_train[0] == 5 and y_test[0] == 7
    assert x_train.max() == 255 and x_test.max() == 255
    assert y_train.max() == 9 and y_test.max() == 9
    assert np.bincount(y_train, minlength=10).sum() == 60000
    assert set(np.unique(y_test)) == set(range(10))


# ---------------------------------------------------------------------------
# IDX parser.


@pytest.mark.parametrize("compressed", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-5, 0, 7], dtype=np.int8),
        np.array([[1, -300], [70000, -(2**31)]], dtype=np.int32),
        np.array([0.5, -1.25, 3e8], dtype=np.float32),
        np.arange(16, dtype=np.float64).reshape(2, 2, 2, 2),
    ],
    ids=["uint8-3d", "int8", "int32", "float32", "float64-4d"],
)
def test_read_idx_round_trip(tmp_path, array, compressed):
    content = idx_bytes(array)
    target = tmp_path / "data.idx"
    target.write_bytes(gzip.compress(content) if compressed else content)
    result = read_idx(target)
    assert result.dtype == array.dtype and result.dtype.isnative
    assert result.flags.c_contiguous and result.flags.writeable
    np.testing.assert_array_equal(result, array)


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    gz_without_suffix = tmp_path / "labels-idx1-ubyte"
    gz_without_suffix.write_bytes(gzip.compress(idx_bytes(array)))
    raw_with_suffix = tmp_path / "labels-idx1-ubyte.gz"
    raw_with_suffix.write_bytes(idx_bytes(array))
    np.testing.assert_array_equal(read_idx(gz_without_suffix), array)
    np.testing.assert_array_equal(read_idx(raw_with_suffix), array)


_GOOD_IDX = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize(
    "content, problem",
    [
        (_GOOD_IDX[:-1], "truncated data"),
        (_GOOD_IDX[:10], "truncated header"),
        (_GOOD_IDX[:2], "truncated header"),
        (b"", "truncated header"),
        (_GOOD_IDX + b"\x00", "trailing bytes"),
        (b"\x01" + _GOOD_IDX[1:], "wrong magic"),
        (b"\x00\x00\x07\x01" + _GOOD_IDX[4:], "type code"),
        (b"\x00\x00\x08\x00" + _GOOD_IDX[4:], "dimensions"),
        (b"\x00\x00\x08\x05" + _GOOD_IDX[4:], "dimensions"),
    ],
    ids=[
        "short-data",
        "short-dims",
        "short-magic",
        "empty",
        "trailing",
        "magic",
        "type-code",
        "zero-dims",
        "five-dims",
    ],
)
@pytest.mark.parametrize("compressed", [True, False], ids=["gz", "raw"])
def test_read_idx_rejects_malformed_files(tmp_path, content, problem, compressed):
    target = tmp_path / "broken-idx3-ubyte"
    target.write_bytes(gzip.compress(content) if compressed else content)
    with pytest.raises(IDXFormatError, match=problem) as caught:
        read_idx(target)
    assert str(target) in str(caught.value)


def test_read_idx_rejects_corrupt_gzip_payload(tmp_path):
    compressed = bytearray(gzip.compress(_GOOD_IDX * 50))
    compressed[len(compressed) // 2] ^= 0xFF
    target = tmp_path / "corrupt.gz"
    target.write_bytes(bytes(compressed))
    with pytest.raises(IDXFormatError, match="corrupt gzip|truncated|trailing|magic") as caught:
        read_idx(target)
    assert str(target) in str(caught.value)


def test_read_idx_rejects_bad_gzip_crc(tmp_path):
    compressed = bytearray(gzip.compress(_GOOD_IDX))
    compressed[-8] ^= 0xFF  # the CRC32 field of the gzip trailer
    target = tmp_path / "badcrc.gz"
    target.write_bytes(bytes(compressed))
    with pytest.raises(IDXFormatError, match="corrupt gzip") as caught:
        read_idx(target)
    assert str(target) in str(caught.value)


def test_read_idx_rejects_cut_gzip_stream(tmp_path):
    target = tmp_path / "cut.gz"
    target.write_bytes(gzip.compress(_GOOD_IDX)[:-6])
    with pytest.raises(IDXFormatError, match="corrupt gzip") as caught:
        read_idx(target)
    assert str(target) in str(caught.value)


def test_read_idx_rejects_absurd_gzip_header_without_allocating(tmp_path):
    # A header claiming ~4 GiB x 4 GiB of data must fail before allocation.
    huge_header = b"\x00\x00\x08\x02" + struct.pack(">2I", 2**32 - 1, 2**32 - 1)
    target = tmp_path / "huge.gz"
    target.write_bytes(gzip.compress(huge_header))
    with pytest.raises(IDXFormatError, match="more than the compressed file"):
        read_idx(target)


def test_read_idx_missing_file_is_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


# ---------------------------------------------------------------------------
# Folder resolution and local files.


def test_default_folder_is_user_cache(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        mnist.load_data(download=False)
    assert str(tmp_path / "home" / ".cache" / "fastmlp" / "mnist") in str(caught.value)


def test_xdg_cache_home_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with pytest.raises(FileNotFoundError) as caught:
        fashion_mnist.load_data(download=False)
    assert str(tmp_path / "xdg" / "fastmlp" / "fashion-mnist") in str(caught.value)


def test_each_dataset_has_its_own_folder_variable(tmp_path, monkeypatch):
    # Local files are not md5-checked, so MNIST's FASTMLP_DATA must not make
    # fashion_mnist.load_data() read MNIST.
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "mnist-here"))
    monkeypatch.setenv("FASTMLP_FASHION_MNIST_DATA", str(tmp_path / "fashion-here"))
    with pytest.raises(FileNotFoundError) as caught:
        fashion_mnist.load_data(download=False)
    assert str(tmp_path / "fashion-here") in str(caught.value)
    with pytest.raises(FileNotFoundError) as caught:
        mnist.load_data(download=False)
    assert str(tmp_path / "mnist-here") in str(caught.value)


def test_fastmlp_cache_wins_over_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("FASTMLP_CACHE", str(tmp_path / "cache"))
    write_small_dataset(tmp_path / "cache" / "tiny-mnist")
    loaded = load_mnist_format(small_spec({}), download=False)
    assert loaded[0][0].shape == (5, 28, 28)


def test_fastmlp_data_wins_over_cache_and_path_wins_over_all(tmp_path, monkeypatch):
    env_data = write_small_dataset(tmp_path / "env-data", seed=10)
    explicit = write_small_dataset(tmp_path / "explicit", seed=20)
    monkeypatch.setenv("FASTMLP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "env-data"))
    train, _ = load_mnist_format(small_spec({}), download=False)
    assert_same_split(train, env_data["arrays"][TRAIN_IMAGES], env_data["arrays"][TRAIN_LABELS])
    train, _ = load_mnist_format(small_spec({}), tmp_path / "explicit", download=False)
    assert_same_split(train, explicit["arrays"][TRAIN_IMAGES], explicit["arrays"][TRAIN_LABELS])


def test_uncompressed_files_are_accepted(tmp_path):
    dataset = write_small_dataset(tmp_path / "raw", compressed=False)
    (train, test) = load_mnist_format(small_spec({}), tmp_path / "raw", download=False)
    arrays = dataset["arrays"]
    assert_same_split(train, arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS])
    assert_same_split(test, arrays[TEST_IMAGES], arrays[TEST_LABELS])


def test_missing_files_without_download_name_folder_and_files(tmp_path):
    folder = tmp_path / "partial"
    write_small_dataset(folder)
    (folder / TEST_LABELS).unlink()
    with pytest.raises(FileNotFoundError) as caught:
        mnist.load_data(folder, download=False)
    message = str(caught.value)
    assert str(folder) in message and TEST_LABELS in message
    assert "FASTMLP_DATA" in message and "path=" in message


def test_image_label_count_mismatch_names_both_files(tmp_path):
    folder = tmp_path / "mismatch"
    write_small_dataset(folder)
    (folder / TRAIN_LABELS).write_bytes(gzip.compress(idx_bytes(np.zeros(4, np.uint8))))
    with pytest.raises(DatasetFormatError) as caught:
        load_mnist_format(small_spec({}), folder, download=False)
    assert TRAIN_IMAGES in str(caught.value) and TRAIN_LABELS in str(caught.value)


def test_label_out_of_range_is_rejected(tmp_path):
    folder = tmp_path / "labels"
    write_small_dataset(folder)
    (folder / TEST_LABELS).write_bytes(gzip.compress(idx_bytes(np.array([1, 10, 2], np.uint8))))
    with pytest.raises(DatasetFormatError, match="label 10"):
        load_mnist_format(small_spec({}), folder, download=False)


def test_wrong_image_shape_is_rejected(tmp_path):
    folder = tmp_path / "shape"
    write_small_dataset(folder)
    (folder / TRAIN_IMAGES).write_bytes(gzip.compress(idx_bytes(np.zeros((5, 28, 27), np.uint8))))
    with pytest.raises(DatasetFormatError, match="28, 28") as caught:
        load_mnist_format(small_spec({}), folder, download=False)
    assert TRAIN_IMAGES in str(caught.value)


def test_expected_counts_are_checked(tmp_path):
    folder = tmp_path / "counts"
    write_small_dataset(folder)
    with pytest.raises(DatasetFormatError, match="expected 60000"):
        load_mnist_format(small_spec({}, train_count=60000), folder, download=False)
    # The real MNIST table demands full-size files.
    with pytest.raises(DatasetFormatError, match="60000"):
        mnist.load_data(folder, download=False)


def test_corrupt_local_file_is_reported(tmp_path):
    folder = tmp_path / "corrupt"
    write_small_dataset(folder)
    (folder / TEST_IMAGES).write_bytes(gzip.compress(_GOOD_IDX)[:-3])
    with pytest.raises(IDXFormatError) as caught:
        load_mnist_format(small_spec({}), folder, download=False)
    assert TEST_IMAGES in str(caught.value)


# ---------------------------------------------------------------------------
# Downloads from a local HTTP server.


def test_download_into_empty_cache_then_reuse_it(tmp_path, monkeypatch):
    dataset = write_small_dataset(tmp_path / "served")
    spec = small_spec(dataset["md5"])
    cache = tmp_path / "cache"
    monkeypatch.setenv("FASTMLP_CACHE", str(cache))
    with file_server(tmp_path / "served") as (base_url, requests):
        monkeypatch.setenv("FASTMLP_MNIST_MIRROR", base_url)
        train, test = load_mnist_format(spec)
        assert sorted(requests) == sorted(f"/{name}" for name in FILENAMES)
    arrays = dataset["arrays"]
    assert_same_split(train, arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS])
    assert_same_split(test, arrays[TEST_IMAGES], arrays[TEST_LABELS])
    assert sorted(os.listdir(cache / "tiny-mnist")) == sorted(FILENAMES)
    # Server is stopped now: the second load must come from the cache alone.
    train_again, _ = load_mnist_format(spec)
    assert_same_split(train_again, arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS])
    assert len(requests) == 4


def test_download_fetches_only_missing_files(tmp_path, monkeypatch):
    dataset = write_small_dataset(tmp_path / "served")
    target = tmp_path / "target"
    write_small_dataset(target)
    (target / TRAIN_IMAGES).unlink()
    with file_server(tmp_path / "served") as (base_url, requests):
        monkeypatch.setenv("FASTMLP_MNIST_MIRROR", base_url)
        load_mnist_format(small_spec(dataset["md5"]), target)
    assert requests == [f"/{TRAIN_IMAGES}"]


def test_md5_mismatch_leaves_no_file_behind(tmp_path, monkeypatch):
    expected = write_small_dataset(tmp_path / "expected", seed=1)
    write_small_dataset(tmp_path / "served", seed=2)  # same names, other content
    cache_folder = tmp_path / "cache" / "tiny-mnist"
    monkeypatch.setenv("FASTMLP_CACHE", str(tmp_path / "cache"))
    with file_server(tmp_path / "served") as (base_url, _):
        monkeypatch.setenv("FASTMLP_MNIST_MIRROR", base_url)
        with pytest.raises(DatasetDownloadError) as caught:
            load_mnist_format(small_spec(expected["md5"]))
    message = str(caught.value)
    served_md5 = hashlib.md5((tmp_path / "served" / TRAIN_IMAGES).read_bytes()).hexdigest()
    assert "md5 mismatch" in message and TRAIN_IMAGES in message
    assert expected["md5"][TRAIN_IMAGES] in message and served_md5 in message
    assert os.listdir(cache_folder) == []


def test_http_404_reports_folder_and_files(tmp_path, monkeypatch):
    (tmp_path / "empty-site").mkdir()
    folder = tmp_path / "target"
    with file_server(tmp_path / "empty-site") as (base_url, _):
        monkeypatch.setenv("FASTMLP_MNIST_MIRROR", base_url)
        with pytest.raises(DatasetDownloadError) as caught:
            mnist.load_data(folder)
    message = str(caught.value)
    assert str(folder) in message and "404" in message
    assert all(name in message for name in FILENAMES)
    assert f"{base_url}{TRAIN_IMAGES}" in message
    assert os.listdir(folder) == []


def test_connection_refused_reports_folder_and_files(tmp_path, monkeypatch):
    # The autouse fixture already points the mirror at a closed port.
    monkeypatch.setenv("FASTMLP_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DatasetDownloadError) as caught:
        mnist.load_data()
    message = str(caught.value)
    assert str(tmp_path / "cache" / "mnist") in message
    assert all(name in message for name in FILENAMES)
    assert "cannot connect" in message and "FASTMLP_DATA" in message
    assert isinstance(caught.value, OSError)


def test_mirror_fallback_uses_second_mirror(tmp_path, monkeypatch):
    dataset = write_small_dataset(tmp_path / "served")
    (tmp_path / "empty-site").mkdir()
    with (
        file_server(tmp_path / "empty-site") as (broken_url, broken_requests),
        file_server(tmp_path / "served") as (good_url, good_requests),
    ):
        monkeypatch.setenv("FASTMLP_MNIST_MIRROR", f"{broken_url}, {good_url}")
        train, _ = load_mnist_format(small_spec(dataset["md5"]), tmp_path / "target")
    assert len(broken_requests) == 4 and len(good_requests) == 4
    assert_same_split(train, dataset["arrays"][TRAIN_IMAGES], dataset["arrays"][TRAIN_LABELS])


def test_mirror_list_from_spec_when_env_unset(tmp_path, monkeypatch):
    dataset = write_small_dataset(tmp_path / "served")
    monkeypatch.delenv("FASTMLP_MNIST_MIRROR")
    with file_server(tmp_path / "served") as (base_url, requests):
        spec = small_spec(dataset["md5"], mirrors=(base_url.rstrip("/"),))
        load_mnist_format(spec, tmp_path / "target")
    assert len(requests) == 4


def test_unwritable_cache_folder_is_a_clear_error(tmp_path, monkeypatch):
    # A regular file where a folder should be: fails even when running as root.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("FASTMLP_CACHE", str(blocker / "cache"))
    with pytest.raises(DatasetDownloadError) as caught:
        mnist.load_data()
    message = str(caught.value)
    assert str(blocker / "cache" / "mnist") in message and "FASTMLP_CACHE" in message


def test_fashion_mnist_uses_its_own_mirror_variable_and_checksums(tmp_path, monkeypatch):
    write_small_dataset(tmp_path / "served")
    monkeypatch.setenv("FASTMLP_CACHE", str(tmp_path / "cache"))
    with file_server(tmp_path / "served") as (base_url, requests):
        monkeypatch.setenv("FASTMLP_FASHION_MNIST_MIRROR", base_url)
        with pytest.raises(DatasetDownloadError) as caught:
            fashion_mnist.load_data()
    assert requests  # the override was honoured
    message = str(caught.value)
    assert fashion_mnist.FASHION_MNIST.md5_by_file[TRAIN_IMAGES] in message
    assert str(tmp_path / "cache" / "fashion-mnist") in message
    assert os.listdir(tmp_path / "cache" / "fashion-mnist") == []


def test_dataset_tables_are_consistent():
    for spec in (mnist.MNIST, fashion_mnist.FASHION_MNIST):
        assert set(spec.md5_by_file) == set(FILENAMES)
        assert all(len(md5) == 32 for md5 in spec.md5_by_file.values())
        assert spec.mirrors and all(url.startswith("http") for url in spec.mirrors)
        assert (spec.train_count, spec.test_count) == (60000, 10000)
    assert dataclasses.is_dataclass(mnist.MNIST)


def test_folder_that_refuses_new_files_is_a_clear_error(tmp_path, monkeypatch):
    # chmod cannot block root, so simulate the refusal where the temp file is made.
    import fastmlp.datasets.download as download_module

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(download_module.tempfile, "mkstemp", refuse)
    dataset = write_small_dataset(tmp_path / "served")
    folder = tmp_path / "read-only"
    folder.mkdir()
    with file_server(tmp_path / "served") as (base_url, requests):
        monkeypatch.setenv("FASTMLP_MNIST_MIRROR", base_url)
        with pytest.raises(DatasetDownloadError, match="Permission denied") as caught:
            load_mnist_format(small_spec(dataset["md5"]), folder)
    assert str(folder) in str(caught.value)
    assert requests == []  # gave up before touching the network
