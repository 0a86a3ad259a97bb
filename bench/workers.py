"""Each framework in its own process: a worker imports one framework, loads
the benchmark data once, then runs tasks sent one JSON line at a time on its
standard input and answers one JSON line each. Keeping the workers alive lets
the benchmark interleave frameworks configuration by configuration (so the
machine's load drifts alike for all of them) without paying an import per
measurement, while their thread pools and libraries never share a process.

Parent side: ``Worker(...)`` starts one, ``wait_ready()`` waits until it has
imported its framework, ``request(task)`` sends a task and waits for its
answer. Child side: ``serve(...)``, reached through
``python bench/run.py --worker NAME``.

Tasks (``kind``): ``epoch`` (train; the runner's ``train_epochs``),
``predict`` (the runner's ``predict_times``) and ``call`` (any function of a
bench module, ``module.function(ctx, **kwargs)``).
"""

from __future__ import annotations

import importlib
import json
import os
import select
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_PY = os.path.join(HERE, "run.py")


class WorkerError(RuntimeError):
    """A task failed, or the worker died or ran out of time."""


# ----------------------------------------------------------------- parent
class Worker:
    def __init__(
        self,
        framework: str,
        threads: int,
        data_folder: str | None,
        *,
        pin: bool = True,
        timeout: float = 3600.0,
        extra_env: dict | None = None,
    ):
        from threads import child_environment

        self.framework = framework
        self.threads = threads
        self.timeout = timeout
        env = child_environment(threads)
        env.update(extra_env or {})
        command = [
            sys.executable,
            RUN_PY,
            "--worker",
            framework,
            "--threads",
            str(threads),
            "--worker-data",
            data_folder or "",
        ] + ([] if pin else ["--no-pin"])
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env, text=True, bufsize=1
        )
        self.versions: dict = {}
        self.pinned = None
        self.ready = False

    def wait_ready(self, timeout: float) -> None:
        """Wait for the worker's greeting (its imports done); several workers
        may be started first and waited for afterwards, so they import at once."""
        if self.ready:
            return
        hello = self._receive(timeout)
        if not hello.get("ready"):
            self.close()
            raise WorkerError(hello.get("error", "worker did not start"))
        self.versions = hello.get("versions", {})
        self.pinned = hello.get("pinned")
        self.ready = True

    def request(self, task: dict, timeout: float | None = None) -> dict:
        self.wait_ready(timeout or self.timeout)
        if self.process.poll() is not None:
            raise WorkerError(f"{self.framework} worker is not running{self._stderr_tail()}")
        self.process.stdin.write(json.dumps(task) + "\n")
        self.process.stdin.flush()
        answer = self._receive(timeout or self.timeout)
        if not answer.get("ok"):
            raise WorkerError(answer.get("error", "task failed"))
        return answer["result"]

    def _receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise WorkerError(f"{self.framework} worker ran past {timeout:.0f} s and was stopped")
            ready, _, _ = select.select([self.process.stdout], [], [], min(left, 1.0))
            if not ready:
                if self.process.poll() is not None:
                    raise WorkerError(
                        f"{self.framework} worker exited ({self.process.returncode}){self._stderr_tail()}"
                    )
                continue
            line = self.process.stdout.readline()
            if not line:
                self.process.wait(timeout=10)
                raise WorkerError(f"{self.framework} worker exited ({self.process.returncode}){self._stderr_tail()}")
            if line.startswith("{"):
                return json.loads(line)

    def _stderr_tail(self, lines: int = 6) -> str:
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace").strip().splitlines()
        except (OSError, ValueError):
            return ""
        return (": " + " | ".join(text[-lines:])) if text else ""

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # this worker only, by its own handle
            self.process.wait(timeout=10)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        self._stderr.close()


# ------------------------------------------------------------------ child
def serve(framework: str, threads: int, data_folder: str | None, pin: bool) -> int:
    """The worker's main loop (runs in the child process)."""
    import threads as thread_control

    pinned = thread_control.pin(threads) if pin else None
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the protocol

    def send(message: dict) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    try:
        import peers

        runner, options = peers.runner(framework)
        versions = runner.setup(threads)
        import workload

        data = workload.load(data_folder)
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        send({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    send({"ready": True, "versions": versions, "pinned": pinned})
    ctx = {"threads": threads, "data": data, "runner": runner, "framework": framework}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            task = json.loads(line)
            send({"ok": True, "result": _execute(runner, options, ctx, task)})
        except Exception as exc:  # noqa: BLE001 - one failed task must not end the others
            where = traceback.extract_tb(exc.__traceback__)[-1]
            send(
                {
                    "ok": False,
                    "error": f"{type(exc).__name__}: {exc} ({os.path.basename(where.filename)}:{where.lineno})",
                }
            )
    return 0


def _execute(runner, options: dict, ctx: dict, task: dict):
    data = ctx["data"]
    kind = task["kind"]
    if kind == "epoch":
        n = task["images"]
        return runner.train_epochs(
            data["x_train"][:n],
            data["y_train"][:n],
            hidden=tuple(task["hidden"]),
            optimizer=task["optimizer"],
            batch_size=task["batch_size"],
            epochs=task["epochs"],
            **options,
            **task.get("runner_options", {}),
        )
    if kind == "predict":
        return runner.predict_times(
            data["x_test"],
            hidden=tuple(task["hidden"]),
            batch_size=task["batch_size"],
            repeats=task["repeats"],
            **options,
        )
    if kind == "call":
        module = importlib.import_module(task["module"])
        return getattr(module, task["function"])(ctx, **task.get("kwargs", {}))
    raise ValueError(f"unknown task kind {kind!r}")
