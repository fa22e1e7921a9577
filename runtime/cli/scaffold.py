"""Skeletons for ``koppel new interface``: an interface file, a mapping and its test cases, a
catalog row and (when the system is new) a system with settings for every environment.

Everything written validates at once, so a specialist starts from a green ``koppel validate``
and changes one thing at a time. The comments say what to fill in; the defaults are the usual
ones (an outbox trigger for a SIS source, a poll for a REST source, a webhook for inbound calls).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SOURCES = ("sis", "rest", "webhook", "sftp")
TARGETS = ("rest", "sis", "sftp")


@dataclass
class Scaffold:
    number: int
    slug: str
    source: str
    target: str
    system: str
    sis_object: str
    #: the SIS object's natural key, when the target is the SIS (the mapping must write SIS fields)
    sis_key: tuple[str, ...] = ()

    @property
    def mapping(self) -> str:
        return self.slug

    @property
    def interface_file(self) -> str:
        return f"interfaces/{self.number:02d}-{self.slug}.yaml"

    @property
    def realtime(self) -> bool:
        return self.source in ("sis", "webhook", "rest")

    @property
    def env_prefix(self) -> str:
        return "KOPPEL_" + re.sub(r"[^A-Z0-9]", "_", self.system.upper())

    # -- the interface --------------------------------------------------------------------------

    def interface_yaml(self) -> str:
        return f"""# yaml-language-server: $schema=../schemas/interface.schema.json
# Written by `koppel new interface`: fill in what the comments ask, `koppel validate` after each step.
id: {self.number}
name: {self.slug.replace("-", " ").capitalize()}
description: >
  What this interface moves, for whom, and on what the rules rest (name the source when it is a
  law or a vendor's document).
type: {"realtime" if self.realtime else "batch"}
objects: [{self.sis_object}]
{self._trigger()}
{self._source()}
mapping: {self.mapping}
targets:
{self._target()}
delivery:
  retries: {{max_attempts: 5, max_delay: 5m}}   # transient errors (timeouts, 5xx, 429) are retried
"""

    def _trigger(self) -> str:
        if self.source == "sis":
            return (f"# a change of the {self.sis_object} (or of what it includes) in the SIS store wakes it\n"
                    f"trigger: {{type: outbox, objects: [{self.sis_object}]}}")
        if self.source == "webhook":
            return "trigger: {type: webhook}   # the other system calls Koppel's server"
        if self.source == "rest":
            return "trigger: {type: poll, every: 5m}   # the other system's API, read from the last change seen"
        return 'trigger: {type: cron, cron: "0 2 * * *"}   # Europe/Amsterdam'

    def _source(self) -> str:
        if self.source == "sis":
            return (f"source: {{type: sis, object: {self.sis_object}, mode: outbox}}"
                    "   # include: [person] joins related objects")
        if self.source == "webhook":
            return (f"source: {{type: webhook, system: {self.system}, path: /hooks/{self.slug}, style: json, key: id}}")
        if self.source == "rest":
            return (f"source:\n  type: rest\n  system: {self.system}\n  path: /{self.sis_object}s   # the list endpoint\n"
                    "  records: items   # where the list is in the answer (JMESPath)\n  key: id\n"
                    "  watermark: {field: modified, param: modifiedSince}")
        return (f"source: {{type: sftp, system: {self.system}, directory: outbox, pattern: '*.csv',"
                " format: {type: csv, delimiter: ';'}, key: id}")

    def _target(self) -> str:
        if self.target == "sis":
            return f"  - {{type: sis, object: {self.sis_object}}}   # upsert by the object's natural key"
        if self.target == "rest":
            return f'  - {{type: rest, system: {self.system}, method: PUT, path: "/{self.sis_object}s/{{id}}"}}'
        return (f"  - {{type: sftp, system: {self.system}, directory: inbox, filename: '{self.slug}-{{date}}.csv',"
                " format: {type: csv, delimiter: ';'}}")

    # -- the mapping and its cases -------------------------------------------------------------

    def mapping_yaml(self) -> str:
        if self.target == "sis":
            return self._sis_mapping_yaml()
        return f"""# yaml-language-server: $schema=../schemas/mapping.schema.json
name: {self.mapping}
description: A {self.sis_object} for {self.system}. mappings/README.md lists the functions.
output:
  id: {{expr: "id", required: true}}   # every string is a JMESPath expression over the source record
  naam: "name"
contract:
  json_schema:   # the shape the target takes; a record that does not fit becomes a dead letter
    type: object
    required: [id]
    properties:
      id: {{type: string, minLength: 1}}
      naam: {{type: [string, "null"]}}
"""

    def _sis_mapping_yaml(self) -> str:
        fields = "\n".join(f'  {k}: {{expr: "id", required: true}}' for k in self.sis_key)
        return f"""# yaml-language-server: $schema=../schemas/mapping.schema.json
name: {self.mapping}
description: >
  A record of {self.system} as a SIS {self.sis_object}. The output's fields are the object's fields
  (runtime/sis/RECORDS.md); `koppel validate` names any that the store does not have.
output:
{fields}   # the natural key; add the other fields the SIS keeps
"""

    def tests_yaml(self) -> str:
        if self.target == "sis":
            key = self.sis_key[0]
            return f"""# yaml-language-server: $schema=../../schemas/mapping-tests.schema.json
# `koppel test {self.mapping}` runs these; add a case for every rule the mapping has.
- name: een record met id
  input: {{id: "1"}}
  expect: {{{", ".join(f"{k}: '1'" for k in self.sis_key)}}}
- name: zonder id geen record
  input: {{name: Eva}}
  expect_error: {{kind: mapping, path: {key}}}
"""
        return f"""# yaml-language-server: $schema=../../schemas/mapping-tests.schema.json
# `koppel test {self.mapping}` runs these; add a case for every rule the mapping has.
- name: een volledig record
  input: {{id: "1", name: Eva de Vries}}
  expect: {{id: "1", naam: Eva de Vries}}
- name: zonder naam blijft naam leeg
  input: {{id: "2"}}
  expect: {{id: "2", naam: null}}
- name: zonder id geen record
  input: {{name: Eva}}
  expect_error: {{kind: mapping, path: id}}
"""

    # -- the catalog ---------------------------------------------------------------------------

    def catalog_row(self) -> str:
        sources = "sis" if self.source == "sis" else self.system
        targets = "sis" if self.target == "sis" else self.system
        return f"""  - id: {self.number}
    from: "{"SIS" if self.source == "sis" else self.system}"
    to: "{"SIS" if self.target == "sis" else self.system}"
    objects: ["{self.sis_object}"]
    type: "{"(near) realtime" if self.realtime else "Batch"}"
    remark: "Nieuw; nog niet in het overzicht van de hogeschool"
    source_systems: [{sources}]
    target_systems: [{targets}]
    file: {self.interface_file}
"""

    def system_yaml(self) -> str:
        name, prefix = self.system, self.env_prefix
        protocol = "sftp" if "sftp" in (self.source, self.target) else "rest"
        envs = []
        for env, host in (("sandbox", "127.0.0.1"), ("acceptatie", f"{name}-acc.example.org"),
                          ("productie", f"{name}.example.org")):
            if protocol == "sftp":
                body = (f"        host: {host}\n        port: {2222 if env == 'sandbox' else 22}\n"
                        f"        known_hosts: {'var/sandbox/sftp/known_hosts' if env == 'sandbox' else '/etc/koppel/known_hosts'}\n"
                        f"        auth: {{type: ssh_key, username: koppel, private_key: '${{file:/etc/koppel/ssh/{name}_key}}'}}\n")
            else:
                url = "http://127.0.0.1:8599/api" if env == "sandbox" else f"https://{host}/api"
                body = f"        url: {url}\n        auth: {{type: bearer, token: '${{env:{prefix}_TOKEN}}'}}\n"
            if self.source == "webhook":
                body += f"        inbound_auth: {{type: hmac, secret: '${{env:{prefix}_WEBHOOK_SECRET}}'}}\n"
            envs.append(f"      {env}:\n{body}")
        return (f"  {name}:\n    name: {name}\n    description: 'What {name} is and who runs it.'\n"
                f"    vendor: (the vendor)\n    protocol: {protocol}\n    environments:\n" + "".join(envs))


def add_to_catalog(text: str, scaffold: Scaffold, with_system: bool) -> str:
    """The catalog with the new row after the last row (and the new system after the last system),
    keeping every comment and the rest of the file as written."""
    head, sep, systems = text.partition("\nsystems:\n")
    if not sep:
        raise ValueError("catalog.yaml has no 'systems:' section")
    if with_system:  # at the end of the systems section, before the next top-level key
        end = re.search(r"^(?=[^\s#])", systems, re.M)
        at = end.start() if end else len(systems)
        systems = systems[:at].rstrip("\n") + "\n" + scaffold.system_yaml() + ("\n" + systems[at:] if end else "")
    return head.rstrip("\n") + "\n" + scaffold.catalog_row() + "\nsystems:\n" + systems
