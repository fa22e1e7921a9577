"""SBB's kwalificatiestructuur lists (interface 9): XLSX downloads, as on kwalificatie-mijn.s-bb.nl.

    GET {base}/Lijsten/Output/{id}   → an .xlsx workbook (no authentication: the lists are public)

SBB publishes each list as a new output id. The stand-in serves three publications whose code
column is named as SBB named it in that period (research/domain-standards.md §6; which name
belongs to which year is this stand-in's assumption, docs/vendor-notes.md):

    52000  crebolijst 2022  "Crebonummer"
    55000  crebolijst 2024  "Erkende opleidingscode"
    58500  crebolijst 2026  "Opleidingscode"   (the newest; options.current overrides)

One sheet, ``Crebolijst``: a title in A1, the publication date in A2, an empty row, the header in
row 4, then one row per kwalificatie and per keuzedeel: <code column>, Naam, Niveau, Dossiercode,
Dossier, Sectorkamer, Prijsfactor (a number), Soort opleiding (Kwalificatie | Keuzedeel),
Geldig vanaf, Geldig tot (dates; empty = open). Keuzedelen have a K-code (``K0125``) and no
dossier or prijsfactor. Another id is a 404 with SBB's HTML page.
"""

from __future__ import annotations

import datetime as dt
import io

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sandbox.rest.common import base_path
from sandbox.standin import StandinContext, control_routes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PUBLICATIONS = {52000: (2022, "Crebonummer"), 55000: (2024, "Erkende opleidingscode"), 58500: (2026, "Opleidingscode")}
HEADER_ROW = 4
KEUZEDELEN = [("K0020", "Ondernemend gedrag", 2), ("K0080", "Verdieping software", 4), ("K0125", "Engels A2", 2),
              ("K0212", "Voorbereiding hbo", 4), ("K0536", "Digitale vaardigheden basis", 2),
              ("K0750", "Zorgtechnologie", 3), ("K1018", "Burgerschap in de praktijk", 3),
              ("K1125", "Rekenen 3F verdieping", 4)]


def rows(year: int) -> list[list]:
    """The list's rows below the header: the college's qualifications, then the keuzedelen."""
    from runtime.sis.seed import catalogue

    out = []
    for crebo, name, level, dossier, dossier_name, sector, factor, start, end in catalogue.qualification_rows():
        out.append([crebo, name, level, dossier, dossier_name, sector, float(factor), "Kwalificatie",
                    dt.date.fromisoformat(start), dt.date.fromisoformat(end) if end else None])
    for code, name, level in KEUZEDELEN:
        out.append([code, name, level, None, None, None, None, "Keuzedeel", dt.date(year - 2, 8, 1), None])
    return out


def workbook(output_id: int) -> bytes:
    from openpyxl import Workbook

    year, code_column = PUBLICATIONS[output_id]
    book = Workbook()
    sheet = book.active
    sheet.title = "Crebolijst"
    sheet["A1"] = f"Crebolijst {year}-{year + 1} (SBB, kwalificatiestructuur mbo)"
    sheet["A2"] = f"Gepubliceerd {year - 1}-10-01, geldig vanaf {year}-08-01"
    header = [code_column, "Naam", "Niveau", "Dossiercode", "Dossier", "Sectorkamer", "Prijsfactor",
              "Soort opleiding", "Geldig vanaf", "Geldig tot"]
    for column, title in enumerate(header, start=1):
        sheet.cell(row=HEADER_ROW, column=column, value=title)
    for offset, row in enumerate(rows(year), start=1):
        for column, value in enumerate(row, start=1):
            sheet.cell(row=HEADER_ROW + offset, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def create_app(ctx: StandinContext) -> Starlette:
    base = base_path(ctx)

    async def output(request: Request) -> Response:
        output_id = int(request.path_params["id"])
        if output_id not in PUBLICATIONS:
            ctx.received.add("refused", {"output": output_id}, path=request.url.path)
            return HTMLResponse("<html><body><h1>Pagina niet gevonden</h1></body></html>", status_code=404)
        ctx.received.add("download", {"output": output_id}, path=request.url.path)
        year = PUBLICATIONS[output_id][0]
        return Response(workbook(output_id), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="Crebolijst {year}.xlsx"'})

    return Starlette(routes=control_routes(ctx) + [
        Route(f"{base}/Lijsten/Output/{{id:int}}", output, methods=["GET"]),
    ])
