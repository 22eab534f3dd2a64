"""Report folders that cannot be half-written or mixed.

:func:`check_out_dir` refuses an output folder that cannot be written (a file, a read-only
folder, a parent that is a file) before any computation starts. :func:`write_folder` writes a
whole report:

* when the folder is new, empty, or a capplan report (it holds :data:`MARKER` and nothing but
  the files that marker lists, or no marker and only file names a report writes), every file
  is written into a temporary folder beside it and the folder is swapped into place in two
  renames; a failure on the way leaves the previous report
  as it was, a rerun leaves no stale file of the earlier run (e.g. ``issues.csv``), and two
  concurrent runs each leave a complete report (the last one wins);
* otherwise (the folder holds files capplan did not write) nothing of the user's is removed:
  each file is written beside its final name and renamed into place, the report files an
  earlier run listed in the marker but this run does not write are removed, and the returned
  :class:`ReportFiles` carries a ``note`` saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

MARKER = ".capplan-report"  # JSON: {"tool", "report", "files"}; no .json suffix (globs)


class ReportFiles(dict):
    """name -> path of every file written; ``note`` is set when the folder was shared with
    files capplan did not write (written file by file instead of swapped)."""

    note: str | None = None


def check_out_dir(path: str | Path, option: str = "--out") -> Path:
    """``path`` if a report folder can be written there; else one-line ValueError naming
    ``option`` and the fix."""
    out = Path(path)
    if out.exists():
        if not out.is_dir():
            raise ValueError(f"{option} {out}: is a file; give a folder for the report")
        if not os.access(out, os.W_OK | os.X_OK):
            raise ValueError(f"{option} {out}: folder is not writable; give a writable folder")
        parent = out.resolve().parent
    else:
        parent = out.absolute().parent
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise ValueError(f"{option} {out}: {parent} is a file; give a folder for the report")
    # the swap creates a temporary folder beside the report: the parent must be writable too
    # (else the report is written file by file, which only needs the folder itself)
    if not out.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {out}: cannot create it in {parent} (not writable); "
                         "give a writable folder")  # fmt: skip
    return out


def _listed(out: Path) -> set[str] | None:
    """File names the marker of ``out`` lists (None: no readable marker)."""
    try:
        data = json.loads((out / MARKER).read_text(encoding="utf-8"))
        return {str(n) for n in data["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _owned(out: Path, known: Iterable[str] = ()) -> bool:
    """True when replacing ``out`` removes nothing but an earlier capplan report: the files
    its marker lists, or (a report of a version without marker) only ``known`` file names."""
    if not out.exists():
        return True
    entries = {p.name for p in out.iterdir()}
    listed = _listed(out)
    if listed is None:
        return entries <= set(known)
    return entries <= listed | {MARKER}


def _write_file(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def _marker(kind: str, names: list[str]) -> str:
    return json.dumps({"tool": "capplan", "report": kind, "files": names}, indent=2)


def write_folder(out_dir: str | Path, contents: Mapping[str, str | bytes], kind: str,
                 known: Iterable[str] = (), option: str = "--out") -> ReportFiles:  # fmt: skip
    """Write ``contents`` (file name -> text or bytes) as the report folder ``out_dir`` (see
    the module docstring); ``known``: every file name a report of this ``kind`` may hold (a
    folder of only those, without marker, is an earlier capplan report). Returns file name ->
    final path."""
    out = check_out_dir(out_dir, option)
    names = list(contents)
    files = ReportFiles({name: out / name for name in names})
    owned = _owned(out, known)
    if owned and os.access(out.absolute().parent, os.W_OK | os.X_OK):
        _swap(out, contents, kind)
        return files
    listed = _listed(out) or set()
    for name, content in contents.items():
        tmp = out / f".{name}.tmp-{os.getpid()}"
        try:
            _write_file(tmp, content)
            os.replace(tmp, out / name)
        finally:
            tmp.unlink(missing_ok=True)
    for stale in listed - set(names) - {MARKER}:
        (out / stale).unlink(missing_ok=True)
    tmp = out / f".{MARKER}.tmp-{os.getpid()}"
    _write_file(tmp, _marker(kind, names))
    os.replace(tmp, out / MARKER)
    why = "its parent folder is not writable" if owned else "it holds files capplan did not write"
    files.note = (
        f"{out}: {why}, so the report was written file by file into it; "
        "give a new or empty folder for a clean report"
    )
    return files


def _swap(out: Path, contents: Mapping[str, str | bytes], kind: str) -> None:
    """Write into a temporary folder beside ``out``, then move it into place."""
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=parent))
    try:
        for name, content in contents.items():
            _write_file(tmp / name, content)
        _write_file(tmp / MARKER, _marker(kind, list(contents)))
        os.chmod(tmp, 0o777 & ~_umask())
        for _ in range(20):  # a concurrent run may swap its own folder in between
            old = None
            if out.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
                with contextlib.suppress(FileNotFoundError):  # another run moved it first
                    os.replace(out, old / "report")
            try:
                os.rename(tmp, out)
            except OSError:
                if old is not None and (old / "report").exists() and not out.exists():
                    os.replace(old / "report", out)  # put the previous report back
                    shutil.rmtree(old, ignore_errors=True)
                    raise
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
                if out.exists():
                    continue  # another run's folder landed first: move it aside and retry
                raise
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            return
        raise OSError(f"{out}: could not move the report into place (concurrent runs?)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
