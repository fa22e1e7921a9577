"""Index/value batches over SOAP: Kennisnet's ``submit…Batch`` → ``batchIdentifier`` → ``retrieveBatch``.

A batch of items goes through the spec's stages in order. Each stage submits one list
(``[{index, <entry>: value}]``, the index being the item's position) plus the request's other
fields (chainId, sectorId: taken from the first item's payload, they are the same for the whole
batch), then asks ``retrieve`` for the answer until it is there:

    success[] {index, value}       the item's value for the next stage (or its final answer)
    failed[]  {index, errorMessage} that item's RecordError; the others go on

An item the answer does not mention is refused too (it would otherwise be lost silently).
While the service is still processing, ``retrieve`` answers a fault (a Server.* fault is a
TransientError here); it is asked again every ``poll_interval`` until ``max_wait``, after which
the batch is a TransientError and the engine sends it again (both stages are idempotent: the
same hPGN always gives the same stampseudonym and ECK-iD).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from runtime.errors import RecordError, TransientError
from runtime.plugin import Item, Outcome

from .client import SoapEndpoint
from .spec import BatchStage, SoapBatch


class BatchRun:
    def __init__(self, endpoint: SoapEndpoint, spec: SoapBatch, fields_of: Callable, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoint, self.spec, self.fields_of = endpoint, spec, fields_of
        self.sleep, self.clock = sleep, clock

    @property
    def system(self) -> str:
        return self.endpoint.settings.system

    def deliver(self, items: Sequence[Item], payloads: list[dict[str, Any]]) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(items)
        todo = list(range(len(items)))
        for stage in self.spec.stages:
            todo = [i for i in todo if self._has_input(stage, payloads[i], outcomes, i)]
            if not todo:
                break
            values = self._stage(stage, [payloads[i] for i in todo])
            still = []
            for position, i in enumerate(todo):
                found = values.get(position)
                if isinstance(found, RecordError):
                    outcomes[i] = Outcome(error=found)
                else:
                    payloads[i][stage.output] = found
                    still.append(i)
            todo = still
        last = self.spec.stages[-1].output
        for i in todo:
            outcomes[i] = Outcome(reference=str(payloads[i][last]), response={last: payloads[i][last]})
        return [o if o is not None else Outcome(error=RecordError("not delivered", code="batch")) for o in outcomes]

    def _has_input(self, stage: BatchStage, payload: dict, outcomes: list, i: int) -> bool:
        if payload.get(stage.input) in (None, ""):
            outcomes[i] = Outcome(error=RecordError(f"the payload has no {stage.input} for {stage.submit}", code="payload"))
            return False
        return True

    def _stage(self, stage: BatchStage, payloads: list[dict[str, Any]]) -> dict[int, Any]:
        request = {k: v for k, v in self.fields_of(stage.submit, payloads[0]).items() if k != stage.list}
        request[stage.list] = [{"index": n, stage.entry: p[stage.input]} for n, p in enumerate(payloads)]
        submitted = self.endpoint.call(stage.submit, request).answer
        batch_id = submitted.get("batchIdentifier") if isinstance(submitted, dict) else None
        if not batch_id:
            raise TransientError(f"{self.system}: {stage.submit} answered no batchIdentifier", code="batch")
        answer = self._retrieve(stage, str(batch_id))
        values: dict[int, Any] = {}
        for entry in _as_list(answer.get("success")):
            values[int(entry["index"])] = entry.get("value")
        for entry in _as_list(answer.get("failed")):
            message = str(entry.get("errorMessage") or "refused")[:300]
            values[int(entry["index"])] = RecordError(f"{self.system} refused it in {stage.submit}: {message}",
                                                      code="batch-failed")
        for n in range(len(payloads)):
            if values.get(n) in (None, ""):
                values[n] = RecordError(f"{self.system}: the answer of {stage.submit} does not mention this record",
                                        code="batch-missing")
        return values

    def _retrieve(self, stage: BatchStage, batch_id: str) -> dict[str, Any]:
        deadline = self.clock() + self.spec.max_wait
        while True:
            try:
                answer = self.endpoint.call(self.spec.retrieve, {"batchIdentifier": batch_id}).answer
                return answer if isinstance(answer, dict) else {}
            except TransientError as exc:
                if self.clock() + self.spec.poll_interval > deadline:
                    raise TransientError(f"{self.system}: batch of {stage.submit} not ready after "
                                         f"{self.spec.max_wait:g}s ({exc})", code="batch-timeout") from None
                self.sleep(self.spec.poll_interval)


def _as_list(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, dict)]
