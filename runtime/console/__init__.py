"""The operator console: server-rendered pages at /ui on ``koppel serve``'s own server.

    from runtime.console.app import console_app
    app = console_app(engine, state)        # a Starlette app; server.py mounts it at /ui

Modules: settings (catalog.yaml's ``console:`` per environment), auth (local argon2 accounts,
OpenID Connect with authlib, roles), csrf, guard (no session: sign-in or 401; viewers may not
act), views (what each page shows, masked), actions (run, dry-run, replay, discard: audited),
app (routes and templates). Every value a template writes passes ``runtime.redact.text``.
"""
