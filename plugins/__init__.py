"""Koppel's built-in protocol plugins, each registered through the ``koppel.plugins`` entry points.

Each plugin is a package with ``spec.py`` (the pydantic models, light to import) and its
implementation in further modules that the factories import on first use.
"""
