"""A local Functions host for machines without Azure Functions Core Tools.

It imports a v2-model ``FunctionApp``, polls the queue of every queue trigger with the
semantics of ``host.json`` (batch size, visibility timeout, maxDequeueCount then
``<queue>-poison``, message encoding), polls a queue again at once while it has work and backs
off to ``maxPollingInterval`` while it has none (``polling``), serves the HTTP routes on 127.0.0.1:7071/api, and
runs several worker processes that compete for the same queues. On Ctrl-C a worker
finishes the message in hand and makes the rest of its batch visible again: nothing is lost.
Leases of messages in hand are renewed (``leases``), steps are bounded by ``functionTimeout``,
storage outages are ridden out with a back-off (``outage``) and dead worker processes are
restarted (``supervisor``).
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
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.core.exceptions import AzureError
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueClient

from pipeline.errors import ConfigurationError
from pipeline.host.http import HttpServer
from pipeline.host.leases import Lease, Leases
from pipeline.host.outage import Outage
from pipeline.host.polling import PollSchedule
from pipeline.host.storage_wait import STORAGE_WAIT_SECONDS, wait_for_storage
from pipeline.host.supervisor import EXIT_CONFIG, EXIT_TIMED_OUT, Supervisor
from pipeline.host.timers import TimerTrigger, run_timers
from pipeline.hostconfig import QueueConfig
from pipeline.job import next_queue_named
from pipeline.settings import Settings
from pipeline.storage import Storage
from pipeline.untrusted import one_line

__all__ = ["HttpRoute", "LocalHost", "QueueTrigger", "load_app", "triggers_of"]

_log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 120
"""How long a stopping worker may take to finish the messages in hand."""


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


def triggers_of(app: func.FunctionApp, timers: list[TimerTrigger] | None = None
                ) -> tuple[list[QueueTrigger], list[HttpRoute]]:
    """The queue triggers and HTTP routes of an app (``get_functions`` may be called once per app);
    its timer triggers are appended to ``timers`` when given."""
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
            elif binding.type == "timerTrigger" and timers is not None:
                timers.append(TimerTrigger(name, str(binding.schedule), bool(binding.run_on_startup),  # type: ignore[attr-defined]
                                           function.get_user_function()))
    seen: dict[str, str] = {}
    for trigger in queues:
        other = seen.setdefault(trigger.queue_name, trigger.function_name)
        if other != trigger.function_name:
            raise ConfigurationError(f"functions {other!r} and {trigger.function_name!r} both trigger on queue "
                                     f"{trigger.queue_name!r}; the local host runs one function per queue")
    return queues, routes


class _Worker:
    """One polling loop over every trigger queue; several of them compete as Functions instances do.

    As in Functions, a queue is read again once its messages in flight drop to ``newBatchThreshold``,
    and up to ``threads`` messages (default ``batchSize``) run at the same time; a worker takes only as
    many messages as it has free threads, so work it cannot start stays visible to the others. Each
    queue has its own poll back-off (``polling``); the queue a finished message's job went to next is
    polled at once. The leases of the messages in hand are renewed while they run; a storage outage
    is ridden out with a back-off.
    """

    def __init__(self, *, triggers: Sequence[QueueTrigger], storage: Storage, config: QueueConfig,
                 stop: threading.Event, threads: int | None = None,
                 on_timeout: Callable[[], None] | None = None) -> None:
        """``on_timeout`` runs after a step past ``functionTimeout`` failed (a worker process exits there)."""
        self._triggers = list(triggers)
        self._storage = storage
        self._config = config
        self._stop = stop
        self._threads = max(1, threads or config.batch_size)
        self._clients = {t.queue_name: storage.queue(t.queue_name) for t in self._triggers}
        self._by_queue = {t.queue_name: t for t in self._triggers}
        self._in_flight = dict.fromkeys(self._by_queue, 0)
        self._changed = threading.Condition()
        self._schedule = PollSchedule(self._by_queue, max_interval=config.max_polling_interval)
        self._after_timeout = on_timeout
        self._leases = Leases(lease_seconds=config.lease_seconds, function_timeout=config.function_timeout,
                              on_timeout=self._timed_out)

    def run(self) -> None:
        outage = Outage(first=self._config.max_polling_interval, limit=self._config.outage_backoff_limit)
        renewing = threading.Event()
        renewer = threading.Thread(target=self._leases.run, args=(renewing,), name="imaginem-leases", daemon=True)
        renewer.start()
        try:
            with ThreadPoolExecutor(self._threads, thread_name_prefix="imaginem-step") as pool:
                while not self._stop.is_set():
                    with self._changed:
                        order = [q for q in self._schedule.due() if self._room(q) > 0]
                    try:
                        received = sum(self._poll(self._by_queue[q], pool) for q in order if not self._stop.is_set())
                    except AzureError as e:  # storage down: the messages wait in their queues
                        self._stop.wait(outage.failed(e))
                        continue
                    outage.succeeded()
                    if received:
                        continue
                    with self._changed:
                        # Sleep until a queue with room is due, or a message finishes (a thread is free, and
                        # the queue its job went to is nudged).
                        roomy = [q for q in self._by_queue if self._room(q) > 0]
                        pause = self._schedule.wait(roomy) if roomy else self._config.max_polling_interval
                        if pause > 0 and not self._stop.is_set():
                            self._changed.wait(pause)
            # Leaving the with-block waited for the messages in hand; unstarted ones released themselves.
        finally:
            renewing.set()

    def _room(self, queue: str) -> int:
        """How many messages of ``queue`` this worker could start now (call with ``_changed`` held).

        Only what a free thread can start: a message taken while every thread is busy would wait here,
        leased, while another worker sits idle."""
        if self._in_flight[queue] > self._config.new_batch_threshold:
            return 0
        free = self._threads - sum(self._in_flight.values())
        return min(self._config.batch_size - self._in_flight[queue], free)

    def _poll(self, trigger: QueueTrigger, pool: ThreadPoolExecutor) -> int:
        name = trigger.queue_name
        with self._changed:
            room = self._room(name)
        if room <= 0:
            return 0
        # No SDK retries (about a minute of them): the poll loop backs off itself.
        messages = list(self._clients[name].receive_messages(
            max_messages=room, visibility_timeout=self._leases.lease_seconds, retry_total=0))
        with self._changed:
            self._in_flight[name] += len(messages)
            self._schedule.polled(name, len(messages))
        for message in messages:
            lease = self._leases.hold(name, self._clients[name], message)
            pool.submit(self._task, trigger, lease)
        return len(messages)

    def _task(self, trigger: QueueTrigger, lease: Lease) -> None:
        client, message = self._clients[trigger.queue_name], lease.message
        sent_to: str | None = None
        try:
            if self._stop.is_set():
                receipt = lease.end()
                if receipt is not None:
                    client.update_message(message.id, receipt, visibility_timeout=0)
                    _log.info("%s: released unstarted message %s on shutdown", trigger.queue_name,
                              one_line(message.id))
            elif self._process(trigger, client, lease):
                sent_to = next_queue_named(self._body(message.content))
        except Exception as e:  # storage trouble: the lease runs out and the message comes back
            _log.error("%s: could not settle message %s: %s: %s", trigger.queue_name, one_line(message.id),
                       type(e).__name__, one_line(e))
        finally:
            self._leases.drop(lease)
            with self._changed:
                self._in_flight[trigger.queue_name] -= 1
                if sent_to is not None:
                    self._schedule.nudge(sent_to)
                self._changed.notify_all()

    def _body(self, content: Any) -> bytes:
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        if self._config.message_encoding == "base64":
            return base64.b64decode(data)
        return data

    def _process(self, trigger: QueueTrigger, client: QueueClient, lease: Lease) -> bool:
        """Run the function on the message and settle it; whether it succeeded (and was deleted)."""
        message = lease.message
        msg = QueueMessage(id=message.id, body=self._body(message.content), dequeue_count=message.dequeue_count,
                           pop_receipt=message.pop_receipt, insertion_time=message.inserted_on,
                           expiration_time=message.expires_on)
        lease.start(time.monotonic())
        try:
            trigger.call(msg)
        except Exception as e:  # the Functions host's contract: retry, then poison
            receipt = lease.end()
            if receipt is None:
                _log.warning("%s: message %s failed after its lease ended; its outcome is ignored",
                             trigger.function_name, one_line(message.id))
                return False
            self._fail(trigger.function_name, lease, receipt, f"{type(e).__name__}: {one_line(e)}")
            return False
        receipt = lease.end()
        if receipt is None:
            _log.warning("%s: message %s finished after its lease ended (functionTimeout or a lost lease)",
                         trigger.function_name, one_line(message.id))
            return False
        client.delete_message(message.id, receipt)
        return True

    def _fail(self, function_name: str, lease: Lease, receipt: str, reason: str) -> None:
        message, client = lease.message, lease.client
        if message.dequeue_count >= self._config.max_dequeue_count:
            poison = f"{lease.queue}-poison"
            self._storage.queue(poison).send_message(message.content)
            client.delete_message(message.id, receipt)
            _log.error("%s: message %s moved to %s after %d attempts: %s", function_name, one_line(message.id),
                       poison, message.dequeue_count, reason)
        else:
            client.update_message(message.id, receipt, visibility_timeout=int(self._config.visibility_timeout))
            _log.warning("%s: message %s failed (attempt %d of %d), retried in %ds: %s", function_name,
                         one_line(message.id), message.dequeue_count, self._config.max_dequeue_count,
                         int(self._config.visibility_timeout), reason)

    def _timed_out(self, lease: Lease, receipt: str) -> None:
        """As the Functions host: the invocation fails, and a worker process is restarted (a thread cannot be
        cancelled); the messages it holds are released for other workers first."""
        name = next(t.function_name for t in self._triggers if t.queue_name == lease.queue)
        try:
            limit = self._config.function_timeout or 0
            self._fail(name, lease, receipt, f"timed out: ran past functionTimeout ({limit:g} s)")
        except Exception as e:
            _log.error("%s: could not fail timed-out message %s: %s", name, one_line(lease.message.id), one_line(e))
        if self._after_timeout is None:
            return
        for other in self._leases.held():
            other_receipt = other.end()
            if other_receipt is not None:
                try:
                    other.client.update_message(other.message.id, other_receipt, visibility_timeout=0)
                except Exception as e:
                    _log.warning("%s: could not release message %s: %s", other.queue, one_line(other.message.id),
                                 one_line(e))
        self._after_timeout()


def _worker_main(app_reference: str, settings: Settings, config: QueueConfig, worker: int,
                 threads: int | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s worker{worker} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("azure").setLevel(logging.WARNING)
    stop = threading.Event()
    # Ctrl-C reaches the parent, which passes it on as SIGTERM once every worker can take it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        queues, _ = triggers_of(load_app(app_reference))
        storage = Storage.from_settings(settings)
    except (ConfigurationError, ImportError) as e:
        _log.error("configuration error: %s", one_line(e))
        sys.exit(EXIT_CONFIG)
    _Worker(triggers=queues, storage=storage, config=config, stop=stop, threads=threads,
            on_timeout=lambda: os._exit(EXIT_TIMED_OUT)).run()


class LocalHost:
    """Runs the HTTP routes and ``workers`` polling processes (or the calling thread).

    Worker processes are supervised: one that dies is restarted with a back-off. They are used
    when ``processes`` is true, or by default for more than one worker.
    """

    def __init__(self, *, app: str | func.FunctionApp, settings: Settings, config: QueueConfig, workers: int = 1,
                 http_port: int | None = 7071, threads: int | None = None, processes: bool | None = None,
                 storage_wait: float = STORAGE_WAIT_SECONDS) -> None:
        """``app`` is ``module:attribute`` (needed for worker processes, which import it) or the app itself;
        ``storage_wait`` is how long ``serve`` waits for storage to answer at the start."""
        self._processes = workers > 1 if processes is None else processes
        if self._processes and not isinstance(app, str):
            raise ValueError("worker processes import the app themselves: pass it as 'module:attribute'")
        self._app = app
        self._threads = threads
        self._settings = settings
        self._config = config
        self._workers = workers
        self._http_port = http_port
        self._storage_wait = storage_wait
        self.stop = threading.Event()
        self.ready = threading.Event()
        """Set once every trigger queue exists and the HTTP routes listen."""
        self.http_server: HttpServer | None = None
        self.supervisor: Supervisor | None = None

    def serve(self) -> None:
        """Run until ``stop`` is set (or SIGINT/SIGTERM when called from the main thread).

        Raises ``StorageUnreachableError`` when storage does not answer within ``storage_wait`` seconds at the
        start, ``ConfigurationError`` when the HTTP port is taken or a worker process reports a configuration error.
        """
        timers: list[TimerTrigger] = []
        queues, routes = triggers_of(load_app(self._app) if isinstance(self._app, str) else self._app, timers)
        storage = Storage.from_settings(self._settings)
        wait_for_storage(storage, timeout=self._storage_wait, stop=self.stop)
        for trigger in queues:
            storage.queue(trigger.queue_name)
        if self._http_port is not None and routes:
            try:
                self.http_server = HttpServer(routes=routes, host="127.0.0.1", port=self._http_port)
            except OSError as e:
                raise ConfigurationError(f"cannot serve HTTP on 127.0.0.1:{self._http_port}: {e.strerror} "
                                         "(another host running?); choose another port with --port") from None
            threading.Thread(target=self.http_server.serve_forever, daemon=True).start()
            _log.info("HTTP routes on http://127.0.0.1:%d/api/: %s", self.http_server.server_port,
                      ", ".join(r.route for r in routes))
        run_timers(timers, self.stop)  # in this process only: Functions runs a timer on one instance
        self.ready.set()
        _log.info("polling %s with %d worker(s)", ", ".join(t.queue_name for t in queues), self._workers)
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: self.stop.set())
        try:
            if self._processes:
                self.supervisor = Supervisor(start=self._start_worker, count=self._workers, stop=self.stop,
                                             shutdown_seconds=SHUTDOWN_SECONDS)
                self.supervisor.run()
            else:
                _Worker(triggers=queues, storage=storage, config=self._config, stop=self.stop,
                        threads=self._threads).run()
        finally:
            if self.http_server is not None:
                self.http_server.close()
        _log.info("stopped")

    def _start_worker(self, index: int) -> BaseProcess:
        process = multiprocessing.get_context("spawn").Process(
            target=_worker_main, name=f"imaginem-worker{index}",
            args=(self._app, self._settings, self._config, index, self._threads))
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None  # the worker inherits it
        try:
            process.start()
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, previous)
        return process
