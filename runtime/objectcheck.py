"""``koppel validate`` of ``objects/*.yaml``: every declared SIS object and field, with its line.

Beyond the file's schema (runtime/models/objects.py): an extension names an object that exists,
a new object does not take a built-in name, a field does not shadow a built-in field, and a
reference points to another object's key. The store itself is created by ``koppel sis init``.
"""

from __future__ import annotations

from runtime.diagnostics import did_you_mean, relative


def check_declared_objects(project) -> None:
    from runtime.models.objects import ObjectDeclaration
    from runtime.project import _validate
    from runtime.yamlsource import YamlProblem, load_file

    folder = project.root / "objects"
    if not folder.is_dir():
        return
    from runtime.sis.models import (
        OBJECTS,  # only a project that declares objects pays for the models
    )

    builtin = {name: model for name, model in OBJECTS.items() if not getattr(model, "declared", False)}
    declared: dict[str, ObjectDeclaration] = {}
    docs = {}
    for path in sorted(folder.glob("*.y*ml")):
        display = relative(path, project.root)
        try:
            doc = load_file(path, display)
        except YamlProblem as exc:
            project.diagnostics.extend(exc.diagnostics)
            continue
        declaration = _validate(doc, ObjectDeclaration, project)
        if declaration is None:
            continue
        if declaration.name and (declaration.name in builtin or declaration.name in declared):
            project.diagnostics.append(doc.diagnostic(("name",), f"'{declaration.name}' is a SIS object already; "
                                                      "to add fields to it, write extends: instead of name:"))
            continue
        declared[declaration.object] = declaration
        docs[declaration.object] = doc
    from runtime.sis.declared import table_of

    known = {**{name: {c.name for c in table_of(name).primary_key.columns} for name in builtin},
             **{d.name: set(d.key) for d in declared.values() if d.name}}
    for name, declaration in declared.items():
        doc = docs[name]
        if declaration.extends:
            if declaration.extends not in builtin:
                project.diagnostics.append(doc.diagnostic(("extends",), f"unknown SIS object '{declaration.extends}'"
                                                          f"{did_you_mean(declaration.extends, builtin)}"))
                continue
            columns = table_of(declaration.extends).c
            for field in declaration.fields:
                if field in columns and not columns[field].info.get("declared"):
                    project.diagnostics.append(doc.diagnostic(("fields", field), f"'{declaration.extends}' has a "
                                                              f"built-in field '{field}' already"))
        for field, spec in declaration.fields.items():
            if not spec.references:
                continue
            target, remote = spec.references.split(".", 1)
            if target not in known:
                project.diagnostics.append(doc.diagnostic(("fields", field, "references"),
                                                          f"unknown SIS object '{target}'"))
            elif remote not in known[target]:
                project.diagnostics.append(doc.diagnostic(("fields", field, "references"),
                                                          f"'{remote}' is not the key of {target} "
                                                          f"(its key: {', '.join(sorted(known[target]))})"))
