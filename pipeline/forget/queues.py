"""Forgetting queued messages: in every queue of the account (the pipeline's, their ``-poison`` queues and
any other), a message whose body names a forgotten job is deleted, and a kept message that carries a
forgotten face in its job_output is rewritten without it.

A queue is read by receiving (the only way past its first 32 messages): kept messages stay invisible only
until that queue's scan ends, then are made visible again at once. Receiving counts as a delivery, so a
kept message's dequeue count grows by one per forget that scans it while it waits; a queue whose messages
all fit one peek and name nothing forgotten is left untouched. Messages a worker holds at that moment are
not seen: the tombstone stops their job at its next step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.queue import QueueClient, QueueMessage

from pipeline.forget.scope import Scope
from pipeline.forget.scrub import face_ids_of, match_ids_of, scrub_job_output
from pipeline.forget.target import StoreReport
from pipeline.job import identify
from pipeline.storage import Storage
from pipeline.untrusted import one_line

__all__ = ["QueueEraser"]

_PEEK = 32
_HOLD_SECONDS = 60  # a kept message's invisibility while its queue is scanned, if the scan dies half-way


class QueueEraser:
    name = "queues"

    def __init__(self, *, storage: Storage) -> None:
        self._storage = storage

    def erase(self, scope: Scope) -> StoreReport:
        report = StoreReport(self.name)
        try:
            report.requests += 1
            names = [q.name for q in self._storage.queue_service.list_queues()]
        except AzureError as e:
            report.failures.append(f"listing queues: {type(e).__name__}: {one_line(e, 120)}")
            return report
        for name in names:
            try:
                self._scan(self._storage.queue(name, create=False), scope, report)
            except ResourceNotFoundError:
                continue
            except AzureError as e:
                report.failures.append(f"queue {name}: {type(e).__name__}: {one_line(e, 120)}")
        return report

    def _doomed(self, body: Any, scope: Scope) -> bool:
        named = identify(body)
        return named is not None and scope.erased(named.batch_id, named.job_id)

    def _scan(self, queue: QueueClient, scope: Scope, report: StoreReport) -> None:
        report.requests += 2
        count = queue.get_queue_properties().approximate_message_count or 0
        if count == 0:
            return
        peeked = queue.peek_messages(max_messages=_PEEK)
        if count <= _PEEK and len(peeked) == count and not any(
                self._doomed(m.content, scope) or self._mentions(m.content, scope) for m in peeked):
            return
        held: list[QueueMessage] = []
        rewritten: set[str] = set()
        try:
            while True:
                report.requests += 1
                received = list(queue.receive_messages(messages_per_page=_PEEK, max_messages=_PEEK,
                                                       visibility_timeout=_HOLD_SECONDS))
                if not received:
                    return
                for message in received:
                    report.requests += 1
                    if self._doomed(message.content, scope):
                        queue.delete_message(message)
                        report.add("messages")
                    elif message.id not in rewritten and self._mentions(message.content, scope):
                        content = self._scrubbed(message.content, scope)
                        # Visible again at once, and received once more by this scan: then it is held.
                        queue.update_message(message, content=content, visibility_timeout=0)
                        rewritten.add(message.id)
                        report.add("messages scrubbed", content != message.content)
                    else:
                        held.append(message)
        finally:
            for message in held:  # visible again at once, as they were
                report.requests += 1
                try:
                    queue.update_message(message, visibility_timeout=0)
                except AzureError:
                    pass  # it comes back by itself when its hold ends

    @staticmethod
    def _mentions(body: Any, scope: Scope) -> bool:
        """Whether a raw JSON message's job_output names a forgotten face (sets, not a search per face)."""
        if not scope.faces or not isinstance(body, str) or "job_output" not in body:
            return False
        try:
            outputs = json.loads(body).get("job_output")
        except (ValueError, AttributeError, RecursionError):
            return False
        if not isinstance(outputs, Mapping):
            return False
        return bool((match_ids_of(outputs.get("facematch")) | face_ids_of(outputs)) & scope.faces)

    @staticmethod
    def _scrubbed(body: str, scope: Scope) -> str:
        try:
            message = json.loads(body)
        except ValueError:
            return body
        if not isinstance(message, Mapping) or not isinstance(message.get("job_output"), Mapping):
            return body
        scrubbed = scrub_job_output(message["job_output"], scope.faces)
        return json.dumps({**message, "job_output": scrubbed.output}, ensure_ascii=False)
