"""Execute the chapters side by side into Jupyter Book's cache, and never show a stale output.

Jupyter Book keeps executed chapters in jupyter-cache (``_build/.jupyter_cache``
with ``execute_notebooks: cache``), keyed on their code cells only: on its own
it would show the outputs of an older ``cnnlab`` or of other data. This Sphinx
extension (listed in ``_config.yml``) adds what it lacks:

* **Dependencies.** Every cache record it makes carries a fingerprint of what
  else a chapter's outputs depend on: the files and folders listed in
  ``book_execution_dependencies`` (the ``cnnlab`` sources, the pinned
  requirements) and the environment variables that change what a chapter
  prints (``cnnlab.environment.AFFECTS_OUTPUTS``: the MNIST mode and the
  training steps; an empty value counts as unset), with any others listed
  in ``book_execution_environment``. A record whose fingerprint
  differs from the current one, or that has none, is removed, so its chapter
  is executed again; Sphinx re-reads that chapter even in an incremental
  build.
* **Side by side.** Before Sphinx reads the chapters, every chapter without a
  valid record is executed, as many at a time as the process has cores (or
  ``book_execution_workers``), each kernel told to use one PyTorch thread
  per core it gets (``CNNLAB_THREADS``), and its outputs go into the cache
  with the kernel's peak memory and wall time; myst-nb then finds every
  chapter in the cache. A chapter that fails is not cached: myst-nb executes
  it once more as it reads it, so that the failure is reported (and its
  traceback written to ``reports/``) exactly as without this extension.
* **One runner.** Each chapter runs through :func:`booktools.runner.run_notebook`,
  with the cell timeout :data:`booktools.runner.CELL_TIMEOUT`, which the
  extension also gives myst-nb (``_config.yml`` names none).
* **Executed notebooks.** After each chapter is read, its notebook in
  ``jupyter_execute`` (which the site's download button offers) gets the
  outputs from the cache: in cache mode myst-nb writes it without them.

So a prose edit re-executes nothing, an edit of a chapter's code cells
re-executes that chapter, and an edit of ``cnnlab`` or of the requirements
re-executes every chapter. To execute everything from scratch, delete the
cache: ``jupyter-book clean --all .``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import traceback
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEPENDENCIES_KEY",
    "KERNEL_KEY",
    "Chapter",
    "dependency_fingerprint",
    "execute_side_by_side",
    "fingerprint_variables",
    "parallel_workers",
    "setup",
]

DEPENDENCIES_KEY = "dependencies"
KERNEL_KEY = "kernel"


def dependency_fingerprint(
    root: str | os.PathLike, paths: Iterable[str], variables: Iterable[str], environ: Mapping[str, str] | None = None
) -> str:
    """A digest of the files under ``paths`` (relative to ``root``) and of the values of ``variables``.

    Folders count every file inside them, by relative path and content,
    except Python's byte-code caches.

    Raises
    ------
    FileNotFoundError
        If one of ``paths`` does not exist.

    Examples
    --------
    >>> sample = dependency_fingerprint(".", [], ["CNNLAB_MNIST"], {"CNNLAB_MNIST": "sample"})
    >>> full = dependency_fingerprint(".", [], ["CNNLAB_MNIST"], {"CNNLAB_MNIST": "full"})
    >>> sample == full, len(sample)
    (False, 64)
    """
    root = Path(root)
    environ = os.environ if environ is None else environ
    digest = hashlib.sha256()
    for name in paths:
        base = root / name
        if not base.exists():
            raise FileNotFoundError(
                f"book_execution_dependencies names {name!r}, which is not in {root.resolve()}: "
                "list files or folders relative to the book's root in _config.yml."
            )
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for file in files:
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    for variable in variables:
        value = (environ.get(variable) or "").strip()  # empty counts as unset, as cnnlab reads it
        digest.update(f"{variable}={value or '<unset>'}\0".encode())
    return digest.hexdigest()


def fingerprint_variables(configured: Iterable[str]) -> list[str]:
    """The environment variables the cache depends on: those cnnlab says change the outputs, and any ``configured``.

    Examples
    --------
    >>> fingerprint_variables(["MY_SETTING"])
    ['CNNLAB_MNIST', 'CNNLAB_TRAINING_STEPS', 'MY_SETTING']
    """
    from cnnlab.environment import AFFECTS_OUTPUTS

    return [*AFFECTS_OUTPUTS, *(name for name in configured if name not in AFFECTS_OUTPUTS)]


def parallel_workers(chapters: int, cpus: float, requested: int = 0) -> int:
    """How many chapters to execute at once: ``requested`` if set, else one per whole core, never more than ``chapters``.

    Examples
    --------
    >>> parallel_workers(9, cpus=2), parallel_workers(1, cpus=16), parallel_workers(9, cpus=0.5), parallel_workers(9, 16, 3)
    (2, 1, 1, 3)
    """
    if requested < 0:
        raise ValueError(f"book_execution_workers={requested} must be 0 (one per core) or a positive number of kernels.")
    workers = requested or max(1, math.floor(cpus))
    return max(1, min(workers, chapters))


@dataclass
class Chapter:
    """One chapter to execute: its name, its notebook (executed in place) and what the run gave."""

    docname: str
    notebook: object
    path: Path
    read_format: dict | None = None
    seconds: float = 0.0
    error: str | None = None
    kernel: dict | None = None


def _execute_one(chapter: Chapter, timeout: int, allow_errors: bool, environ: Mapping[str, str]) -> Chapter:
    """Execute one chapter's notebook in its folder, with the measured kernel recording into a file of its own."""
    from booktools.build.measured_kernel import CHAPTER_VARIABLE, RECORD_VARIABLE
    from booktools.runner import run_notebook

    settings = chapter.notebook.metadata.get("execution", {})
    with tempfile.TemporaryDirectory(prefix="booktools-kernel-") as folder:
        record = Path(folder) / "kernel.jsonl"
        env = {**environ, CHAPTER_VARIABLE: chapter.docname, RECORD_VARIABLE: str(record)}
        try:
            run = run_notebook(
                chapter.notebook,
                chapter.path.parent,
                env=env,
                timeout=settings.get("timeout", timeout),
                allow_errors=settings.get("allow_errors", allow_errors),
            )
            chapter.seconds = run.seconds
            if run.status != "passed":
                chapter.error = f"{run.status} at code cell {run.cell}: {run.error}"
        except Exception:  # noqa: BLE001 - the kernel would not start: myst-nb reports it again as it reads the chapter
            chapter.error = traceback.format_exc()
        lines = record.read_text(encoding="utf-8").splitlines() if record.is_file() else []
        chapter.kernel = json.loads(lines[-1]) if lines else None
    return chapter


def execute_side_by_side(
    chapters: list[Chapter],
    workers: int,
    timeout: int | None = None,
    allow_errors: bool = False,
    environ: Mapping[str, str] | None = None,
    threads_per_kernel: int = 1,
    done=None,
) -> list[Chapter]:
    """Execute ``chapters`` in place, ``workers`` at a time, each kernel with ``threads_per_kernel`` PyTorch threads.

    Parameters
    ----------
    chapters : list of Chapter
        Their notebooks are executed in place; ``seconds``, ``error`` and ``kernel`` are filled in.
    workers : int
        Kernels running at once.
    timeout : int, optional
        Seconds a cell may run (default: :data:`booktools.runner.CELL_TIMEOUT`).
    allow_errors : bool
        Go on after a cell fails.
    environ : mapping, optional
        The kernels' environment (default: this process's).
    threads_per_kernel : int
        PyTorch threads of each kernel, set in its environment by :func:`booktools.runner.kernel_environment`.
    done : callable, optional
        Called with each chapter as it finishes, from the calling thread.

    Returns
    -------
    list of Chapter
        The same chapters, in the order they finished.
    """
    from booktools.runner import CELL_TIMEOUT, kernel_environment

    environ = kernel_environment(threads=threads_per_kernel, base=os.environ if environ is None else environ)
    timeout = CELL_TIMEOUT if timeout is None else timeout
    finished = []
    # Threads are enough: each kernel is a process of its own, and the threads only wait for them.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="booktools-execute") as pool:
        futures = [pool.submit(_execute_one, chapter, timeout, allow_errors, environ) for chapter in chapters]
        for future in as_completed(futures):
            chapter = future.result()
            finished.append(chapter)
            if done is not None:
                done(chapter)
    return finished


# The Sphinx extension.


@dataclass
class _Plan:
    fingerprint: str
    cache: object


def _notebook_of(app, docname: str):
    """The notebook myst-nb reads for ``docname`` (with its reader's format), or None for a page without code."""
    from myst_nb.core.read import create_nb_reader

    path = Path(app.env.doc2path(docname))
    text = path.read_text(encoding="utf-8")
    nb_config = app.env.mystnb_config
    reader = create_nb_reader(str(path), app.env.myst_config, nb_config, text)
    if reader is None:
        return None
    notebook = reader.read(text)
    if not any(cell.cell_type == "code" for cell in notebook.cells):
        return None
    # myst-nb renames kernels the same way before it looks the notebook up in the cache.
    name = notebook.metadata.get("kernelspec", {}).get("name")
    for pattern, alias in (nb_config.kernel_rgx_aliases or {}).items():
        if name is not None and re.fullmatch(pattern, name):
            notebook.metadata["kernelspec"]["name"] = alias
            break
    return notebook, path, reader.read_fmt


def _excluded(app, path: Path) -> bool:
    from fnmatch import fnmatch

    relative = path.resolve().relative_to(Path(app.srcdir).resolve()).as_posix()
    return any(fnmatch(relative, pattern) for pattern in app.env.mystnb_config.execution_excludepatterns)


def _valid_record(plan: _Plan, notebook):
    """The cache record of ``notebook`` made with today's dependencies; a record made with others is removed."""
    try:
        record = plan.cache.match_cache_notebook(notebook)
    except KeyError:
        return None
    if (record.data or {}).get(DEPENDENCIES_KEY) == plan.fingerprint:
        return record
    plan.cache.remove_cache(record.pk)
    return None


def _start(app) -> None:
    from jupyter_cache import get_cache
    from sphinx.errors import ExtensionError

    mode = app.env.mystnb_config.execution_mode
    if mode == "off":
        app.booktools_execution = None
        return
    if mode != "cache":
        raise ExtensionError(
            f"booktools.build.execution needs execute_notebooks: cache in _config.yml, not {mode!r}: it keeps the cache "
            "true to cnnlab and the requirements. To execute everything again, run jupyter-book clean --all . first."
        )
    fingerprint = dependency_fingerprint(
        app.confdir, app.config.book_execution_dependencies, fingerprint_variables(app.config.book_execution_environment)
    )
    app.booktools_execution = _Plan(fingerprint, get_cache(app.env.mystnb_config.execution_cache_path))


def _stale(app, docnames: Iterable[str]) -> dict[str, tuple]:
    """The chapters among ``docnames`` that have code and no valid cache record: docname -> (notebook, path, format)."""
    plan = app.booktools_execution
    stale = {}
    for docname in sorted(docnames):
        found = _notebook_of(app, docname)
        if found is None or _excluded(app, found[1]):
            continue
        if _valid_record(plan, found[0]) is None:
            stale[docname] = found
    return stale


def _outdated(app, env, added, changed, removed) -> list[str]:
    """Have Sphinx re-read every chapter whose cached outputs are missing or stale, even if its source did not change."""
    if app.booktools_execution is None:
        return []
    return sorted(set(_stale(app, env.found_docs - added - changed)))


def _execute_stale(app, env, docnames: list[str]) -> None:
    from jupyter_cache.base import CacheBundleIn
    from sphinx.util import logging

    from booktools.build import kernel_usage

    logger = logging.getLogger(__name__)
    plan = app.booktools_execution
    if plan is None:
        return
    stale = _stale(app, docnames)
    chapters = [Chapter(name, notebook, path, read_format) for name, (notebook, path, read_format) in stale.items()]
    if chapters:
        from cnnlab.threads import available_cpus

        cpus = available_cpus()
        workers = parallel_workers(len(chapters), cpus, app.config.book_execution_workers)
        threads = max(1, math.floor(cpus / workers))
        logger.info(
            f"[booktools.build.execution] executing {len(chapters)} chapter(s), {workers} at a time, "
            f"{threads} PyTorch thread(s) each"
        )

        def report(chapter: Chapter) -> None:
            if chapter.error:
                logger.info(
                    f"[booktools.build.execution] {chapter.docname} failed after {chapter.seconds:.1f} s: "
                    "myst-nb runs it again to report"
                )
                return
            kwargs = {"read_data": chapter.read_format} if chapter.read_format else {}
            stage = plan.cache.add_nb_to_project(str(chapter.path), **kwargs)
            data = {"execution_seconds": chapter.seconds, DEPENDENCIES_KEY: plan.fingerprint, KERNEL_KEY: chapter.kernel}
            plan.cache.cache_notebook_bundle(
                CacheBundleIn(chapter.notebook, stage.uri, data=data), check_validity=False, overwrite=True
            )
            logger.info(f"[booktools.build.execution] executed {chapter.docname} in {chapter.seconds:.1f} s")

        execute_side_by_side(
            chapters,
            workers,
            timeout=app.env.mystnb_config.execution_timeout,
            allow_errors=app.env.mystnb_config.execution_allow_errors,
            threads_per_kernel=threads,
            done=report,
        )
    logger.info(f"[booktools.build.execution] {len(chapters)} chapter(s) executed, the others' outputs taken from the cache")
    records = []
    for docname in sorted(env.found_docs):
        found = _notebook_of(app, docname)
        record = _valid_record(plan, found[0]) if found is not None else None
        if record is not None and (record.data or {}).get(KERNEL_KEY):
            records.append({**record.data[KERNEL_KEY], "chapter": docname})
    kernel_usage.write_usage(kernel_usage.usage_file(app.outdir), records)


def _write_executed_notebook(app, doctree) -> None:
    """Put the chapter's outputs into its notebook in ``jupyter_execute``, which the site's download button offers.

    In cache mode myst-nb writes the notebook it read there, without the
    outputs it merged from the cache into the page.
    """
    import nbformat

    plan = app.booktools_execution
    if plan is None:
        return
    found = _notebook_of(app, app.env.docname)
    if found is None or _valid_record(plan, found[0]) is None:
        return
    _, executed = plan.cache.merge_match_into_notebook(found[0])
    target = Path(app.env.mystnb_config.output_folder).joinpath(*f"{app.env.docname}.ipynb".split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(nbformat.writes(executed), encoding="utf-8")


# What Jupyter Book hands Sphinx when _config.yml names no execute.timeout.
_JUPYTER_BOOK_DEFAULT_TIMEOUT = 30


def _cell_timeout(app, config) -> None:
    """Give myst-nb the cell timeout of :mod:`booktools.runner`, the one place that decides how notebooks execute."""
    from sphinx.errors import ConfigError

    from booktools.runner import CELL_TIMEOUT

    if config.nb_execution_timeout not in (_JUPYTER_BOOK_DEFAULT_TIMEOUT, CELL_TIMEOUT):
        raise ConfigError(
            f"execute.timeout: {config.nb_execution_timeout} in _config.yml: the book's cell timeout is "
            f"booktools.runner.CELL_TIMEOUT ({CELL_TIMEOUT} s), which every run of a notebook uses; "
            "remove execute.timeout from _config.yml, and change it there."
        )
    config.nb_execution_timeout = CELL_TIMEOUT


def setup(app) -> dict:
    """Register the extension with Sphinx."""
    app.add_config_value("book_execution_dependencies", [], "env")
    app.add_config_value("book_execution_environment", [], "env")
    app.add_config_value("book_execution_workers", 0, "env")
    # After myst-nb's own builder-inited handler, which sets up its configuration and cache path.
    app.connect("config-inited", _cell_timeout)
    app.connect("builder-inited", _start, priority=900)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-before-read-docs", _execute_stale)
    app.connect("doctree-read", _write_executed_notebook)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
