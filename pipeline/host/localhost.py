"""A local Functions host for machines without Azure Functions Core Tools.

It imports a v2-model ``FunctionApp``, polls the queue of every queue trigger with the
semantics of ``host.json`` (batch size, visibility timeout, maxDequeueCount then
``<queue>-poison``, message encoding), polls again at once while there is work and backs
off to ``maxPollingInterval`` when idle, serves the HTTP routes on 127.0.0.1:7071/api, and
runs several worker processes that compete for the same queues. On Ctrl-C a worker
finishes the message in hand and makes the rest of its batch visible again: nothing is lost.
"""

from __future__ import annotations

import base64
import importlib
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueClient

from pipeline.host.http import handler_for
from pipeline.hostconfig import QueueConfig
from pipeline.settings import Settings
from pipeline.storage import Storage

__all__ = ["HttpRoute", "LocalHost", "QueueTrigger", "load_app", "triggers_of"]

_log = logging.getLogger(__name__)

LEASE_SECONDS = 300
"""How long a received message stays invisible while this host works on it."""
SHUTDOWN_SECONDS = 120
"""How long a stopping worker may take to finish the messages in hand."""
_FIRST_BACKOFF = 0.05


@dataclass(frozen=True)
class QueueTrigger:
    function_name: str
    queue_name: str
    call: Callable[..., Any]


@dataclass(frozen=True)
class HttpRoute:
    function_name: str
    route: str
    methods: tuple[str, ...]
    call: Callable[..., Any]


def load_app(reference: str) -> func.FunctionApp:
    """Import ``module:attribute`` (default attribute ``app``) with the project folder on the path."""
    module_name, _, attribute = reference.partition(":")
    sys.path.insert(0, str(Path.cwd()))
    module = importlib.import_module(module_name)
    app = getattr(module, attribute or "app")
    if not isinstance(app, func.FunctionApp):
        raise TypeError(f"{reference} is not an azure.functions.FunctionApp")
    return app


def triggers_of(app: func.FunctionApp) -> tuple[list[QueueTrigger], list[HttpRoute]]:
    """The queue triggers and HTTP routes of an app (``get_functions`` may be called once per app)."""
    queues: list[QueueTrigger] = []
    routes: list[HttpRoute] = []
    for function in app.get_functions():
        for binding in function.get_bindings():
            name = str(function.get_function_name())
            if binding.type == "queueTrigger":
                queue = str(binding.queue_name)  # type: ignore[attr-defined]
                queues.append(QueueTrigger(name, queue, function.get_user_function()))
            elif binding.type == "httpTrigger":
                methods = tuple(str(getattr(m, "value", m)).upper()
                                for m in (getattr(binding, "methods", None) or ["GET", "POST"]))
                route = str(getattr(binding, "route", None) or name)
                routes.append(HttpRoute(name, route, methods, function.get_user_function()))
    return queues, routes


class _Worker:
    """One polling loop over every trigger queue; several of them compete as Functions instances do.

    As in Functions, a queue is read again once its messages in flight drop to ``newBatchThreshold``,
    and up to ``threads`` messages (default ``batchSize``) run at the same time.
    """

    def __init__(self, *, triggers: Sequence[QueueTrigger], storage: Storage, config: QueueConfig,
                 stop: threading.Event, threads: int | None = None) -> None:
        self._triggers = list(triggers)
        self._storage = storage
        self._config = config
        self._stop = stop
        self._threads = max(1, threads or config.batch_size)
        self._clients = {t.queue_name: storage.queue(t.queue_name) for t in self._triggers}
        self._in_flight = {t.queue_name: 0 for t in self._triggers}
        self._changed = threading.Condition()
        self._start = 0

    def run(self) -> None:
        backoff = 0.0
        with ThreadPoolExecutor(self._threads, thread_name_prefix="imaginem-step") as pool:
            while not self._stop.is_set():
                # Start after the queue that just finished a message: its job most likely went there next.
                order = self._triggers[self._start:] + self._triggers[:self._start]
                received = sum(self._poll(trigger, pool) for trigger in order if not self._stop.is_set())
                if received:
                    backoff = 0.0
                    continue
                with self._changed:
                    busy = any(self._in_flight.values())
                    if busy:  # work in hand: look again as soon as a message finishes
                        self._changed.wait(0.05)
                        continue
                backoff = min(self._config.max_polling_interval, max(_FIRST_BACKOFF, backoff * 2))
                self._stop.wait(backoff)
        # Leaving the with-block waited for the messages in hand; unstarted ones released themselves.

    def _poll(self, trigger: QueueTrigger, pool: ThreadPoolExecutor) -> int:
        name = trigger.queue_name
        with self._changed:
            room = self._config.batch_size - self._in_flight[name]
            if self._in_flight[name] > self._config.new_batch_threshold or room <= 0:
                return 0
        messages = list(self._clients[name].receive_messages(max_messages=room, visibility_timeout=LEASE_SECONDS))
        with self._changed:
            self._in_flight[name] += len(messages)
        for message in messages:
            pool.submit(self._task, trigger, message)
        return len(messages)

    def _task(self, trigger: QueueTrigger, message: Any) -> None:
        client = self._clients[trigger.queue_name]
        try:
            if self._stop.is_set():
                client.update_message(message, visibility_timeout=0)
                _log.info("%s: released unstarted message %s on shutdown", trigger.queue_name, message.id)
            else:
                self._process(trigger, client, message)
        except Exception:  # storage trouble: the lease runs out and the message comes back
            _log.exception("%s: could not settle message %s", trigger.queue_name, message.id)
        finally:
            with self._changed:
                self._in_flight[trigger.queue_name] -= 1
                self._start = (self._triggers.index(trigger) + 1) % len(self._triggers)
                self._changed.notify_all()

    def _body(self, content: Any) -> bytes:
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        if self._config.message_encoding == "base64":
            return base64.b64decode(data)
        return data

    def _process(self, trigger: QueueTrigger, client: QueueClient, message: Any) -> None:
        msg = QueueMessage(id=message.id, body=self._body(message.content), dequeue_count=message.dequeue_count,
                           pop_receipt=message.pop_receipt, insertion_time=message.inserted_on,
                           expiration_time=message.expires_on)
        try:
            trigger.call(msg)
        except Exception as e:  # the Functions host's contract: retry, then poison
            if message.dequeue_count >= self._config.max_dequeue_count:
                poison = f"{trigger.queue_name}-poison"
                self._storage.queue(poison).send_message(message.content)
                client.delete_message(message.id, message.pop_receipt)
                _log.error("%s: message %s moved to %s after %d attempts: %s: %s", trigger.function_name,
                           message.id, poison, message.dequeue_count, type(e).__name__, e)
            else:
                client.update_message(message, visibility_timeout=int(self._config.visibility_timeout))
                _log.warning("%s: message %s failed (attempt %d of %d), retried in %ds: %s: %s",
                             trigger.function_name, message.id, message.dequeue_count,
                             self._config.max_dequeue_count, int(self._config.visibility_timeout),
                             type(e).__name__, e)
        else:
            client.delete_message(message.id, message.pop_receipt)


def _worker_main(app_reference: str, settings: Settings, config: QueueConfig, worker: int) -> None:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s worker{worker} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)
    stop = threading.Event()
    # Ctrl-C reaches the parent, which passes it on as SIGTERM once every worker can take it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    queues, _ = triggers_of(load_app(app_reference))
    _Worker(triggers=queues, storage=Storage.from_settings(settings), config=config, stop=stop).run()


class LocalHost:
    """Runs ``workers`` polling processes (or the calling thread, for one) and the HTTP routes."""

    def __init__(self, *, app: str | func.FunctionApp, settings: Settings, config: QueueConfig, workers: int = 1,
                 http_port: int | None = 7071, threads: int | None = None) -> None:
        """``app`` is ``module:attribute`` (needed for several workers, which import it) or the app itself."""
        if workers > 1 and not isinstance(app, str):
            raise ValueError("several workers import the app themselves: pass it as 'module:attribute'")
        self._app = app
        self._threads = threads
        self._settings = settings
        self._config = config
        self._workers = workers
        self._http_port = http_port
        self.stop = threading.Event()
        self.ready = threading.Event()
        """Set once every trigger queue exists and the HTTP routes listen."""
        self.http_server: ThreadingHTTPServer | None = None

    def serve(self) -> None:
        """Run until ``stop`` is set (or SIGINT/SIGTERM when called from the main thread)."""
        queues, routes = triggers_of(load_app(self._app) if isinstance(self._app, str) else self._app)
        storage = Storage.from_settings(self._settings)
        for trigger in queues:
            storage.queue(trigger.queue_name)
        if self._http_port is not None and routes:
            self.http_server = ThreadingHTTPServer(("127.0.0.1", self._http_port), handler_for(routes))
            threading.Thread(target=self.http_server.serve_forever, daemon=True).start()
            _log.info("HTTP routes on http://127.0.0.1:%d/api/: %s", self.http_server.server_port,
                      ", ".join(r.route for r in routes))
        self.ready.set()
        _log.info("polling %s with %d worker(s)", ", ".join(t.queue_name for t in queues), self._workers)
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: self.stop.set())
        try:
            if self._workers <= 1:
                _Worker(triggers=queues, storage=storage, config=self._config, stop=self.stop,
                        threads=self._threads).run()
            else:
                self._run_processes()
        finally:
            if self.http_server is not None:
                self.http_server.shutdown()
                self.http_server.server_close()
        _log.info("stopped")

    def _run_processes(self) -> None:
        context = multiprocessing.get_context("spawn")
        processes = [
            context.Process(target=_worker_main, name=f"imaginem-worker{i}",
                            args=(self._app, self._settings, self._config, i))
            for i in range(self._workers)
        ]
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None  # workers inherit it
        try:
            for process in processes:
                process.start()
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, previous)
        while not self.stop.is_set() and any(p.is_alive() for p in processes):
            self.stop.wait(0.5)
        for process in processes:
            if process.is_alive() and process.pid is not None:
                _signal(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + SHUTDOWN_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive() and process.pid is not None:
                _log.warning("%s did not stop within %d s; killed (its leased messages return after %d s)",
                             process.name, SHUTDOWN_SECONDS, LEASE_SECONDS)
                _signal(process.pid, signal.SIGKILL)
                process.join()


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
