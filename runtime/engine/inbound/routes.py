"""The inbound routes of Koppel's server: every active interface's webhook sources and callbacks.

Style ``json``: the spec's ``methods`` (default ``POST``/``PUT``) on the path, which may hold
``{name}`` parameters (runtime/engine/inbound/hooks.py). Style ``scim``:
``/Users`` and ``/Groups`` under the SCIM base (the path may name the base or the collection),
and once per base ``/ServiceProviderConfig``, ``/ResourceTypes`` and ``/Schemas``
(runtime/engine/inbound/scim.py). Two routes on one path are a definition error (``koppel
validate``); here the first one wins. A webhook whose authentication cannot be set up (a missing
secret) is not served and logged; the others are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from runtime.errors import KoppelError

log = logging.getLogger("koppel.server")


def inbound_routes(engine, metrics, on_received: Callable[[int], None] | None) -> list[Route]:
    from runtime import settings
    from runtime.engine.callbacks import callback_names, callbacks_of
    from runtime.engine.inbound.hooks import Webhook
    from runtime.engine.inbound.scim import ScimHook
    from runtime.engine.inbound.scim_directory import Directory
    from runtime.engine.pipeline import sources_of

    active = [(iid, interface) for iid, interface in sorted(engine.project.interfaces.items())
              if interface.status == "active"]
    hooks: list[tuple[int, Any, Any, str | None]] = [(iid, interface, spec, None) for iid, interface in active
             for spec in sources_of(interface) if spec.type == "webhook"]
    hooks += [(iid, interface, callback.source, name) for iid, interface in active
              for name, callback in zip(callback_names(interface), callbacks_of(interface))]
    routes: list[Route] = []
    served: set[str] = set()
    directory = None
    scim_bases: dict[str, tuple[Any, list[str]]] = {}
    for iid, interface, spec, channel in hooks:
        if spec.style != "scim" and spec.path in served:
            log.error("webhook %s of interface %s not served: the path is taken", spec.path, iid, extra={"interface": iid})
            continue
        try:
            hook: Any  # a ScimHook serves collections and items as well
            if spec.style == "scim":
                directory = directory or Directory(settings.sis_url(engine.project.root))
                hook = ScimHook(engine, interface, metrics, on_received, spec, channel=channel, directory=directory)
            else:
                hook = Webhook(engine, interface, metrics, on_received, spec, channel=channel)
        except KoppelError as exc:  # one misconfigured webhook must not take the others down
            log.error("webhook of interface %s not served: %s", iid, exc, extra={"interface": iid})
            continue
        served.add(spec.path)
        if spec.style != "scim":
            routes.append(Route(spec.path, hook.json, methods=list(spec.methods)))
            continue
        for resource in ([spec.resource] if spec.resource else ["User", "Group"]):
            collection = spec.path.rstrip("/")
            if not collection.endswith(f"/{resource}s"):  # the path names the SCIM base or the collection
                collection = f"{collection}/{resource}s"
            routes.append(Route(collection, hook.collection(resource), methods=["GET", "POST"]))
            routes.append(Route(collection + "/{rid}", hook.item(resource), methods=["GET", "PUT", "PATCH", "DELETE"]))
            scim_bases.setdefault(collection.rsplit("/", 1)[0], (hook, []))[1].append(resource)
    for base, (hook, resources) in scim_bases.items():
        for what in ("ServiceProviderConfig", "ResourceTypes", "Schemas"):
            routes.append(Route(f"{base}/{what}", hook.discovery(what, resources), methods=["GET"]))
    return routes
