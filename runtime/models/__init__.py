"""Pydantic models of everything written in YAML: the single source of truth for validation,
the JSON Schema that editors use, and the generated documentation."""
