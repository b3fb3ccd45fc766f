"""raw_<table> (external: the departmental exports) → pseudonymized_<table>, one asset per contract
table, generated from contracts/ (DESIGN.md §3 "one table, one asset, from the contract")."""


import dagster as dg

from humiao.config import load_config
from humiao.stages import run_ingest
from pipelines.resources import HumiaoConfig, PrivacyKeys
from privacy.contracts import load_contracts

TABLES = load_contracts(load_config().path("contracts_dir"))

raw_specs = [
    dg.AssetSpec(
        f"raw_{name}",
        group_name="raw",
        description=f"{t.title_zh}: {t.relative_path} as the department delivers it (raw zone, never copied)",
        metadata={"file": t.relative_path, "department": t.department},
        kinds={"csv" if t.file.endswith(".csv") else "xlsx"},
    )
    for name, t in TABLES.items()
]

pseudonymized_specs = [
    dg.AssetSpec(
        f"pseudonymized_{name}",
        deps=[f"raw_{name}"],
        group_name="pseudonymized",
        description=f"{t.title_zh}, validated and pseudonymized (interfaces §2); quarantined rows counted",
        kinds={"parquet"},
    )
    for name, t in TABLES.items()
]


@dg.multi_asset(specs=pseudonymized_specs, name="pseudonymize", can_subset=False)
def pseudonymize(context: dg.AssetExecutionContext, humiao: HumiaoConfig, keys: PrivacyKeys):
    """Every table in one pass, so the vault and the scanner index hold every department's identities."""
    report = run_ingest(humiao.cfg)
    context.log.info("ingest %s", "reused (inputs and code unchanged)" if report["reused"] else "ran")
    for name in TABLES:
        t = report["tables"].get(name, {})
        yield dg.MaterializeResult(
            asset_key=f"pseudonymized_{name}",
            metadata={
                "status": t.get("status", "missing"),
                "rows_read": t.get("rows_read", 0),
                "rows_passed": t.get("rows_passed", 0),
                "rows_quarantined": t.get("rows_quarantined", 0),
                "rows_duplicate": t.get("rows_duplicate", 0),
                "quarantine_reasons": dg.MetadataValue.json(t.get("reasons", {})),
                "quarantine_share": t.get("quarantine_share"),
                "files": dg.MetadataValue.json(t.get("files", [])),
                "conflicts_in_run": (report.get("conflicts") or {}).get("count", 0),
                "reused": report["reused"],
            },
        )
