"""What the SIS knows, as SCIM resources: the answers of GET on Users and Groups.

Koppel keeps no SCIM directory of its own. A provisioning client that searches before it creates
(Entra ID, SmartAIM-style connectors: ``GET /Users?filter=userName eq "..."``) must find the
accounts that reached the SIS, so the answers are read from the SIS store. This module is the
reverse of the two mappings of interfaces 1 and 3:

- a User is a ``person`` with an ``account_name`` (``scim-gebruiker-naar-persoon`` wrote it):
  id and externalId are the person number, userName the account name, the school e-mail its
  primary work address, the name from the person's names; ``active`` is true (a closed account
  has no account name, and so is no User any more: GET answers 404 after a DELETE);
- a Group is what one IAM group granted (``role_assignment`` with source ``iam``, by its
  ``granted_by``: the group's externalId, ``scim-groep-naar-rol``): id, externalId and
  displayName that externalId, its members the people it gave the role (an empty group has no
  grants, and so is not found).

Nothing else of the person (no BSN, no address) is shown. The SIS is read with its own small
connection pool; an unreachable SIS is a 503 for the caller, like any outage.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from runtime.engine.inbound.scim_filter import Filter
from runtime.engine.inbound.scim_schema import GROUP, USER
from runtime.sis.records import jsonable, table

#: filter attributes the SIS can answer in SQL (lower-cased path → column; values are folded)
_USER_COLUMNS = {"id": "person_number", "externalid": "person_number", "username": "account_name",
                 "emails.value": "email_school", "emails": "email_school"}


class Directory:
    def __init__(self, sis_url: str) -> None:
        self.url = sis_url
        self._engine = None

    @property
    def engine(self):
        if self._engine is None:
            from runtime.sis import schema

            self._engine = schema.engine(self.url, pool_size=2, max_overflow=2) if not self.url.startswith("sqlite") \
                else schema.engine(self.url)
        return self._engine

    # -- users ---------------------------------------------------------------------------------

    def person(self, person_number: str) -> dict[str, Any] | None:
        """The person's number and account, whether or not it has one (for POST's checks)."""
        p = table("person").c
        with self.engine.connect() as c:
            row = c.execute(select(p.person_number, p.account_name).where(p.person_number == person_number)).first()
        return dict(row._mapping) if row else None

    def unknown_people(self, numbers: list[str]) -> list[str]:
        """Those of ``numbers`` that are no person in the SIS (a group's members)."""
        p = table("person").c
        wanted = sorted(set(numbers))
        with self.engine.connect() as c:
            known = {n for (n,) in c.execute(select(p.person_number).where(p.person_number.in_(wanted)))} if wanted else set()
        return [n for n in wanted if n not in known]

    def account_holder(self, account_name: str) -> str | None:
        """Who holds the account name (compared as the mapping writes it: trimmed, lower case)."""
        p = table("person").c
        with self.engine.connect() as c:
            return c.execute(select(p.person_number).where(p.account_name == account_name.strip().lower())).scalar()

    def user(self, rid: str, base: str) -> dict[str, Any] | None:
        found = self._users({"person_number": rid}, base)
        return found[0] if found else None

    def users(self, flt: Filter | None, base: str) -> list[dict[str, Any]]:
        where = {}
        for path, value in (flt.required_equals.items() if flt else ()):
            if path in _USER_COLUMNS and isinstance(value, str):
                column = _USER_COLUMNS[path]
                where[column] = value if column == "person_number" else value.strip().lower()
        found = self._users(where, base)
        return [u for u in found if flt is None or flt.matches(u)]

    def _users(self, where: dict[str, str], base: str) -> list[dict[str, Any]]:
        p = table("person").c
        q = select(p.person_number, p.given_name, p.tussenvoegsel, p.last_name, p.account_name, p.email_school,
                   p.created_at, p.updated_at).where(p.account_name.is_not(None))
        for column, value in where.items():
            q = q.where(func.lower(p[column]) == value if column != "person_number" else p[column] == value)
        with self.engine.connect() as c:
            rows = c.execute(q.order_by(p.person_number)).all()
        return [_user(r._mapping, base) for r in rows]

    # -- groups --------------------------------------------------------------------------------

    def group(self, rid: str, base: str) -> dict[str, Any] | None:
        found = self._groups(rid, base)
        return found[0] if found else None

    def groups(self, flt: Filter | None, base: str) -> list[dict[str, Any]]:
        name = None
        for path in ("id", "externalid", "displayname"):
            value = (flt.required_equals if flt else {}).get(path)
            if isinstance(value, str):
                name = value
        return [g for g in self._groups(name, base) if flt is None or flt.matches(g)]

    def _groups(self, name: str | None, base: str) -> list[dict[str, Any]]:
        r = table("role_assignment").c
        group = func.coalesce(r.granted_by, r.role)  # grants from before granted_by: the role was the group
        q = select(group.label("name"), r.person_number).where(r.source == "iam")
        if name is not None:
            q = q.where(func.lower(group) == name.strip().lower())
        with self.engine.connect() as c:
            rows = c.execute(q.order_by(group, r.person_number)).all()
        members: dict[str, list[str]] = {}
        for row in rows:
            members.setdefault(row.name, []).append(row.person_number)
        return [{"schemas": [GROUP], "id": name, "externalId": name, "displayName": name,
                 "members": [{"value": n, "$ref": f"{base}/Users/{n}", "type": "User"} for n in numbers],
                 "meta": {"resourceType": "Group", "location": f"{base}/Groups/{name}"}}
                for name, numbers in members.items()]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _user(row, base: str) -> dict[str, Any]:
    family = " ".join(x for x in (row["tussenvoegsel"], row["last_name"]) if x)
    formatted = " ".join(x for x in (row["given_name"], family) if x)
    number = row["person_number"]
    user: dict[str, Any] = {"schemas": [USER], "id": number, "externalId": number, "userName": row["account_name"],
                            "name": {k: v for k, v in (("givenName", row["given_name"]), ("familyName", family),
                                                       ("formatted", formatted)) if v},
                            "displayName": formatted or row["account_name"], "active": True}
    if row["email_school"]:
        user["emails"] = [{"value": row["email_school"], "type": "work", "primary": True}]
    user["meta"] = {"resourceType": "User", "location": f"{base}/Users/{number}",
                    "created": jsonable(row["created_at"]), "lastModified": jsonable(row["updated_at"])}
    return user
