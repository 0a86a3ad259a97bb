"""Locate dataset files on disk and fetch missing ones into a cache folder.

Downloads are verified against known md5 checksums and written atomically:
data goes to a temporary file in the destination folder, which is renamed to
its final name only after the checksum matches. A file under its final name is
therefore always complete and verified (or was put there by the user).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "DATA_ENV_VAR",
    "CACHE_ENV_VAR",
    "DOWNLOAD_TIMEOUT_SECONDS",
    "DatasetDownloadError",
    "default_cache_folder",
    "resolve_data_folder",
    "mirrors_from_env",
    "find_local_files",
    "fetch_files",
    "manual_install_hint",
]

DATA_ENV_VAR = "FASTMLP_DATA"
CACHE_ENV_VAR = "FASTMLP_CACHE"
DOWNLOAD_TIMEOUT_SECONDS = 30.0
_DOWNLOAD_CHUNK_BYTES = 1 << 20
_GZIP_SUFFIX = ".gz"


class DatasetDownloadError(OSError):
    """Dataset files are missing and could not be fetched or stored.

    Raised when every mirror failed (offline, HTTP error, md5 mismatch) or the
    destination folder cannot be created or written.
    """


def _env(name: str) -> str | None:
    """An environment variable's value, treating empty as unset."""
    value = os.environ.get(name, "").strip()
    return value or None


def default_cache_folder(cache_subdir: str) -> str:
    """Per-user cache folder for one dataset.

    ``$FASTMLP_CACHE/<subdir>`` if set, else ``$XDG_CACHE_HOME/fastmlp/<subdir>``,
    else ``~/.cache/fastmlp/<subdir>``.
    """
    cache_root = _env(CACHE_ENV_VAR)
    if cache_root is not None:
        return os.path.join(os.path.expanduser(cache_root), cache_subdir)
    xdg_cache = _env("XDG_CACHE_HOME")
    if xdg_cache is not None:
        return os.path.join(os.path.expanduser(xdg_cache), "fastmlp", cache_subdir)
    return os.path.join(os.path.expanduser("~"), ".cache", "fastmlp", cache_subdir)


def resolve_data_folder(
    path: str | os.PathLike[str] | None, cache_subdir: str, data_env_var: str = DATA_ENV_VAR
) -> str:
    """Folder to read a dataset from: ``path``, else ``$data_env_var``, else the cache."""
    if path is not None:
        return os.path.expanduser(os.fspath(path))
    data_folder = _env(data_env_var)
    if data_folder is not None:
        return os.path.expanduser(data_folder)
    return default_cache_folder(cache_subdir)


def mirrors_from_env(env_var: str, default_mirrors: Sequence[str]) -> tuple[str, ...]:
    """Mirror base URLs: the comma-separated list in ``env_var`` if set, else the defaults."""
    override = _env(env_var)
    if override is None:
        return tuple(default_mirrors)
    return tuple(url.strip() for url in override.split(",") if url.strip())


def _uncompressed_name(filename: str) -> str:
    return filename[: -len(_GZIP_SUFFIX)] if filename.endswith(_GZIP_SUFFIX) else filename


def find_local_files(folder: str, filenames: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Split ``filenames`` into those present in ``folder`` and those missing.

    A ``.gz`` name also counts as present when only its uncompressed variant
    exists. Returns ``({name: path_found}, [missing names])``.
    """
    found: dict[str, str] = {}
    missing: list[str] = []
    for filename in filenames:
        for candidate in (filename, _uncompressed_name(filename)):
            candidate_path = os.path.join(folder, candidate)
            if os.path.isfile(candidate_path):
                found[filename] = candidate_path
                break
        else:
            missing.append(filename)
    return found, missing


def manual_install_hint(folder: str, filenames: Iterable[str]) -> str:
    """Tell the user how to provide the files without downloading."""
    names = ", ".join(filenames)
    return (
        f"To install them by hand, put the files ({names}; gzipped or not) in {folder}, "
        f"or in any folder that you pass as load_data(path=...) or name in the "
        f"{DATA_ENV_VAR} environment variable."
    )


def _md5_hasher():
    # Not a security use; the flag keeps md5 available on FIPS-mode systems.
    return hashlib.md5(usedforsecurity=False)


def _join_url(base_url: str, filename: str) -> str:
    return base_url.rstrip("/") + "/" + filename


def _describe_network_error(error: BaseException) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"cannot connect ({error.reason})"
    return f"{type(error).__name__}: {error}"


class _ChecksumMismatch(Exception):
    """A downloaded file's md5 differs from the expected one (try the next mirror)."""


class _FolderWriteError(Exception):
    """Writing into the destination folder failed; other mirrors will not help."""


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _download_verified(url: str, folder: str, filename: str, expected_md5: str, timeout: float) -> str:
    """Download ``url`` to ``folder/filename`` atomically, checking its md5."""
    destination = os.path.join(folder, filename)
    try:
        temp_fd, temp_path = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
    except OSError as error:
        raise _FolderWriteError(error) from error
    try:
        hasher = _md5_hasher()
        with os.fdopen(temp_fd, "wb") as temp_file:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                while chunk := response.read(_DOWNLOAD_CHUNK_BYTES):
                    hasher.update(chunk)
                    try:
                        temp_file.write(chunk)
                    except OSError as error:
                        raise _FolderWriteError(error) from error
            try:
                temp_file.flush()
            except OSError as error:
                raise _FolderWriteError(error) from error
        actual_md5 = hasher.hexdigest()
        if actual_md5 != expected_md5.lower():
            raise _ChecksumMismatch(f"md5 mismatch for {filename}: expected {expected_md5}, got {actual_md5}")
        try:
            os.replace(temp_path, destination)
        except OSError as error:
            raise _FolderWriteError(error) from error
    except BaseException:
        # Covers Ctrl-C too: never leave a partial download behind.
        _remove_quietly(temp_path)
        raise
    return destination


def fetch_files(
    folder: str,
    md5_by_file: Mapping[str, str],
    mirrors: Sequence[str],
    *,
    dataset_name: str,
    all_filenames: Sequence[str] | None = None,
    timeout: float = DOWNLOAD_TIMEOUT_SECONDS,
) -> dict[str, str]:
    """Download each file of ``md5_by_file`` into ``folder``, trying mirrors in order.

    Creates ``folder`` if needed. Returns ``{filename: path}``. Raises
    ``DatasetDownloadError`` if the folder is not writable or a file cannot be
    fetched with the right md5 from any mirror; its message lists the missing
    files, the folder, every URL tried with the reason, and how to install the
    files by hand. ``all_filenames`` (default: the files requested) are the
    names shown in that hint.
    """
    hint_names = list(all_filenames) if all_filenames is not None else list(md5_by_file)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise _folder_error(dataset_name, folder, error, hint_names) from error

    fetched: dict[str, str] = {}
    for filename, expected_md5 in md5_by_file.items():
        failures: list[str] = []
        for base_url in mirrors:
            url = _join_url(base_url, filename)
            print(f"Downloading {url} -> {folder}", file=sys.stderr)
            try:
                fetched[filename] = _download_verified(url, folder, filename, expected_md5, timeout)
                break
            except _FolderWriteError as error:
                cause = error.__cause__ or error
                raise _folder_error(dataset_name, folder, cause, hint_names) from cause
            except _ChecksumMismatch as error:
                failures.append(f"{url}: {error}")
            except (OSError, http.client.HTTPException, ValueError) as error:
                # URLError/HTTPError/timeouts are OSErrors; ValueError is a malformed URL.
                failures.append(f"{url}: {_describe_network_error(error)}")
        else:
            still_missing = [name for name in md5_by_file if name not in fetched]
            tried = "\n".join(f"  {line}" for line in failures) or "  (no mirrors configured)"
            raise DatasetDownloadError(
                f"{dataset_name} files missing from {folder}: {', '.join(still_missing)}.\n"
                f"Could not download {filename}; URLs tried:\n{tried}\n" + manual_install_hint(folder, hint_names)
            )
    return fetched


def _folder_error(
    dataset_name: str, folder: str, cause: BaseException, filenames: Sequence[str]
) -> DatasetDownloadError:
    return DatasetDownloadError(
        f"Cannot store {dataset_name} files in {folder}: {cause}.\n"
        f"Set {CACHE_ENV_VAR} to a writable folder to download there instead. " + manual_install_hint(folder, filenames)
    )
