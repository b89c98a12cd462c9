"""Running a cohort: every case through :func:`cacscore.case_folder.predict_to_folder`, in-process, on a local
process pool, or on an existing Dask distributed cluster.

The predictor (model + engine) is loaded once per worker process, never per case: by the pool's initializer
locally, and by a worker-local cache on Dask. Each worker's PyTorch / ONNX Runtime thread count is the
machine's cores divided by the workers (or Dask threads) sharing it, so workers do not oversubscribe the CPU.

A case is done when ``OUTDIR/<id>/result.json`` exists (the pipeline writes it last, atomically); done cases
are skipped unless ``overwrite`` is set, so a killed run resumes where it stopped. A case that fails is
recorded in ``OUTDIR/<id>/error.json`` (and the cohort summary) without stopping the others, and is tried
again by the next run. An interrupt (Ctrl-C) stops the local workers at once: they ignore SIGINT, and the
main process terminates them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cacscore.batch.discovery import BatchCase, discover_cases, is_done, select_part
from cacscore.batch.run_summary import CohortSummary, write_cohort_summary
from cacscore.errors import CacscoreError
from cacscore.io.atomic import write_text_atomic
from cacscore.log import get_logger

log = get_logger(__name__)

#: Per-case error record written by the batch runner when a case fails (removed when it later succeeds).
ERROR_RECORD = "error.json"

#: Environment variable through which a worker tells inference engines how many threads to use.
THREADS_ENV = "CACSCORE_NUM_THREADS"


@dataclass(frozen=True)
class BatchReport:
    """What a batch run did: the outcome of every case it ran, what it skipped, and the cohort summary."""

    outcomes: tuple[Any, ...]
    skipped: tuple[str, ...]
    summary: CohortSummary

    @property
    def failed(self) -> tuple[Any, ...]:
        """Outcomes of the cases that failed in this run."""
        return tuple(o for o in self.outcomes if o.status != "ok")


def run_batch(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    options: Any,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    num_parts: int = 1,
    part_id: int = 0,
    on_case_done: Callable[[Any], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> BatchReport:
    """Predict every case of a cohort into ``out_dir`` and write the cohort summary.

    Args:
        source: a folder of cases or a manifest CSV (see :func:`discover_cases`).
        out_dir: output folder; ``out_dir/<case_id>/`` per case, plus summary.csv, risk_categories.png and
            index.html for the whole cohort.
        options: :class:`cacscore.detection.pipeline.PredictOptions`; ``options.overwrite`` redoes done cases.
        workers: local worker processes (1 runs in this process). Ignored with ``scheduler``.
        scheduler: address of a running Dask distributed scheduler (e.g. ``tcp://host:8786``).
        num_parts, part_id: run only part ``part_id`` of ``num_parts`` (job arrays; see :func:`select_part`).
        on_case_done: called in this process with each case's outcome as it completes (progress).
        on_start: called once with (cases to run, cases skipped as done).

    Returns:
        A :class:`BatchReport`.
    """
    if workers < 1:
        raise CacscoreError(f"--workers must be at least 1, not {workers}")
    from cacscore.case_folder import check_output_folder

    out = Path(out_dir)
    cohort = discover_cases(source)
    check_output_folder(out, [Path(source), *(c.input_path for c in cohort)])
    part = select_part(cohort, num_parts, part_id)
    todo = [c for c in part if options.overwrite or not is_done(c, out)]
    skipped = tuple(c.case_id for c in part if c not in todo)
    log.info("%d case(s) to run, %d already done (skipped)", len(todo), len(skipped))
    if on_start is not None:
        on_start(len(todo), len(skipped))
    out.mkdir(parents=True, exist_ok=True)

    outcomes: list[Any] = []

    def done(outcome: Any) -> None:
        outcomes.append(outcome)
        if on_case_done is not None:
            on_case_done(outcome)

    if todo:
        if scheduler or workers > 1:
            # load once here too: a bad --model or engine is one clear error before any worker starts, and
            # an ONNX export the workers need is made (and cached) once rather than by every worker
            _load_predictor(options, threads=None)
        if scheduler:
            _run_dask(todo, out, options, scheduler, done)
        elif workers == 1:
            predictor = _load_predictor(options, threads=None)
            for case in todo:
                done(run_case(case, out, options, predictor))
        else:
            _run_pool(todo, out, options, workers, done)
    summary = write_cohort_summary(cohort, out)
    order = {c.case_id: i for i, c in enumerate(cohort)}
    outcomes.sort(key=lambda o: order.get(o.case_id, len(order)))
    return BatchReport(outcomes=tuple(outcomes), skipped=skipped, summary=summary)


def run_case(case: BatchCase, out_dir: Path, options: Any, predictor: Any) -> Any:
    """Predict one case; never raises for a failing case: it becomes a failed outcome and
    ``<id>/error.json`` (the message as :func:`cacscore.case_folder.predict_to_folder` gives it, without
    patient-identifying values unless PHI was asked for)."""
    from cacscore.case_folder import predict_to_folder

    case_options = replace(options, overwrite=True)
    if case.heart_mask_path is not None:
        case_options = replace(case_options, heart_mask=case.heart_mask_path)
    outcome = predict_to_folder(case.input_path, out_dir, case_options, predictor=predictor,
                                case_id=case.case_id, series_uid=case.series_uid)
    record = out_dir / case.case_id / ERROR_RECORD
    if outcome.status == "ok":
        record.unlink(missing_ok=True)
    else:
        entry = {"case_id": case.case_id, "error": outcome.error, "seconds": outcome.seconds,
                 "internal": outcome.internal}
        write_text_atomic(record, json.dumps(entry, indent=2))
    return outcome


# ----- predictor loading, once per worker -------------------------------------------------------------------


def usable_cpus() -> int:
    """CPUs this process may run on (the affinity mask: what a container or job scheduler grants)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    os.environ[THREADS_ENV] = str(threads)
    try:
        import torch
    except ImportError:  # ONNX Runtime-only installs read THREADS_ENV
        return
    torch.set_num_threads(threads)


def _load_predictor(options: Any, threads: int | None) -> Any:
    from cacscore.detection.pipeline import load_predictor

    _set_threads(threads)
    return load_predictor(options)


_WORKER_PREDICTOR: Any = None


def _init_pool_worker(options: Any, threads: int) -> None:
    global _WORKER_PREDICTOR
    # Ctrl-C reaches the whole process group: the main process alone handles it, by terminating the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_PREDICTOR = _load_predictor(options, threads)


def _pool_task(case: BatchCase, out_dir: Path, options: Any) -> Any:
    return run_case(case, out_dir, options, _WORKER_PREDICTOR)


def _failed(case: BatchCase, error: str) -> Any:
    from cacscore.case_folder import CaseOutcome

    return CaseOutcome(case_id=case.case_id, status="error", result=None, error=error, seconds=0.0)


def _run_pool(todo: list[BatchCase], out: Path, options: Any, workers: int, done: Callable) -> None:
    threads = max(1, usable_cpus() // workers)
    # spawn, not fork: forking a process whose torch thread pools are running can deadlock the children.
    context = multiprocessing.get_context("spawn")
    remaining = list(todo)
    for attempt in (1, 2):  # a worker that dies (e.g. killed for memory) breaks the pool: rebuild it once
        pool = ProcessPoolExecutor(
            max_workers=min(workers, len(remaining)), mp_context=context,
            initializer=_init_pool_worker, initargs=(options, threads),
        )
        futures = {pool.submit(_pool_task, case, out, options): case for case in remaining}
        finished: set[str] = set()
        try:
            for future in as_completed(futures):
                case = futures[future]
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    continue
                finished.add(case.case_id)
                done(outcome)
        except BaseException:
            _stop_workers(pool)
            raise
        pool.shutdown(wait=True)
        remaining = [c for c in remaining if c.case_id not in finished]
        if not remaining:
            return
        log.warning("a worker process died; %d case(s) left (attempt %d)", len(remaining), attempt)
    for case in remaining:
        done(_failed(case, "the worker process running this case died (out of memory?)"))


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Stop the pool's worker processes now (an interrupt): cancel what waits, terminate what runs."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    # the processes before shutdown, which forgets them; Python < 3.14 has no public way to stop them
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)


# ----- Dask distributed -----------------------------------------------------------------------------------

_DASK_CACHE: dict[str, Any] = {}
_DASK_LOCK = threading.Lock()


def _dask_task(case: BatchCase, out_dir: str, options: Any, threads: int) -> Any:
    """Runs on a Dask worker: the predictor is loaded on the worker's first case and kept for the others."""
    key = repr(replace(options, overwrite=False))
    with _DASK_LOCK:
        if key not in _DASK_CACHE:
            _DASK_CACHE[key] = _load_predictor(options, threads)
        predictor = _DASK_CACHE[key]
    return run_case(case, Path(out_dir), options, predictor)


def _dask_threads(client: Any) -> int:
    """Inference threads per Dask task: a host's cores over the Dask threads running on that host."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    cores = client.run(usable_cpus)
    per_host: dict[str, int] = {}
    for info in workers.values():
        per_host[info["host"]] = per_host.get(info["host"], 0) + int(info["nthreads"])
    threads = [
        max(1, int(cores.get(address) or 1) // per_host[info["host"]]) for address, info in workers.items()
    ]
    return min(threads) if threads else 1


def _run_dask(todo: list[BatchCase], out: Path, options: Any, address: str, done: Callable) -> None:
    try:
        from distributed import Client
        from distributed import as_completed as dask_as_completed
    except ImportError as exc:
        raise CacscoreError("--scheduler needs Dask distributed: pip install 'dask[distributed]'") from exc
    try:
        client = Client(address, timeout=30)
    except (OSError, TimeoutError) as exc:
        raise CacscoreError(f"cannot reach the Dask scheduler at {address} ({exc}); is it running?") from exc
    with client:
        threads = _dask_threads(client)
        run_id = f"{time.time_ns():x}"
        futures = client.map(
            _dask_task, todo, out_dir=str(out.resolve()), options=options, threads=threads,
            key=[f"cacscore-{c.case_id}-{run_id}" for c in todo], pure=False,
        )
        case_of = {f.key: c for f, c in zip(futures, todo, strict=True)}
        for future in dask_as_completed(futures):
            case = case_of[future.key]
            try:
                outcome = future.result()
            except Exception as exc:  # the worker died repeatedly (KilledWorker) or the task was lost
                outcome = _failed(case, f"the Dask worker running this case failed: {exc}")
            done(outcome)
