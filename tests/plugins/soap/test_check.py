"""check_spec: the operation must be in the WSDL; read with lxml only, fast."""

from __future__ import annotations

import shutil
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


def _sbb_context(environment: str, **options) -> PluginContext:
    from sandbox.runner import load_catalog

    settings = load_catalog(ROOT).systems["sbb"].environments[environment]
    if options:
        settings = settings.model_copy(update={"options": {**settings.options, **options}})
    return PluginContext(environment=environment, project_root=ROOT, system_name="sbb", system=settings)


def _sbb_specs() -> list:
    """Interface 8's two SBB specs as shipped: the licence is a system field of both."""
    import yaml

    interface = yaml.safe_load((ROOT / "interfaces" / "08-sbb-leerbedrijven.yaml").read_text(encoding="utf-8"))
    source = next(s for s in interface["sources"] if s["type"] == "soap")
    target = next(t for t in interface["targets"] if t["type"] == "soap")
    fields = {k: v for k, v in source.items() if k != "system"}
    return [SoapSource(**fields), SoapTarget(**{k: v for k, v in target.items() if k not in ("system", "writeback")})]


def test_interface_8_names_the_licence_and_every_environment_of_the_catalog_sets_it():
    specs = _sbb_specs()
    assert [s.system_fields for s in specs] == [{"request.Licentie": "licentie"}] * 2
    for environment in ("sandbox", "acceptatie", "productie"):
        assert [check_spec(s, _sbb_context(environment)) for s in specs] == [[], []], environment


def test_an_environment_without_the_licence_option_is_reported_for_source_and_target():
    for spec in _sbb_specs():
        assert check_spec(spec, _sbb_context("productie", licentie="")) == [
            (("system_fields", "request.Licentie"),
             "system sbb has no options.licentie for environment 'productie' in catalog.yaml")]


def test_validate_without_an_environment_checks_every_environment_of_the_catalog(tmp_path):
    catalog = (ROOT / "catalog.yaml").read_text(encoding="utf-8")
    productie = "          licentie: '${env:KOPPEL_SBB_LICENTIE}'\n  sbb-lijsten:"
    assert catalog.count(productie) == 1
    (tmp_path / "catalog.yaml").write_text(catalog.replace(productie, "          other: 1\n  sbb-lijsten:"), encoding="utf-8")
    shutil.copytree(ROOT / "contracts" / "sbb", tmp_path / "contracts" / "sbb")
    validate = PluginContext(environment="sandbox", project_root=tmp_path, system_name="sbb")  # as crossrefs gives it
    for spec in _sbb_specs():
        assert check_spec(spec, validate) == [
            (("system_fields", "request.Licentie"),
             "system sbb has no options.licentie for environment 'productie' in catalog.yaml")]
        assert check_spec(spec, PluginContext(environment="sandbox", project_root=ROOT, system_name="sbb")) == []
