"""Callbacks: what a target system tells Koppel later about what it was sent.

Signhost is the example: interface 14 delivers a document for signing (a batch, every half
hour), and Signhost then posts the transaction's status to Koppel whenever it changes. An
interface declares such calls under ``callbacks:`` (runtime/models/interface.py)::

    callbacks:
      - name: signhost
        source: {type: webhook, system: signhost, path: /hooks/signhost, key: Id}
        mapping: signhost-postback
        target: {type: sis, object: document, operation: update, key: [sign_transaction_id]}

How they run (decisions):

- Receiving is the webhook server's (server.py): the call is authenticated by the source's
  ``auth`` or the system's ``inbound_auth`` for the environment, stored in the durable inbox
  under the channel ``callback:<name>`` in one transaction, and only then answered 2xx. A call
  that fails authentication is answered 401 and stored nowhere.
- Draining is the interface's own run, under the interface's lease, so a callback is never
  applied while the same interface is delivering (Signhost's "signed" never overtakes the
  write-back of the transaction id it refers to):
  ``run_interface(id, trigger="webhook")`` on an interface whose own trigger is not a webhook
  drains only the callbacks (the daemon's callback loop does this as soon as the server stored
  a call, and every few seconds anyway); every other run (cron, manual, outbox, poll, interval,
  and webhook on a webhook interface) reads its main source first and then drains the
  callbacks waiting, so ``koppel run 14`` leaves nothing behind.
- Each callback has its own cursor (``callback:<name>``: the last inbox id handled), ledger lane
  (target name ``callback:<name>``, idempotency key = the record key from ``source.key``) and
  dead letters, which ``koppel deadletters replay`` replays like any other. A repeated call
  (Signhost delivers at least once) maps to the same payload and is skipped as unchanged.
- The interface's ``delivery`` policy (retries, batch size, skip_unchanged) applies.
- A call that fails authentication gets 401, although Signhost asks receivers to answer 2xx to
  everything: a forger learns nothing either way, and when Koppel's secret is wrong a 401 makes
  Signhost keep the postbacks queued (48-72 h) and e-mail its operator after five failures,
  where a 2xx would lose them silently. Signhost's empty test call (portal) gets 200.
"""

from __future__ import annotations

import functools

from runtime.engine.lane import TargetLane
from runtime.errors import ConfigError


def callbacks_of(interface) -> list:
    return list(getattr(interface, "callbacks", None) or [])


def callback_names(interface) -> list[str]:
    """``callback:<name>`` per callback: its cursor, ledger lane and inbox channel. The name is
    the callback's ``name``, else its source's system, else its position; repeats get ``#i``."""
    names = [c.name or getattr(c.source, "system", None) or str(i) for i, c in enumerate(callbacks_of(interface))]
    return [f"callback:{n}" if names.count(n) == 1 else f"callback:{n}#{i}" for i, n in enumerate(names)]


def main_source_runs(interface, trigger: str) -> bool:
    """Whether a run with this trigger reads the interface's main source (see the module doc)."""
    return not (trigger == "webhook" and interface.trigger.type != "webhook" and callbacks_of(interface))


def callback_lanes(engine, interface, targets: bool = True) -> list[TargetLane]:
    from runtime.engine.pipeline import _version

    lanes = []
    for name, callback in zip(callback_names(interface), callbacks_of(interface)):
        mapping = engine.mapping(callback.mapping)
        lanes.append(TargetLane(
            name=name, target=engine.create_target(interface, callback.target) if targets else None,
            spec=callback.target, mapping=mapping, mapping_version=_version(mapping, callback.mapping),
            key_of=lambda record: str(record.key), policy=interface.delivery, sleeper=engine.sleeper,
            metrics=engine.metrics, interface_id=interface.id,
            ledger_lookup=functools.partial(engine.store.ledger, interface.id, name)))
    return lanes


def callback_source(engine, interface, name: str, callback):
    """The inbox of one callback: a source whose plugin declares ``inbox`` (the webhook plugin),
    reading the callback's channel."""
    plugin = engine.registry.get(callback.source.type, "source")
    if not plugin.inbox:
        raise ConfigError(f"callbacks: source type '{callback.source.type}' does not read Koppel's inbox "
                          f"(a plugin declares it with Plugin.inbox; known: "
                          f"{', '.join(p.type for p in engine.registry if p.inbox) or 'none'})")
    return plugin.create_source(callback.source, engine.context(interface, callback.source, inbox_channel=name))
