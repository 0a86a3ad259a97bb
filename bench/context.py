"""What the sections of one benchmark run share: the settings, the data
folder, the worker processes (started on first use, one per framework, thread
count and role), the versions they report, notes for the reader, and the
interleaved measurement loop."""

from __future__ import annotations

import sys

from workers import Worker, WorkerError


class Context:
    def __init__(self, settings: dict, data_folder: str | None):
        self.settings = settings
        self.data_folder = data_folder
        self.notes: list[str] = []
        self.versions: dict[str, dict] = {}
        self.pinned: dict[str, list[int] | None] = {}
        self.results: dict[str, dict] = {}
        self._workers: dict[tuple, Worker | None] = {}
        self._failures: dict[tuple, str] = {}

    # ---------------------------------------------------------------- output
    def log(self, message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)
            self.log(message)

    # --------------------------------------------------------------- workers
    def start(self, lanes: list[tuple[str, int]], role: str = "main") -> None:
        """Start the workers of these (framework, threads) lanes together, so
        their imports overlap, and wait until all are ready."""
        for framework, threads in lanes:
            self.worker(framework, threads, role, wait=False)
        for framework, threads in lanes:
            self.worker(framework, threads, role)

    def worker(
        self, framework: str, threads: int | None = None, role: str = "main", wait: bool = True
    ) -> Worker | None:
        """The worker for (framework, threads, role), started on first use;
        None (and the reason in ``failure``) when it cannot start."""
        threads = threads or self.settings["threads"]
        key = (framework, threads, role)
        if key not in self._workers:
            self.log(f"starting {framework} worker ({threads} thread(s), {role})")
            extra_env = {"FASTMLP_BENCH_DENORMALS": self.settings.get("denormals", "flush")}
            if framework == "keras":
                from peers.keras_peer import default_backend

                extra_env["KERAS_BACKEND"] = default_backend() or ""
            try:
                self._workers[key] = Worker(
                    framework,
                    threads,
                    self.data_folder,
                    pin=self.settings["pin"],
                    timeout=self.settings["task_timeout"],
                    extra_env=extra_env,
                )
            except OSError as exc:
                self._fail(key, exc)
        worker = self._workers[key]
        if wait and worker is not None and not worker.ready:
            try:
                worker.wait_ready(self.settings["start_timeout"])
                self.versions.setdefault(framework, {}).update(worker.versions)
                self.pinned[f"{framework}/{threads}"] = worker.pinned
            except WorkerError as exc:
                worker.close()
                self._fail(key, exc)
        return self._workers[key]

    def _fail(self, key: tuple, exc: Exception) -> None:
        framework, threads, _ = key
        self._workers[key] = None
        self._failures[key] = str(exc)
        self.note(f"{framework} ({threads} thread(s)) could not start: {exc}")

    def failure(self, framework: str, threads: int | None = None, role: str = "main") -> str:
        return self._failures.get((framework, threads or self.settings["threads"], role), "")

    def request(self, framework: str, task: dict, threads: int | None = None, role: str = "main") -> dict:
        """Run one task; failures come back as {"error": ...} so the run goes on."""
        worker = self.worker(framework, threads, role)
        if worker is None:
            return {"error": "worker did not start: " + self.failure(framework, threads, role)}
        try:
            return worker.request(task)
        except WorkerError as exc:
            if worker.process.poll() is not None:  # it died: start afresh next time
                self._workers.pop((framework, threads or self.settings["threads"], role), None)
                worker.close()
            return {"error": str(exc)}

    def close_workers(self) -> None:
        for worker in self._workers.values():
            if worker is not None:
                worker.close()
        self._workers.clear()

    # ------------------------------------------------------------ measuring
    def interleave(
        self, configs: list, lanes: list[tuple[str, int]], make_task, skip=None, label=str, shift: int = 0
    ) -> list[dict]:
        """For each configuration, run its task on every lane (framework,
        threads) before the next configuration starts, rotating which lane
        goes first, so slow drifts of the machine's load hit all lanes alike.
        `shift` moves the rotation on (a later round of the same configurations).
        Returns one dict per configuration: lane "framework/threads" -> result.
        `skip(config, framework)` may return a reason to leave a lane out."""
        self.start(lanes)
        results = []
        for k, config in enumerate(configs):
            first = (k + shift) % len(lanes) if lanes else 0
            order = lanes[first:] + lanes[:first]
            row = {}
            for framework, threads in order:
                reason = skip(config, framework) if skip else None
                if reason:
                    row[f"{framework}/{threads}"] = {"skipped": reason}
                    continue
                self.log(f"{label(config)}: {framework}, {threads} thread(s)")
                row[f"{framework}/{threads}"] = self.request(framework, make_task(config), threads)
            results.append({f"{fw}/{t}": row[f"{fw}/{t}"] for fw, t in lanes})
        return results
