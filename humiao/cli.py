"""`humiao` — the one command line (DESIGN.md §3). Each command calls the same functions the Dagster
assets call; nothing here computes on its own.

    humiao simulate   write a simulated city's departmental exports (+ ground truth, kept apart)
    humiao run        simulate the default city if needed, then materialize the whole asset graph
    humiao ingest     validate, normalize and pseudonymize one folder of exports (reconciliation report)
    humiao scan       the leak scanner over files/folders: exit 1 with masked findings
    humiao anonymize  JSON lines in ({"text", "known"}) → anonymized JSON lines out
    humiao serve      the review app for directors, supervisors, reviewers, the data team (localhost)
    humiao users      accounts of the review app (add, list, disable, password)
    humiao rotate-key re-tokenize every store under a new pseudonym key (old→new map through the vault)
    humiao purge      retention: delete identities and rows of children out of scope (PIPL art. 47)
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from typer.core import TyperGroup

from humiao import config as _config  # humiao/__init__.py silences the PySpark/pandas warning

#: Exit code of every command when the configuration cannot be used (bad humiao.yaml, --config missing).
EXIT_CONFIG_ERROR = 2


def load_config(path: Path | None):
    """Load the configuration; an explicit --config is exported as HUMIAO_CONFIG so that every later
    load (Dagster resources, the IO manager) reads the same file. A configuration that cannot be used
    raises :class:`humiao.config.ConfigError`, which :class:`_HumiaoGroup` turns into a short message."""
    cfg = _config.load_config(path)
    if path is not None:
        os.environ["HUMIAO_CONFIG"] = str(Path(path).resolve())
    return cfg


class _HumiaoGroup(TyperGroup):
    """The command group of ``humiao`` and its sub-commands: a configuration error, from whichever
    command loaded the configuration, is printed as the bilingual message of
    :meth:`humiao.config.ConfigError.render` (file, setting, what was expected) and exits with
    :data:`EXIT_CONFIG_ERROR` instead of a Python traceback. So are the other setup errors an operator
    fixes outside humiao: keys (:class:`privacy.keys.KeyConfigurationError`: missing, too short, in the
    repository, the same key twice, no session secret for the app) and the data contracts
    (:class:`privacy.contracts.ContractError`: e.g. ``paths.contracts_dir`` pointing at a folder without
    contracts). Nothing else is caught."""

    def invoke(self, ctx):
        from privacy.contracts import ContractError
        from privacy.keys import KeyConfigurationError

        try:
            return super().invoke(ctx)
        except _config.ConfigError as e:
            console.print(e.render(), markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_CONFIG_ERROR) from None
        except KeyConfigurationError as e:
            console.print(f"密钥配置错误 / key configuration error: {e}\n"
                          "密钥的设置方法见 README“Pointing it at real departmental exports”第 2 步 / how to set "
                          "the keys: README, “Pointing it at real departmental exports”, step 2.",
                          markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_CONFIG_ERROR) from None
        except ContractError as e:
            console.print(f"数据合同错误 / data contract error: {e}\n"
                          "请检查配置中的 paths.contracts_dir（相对路径按代码仓库解析）/ check "
                          "paths.contracts_dir in the configuration (a relative path is resolved against "
                          "the repository).", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_CONFIG_ERROR) from None


app = typer.Typer(cls=_HumiaoGroup, add_completion=False, no_args_is_help=True,
                  help="护苗 humiao — risk early warning for children in difficulty")
console = Console(stderr=True)
# `humiao run` succeeded, but a target has no approved model, so no list was published (DESIGN.md §8)
EXIT_AWAITING_APPROVAL = 3


@app.command()
def simulate(
    children: int = typer.Option(None, help="number of children (default: config simulation.children)"),
    months: int = typer.Option(None, help="months of history (default: config simulation.months)"),
    seed: int = typer.Option(None, help="random seed (default: config simulation.seed)"),
    out: Path = typer.Option(None, help="folder for the departmental exports (default: config paths.raw_dir)"),
    truth: Path = typer.Option(None, help="folder for the ground truth, outside --out (default: paths.truth_dir)"),
    config: Path = typer.Option(None, help="configuration file"),
) -> None:
    """Write a simulated city's departmental exports, as a bureau delivers them."""
    from humiao.runner import simulate_city

    cfg = load_config(config)
    manifest = simulate_city(cfg, children=children, months=months, seed=seed, out=out, truth=truth, force=True)
    console.print(f"simulated {manifest['children']} children × {manifest['months']} months → {manifest['out_dir']}")


@app.command()
def run(
    config: Path = typer.Option(None, help="configuration file"),
    simulate_if_missing: bool = typer.Option(True, help="generate the default simulated city when raw_dir has no data"),
) -> None:
    """Run the whole pipeline: raw → pseudonymized → features → models → cards → scores → visit lists.

    Exit codes: 0 lists published; 1 a stage or a blocking check failed; 2 the configuration, the keys
    or the input folder cannot be used (checked before anything runs); 3 models trained but waiting
    for a governance reviewer's approval (real exports, first cycle), so no list was published."""
    from humiao.runner import run_pipeline
    from humiao.stages import pseudonymizer_from_config, raw_files, vault_key_from_config

    cfg = load_config(config)
    from privacy.contracts import load_contracts

    load_contracts(cfg.path("contracts_dir"))  # a misplaced contracts folder stops here, before any work
    raw_dir = cfg.path("raw_dir")
    if not simulate_if_missing and not (raw_dir.is_dir() and raw_files(raw_dir)):
        console.print(f"输入文件夹不存在或没有部门导出文件 / the input folder does not exist or holds no "
                      f"departmental export: {raw_dir} (paths.raw_dir, HUMIAO_RAW_DIR); nothing was changed",
                      markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG_ERROR)
    pseudonymizer_from_config(cfg)  # keys first: a missing or bad key stops here, not inside a step
    vault_key_from_config(cfg)
    t0 = time.monotonic()
    result = run_pipeline(cfg, simulate_if_missing=simulate_if_missing, console=console)
    if not result["success"]:
        console.print(f"[red]run failed[/red]: {result.get('error', '')}")
        raise typer.Exit(1)
    waiting = result.get("awaiting_approval") or []
    if waiting:
        console.print(
            f"\n[yellow]模型已训练，等待治理审查；本周期名单未发布 / models trained and waiting for a governance "
            f"reviewer; no visit list was published[/yellow] ({', '.join(waiting)}, "
            f"{time.monotonic() - t0:.0f} s)\n"
            f"  1. 审查员阅读待批模型卡 / the reviewer reads the pending cards: "
            f"{Path(result['outputs']['model cards']) / 'versions'}\n"
            "  2. humiao serve → 以治理审查员登录 → 治理审查 → 批准为正在使用 / sign in as reviewer, approve\n"
            "  3. humiao run  （不重新训练，只打分并发布名单 / reuses the models, scores and publishes the lists）")
        raise typer.Exit(EXIT_AWAITING_APPROVAL)
    console.print(f"\n[green]done in {time.monotonic() - t0:.0f} s[/green]")
    for label, path in result["outputs"].items():
        console.print(f"  {label}: {path}")


@app.command()
def ingest(
    input_dir: Path = typer.Argument(..., help="folder of departmental exports (any file names; sub-folders allowed)"),
    report: Path = typer.Option(None, help="write the reconciliation report (JSON) here; its folder must "
                                "exist"),
    json_out: bool = typer.Option(False, "--json", help="also print the whole report (JSON) to standard "
                                  "output (the console always gets the short bilingual summary)"),
    mapping: Path = typer.Option(None, help="mapping file pinning files or sheets to contract tables "
                                 "(format below; docs/ingest.md); default: humiao_mapping.yaml in INPUT_DIR "
                                 "if present"),
    max_quarantine_share: float = typer.Option(None, help="fail a table whose quarantined share is larger "
                                               "(default: checks.max_quarantine_share)"),
    strict: bool = typer.Option(False, help="also fail on files not recognized as any table"),
    apply: bool = typer.Option(False, "--apply/--check",
                               help="--check (default): validate in a temporary folder, change nothing; "
                                    "--apply: write the pseudonymized tables, vault and quarantine into the "
                                    "configured work_dir and quarantine_dir (what `humiao run` reads)"),
    config: Path = typer.Option(None, help="configuration file"),
) -> None:
    """Validate, normalize and pseudonymize one folder of exports without running the rest.

    By default a check: everything is written to a temporary folder that is
    removed afterwards, so the pipeline's stored data, vault and identity index
    are untouched (--apply writes them). Exit code 1 when a file or table
    failed (each error names file, sheet, row and column in Chinese and
    English); 2 when the command cannot start (no such folder, bad
    configuration, invalid mapping file, no export in the folder). The report
    never holds a raw value.

    Each file (or sheet) is recognized as a contract table from its headers.
    A mapping file (humiao_mapping.yaml in INPUT_DIR, or --mapping FILE) pins
    a file or a sheet to a table. Keys: a path relative to INPUT_DIR, a bare
    file name or a glob (precedence in that order); values: a table name of
    contracts/*.yaml, ignore, {table: NAME} or {sheets: {SHEET: NAME|ignore}}:

        files:
          民政导出0630.xlsx: child_registry
          教育局/学籍名单.csv: student_enrollment
          "卫健/*.csv": injury_visits
          残联台账.xlsx:
            sheets: {残疾人证: disability_certificates, 填表说明: ignore}
          说明.csv: ignore

    A mapping to an unknown table stops before anything is read.

    The console gets a short summary in Chinese and English: the tables
    delivered, files not recognized, tables with no file, files merged into
    one table, quarantined rows per table. The whole report is JSON: --report
    FILE writes it to a file, --json prints it to standard output.
    Full reference: docs/ingest.md."""
    import tempfile

    from humiao.stages import NOTE_CACHE_FILE, run_ingest
    from privacy.ingest import IngestFailed, UndeclaredPersonalInformation
    from privacy.recognize import MappingError

    cfg = load_config(config)
    if input_dir.exists() and not input_dir.is_dir():
        console.print(f"[red]输入路径是文件而不是文件夹 / the input path is a file, not a folder[/red]: {input_dir}"
                      "（请给出存放导出文件的文件夹 / give the folder that holds the exports）",
                      highlight=False)
        raise typer.Exit(2)
    if not input_dir.is_dir():
        console.print(f"[red]输入文件夹不存在 / input folder not found[/red]: {input_dir}", highlight=False)
        raise typer.Exit(2)
    if report is not None and (report.is_dir() or not report.parent.is_dir()):
        what = ("报告路径是一个文件夹 / the report path is a folder" if report.is_dir() else
                "报告所在的文件夹不存在 / the report's folder does not exist")
        console.print(f"[red]{what}[/red]: {report}（未导入任何内容 / nothing was ingested）", highlight=False)
        raise typer.Exit(2)
    scratch = None
    stored = cfg.pseudonymized_dir  # a check refuses an incomplete delivery exactly as --apply would
    live_cache = cfg.path("work_dir") / NOTE_CACHE_FILE  # read only: a check anonymizes only new notes
    if not apply:
        scratch = Path(tempfile.mkdtemp(prefix="humiao-ingest-check-"))
        os.chmod(scratch, 0o700)
        cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={
            "work_dir": str(scratch / "work"), "quarantine_dir": str(scratch / "quarantine")})})
    failed = None
    try:
        rep = run_ingest(cfg, input_dir, force=True, mapping=mapping, max_quarantine_share=max_quarantine_share,
                         strict=strict, stored_dir=stored, note_cache=live_cache)
    except IngestFailed as e:
        failed = e
        rep = e.report.to_dict() if e.report is not None else {"errors": e.errors}
    except UndeclaredPersonalInformation as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from None
    except MappingError as e:  # before anything was read
        console.print(f"[red]映射文件有误，未读取任何文件 / invalid mapping file, nothing was read[/red]: {e}",
                      highlight=False)
        raise typer.Exit(2) from None
    except FileNotFoundError as e:  # run_ingest: the folder holds no departmental export
        console.print(f"[red]{e}[/red]", highlight=False)
        raise typer.Exit(2) from None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    rep["mode"] = "apply" if apply else "check"
    text = json.dumps(rep, ensure_ascii=False, indent=2, default=str)
    if report:
        report.write_text(text, encoding="utf-8")
    if json_out:
        print(text)

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    def names(items: list[str], most: int = 20) -> str:
        return ", ".join(items[:most]) + (f" (+{len(items) - most})" if len(items) > most else "")

    tables = rep.get("tables") or {}
    delivered = [n for n, t in tables.items() if t.get("status") != "missing"]
    missing = [n for n, t in tables.items() if t.get("status") == "missing"]
    passed = sum(t.get("rows_passed", 0) or 0 for t in tables.values())
    quarantined = sum(t.get("rows_quarantined", 0) or 0 for t in tables.values())
    duplicates = sum(t.get("rows_duplicate", 0) or 0 for t in tables.values())
    unrecognized = [f["file"] + (f"#{f['sheet']}" if f.get("sheet") else "")
                    for f in rep.get("files") or [] if f.get("status") in ("unrecognized", "ambiguous")]
    say(f"已收到 {len(delivered)} 张表的文件（数据约定共 {len(tables)} 张表）；通过 {passed:,} 行，隔离 "
        f"{quarantined:,} 行，重复 {duplicates:,} 行 / tables delivered: {len(delivered)} (of {len(tables)} "
        f"contract tables); {passed:,} rows passed, {quarantined:,} quarantined, {duplicates:,} duplicates")
    if unrecognized:
        say(f"  无法识别的文件 / files not recognized ({len(unrecognized)}): {names(unrecognized)}")
    if missing:
        say(f"  没有收到文件的表 / tables with no file ({len(missing)}): {names(missing)}")
    for n, t in tables.items():
        files = list(dict.fromkeys(f.split("#")[0] for f in t.get("files") or []))
        if len(files) > 1:
            say(f"  多个文件合并为表 {n} / files merged into table {n}: {' + '.join(files)} "
                f"（重复 {t.get('rows_duplicate', 0)} 行 / {t.get('rows_duplicate', 0)} duplicate rows）")
    per_table = [f"{n} {t['rows_quarantined']:,}" for n, t in tables.items() if t.get("rows_quarantined")]
    if per_table:
        say(f"  各表隔离行数 / quarantined rows per table: {names(per_table)}")
    if rep.get("notes_reused") or rep.get("notes_anonymized"):
        say(f"  备注：新匿名化 {rep.get('notes_anonymized', 0):,} 条，沿用上次导入的结果 {rep.get('notes_reused', 0):,} 条"
            f" / notes: {rep.get('notes_anonymized', 0):,} anonymized, {rep.get('notes_reused', 0):,} unchanged "
            "since the last ingest (reused, scanned again)")
    conflicts = (rep.get("conflicts") or {}).get("count", 0)
    if conflicts:
        say(f"  记录冲突 / conflicts recorded: {conflicts}（详见报告 / see the report）")
    where = ("未保存任何内容 / nothing was stored" if failed is not None
             else f"已保存到 / stored in {cfg.path('work_dir')}" if apply
             else "仅检查，未保存任何内容 / check only: nothing was stored (--apply stores it)")
    say(f"  {where}" + (f"; 报告 / report: {report}" if report else
                        "; 完整报告 / full report: --report FILE 或 / or --json"))
    if failed is not None:
        for err in failed.errors:
            console.print(f"[red]{err.get('message_zh', '')}[/red]\n  {err.get('message_en', '')}")
        raise typer.Exit(1)


@app.command()
def scan(
    paths: list[Path] = typer.Argument(..., help="files or folders to scan (CSV, XLSX, Parquet, JSON, HTML, MD, logs, sqlite)"),
    config: Path = typer.Option(None, help="configuration file"),
    known: bool = typer.Option(True, help="also search for every identity seen in the raw input (scanner index)"),
) -> None:
    """Scan for raw personal information. Prints masked findings; exit code 1 when anything is found."""
    from humiao.runner import build_scanner

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        console.print(f"[red]路径不存在 / path not found[/red]: {', '.join(missing)}")
        raise typer.Exit(2)
    cfg = load_config(config)
    scanner = build_scanner(cfg, with_known=known)
    findings = []
    for p in paths:
        findings.extend(scanner.scan_path(p))
    for f in findings:
        print(f"{f.location}\t{f.column or ''}\t{f.row if f.row is not None else ''}\t{f.entity_type}\t{f.masked}")
    console.print(f"{len(findings)} finding(s) in {len(paths)} path(s)")
    raise typer.Exit(1 if findings else 0)


@app.command()
def anonymize() -> None:
    """Read JSON lines {"text": ..., "known": {...}} on stdin; write {"text": anonymized} lines in order."""
    from privacy.anonymizer import NoteAnonymizer

    anon = NoteAnonymizer()
    batch_texts: list[str | None] = []
    batch_known: list[dict | None] = []

    def flush() -> None:
        for out in anon.anonymize_many(batch_texts, batch_known):
            sys.stdout.write(json.dumps({"text": out}, ensure_ascii=False) + "\n")
        batch_texts.clear()
        batch_known.clear()

    for line_no, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            console.print(f"stdin line {line_no}: not JSON ({e.msg})")
            raise typer.Exit(2) from None
        batch_texts.append(obj.get("text"))
        batch_known.append(obj.get("known"))
        if len(batch_texts) >= 1000:
            flush()
    flush()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on (default: this machine only)"),
    port: int = typer.Option(8000, help="TCP port"),
    config: Path = typer.Option(None, help="configuration file"),
    proxy_headers: bool = typer.Option(False, help="trust X-Forwarded-Proto from a TLS proxy (Secure cookies)"),
) -> None:
    """Start the review app (审核与走访应用) for directors, supervisors, reviewers and the data team."""
    import uvicorn

    from serving.app.main import create_app
    from serving.app.settings import settings_from_config

    cfg = load_config(config)
    settings = settings_from_config(cfg)
    application = create_app(settings)
    import threading

    # build the note anonymizer and the scanner's identity index now, not on the first saved note
    threading.Thread(target=application.state.sanitizer.warm_up, daemon=True).start()
    console.print(f"护苗 review app on http://{host}:{port}  (database: {settings.database_url.split('://')[0]}, "
                  f"lists: {settings.visit_lists_dir})")
    uvicorn.run(application, host=host, port=port, proxy_headers=proxy_headers,
                forwarded_allow_ips="127.0.0.1" if proxy_headers else None, log_level="info")


@app.command("rotate-key")
def rotate_key(
    new_key_file: Path = typer.Option(..., help="file holding the new pseudonym key (hex or base64, ≥ 32 bytes)"),
    new_version: int = typer.Option(None, help="the new key's version (default: current + 1)"),
    config: Path = typer.Option(None, help="configuration file"),
) -> None:
    """Rotate the pseudonym key: re-tokenize the vault, the review database, feedback and issued lists
    through an old→new map; remove the stores the next run rebuilds; the audit log is never rewritten."""
    from humiao.maintenance import MaintenanceError, rotate_pseudonym_key
    from privacy.keys import KeyConfigurationError
    from privacy.rotation import RotationError

    cfg = load_config(config)
    try:
        report = rotate_pseudonym_key(cfg, new_key_file, new_version)
    except (MaintenanceError, KeyConfigurationError, RotationError) as e:
        console.print(f"[red]密钥轮换未执行 / rotation refused[/red]: {e}")
        raise typer.Exit(1) from None
    print(json.dumps(report, ensure_ascii=False, indent=1))
    console.print(f"key version {report['old_version']} → {report['new_version']}: {report['tokens_mapped']} tokens "
                  f"mapped, {len(report['files'])} store files re-tokenized. Next: {report['next_step']}")


@app.command()
def purge(
    as_of: str = typer.Option(None, help="date of the purge, YYYY-MM-DD (default: today)"),
    retention_days: int = typer.Option(None, help="days kept after leaving scope (default: privacy.retention_days)"),
    config: Path = typer.Option(None, help="configuration file"),
) -> None:
    """Retention (PIPL art. 47): delete the identities and serving rows of children who turned 18 or moved
    away more than the retention period ago; the purge is logged in the audit log (counts, tokens)."""
    from datetime import date

    from humiao.maintenance import MaintenanceError, purge_out_of_scope

    cfg = load_config(config)
    try:
        day = date.fromisoformat(as_of) if as_of else date.today()
        report = purge_out_of_scope(cfg, day, retention_days)
    except (MaintenanceError, ValueError) as e:
        console.print(f"[red]清理未执行 / purge refused[/red]: {e}")
        raise typer.Exit(1) from None
    print(json.dumps(report, ensure_ascii=False, indent=1))
    console.print(f"purged {report['purged']} children out of scope as of {report['as_of']} "
                  f"(retention {report['retention_days']} days)")


users_app = typer.Typer(cls=_HumiaoGroup, no_args_is_help=True, help="accounts of the review app")
app.add_typer(users_app, name="users")


def _app_engine(config: Path | None):
    import os

    from serving.app.db import make_engine
    from serving.app.settings import DATABASE_URL_ENV, default_database_url

    cfg = load_config(config)
    return make_engine(os.environ.get(DATABASE_URL_ENV) or default_database_url(cfg.path("work_dir")))


@users_app.command("add")
def users_add(
    username: str = typer.Option(..., help="login name (letters, digits, _ . -)"),
    role: str = typer.Option(..., help="director | supervisor | reviewer | data_team"),
    community: str = typer.Option(None, help="村/社区 (directors)"),
    township: str = typer.Option(None, help="乡镇/街道 (directors and supervisors)"),
    display_name: str = typer.Option(None, help="name shown in the app header"),
    config: Path = typer.Option(None, help="configuration file"),
) -> None:
    """Add an account; the password comes from HUMIAO_APP_PASSWORD or a hidden prompt."""
    import os

    from serving.app.users import add_user

    engine = _app_engine(config)  # a bad configuration is reported before the password is asked for
    password = os.environ.get("HUMIAO_APP_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True)
    try:
        add_user(engine, username, password, role, community=community, township=township,
                 display_name=display_name)
    except ValueError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    console.print(f"added {username} ({role})")


@users_app.command("list")
def users_list(config: Path = typer.Option(None, help="configuration file")) -> None:
    """List the accounts (no password hashes)."""
    from serving.app.users import list_users

    for u in list_users(_app_engine(config)):
        print(f"{u.username}\t{u.role}\t{u.township or ''}\t{u.community or ''}\t{'active' if u.active else 'disabled'}")


@users_app.command("disable")
def users_disable(username: str = typer.Argument(...), config: Path = typer.Option(None, help="configuration file")) -> None:
    """Disable an account and end its sessions."""
    from serving.app.users import set_active

    set_active(_app_engine(config), username, False)
    console.print(f"disabled {username}")


@users_app.command("password")
def users_password(username: str = typer.Argument(...), config: Path = typer.Option(None, help="configuration file")) -> None:
    """Set a new password (HUMIAO_APP_PASSWORD or a hidden prompt); ends the account's sessions."""
    import os

    from serving.app.users import set_password

    engine = _app_engine(config)  # a bad configuration is reported before the password is asked for
    password = os.environ.get("HUMIAO_APP_PASSWORD") or typer.prompt(
        "password", hide_input=True, confirmation_prompt=True)
    try:
        set_password(engine, username, password)
    except ValueError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    console.print(f"password of {username} changed")


if __name__ == "__main__":  # pragma: no cover
    app()
