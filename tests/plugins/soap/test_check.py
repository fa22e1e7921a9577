"""check_spec: the operation must be in the WSDL; read with lxml only, fast."""

from __future__ import annotations

import sys
from pathlib import Path

from plugins.soap.check import check_spec
from plugins.soap.spec import SoapSource, SoapTarget
from runtime.plugin import PluginContext
from soap_helpers import RIO_WSDL, ROD_WSDL, ROOT, SBB_WSDL, requires_specs


def ctx(root: Path = ROOT) -> PluginContext:
    return PluginContext(environment="sandbox", project_root=root)


def test_known_operation_passes():
    assert check_spec(SoapTarget(type="soap", wsdl=ROD_WSDL, operation="aanleveren_bpv"), ctx()) == []


def test_unknown_operation_is_named_with_the_known_ones():
    [(loc, message)] = check_spec(SoapTarget(type="soap", wsdl=ROD_WSDL, operation="aanleverenInschrijving"), ctx())
    assert loc == ("operation",)
    assert "aanleverenInschrijving" in message and "aanleveren_inschrijving" in message


def test_before_and_detail_operations_are_checked():
    problems = check_spec(SoapTarget(type="soap", wsdl=ROD_WSDL, operation="aanleveren_bpv", before=["nope"]), ctx())
    assert [loc for loc, _ in problems] == [("before", 0)]
    spec = SoapSource(type="soap", wsdl=SBB_WSDL, operation="Zoeken", records="a", key="b", detail_operation="GeefDetail")
    assert [loc for loc, _ in check_spec(spec, ctx())] == [("detail_operation",)]


@requires_specs
def test_real_rio_wsdl_is_checked():
    assert check_spec(SoapTarget(type="soap", wsdl=RIO_WSDL, operation="aanleveren_aangebodenOpleiding"), ctx()) == []
    assert check_spec(SoapTarget(type="soap", wsdl=RIO_WSDL, operation="aanleveren_opleiding"), ctx())


def test_missing_wsdl_is_a_problem(tmp_path):
    [(loc, message)] = check_spec(SoapTarget(type="soap", wsdl="contracts/nope.wsdl", operation="x"), ctx(tmp_path))
    assert loc == ("wsdl",) and "not found" in message


def test_specs_wsdl_without_specs_folder_uses_the_fallback_or_is_quiet(tmp_path, monkeypatch):
    monkeypatch.setenv("KOPPEL_SPECS_DIR", str(tmp_path / "absent"))
    # the project has a fallback for RIO: it is checked against that
    assert check_spec(SoapTarget(type="soap", wsdl=RIO_WSDL, operation="aanleveren_aangebodenOpleiding"), ctx()) == []
    assert check_spec(SoapTarget(type="soap", wsdl=RIO_WSDL, operation="nope"), ctx())
    # no fallback and no specs folder: not a problem (a fresh clone elsewhere)
    assert check_spec(SoapTarget(type="soap", wsdl="${specs}/other/x.wsdl", operation="x"), ctx()) == []


def test_check_does_not_import_zeep():
    import subprocess

    code = (
        "import sys; from plugins.soap.check import check_spec; from plugins.soap.spec import SoapTarget;"
        "from runtime.plugin import PluginContext; from pathlib import Path;"
        f"check_spec(SoapTarget(type='soap', wsdl='{ROD_WSDL}', operation='aanleveren_bpv'), PluginContext(environment='sandbox', project_root=Path('{ROOT}')));"
        "assert 'zeep' not in sys.modules, 'zeep imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
