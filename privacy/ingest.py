"""The first stage: departmental exports → pseudonymized Parquet (DESIGN.md §3–5, §11.2–11.5; interfaces §2).

For each contract table the raw file is read (:mod:`privacy.readers`), every row is validated and
normalized column by column from the contract — vectorized: each distinct value of a column is
normalized once — and then

* **direct identifiers** become tokens (``pseudonym:``) or are dropped; their normalized values go into
  the encrypted vault (token → name/ID/phone/address/community/township) and into the scanner's encrypted
  identity index (every name, ID, phone and address seen in the raw input, quarantined rows included);
* **quasi-identifiers** with ``generalize: month`` are truncated to the first of their month;
* **free text** is anonymized by ``NoteAnonymizer.anonymize_many`` with each row's known identities;
* a row with a bad value in a declared column is **quarantined** (row-level, DESIGN §11.5) with a reason
  code; exact duplicate rows are removed and counted; ``rows_passed + rows_quarantined + rows_duplicate ==
  rows_read`` always;
* **fail closed**: the finished frame's non-token columns are scanned by the leak scanner with the full
  identity index. Personal information in a structured column (a phone in 备注) fails the file
  (:class:`UndeclaredPersonalInformation`, file-level, DESIGN §5/§11.5) and nothing is written for that
  table; a finding inside an anonymized note replaces that note by :data:`REDACTION_MARKER` and lists it
  in the report (DESIGN §11.2).

Outputs (``out_dir``): ``pseudonymized/<table>.parquet``, ``pseudonymized/id_attributes.parquet``,
``ingest_report.json`` (counts and reason codes only, never values), ``vault.bin`` and
``identity_index.bin`` (Fernet, mode 0600). Quarantine: ``<quarantine_dir>/<table>.csv`` (raw rows,
``reason_code``, ``column``, ``source_row``; mode 0600).

Law: PIPL art. 28/31 (children's data is sensitive), art. 51 (technical measures: de-identification,
encryption), art. 73 (pseudonymized data is still personal information); GB/T 37964-2019; identifier
rules GB 11643-1999 (:mod:`privacy.identifiers`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import logging
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pandas.arrays import ArrowStringArray

from privacy import identifiers as ids
from privacy.contracts import (
    DIRECT,
    FREE_TEXT,
    Column,
    Formats,
    HeaderError,
    Table,
    load_contracts,
    validate_output,
)
from privacy.dates import BLANK_MARKERS, parse_date, parse_month
from privacy.readers import CodedColumn, EncodingError, RawFrame, RawReadError, iter_source, read_table
from privacy.tokens import Pseudonymizer
from privacy.vault import Vault

__all__ = [
    "MESSAGES",
    "REASON_CODES",
    "REDACTION_MARKER",
    "FileReport",
    "IngestError",
    "IngestFailed",
    "IngestReport",
    "TableReport",
    "UndeclaredPersonalInformation",
    "ingest_folder",
    "ingest_table",
    "message",
]

log = logging.getLogger(__name__)

REDACTION_MARKER = "［已隐去：待人工复核］"

# Reason codes (quarantine, and DUPLICATE_ROW for removed duplicates).
ID_PRECISION_LOST = "ID_PRECISION_LOST"
REQUIRED_MISSING = "REQUIRED_MISSING"
INVALID_CATEGORY = "INVALID_CATEGORY"
INVALID_INT = "INVALID_INT"
INVALID_NUMBER = "INVALID_NUMBER"
INVALID_BOOL = "INVALID_BOOL"
INVALID_HOUSEHOLD_NUMBER = "INVALID_HOUSEHOLD_NUMBER"
INVALID_STUDENT_NUMBER = "INVALID_STUDENT_NUMBER"
DUPLICATE_ROW = "DUPLICATE_ROW"
DUPLICATE_KEY = "DUPLICATE_KEY"
MALFORMED_ROW = "MALFORMED_ROW"
TEXT_TOO_LONG = "TEXT_TOO_LONG"
DATE_AFTER_AS_OF = "DATE_AFTER_AS_OF"
# Warnings (the row passes; the value is not kept as a personal identifier).
PHONE_INVALID = "PHONE_INVALID"
PHONE_SERVICE_NUMBER = "PHONE_SERVICE_NUMBER"
ID_LEGACY_15 = "ID_LEGACY_15"

REASON_CODES = (
    ID_PRECISION_LOST,
    ids.INVALID_FORMAT,
    ids.INVALID_CHECKSUM,
    ids.INVALID_BIRTH_DATE,
    ids.INVALID_REGION,
    INVALID_HOUSEHOLD_NUMBER,
    INVALID_STUDENT_NUMBER,
    REQUIRED_MISSING,
    INVALID_CATEGORY,
    INVALID_INT,
    INVALID_NUMBER,
    INVALID_BOOL,
    "DATE_AMBIGUOUS",
    "DATE_INVALID",
    "DATE_FORMAT",
    DATE_AFTER_AS_OF,
    TEXT_TOO_LONG,
    DUPLICATE_ROW,
    DUPLICATE_KEY,
    MALFORMED_ROW,
)

#: File-level error codes (the file or its table fails; nothing of it is written).
FILE_ERROR_CODES = (
    "ENCODING_UNKNOWN",
    "FILE_UNREADABLE",
    "FILE_TYPE_UNSUPPORTED",
    "TABLE_AMBIGUOUS",
    "REQUIRED_COLUMN_MISSING",
    "COLUMN_TWICE",
    "NO_HEADER",
    "QUARANTINE_THRESHOLD",
    "UNDECLARED_PII",
    "MAPPING_INVALID",
)
#: File-level warnings (reported; the run goes on).
FILE_WARNING_CODES = (
    "EMPTY_FILE",
    "HEADER_ONLY",
    "TABLE_UNRECOGNIZED",
    "EXTRA_COLUMNS",
    "EXTRA_COLUMN_PII",
    "HIDDEN_COLUMNS",
    "TABLE_MISSING",
    "CONFLICT_BIRTH_DATE",
    "CONFLICT_SEX",
    "CONFLICT_NAME",
    "CONFLICT_RECORD",
    "TABLE_SEVERAL_FILES",
    PHONE_INVALID,
    PHONE_SERVICE_NUMBER,
    ID_LEGACY_15,
)

# ----------------------------------------------------------------------------- message catalogue
#: Reason code → (Chinese, English) text for a data clerk. Placeholders: {where} (file, sheet, row,
#: column — filled by :func:`message`), {header} (the column as the file calls it), {expected},
#: {detail}. Values are never put into messages (the report must not carry personal data).
MESSAGES: dict[str, tuple[str, str]] = {
    ID_PRECISION_LOST: (
        "{where}：身份证号被存成了数字（如 3.30106E+17），Excel 只保留 15 位有效数字，后几位已经丢失，无法恢复。"
        "请把“{header}”列设置为“文本”格式，从原始系统重新导出或重新录入。",
        "{where}: the ID number is stored as a number (e.g. 3.30106E+17); Excel keeps only 15 significant "
        "digits, so its last digits are lost for good. Format column “{header}” as Text and re-export or "
        "re-enter it from the source system.",
    ),
    ids.INVALID_FORMAT: (
        "{where}：不是有效的身份证号格式，应为 18 位（最后一位可为 X）或 15 位老号码。",
        "{where}: not a resident ID number; expected 18 characters (the last may be X) or a 15-digit legacy number.",
    ),
    ids.INVALID_CHECKSUM: (
        "{where}：身份证号校验位不对（最后一位与前 17 位不符），多为录入时敲错一位，请与证件核对。",
        "{where}: the ID number's check character does not match its first 17 digits — usually one digit "
        "mistyped; check it against the card.",
    ),
    ids.INVALID_BIRTH_DATE: (
        "{where}：身份证号中的出生日期不存在或晚于导出日期（{expected}），请核对。",
        "{where}: the birth date inside the ID number is impossible or after the export date ({expected}); "
        "check it.",
    ),
    ids.INVALID_REGION: (
        "{where}：身份证号前两位不是有效的省份代码，请核对。",
        "{where}: the first two digits of the ID number are not a province code; check it.",
    ),
    INVALID_HOUSEHOLD_NUMBER: (
        "{where}：户号格式不对，应为 4–40 位数字或字母。",
        "{where}: household number malformed; expected 4–40 digits or letters.",
    ),
    INVALID_STUDENT_NUMBER: (
        "{where}：学籍号格式不对，应为 4–40 位数字或字母（如 G + 身份证号）；若存成了数字格式，请改为文本。",
        "{where}: student number malformed; expected 4–40 digits or letters (e.g. G + ID number); if it was "
        "stored as a number, format the column as Text.",
    ),
    REQUIRED_MISSING: (
        "{where}：必填项为空（或填了“无”“/”“-”等），请补填。",
        "{where}: a required value is empty (or written as 无 / “/” / “-”); please fill it in.",
    ),
    INVALID_CATEGORY: (
        "{where}：填写的内容不在规定的选项中，应为以下之一：{expected}。",
        "{where}: the value is not one of the allowed options: {expected}.",
    ),
    INVALID_INT: (
        "{where}：应为整数（可带“天”“人”等单位），请核对。",
        "{where}: expected a whole number (a unit such as 天/人 is fine); check it.",
    ),
    INVALID_NUMBER: (
        "{where}：应为数字（可带“元”或千分位逗号，如 1,200.50元），请核对。",
        "{where}: expected a number (元 or thousands separators are fine, e.g. 1,200.50元); check it.",
    ),
    INVALID_BOOL: (
        "{where}：应填“是”或“否”。",
        "{where}: expected 是 (yes) or 否 (no).",
    ),
    "DATE_AMBIGUOUS": (
        "{where}：日期写法有歧义（如 2025111 可能是 1月11日 也可能是 11月1日），请写成 2025-01-11 或 2025年1月11日。",
        "{where}: the date is ambiguous (2025111 may be 11 Jan or 1 Nov); write it as 2025-01-11 or 2025年1月11日.",
    ),
    "DATE_INVALID": (
        "{where}：日期不存在（如 2月30日、13月），或年份不在 1900–2100 之间。",
        "{where}: the date does not exist (e.g. 30 February, month 13) or its year is outside 1900–2100.",
    ),
    "DATE_FORMAT": (
        "{where}：无法识别的日期，请写成 2025-03-01、2025/3/1、2025.3.1、20250301 或 2025年3月1日。",
        "{where}: unrecognized date; write it as 2025-03-01, 2025/3/1, 2025.3.1, 20250301 or 2025年3月1日.",
    ),
    DATE_AFTER_AS_OF: (
        "{where}：日期晚于导出日期（{expected}），不可能发生，请核对。",
        "{where}: the date lies after the export date ({expected}), which is impossible; check it.",
    ),
    TEXT_TOO_LONG: (
        "{where}：单元格内容过长（{detail} 个字符，上限 {expected}），多为某处引号未闭合把后面几行并进了这一格，请检查该行及其后几行。",
        "{where}: the cell is too long ({detail} characters, limit {expected}); usually an unclosed quotation "
        "mark merged the following rows into this cell — check this row and the next ones.",
    ),
    DUPLICATE_ROW: (
        "{where}：与前面某行完全相同（重复行），已计数并去除。",
        "{where}: an exact copy of an earlier row (duplicate); counted and removed.",
    ),
    DUPLICATE_KEY: (
        "{where}：“{header}”应唯一，但出现在内容不同的多行中，无法判断哪行正确，请核对。",
        "{where}: “{header}” must be unique but appears on several different rows; we cannot tell which one "
        "is right — check them.",
    ),
    MALFORMED_ROW: (
        "{where}：这一行的列数比表头多（多为内容里有未加引号的逗号），请检查。",
        "{where}: this row has more fields than the header (usually an unquoted comma in a value); check it.",
    ),
    PHONE_INVALID: (
        "{where}：电话号码无法识别（应为 11 位手机或带区号的座机），该值未保留。",
        "{where}: phone number not recognized (expected an 11-digit mobile or a landline with area code); "
        "the value is not kept.",
    ),
    PHONE_SERVICE_NUMBER: (
        "{where}：填的是服务热线（如 400/95 开头），不是个人电话，该值未保留。",
        "{where}: a service number (400…, 95…), not a personal phone; the value is not kept.",
    ),
    ID_LEGACY_15: (
        "{where}：15 位老身份证号已自动升级为 18 位，与其他部门的记录合并为同一人。",
        "{where}: 15-digit legacy ID numbers were upgraded to 18 digits and linked with other departments' records.",
    ),
    "ENCODING_UNKNOWN": (
        "{where}：文件编码无法识别（既不是 UTF-8 也不是 GBK/GB18030），请另存为“CSV UTF-8”后重新提交。",
        "{where}: the file's encoding is neither UTF-8 nor GBK/GB18030; save it as “CSV UTF-8” and resubmit.",
    ),
    "FILE_UNREADABLE": (
        "{where}：文件无法打开（{detail}），请确认文件完整、未加密。",
        "{where}: the file cannot be opened ({detail}); make sure it is complete and not password-protected.",
    ),
    "FILE_TYPE_UNSUPPORTED": (
        "{where}：不支持的文件类型（{detail}），请另存为 .xlsx 或 .csv。",
        "{where}: unsupported file type ({detail}); save it as .xlsx or .csv.",
    ),
    "EMPTY_FILE": (
        "{where}：文件是空的，没有表头也没有数据。",
        "{where}: the file is empty: no header and no data.",
    ),
    "HEADER_ONLY": (
        "{where}：只有表头，没有数据行（0 行）。如本期确无数据可忽略，否则请重新导出。",
        "{where}: only a header, no data rows (0 rows). Fine if there really is nothing this period; "
        "otherwise re-export.",
    ),
    "TABLE_UNRECOGNIZED": (
        "{where}：无法根据表头判断这是哪张表（最接近：{detail}）。请使用规定的表头，或在 humiao_mapping.yaml 中指定。",
        "{where}: cannot tell from its headers which table this is (closest: {detail}). Use the agreed "
        "headers, or pin the file in humiao_mapping.yaml.",
    ),
    "TABLE_AMBIGUOUS": (
        "{where}：表头同样符合多张表（{detail}），系统不作猜测。请在 humiao_mapping.yaml 中指定这个文件是哪张表。",
        "{where}: the headers fit several tables equally well ({detail}); we do not guess. Pin the file to "
        "its table in humiao_mapping.yaml.",
    ),
    "REQUIRED_COLUMN_MISSING": (
        "{where}：缺少必需的列：{expected}。请按约定的表头导出（同义表头见数据约定）。",
        "{where}: required column(s) missing: {expected}. Export with the agreed headers (synonyms are listed "
        "in the data contract).",
    ),
    "COLUMN_TWICE": (
        "{where}：两列表示同一项内容（{expected}），请删除其中一列。",
        "{where}: two columns mean the same thing ({expected}); remove one of them.",
    ),
    "NO_HEADER": (
        "{where}：前 30 行中找不到表头，应包含：{expected}。",
        "{where}: no header row in the first 30 rows; expected one with: {expected}.",
    ),
    "EXTRA_COLUMNS": (
        "{where}：以下列不在数据约定中，已忽略（未传给下游）：{detail}。",
        "{where}: these columns are not in the data contract and were dropped (not passed on): {detail}.",
    ),
    "EXTRA_COLUMN_PII": (
        "{where}：约定外的“{header}”列中含有个人信息（{detail}），该列已丢弃；若需要使用，请在数据约定中声明。",
        "{where}: the undeclared column “{header}” holds personal information ({detail}); the column was "
        "dropped — declare it in the data contract if it is needed.",
    ),
    "HIDDEN_COLUMNS": (
        "{where}：以下列在 Excel 中被隐藏，已照常读取：{detail}。",
        "{where}: these columns are hidden in Excel and were read as usual: {detail}.",
    ),
    "QUARANTINE_THRESHOLD": (
        "{where}：被隔离的行占 {detail}，超过允许的 {expected}，整张表本次不入库。请按隔离清单修正后重新提交。",
        "{where}: {detail} of the rows were quarantined, more than the allowed {expected}; the whole table "
        "is not loaded this time. Fix the rows listed in the quarantine file and resubmit.",
    ),
    "UNDECLARED_PII": (
        "{where}：不应含个人信息的列中发现了个人信息（{detail}），整张表本次不入库。",
        "{where}: personal information ({detail}) found in a column that must not hold any; the whole table "
        "is not loaded this time.",
    ),
    "TABLE_MISSING": (
        "{where}：本期没有收到这张表的文件。",
        "{where}: no file for this table was delivered this period.",
    ),
    "NOTHING_RECOGNIZED": (
        "{where}：没有一个文件被识别为数据表（表头与任何数据合同都不符），本次导入未做任何更改。请核对文件的表头，"
        "或用 humiao_mapping.yaml 指定文件对应的表（见 docs/ingest.md）。",
        "{where}: no file was recognized as a table (no header matches a contract); nothing was changed. "
        "Check the files' headers, or pin files to tables with humiao_mapping.yaml (see docs/ingest.md).",
    ),
    "DELIVERY_INCOMPLETE": (
        "{where}：上次入库时有这张表，本期没有收到它的文件。为免覆盖已有数据，本次导入未做任何更改；"
        "请把各部门的全部导出（未变化的表也照常提交）放在同一文件夹后重新导入。",
        "{where}: the previous ingest had this table and no file for it was delivered this time. Nothing "
        "was changed, so that the stored data is not replaced by a partial delivery; put every "
        "department's exports (unchanged tables too) in one folder and ingest again.",
    ),
    "MAPPING_INVALID": (
        "{where}：映射文件有误：{detail}。",
        "{where}: the mapping file is invalid: {detail}.",
    ),
    "CONFLICT_BIRTH_DATE": (
        "同一人（{detail}）的出生日期与其身份证号中的出生日期不一致；以身份证号为准合并，冲突已记录。",
        "one person ({detail}): the birth date differs from the one inside the ID number; linked by the ID "
        "number, conflict recorded.",
    ),
    "CONFLICT_SEX": (
        "同一人（{detail}）的性别与身份证号第 17 位不一致；以身份证号为准合并，冲突已记录。",
        "one person ({detail}): the sex differs from the ID number's 17th digit; linked by the ID number, "
        "conflict recorded.",
    ),
    "CONFLICT_NAME": (
        "同一身份证号（{detail}）在不同记录中姓名不一致（可能是错别字），合并为同一人，冲突已记录。",
        "one ID number ({detail}) carries different names in different records (possibly a typo); linked as "
        "one person, conflict recorded.",
    ),
    "CONFLICT_RECORD": (
        "同一记录编号（{detail}）在同一张表的多个文件中内容不同；只保留按文件路径排序最先的那一行，其余计为重复行，"
        "冲突已记录，请核对哪份是正确的。",
        "one record number ({detail}) has different contents in several files of the same table; the row of "
        "the first file in path order was kept, the others were counted as duplicates; conflict recorded — "
        "check which one is right.",
    ),
    "TABLE_SEVERAL_FILES": (
        "{where}：这 {expected} 个文件都被识别为表“{header}”，已合并为一张表。“{key}”相同的行只保留一次"
        "（跨文件重复 {dups} 行，其中内容不一致 {conflicts} 行）。如果其中一个只是另存的副本，请只提交一份。",
        "{where}: these {expected} files were all recognized as table “{header}” and merged into one table. "
        "Rows with the same “{key}” are kept once ({dups} duplicate row(s) across files, {conflicts} of them "
        "with different contents). If one is only a re-saved copy, deliver just one of them.",
    ),
}


def where_text(
    file: str, sheet: str | None = None, row: int | None = None, header: str | None = None,
    column: str | None = None,
) -> tuple[str, str]:
    """The (Chinese, English) location prefix of a message: file, sheet, row, column."""
    zh = [f"文件“{file}”"]
    en = [f"file “{file}”"]
    if sheet:
        zh.append(f"工作表“{sheet}”")
        en.append(f"sheet “{sheet}”")
    if row is not None:
        zh.append(f"第 {row} 行")
        en.append(f"row {row}")
    if header:
        zh.append(f"“{header}”列")
        en.append(f"column “{header}”" + (f" ({column})" if column and column != header else ""))
    return "，".join(zh), ", ".join(en)


def message(
    code: str,
    *,
    file: str = "",
    sheet: str | None = None,
    row: int | None = None,
    header: str | None = None,
    column: str | None = None,
    expected: str = "",
    detail: str = "",
    **extra: object,
) -> dict:
    """A bilingual message for a reason code (:data:`MESSAGES`), naming file, sheet, row and column.

    ``extra`` fills further placeholders of a template (e.g. ``{key}``, ``{dups}``); a placeholder not
    given is left empty.

    Returns
    -------
    dict
        ``{"code", "file", "sheet", "row", "column", "header", "message_zh", "message_en"}``.
    """
    zh_t, en_t = MESSAGES.get(code, ("{where}：{detail}（代码 " + code + "）", "{where}: {detail} (code " + code + ")"))
    wz, we = where_text(file, sheet, row, header, column)
    return {
        "code": code,
        "file": file,
        "sheet": sheet,
        "row": row,
        "column": column,
        "header": header,
        "message_zh": zh_t.format_map(_Placeholders(extra, where=wz, header=header or column or "",
                                                    expected=expected, detail=detail)),
        "message_en": en_t.format_map(_Placeholders(extra, where=we, header=header or column or "",
                                                    expected=expected, detail=detail)),
    }


class _Placeholders(dict):
    """Template values; a placeholder not given is empty (never a KeyError while reporting)."""

    def __missing__(self, key: str) -> str:
        return ""


_SCI = re.compile(r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$")
_WS = re.compile(r"[\s\u3000\u00a0\u200b\ufeff]+")
_CODE_RE = re.compile(r"^[0-9A-Z][0-9A-Z\-]{3,39}$")
_TRUE = frozenset({"是", "Y", "y", "YES", "Yes", "yes", "TRUE", "True", "true", "1", "√", "✓"})
_FALSE = frozenset({"否", "N", "n", "NO", "No", "no", "FALSE", "False", "false", "0", "×", "✗"})


class IngestError(RuntimeError):
    """The ingest cannot proceed (missing scanner/anonymizer, unusable configuration)."""


class UndeclaredPersonalInformation(IngestError):
    """Personal information found in a column not declared ``direct_identifier`` (fail closed).

    Attributes
    ----------
    findings
        ``[{"file", "column", "entity_type", "masked", "row"}]`` — masked values only.
    """

    def __init__(self, findings: Sequence[Mapping]):
        self.findings = [dict(f) for f in findings]
        parts = sorted(
            {f"{f['file']} column {f['column']}: {f['entity_type']} ({f['masked']})" for f in self.findings}
        )
        super().__init__(
            "undeclared personal information — nothing written for these files (declare the column "
            "direct_identifier or free_text in the contract, or fix the export): " + "; ".join(parts[:20])
        )


# ------------------------------------------------------------------------------------------ reports


class IngestFailed(IngestError):
    """One or more files/tables failed (unreadable, unrecognizable, missing required columns,
    quarantine threshold exceeded, …). The report was written first; nothing of a failed table was.

    Attributes
    ----------
    errors
        The bilingual error messages (:func:`message` dicts).
    report
        The :class:`IngestReport`.
    """

    def __init__(self, errors: Sequence[Mapping], report: IngestReport | None = None):
        self.errors = [dict(e) for e in errors]
        self.report = report
        lines = [f"[{e['code']}] {e['message_en']} / {e['message_zh']}" for e in self.errors[:20]]
        more = f" (+{len(self.errors) - 20} more)" if len(self.errors) > 20 else ""
        super().__init__(f"ingest failed: {len(self.errors)} error(s){more}:\n" + "\n".join(lines))


@dataclass
class FileReport:
    """Reconciliation of one file or one sheet (never raw values).

    ``rows_read == rows_passed + rows_quarantined + rows_duplicate`` (blank spacer rows and trailing
    合计/sign-off rows are not data rows; they are counted in ``blank_rows_skipped`` /
    ``summary_rows_skipped``). ``quarantined_rows`` lists up to ``max_listed_rows`` rows with their
    bilingual message; every row is in the quarantine file.
    """

    file: str
    sheet: str | None = None
    table: str | None = None
    recognized_by: str | None = None  # mapping | layout | headers
    score: float | None = None
    candidates: list[dict] = field(default_factory=list)
    status: str = "ok"  # ok | empty | failed | unrecognized | ambiguous
    encoding: str | None = None
    header_rows: list[int] = field(default_factory=list)
    rows_read: int = 0
    rows_passed: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    #: of ``rows_duplicate``: rows whose record number (the contract's ``keyed`` column) was already
    #: passed from an earlier file of the same table (a re-saved copy: same record, other cell types)
    rows_duplicate_record: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    reasons_by_column: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    unmapped_columns: list[str] = field(default_factory=list)
    hidden_columns: list[str] = field(default_factory=list)
    extra_column_findings: list[dict] = field(default_factory=list)
    blank_rows_skipped: int = 0
    summary_rows_skipped: int = 0
    legacy_ids_upgraded: int = 0
    quarantined_rows: list[dict] = field(default_factory=list)
    quarantined_rows_not_listed: int = 0
    errors: list[dict] = field(default_factory=list)
    notices: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.file}#{self.sheet}" if self.sheet else self.file

    @property
    def reconciled(self) -> bool:
        return self.rows_passed + self.rows_quarantined + self.rows_duplicate == self.rows_read

    def to_dict(self) -> dict:
        d = asdict(self)
        d["reconciled"] = self.reconciled
        return d


@dataclass
class TableReport:
    """Reconciliation of one table, summed over its files/sheets (never raw values)."""

    table: str
    file: str
    status: str = "ok"  # ok | failed | missing
    rows_read: int = 0
    rows_passed: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    reasons_by_column: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    notes_redacted: list[dict] = field(default_factory=list)
    undeclared: list[dict] = field(default_factory=list)
    unmapped_columns: list[str] = field(default_factory=list)
    blank_rows_skipped: int = 0
    summary_rows_skipped: int = 0
    encoding: str | None = None
    sheet: str | None = None
    header_rows: list[int] = field(default_factory=list)
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    quarantine_share: float = 0.0
    max_quarantine_share: float | None = None
    errors: list[dict] = field(default_factory=list)

    @property
    def reconciled(self) -> bool:
        return self.rows_passed + self.rows_quarantined + self.rows_duplicate == self.rows_read

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class IngestReport:
    """All tables' and files' reports plus the identity-store summary; written as ``ingest_report.json``.

    Keys: ``status`` (ok | failed), ``tables`` (per table), ``files`` (per file/sheet, with the
    recognition and the quarantined rows), ``ignored`` (files not read and why), ``conflicts``
    (same person, conflicting records), ``errors``/``warnings`` (bilingual messages).
    """

    tables: dict[str, TableReport] = field(default_factory=dict)
    as_of: str = ""
    key_version: int = 0
    persons: int = 0
    vault_records: int = 0
    seconds: float = 0.0
    files: list[FileReport] = field(default_factory=list)
    ignored: list[dict] = field(default_factory=list)
    conflicts: dict = field(default_factory=lambda: {"count": 0, "by_field": {}, "items": []})
    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    mapping_file: str | None = None
    notes_anonymized: int = 0  # free-text cells run through the anonymizer in this ingest
    notes_reused: int = 0  # free-text cells taken from the note cache of the previous ingest

    @property
    def status(self) -> str:
        return "failed" if self.errors or self.failed else "ok"

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "as_of": self.as_of,
            "key_version": self.key_version,
            "persons": self.persons,
            "vault_records": self.vault_records,
            "seconds": round(self.seconds, 3),
            "tables": {k: v.to_dict() for k, v in self.tables.items()},
            "files": [f.to_dict() for f in self.files],
            "ignored": list(self.ignored),
            "conflicts": self.conflicts,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "mapping_file": self.mapping_file,
            "reconciled": all(f.reconciled for f in self.files) and all(t.reconciled for t in self.tables.values()),
        }

    @property
    def failed(self) -> list[str]:
        return [k for k, v in self.tables.items() if v.status == "failed"]

    def file(self, label: str) -> FileReport:
        """The report of a file (``rel`` or ``rel#sheet``)."""
        for f in self.files:
            if label in (f.label, f.file):
                return f
        raise KeyError(label)


# --------------------------------------------------------------------------- column normalization


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s).strip()


class _Fmt:
    """A table's format options (contract ``formats:``) compiled for the column functions."""

    def __init__(self, formats: Formats | None = None):
        f = formats or Formats()
        self.blank = frozenset({""} | {_nfkc(x) for x in f.blank_values})
        seps = "".join(re.escape(_nfkc(x) or x) for x in f.thousands_separators)
        units = "|".join(re.escape(_nfkc(x)) for x in sorted(f.amount_units, key=len, reverse=True) if _nfkc(x))
        self.num_clean = re.compile(rf"[\s{seps}]" + (f"|{units}" if units else ""))
        self.count_units = tuple(_nfkc(x) for x in f.count_units if _nfkc(x))
        self.count_clean = re.compile(rf"[\s{seps}]")
        self.max_text = f.max_text_length
        self.max_string = f.max_string_length


_DEFAULT_FMT = _Fmt()


def _blank(u: object, fmt: _Fmt = _DEFAULT_FMT) -> bool:
    if u is None:
        return True
    if isinstance(u, float) and u != u:
        return True
    return isinstance(u, str) and _nfkc(u) in fmt.blank


def _cell_str(u: object) -> str:
    """A non-text cell as the clerk would read it (ints without '.0')."""
    if isinstance(u, bool):
        return "是" if u else "否"
    if isinstance(u, float) and u.is_integer() and abs(u) < 1e15:
        return str(int(u))
    if isinstance(u, dt.datetime):
        return u.isoformat(sep=" ")
    if isinstance(u, dt.date):
        return u.isoformat()
    return str(u)


def _u_resident_id(u: object, as_of: dt.date, fmt: _Fmt = _DEFAULT_FMT) -> tuple[object, str | None]:
    if not isinstance(u, str):
        # numeric cell: Excel keeps 15 significant digits — decided by the cell TYPE (case-06)
        return None, ID_PRECISION_LOST if isinstance(u, (int, float, np.number)) else ids.INVALID_FORMAT
    s = _nfkc(u)
    if s in fmt.blank:
        return None, None
    if _SCI.match(s.replace(" ", "")):
        return None, ID_PRECISION_LOST
    r = ids.validate_ric(s, as_of)
    return r.normalized, r.reason


def _u_code(u: object, reason: str, fmt: _Fmt = _DEFAULT_FMT) -> tuple[object, str | None]:
    if not isinstance(u, str):
        return None, ID_PRECISION_LOST if isinstance(u, (int, float, np.number)) else reason
    s = _WS.sub("", _nfkc(u)).upper()
    if s in fmt.blank:
        return None, None
    if _SCI.match(s):
        return None, ID_PRECISION_LOST
    return (s, None) if _CODE_RE.match(s) else (None, reason)


def _u_text(u: object, fmt: _Fmt = _DEFAULT_FMT, limit: int | None = None) -> tuple[object, str | None]:
    s = _nfkc(u) if isinstance(u, str) else _cell_str(u)
    if s in fmt.blank:
        return None, None
    if limit is not None and len(s) > limit:
        return None, TEXT_TOO_LONG
    return s, None


def _u_name(u: object, fmt: _Fmt = _DEFAULT_FMT) -> tuple[object, str | None]:
    s, _ = _u_text(u, fmt)
    if s is None:
        return None, None
    # "张  三" (padding used to align two-character names) → "张三"; keep "·" of minority names
    return re.sub(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])", "", s), None


def _u_phone(u: object, fmt: _Fmt = _DEFAULT_FMT) -> tuple[object, str | None]:
    if _blank(u, fmt):
        return None, None
    r = ids.normalize_phone(u)
    if r.kind in (ids.MOBILE, ids.LANDLINE):
        return r.normalized, None
    return None, (PHONE_SERVICE_NUMBER if r.kind == ids.SERVICE else PHONE_INVALID)


def _u_int(u: object, fmt: _Fmt = _DEFAULT_FMT) -> tuple[object, str | None]:
    if _blank(u, fmt):
        return None, None
    if isinstance(u, bool):
        return None, INVALID_INT
    if isinstance(u, (int, np.integer)):
        return int(u), None
    if isinstance(u, (float, np.floating)):
        return (int(u), None) if float(u).is_integer() else (None, INVALID_INT)
    s = fmt.count_clean.sub("", _nfkc(str(u)))
    for unit in fmt.count_units:
        s = s.removesuffix(unit)
    try:
        f = float(s)
    except ValueError:
        return None, INVALID_INT
    return (int(f), None) if f.is_integer() and re.fullmatch(r"[+-]?\d+(\.0+)?", s) else (None, INVALID_INT)


def _u_float(u: object, fmt: _Fmt = _DEFAULT_FMT) -> tuple[object, str | None]:
    if _blank(u, fmt):
        return None, None
    if isinstance(u, bool):
        return None, INVALID_NUMBER
    if isinstance(u, (int, float, np.number)):
        return float(u), None
    s = fmt.num_clean.sub("", _nfkc(str(u)))
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", s):
        return None, INVALID_NUMBER
    return float(s), None


def _u_bool(u: object, fmt: _Fmt = _DEFAULT_FMT) -> tuple[object, str | None]:
    if _blank(u, fmt):
        return None, None
    if isinstance(u, bool):
        return u, None
    s = _cell_str(u) if not isinstance(u, str) else _nfkc(u)
    if s in _TRUE:
        return True, None
    if s in _FALSE:
        return False, None
    return None, INVALID_BOOL


def _u_category(u: object, values: frozenset[str], fmt: _Fmt = _DEFAULT_FMT) -> tuple[object, str | None]:
    s, _ = _u_text(u, fmt)
    if s is None:
        return None, None
    s = _WS.sub("", s)
    return (s, None) if s in values else (None, INVALID_CATEGORY)


def _u_date(u: object, fmt: _Fmt = _DEFAULT_FMT, not_after: dt.date | None = None) -> tuple[object, str | None]:
    if _blank(u, fmt):
        return None, None
    d, r = parse_date(u, excel_serials=True)
    if d is not None and not_after is not None and d.date() > not_after:
        return None, DATE_AFTER_AS_OF
    return d, r


def _u_month(u: object, fmt: _Fmt = _DEFAULT_FMT) -> tuple[object, str | None]:
    if _blank(u, fmt):
        return None, None
    return parse_month(u)


class _ChunkMemo:
    """One column's distinct cells in the previous chunk of the same CSV, with what was computed for them.

    A large CSV is read in chunks (:func:`privacy.readers.iter_source`) and the chunks of a monthly
    export repeat the same people: 1 M rows of social insurance hold ~180 k distinct resident IDs, and
    the next chunk holds nearly the same ones. :func:`_map_unique` looks the new chunk's distinct cells
    up in the previous chunk's (one vectorized hash lookup) and calls the column function only for the
    new ones, so validation costs per *new* distinct value, not per chunk. Only one chunk's distinct
    cells are kept, so memory stays bounded. Only CSV chunks use it: their cells are all ``str`` (an xlsx
    cell ``True`` would match an earlier ``1``, which Python treats as equal).

    After each :func:`_map_unique` call, ``codes`` and ``uniques`` describe the current chunk's column
    and ``hit`` gives, per current distinct cell, its position in the previous chunk's (−1: new).
    """

    __slots__ = ("_extra", "_prev_extra", "cells", "codes", "hit", "reasons", "uniques", "vals")

    def __init__(self) -> None:
        self.uniques: pd.Index | None = None
        self.cells: np.ndarray | None = None  # ``uniques`` as an object array, converted once per chunk
        self.vals = self.reasons = self.codes = self.hit = None
        self._extra: dict[str, np.ndarray] = {}
        self._prev_extra: dict[str, np.ndarray] = {}

    @property
    def new(self) -> np.ndarray:
        """Positions (in ``uniques``) of the distinct cells not in the previous chunk."""
        return np.flatnonzero(self.hit < 0)

    def carry(self, name: str, func: Callable[[object], object], dtype=object) -> np.ndarray:
        """``func(u)`` for each current distinct cell ``u``: copied from the previous chunk where the cell
        was there (and ``name`` was computed), called otherwise. Returns an array aligned with ``uniques``."""
        return self.carry_many(name, lambda pos: [func(self.cells[i]) for i in pos], dtype)

    def carry_many(self, name: str, compute: Callable[[np.ndarray], object], dtype=object) -> np.ndarray:
        """As :meth:`carry`, for a computation done in bulk: ``compute(positions)`` returns the results
        for the distinct cells at those positions of ``uniques`` (only those not in the previous chunk)."""
        out = np.empty(len(self.uniques), dtype=dtype)
        prev = self._prev_extra.get(name)
        todo = np.arange(len(self.uniques))
        if prev is not None:
            found = self.hit >= 0
            out[found] = prev[self.hit[found]]
            todo = np.flatnonzero(~found)
        if len(todo):
            out[todo] = compute(todo)
        self._extra[name] = out
        return out

    def advance(
        self, codes: np.ndarray, uniques: pd.Index, cells: np.ndarray, vals: np.ndarray, reasons: np.ndarray
    ) -> None:
        """The current chunk becomes the previous one for the next lookup."""
        self.codes, self.uniques, self.cells, self.vals, self.reasons = codes, uniques, cells, vals, reasons
        self._prev_extra, self._extra = self._extra, {}


def _factorize(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, uniques)`` of a column: ``intp`` codes with −1 for a null cell, distinct cells as an
    ``object`` array (``pd.factorize``)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def _map_unique(
    series: pd.Series,
    func: Callable[[object], tuple[object, str | None]],
    memo: _ChunkMemo | None = None,
    unchanged: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply ``func`` once per distinct value — with ``memo``, only to the values that were not in the
    previous chunk (see :class:`_ChunkMemo`). ``unchanged`` (optional) marks, in bulk, the distinct
    cells ``func`` would return as they are with no reason (``(cell, None)``); ``func`` is not called
    for them. Returns (values, reasons, is_null), arrays of len(series)."""
    codes, uniques = _factorize(series)
    vals, reasons = _map_coded(codes, uniques, func, memo, unchanged)
    return vals[codes], reasons[codes], codes == -1


def _map_coded(
    codes: np.ndarray,
    uniques: np.ndarray,
    func: Callable[[object], tuple[object, str | None]],
    memo: _ChunkMemo | None = None,
    unchanged: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_map_unique` on a column already factorized (``codes`` with −1 for null, ``uniques`` an
    ``object`` array of distinct cells). Returns ``(values, reasons)`` per distinct cell, ``object``
    arrays of ``len(uniques) + 1`` whose last entry (``None``, ``None``) is the null cell's, so that
    ``values[codes]`` gives the column's values."""
    n = len(uniques)
    vals = np.empty(n + 1, dtype=object)
    reasons = np.empty(n + 1, dtype=object)
    vals[n] = None
    reasons[n] = None
    todo = range(n)
    if memo is not None:
        hit = np.full(n, -1, dtype=np.intp)
        if memo.uniques is not None:
            hit = memo.uniques.get_indexer(uniques)
            found = hit >= 0
            vals[:n][found] = memo.vals[hit[found]]
            reasons[:n][found] = memo.reasons[hit[found]]
        todo = np.flatnonzero(hit < 0)
        memo.hit = hit
    cells = uniques
    if unchanged is not None and len(todo):
        todo = np.asarray(todo, dtype=np.intp)
        same = unchanged(cells[todo])
        vals[todo[same]] = cells[todo[same]]
        reasons[todo[same]] = None
        todo = todo[~same]
    for i in todo:
        vals[i], reasons[i] = func(cells[i])
    if memo is not None:
        memo.advance(codes, pd.Index(uniques), cells, vals[:n], reasons[:n])
    return vals, reasons


#: pandas' ``combine_hash_arrays`` constants (``pandas.core.util.hashing``, CPython's tuple hash).
_HASH_START, _HASH_MULT, _HASH_END = np.uint64(0x345678), np.uint64(1000003), np.uint64(97531)


def _row_hashes(columns: Sequence[CodedColumn | pd.Series]) -> np.ndarray:
    """One uint64 per row of a table given column by column: the same numbers as
    ``pd.util.hash_pandas_object(df.astype(str), index=False)``. A :class:`~privacy.readers.CodedColumn`
    (the fast CSV path's, all ``str``) is hashed once per distinct cell and taken by code; a Series is
    hashed cell by cell. The columns are combined as pandas does (``combine_hash_arrays``). Cells compare
    as their ``str`` (an xlsx ``1`` and a CSV ``"1"`` are the same cell; ``pd.factorize`` would also merge
    ``True`` with ``1``, so typed columns are not hashed by code); null cells as null."""
    n_items = len(columns)
    out = None
    mult = _HASH_MULT
    with np.errstate(over="ignore"):
        for i, col in enumerate(columns):
            if isinstance(col, CodedColumn):
                u = pd.Series(col.uniques, dtype=object).astype(str)
                h = pd.util.hash_pandas_object(u, index=False).to_numpy()[col.codes]
            else:
                h = pd.util.hash_pandas_object(col.astype(str), index=False).to_numpy()
            if out is None:
                out = np.zeros_like(h) + _HASH_START
            out ^= h
            out *= mult
            inverse = n_items - i
            mult += np.uint64(82520 + inverse + inverse)
        if out is None:
            return np.zeros(0, dtype=np.uint64)
        out += _HASH_END
    return out


def _column_func(
    col: Column, as_of: dt.date, fmt: _Fmt = _DEFAULT_FMT
) -> Callable[[object], tuple[object, str | None]]:
    t = col.type
    if t == "resident_id":
        return lambda u: _u_resident_id(u, as_of, fmt)
    if t == "household_number":
        return lambda u: _u_code(u, INVALID_HOUSEHOLD_NUMBER, fmt)
    if t == "student_number":
        return lambda u: _u_code(u, INVALID_STUDENT_NUMBER, fmt)
    if t == "certificate_number":
        return lambda u: (lambda s: (_WS.sub("", s[0]).upper() if s[0] else None, None))(_u_text(u, fmt))
    if t == "person_name":
        return lambda u: _u_name(u, fmt)
    if t == "phone":
        return lambda u: _u_phone(u, fmt)
    if t in ("date", "datetime"):
        not_after = as_of if col.not_after_as_of else None
        return lambda u: _u_date(u, fmt, not_after)
    if t == "month":
        return lambda u: _u_month(u, fmt)
    if t == "int":
        return lambda u: _u_int(u, fmt)
    if t in ("float", "amount"):
        return lambda u: _u_float(u, fmt)
    if t == "bool":
        return lambda u: _u_bool(u, fmt)
    if t == "category":
        vals = frozenset(col.values or ())
        return lambda u: _u_category(u, vals, fmt)
    limit = col.max_length or (fmt.max_text if t == "text" else fmt.max_string)
    if t == "address":
        limit = col.max_length or fmt.max_string
    return lambda u: _u_text(u, fmt, limit)


def _unchanged_func(col: Column, as_of: dt.date, fmt: _Fmt = _DEFAULT_FMT) -> Callable[[np.ndarray], np.ndarray] | None:
    """For :func:`_map_unique`: the bulk test of the cells ``col``'s function keeps as they are — for a
    resident ID column, IDs already in normalized form and valid at ``as_of``
    (:func:`privacy.identifiers.canonical_ric_valid`), unless a configured blank word; None otherwise."""
    if col.type != "resident_id":
        return None
    words = sorted(fmt.blank)
    # only a blank word that is itself a valid normalized ID can be among the kept cells (never, in practice)
    blank = {w for w, ok in zip(words, ids.canonical_ric_valid(words), strict=True) if ok}

    def unchanged(cells: np.ndarray) -> np.ndarray:
        ok = ids.canonical_ric_valid(cells, as_of)
        if blank:
            ok[ok] = [c not in blank for c in cells[ok]]
        return ok

    return unchanged


def _raw_text_identifier(u: object) -> str | None:
    """A raw ID-like cell as text, for the scanner index (also invalid ones: they may leak elsewhere)."""
    if not isinstance(u, str):
        return None
    s = _WS.sub("", _nfkc(u)).upper()
    return s if len(s) >= 6 and s not in BLANK_MARKERS else None


# ------------------------------------------------------------------------------------ the session


@dataclass
class _Pending:
    table: Table
    report: TableReport
    _frame: pd.DataFrame | None
    free_text: list[str]
    scan_columns: list[str]
    rel: str
    file_report: FileReport | None = None
    extra: pd.DataFrame | None = None
    extra_rows: np.ndarray | None = None
    quarantine: pd.DataFrame | None = None  # raw cells of quarantined rows (English names) + bookkeeping
    unique_values: dict[str, np.ndarray] = field(default_factory=dict)  # unique column → values of passed rows
    _raw_ok: pd.DataFrame | None = None  # raw cells of passed rows (only for tables with unique columns)
    headers: dict[str, str] = field(default_factory=dict)
    spill: Path | None = None  # the output rows, written aside until the table is written (issue 8)
    note_jobs: list = field(default_factory=list)  # notes still anonymized in the background (_NoteJob)

    @property
    def raw_ok(self) -> pd.DataFrame | None:
        """Raw cells of the passed rows (tables with a unique column: a key that clashes across sources
        sends them to quarantine), read back when spilled. They are raw personal information, so they
        wait on disk like :attr:`frame` (mode 0600) instead of in memory (≈ 1 GB of visit records and
        their raw notes at 2M children)."""
        path = self._raw_ok_path
        if self._raw_ok is None and path is not None and path.exists():
            return pd.read_pickle(path)
        return self._raw_ok

    @raw_ok.setter
    def raw_ok(self, value: pd.DataFrame | None) -> None:
        path = self._raw_ok_path
        if path is None:
            self._raw_ok = value
            return
        self._raw_ok = None
        if value is not None:
            _write_private_pickle(path, value)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @property
    def _raw_ok_path(self) -> Path | None:
        return None if self.spill is None else self.spill.with_suffix(".raw_ok.pkl")

    @property
    def frame(self) -> pd.DataFrame:
        """The tokenized output rows of this source (or chunk of a source), read back when spilled."""
        if self._frame is None and self.spill is not None:
            return pd.read_pickle(self.spill)
        return self._frame

    @frame.setter
    def frame(self, value: pd.DataFrame) -> None:
        if self.spill is not None:
            _write_private_pickle(self.spill, value)
            self._frame = None
        else:
            self._frame = value

    def release(self) -> None:
        """Delete the spilled rows (after the table is written or refused)."""
        if self.spill is not None:
            for path in (self.spill, self._raw_ok_path):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        self._frame = self._raw_ok = None


def _write_private_pickle(path: Path, df: pd.DataFrame) -> None:
    """A chunk's pseudonymized rows, aside while the ingest reads on (mode 0600, in the staging folder
    of :func:`privacy.ingest.ingest_folder`'s ``out_dir``; removed by :meth:`IngestSession.finish`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        df.to_pickle(f, compression=None, protocol=5)


class _HashSet:
    """Row hashes (uint64) seen so far, as a few sorted arrays merged by size (a log-structured set:
    8 bytes a row instead of a Python ``set``'s ~70; issue 8)."""

    def __init__(self) -> None:
        self.levels: list[np.ndarray] = []

    def __bool__(self) -> bool:
        return bool(self.levels)

    def contains(self, h: np.ndarray) -> np.ndarray:
        """Boolean per element of ``h``: already added.

        The queries are sorted first: numpy's binary search narrows each search from the previous
        one when the keys are sorted, so it stays in cache (1 M queries into 50 M hashes: 2.1 s
        unsorted, 0.3 s sorted; unsorted, a 2M city's social insurance took longer chunk after chunk)."""
        order = np.argsort(h, kind="stable")
        hs = h[order]
        found = np.zeros(len(h), dtype=bool)
        for lv in self.levels:
            pos = np.searchsorted(lv, hs)
            pos[pos == len(lv)] = 0
            found |= lv[pos] == hs
        out = np.empty(len(h), dtype=bool)
        out[order] = found
        return out

    def add(self, h: np.ndarray) -> None:
        self.levels.append(_sorted_unique(h))
        while len(self.levels) > 1 and len(self.levels[-2]) <= 2 * len(self.levels[-1]):
            b, a = self.levels.pop(), self.levels.pop()
            self.levels.append(_sorted_unique(np.concatenate([a, b])))


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (numpy 2.3's hash-based unique of uint64 is ~15× slower here)."""
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a


def _default_anonymizer():
    try:
        from privacy.anonymizer import NoteAnonymizer
    except ImportError as e:  # fail closed: free text is never passed on un-anonymized
        raise IngestError(f"free-text anonymizer unavailable ({e}); refusing to pass notes on") from None
    return NoteAnonymizer()


def _default_scanner_factory():
    try:
        from privacy.scanner import LeakScanner
    except ImportError as e:
        raise IngestError(f"leak scanner unavailable ({e}); refusing to write unscanned output") from None
    return LeakScanner


def _default_known_factory():
    try:
        from privacy.identities import KnownIdentities
    except ImportError as e:
        raise IngestError(f"identity index unavailable ({e})") from None
    return KnownIdentities


def _write_private_csv(path: Path, df: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):
        os.chmod(path.parent, 0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as f:
        df.to_csv(f, index=False)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _arrow_type(table: Table, name: str) -> pa.DataType:
    if name in ("source_file",):
        return pa.string()
    if name == "source_row":
        return pa.int64()
    if name == "knowledge_date":
        return pa.date32()
    for c in table.columns:
        if c.pseudonym == name:
            return pa.string()
        if c.name == name:
            if c.type in ("date", "month") or c.generalize == "month":
                return pa.date32()
            if c.type == "datetime":
                return pa.timestamp("us")
            if c.type == "int":
                return pa.int64()
            if c.type in ("float", "amount"):
                return pa.float64()
            if c.type == "bool":
                return pa.bool_()
            return pa.string()
    raise KeyError(name)


def _to_arrow(df: pd.DataFrame, table: Table) -> pa.Table:
    arrays, fields = [], []
    for name in df.columns:
        typ = _arrow_type(table, name)
        s = df[name]
        if pa.types.is_date32(typ):
            arr = pa.array(
                s.to_numpy(dtype="datetime64[us]").astype("datetime64[D]"), type=pa.date32(), from_pandas=True
            )
        elif pa.types.is_timestamp(typ):
            arr = pa.array(s.to_numpy(dtype="datetime64[us]"), type=typ, from_pandas=True)
        elif pa.types.is_string(typ) and isinstance(s.array, ArrowStringArray):
            arr = pa.array(s.array, type=typ)  # the Arrow buffers themselves, no Python str per cell
        elif pa.types.is_string(typ):
            arr = pa.array(s.astype(object).where(s.notna(), None).tolist(), type=typ)
        else:
            arr = pa.array(s, type=typ, from_pandas=True)
        arrays.append(arr)
        fields.append(pa.field(name, typ))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata={"humiao.table": table.name}))


def _write_parquet(path: Path, tbl: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(tbl, tmp, compression="zstd")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


#: Contract columns holding place names (the scanner's place vocabulary: not personal data).
PLACE_COLUMNS = ("district", "township", "community")

#: The note cache an ingest writes into its ``out_dir`` (see :func:`ingest_folder`'s ``note_cache``).
NOTE_CACHE_FILE = "note_cache.parquet"
NOTE_KEY_PREFIX = "__note_key__"


def _read_note_cache(path: Path | None) -> pd.Series:
    """``{note key: final text}`` of a previous ingest as a Series (empty when there is none)."""
    if path is None or not Path(path).exists():
        return pd.Series([], dtype=object)
    t = pq.read_table(path)
    return pd.Series(t.column("text").to_pylist(), index=t.column("key").to_pylist(), dtype=object)


#: Rows gathered for the vault or for name conflicts before they are compacted (duplicates dropped).
COMPACT_ROWS = 2_000_000
_NAME_KEY = ["token", "name", "file", "sheet"]


def _close_discard(writer, tmp: Path) -> None:
    """Close a table's unfinished Parquet writer and remove its temporary file (the table is refused)."""
    if writer is not None:
        with contextlib.suppress(Exception):
            writer.close()
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()


def _source_groups(ps: Sequence[_Pending]) -> list[list[_Pending]]:
    """The pending chunks of one table grouped by source (file or sheet), in reading order."""
    groups: list[list[_Pending]] = []
    for p in ps:
        if groups and groups[-1][0].file_report is p.file_report:
            groups[-1].append(p)
        else:
            groups.append([p])
    return groups


#: A batch of at least this many notes goes to :class:`privacy.anonymizer.BackgroundAnonymizer` (when
#: ``anonymizer_jobs`` allows more than one process): below it, spawning workers (~3 s) costs more than
#: the overlap saves, and the notes are anonymized in place as before.
BACKGROUND_MIN_NOTES = 20_000


@dataclass
class _NoteJob:
    """Notes of one free-text column of one chunk, anonymized in the background: ``positions`` are the
    rows of the chunk's output frame they fill, ``handle`` the background batch."""

    column: str
    positions: np.ndarray
    handle: object


class IngestSession:
    """One ingest run: reads tables, accumulates identities, then scans and writes (two phases so
    that every table is scanned against the identities of *all* tables).

    Use :func:`ingest_table` / :func:`ingest_folder`; this class is their engine.
    """

    def __init__(
        self,
        *,
        pseudonymizer: Pseudonymizer,
        vault_key: bytes,
        out_dir: Path,
        quarantine_dir: Path,
        as_of: dt.date,
        anonymizer=None,
        scanner_factory: Callable | None = None,
        known_factory: Callable | None = None,
        max_quarantine_share: float | Mapping[str, float] | None = None,
        max_listed_rows: int = 100,
        anonymizer_jobs: int = -1,
        note_cache: Path | None = None,
        note_cache_version: str | None = None,
    ):
        self.pz = pseudonymizer
        self.note_cache_version = note_cache_version
        self._note_cache = _read_note_cache(note_cache) if note_cache_version else None
        self._note_cache_out: list[pd.DataFrame] = []
        self.anonymizer_jobs = anonymizer_jobs
        self.vault_key = vault_key
        self.out_dir = Path(out_dir)
        self.quarantine_dir = Path(quarantine_dir)
        self.as_of = as_of
        self._anonymizer = anonymizer
        self.scanner_factory = scanner_factory
        self.known_factory = known_factory
        self.report = IngestReport(as_of=as_of.isoformat(), key_version=pseudonymizer.key_version)
        self.pending: list[_Pending] = []
        self.known_sets: dict[str, set[str]] = {
            k: set() for k in ("names", "id_numbers", "phones", "addresses")
        }
        self.places: set[str] = set()  # district, township and community values (the scanner's place names)
        self.person_ids: set[str] = set()
        self.vault_frames: list[pd.DataFrame] = []
        self._row_hashes: dict[str, _HashSet] = {}
        self._chunk_memos: dict[str, dict[str, _ChunkMemo]] = {}  # source label → column → memo
        self._vault_rows = 0  # rows in vault_frames since they were last compacted
        self._name_rows = 0
        self.spill_dir: Path | None = None  # set by ingest_folder: chunks' rows are written aside
        self.conflict_rows: list[tuple] = []
        self.record_conflicts: list[dict] = []  # same record number, different contents, across files
        self.name_frames: list[pd.DataFrame] = []
        self.max_quarantine_share = max_quarantine_share
        self.max_listed_rows = max_listed_rows
        self._background = None  # privacy.anonymizer.BackgroundAnonymizer, started by the first large batch

    # ---------------------------------------------------------------------------------- phase 1
    @property
    def anonymizer(self):
        if self._anonymizer is None:
            self._anonymizer = _default_anonymizer()
        return self._anonymizer

    def _add_known(self, kind: str, values: Iterable[object]) -> None:
        self.known_sets[kind].update(v for v in values if isinstance(v, str) and v)

    def add_table(self, raw_path: Path, table: Table, rel: str) -> TableReport:
        """Read ``raw_path`` under ``table`` and add it (the historic one-file-per-table entry point)."""
        raw: RawFrame = read_table(raw_path, table)
        self.add_raw(raw, rel, label=rel)
        return self.report.tables[table.name]

    def _table_report(self, table: Table) -> TableReport:
        rep = self.report.tables.get(table.name)
        if rep is None or rep.status == "missing":
            rep = TableReport(table=table.name, file="")
            self.report.tables[table.name] = rep
        return rep

    def add_raw(
        self,
        raw: RawFrame,
        rel: str,
        *,
        label: str | None = None,
        file_report: FileReport | None = None,
        part: int = 0,
    ) -> FileReport:
        """Validate, normalize and tokenize one read source (a CSV or one sheet) of a table — or one
        chunk of it (``part`` > 0: the next chunk of the same source, as
        :func:`privacy.readers.iter_source` yields them; counts add up in the same ``file_report``).

        ``label`` is written into ``source_file`` (``rel``, or ``rel#sheet`` for one sheet of a
        workbook with several). Several sources of one table are concatenated at :meth:`finish`; when
        :attr:`spill_dir` is set, each chunk's output rows wait there (not in memory) until then.
        """
        t0 = time.perf_counter()
        table = raw.table
        label = label or rel
        fmt = _Fmt(table.formats)
        rep = self._table_report(table)
        frep = file_report or FileReport(file=rel, sheet=raw.sheet)
        if frep not in self.report.files:
            self.report.files.append(frep)
        frep.table = table.name
        frep.encoding = raw.encoding_label or raw.encoding
        frep.header_rows = list(raw.header_rows)
        frep.unmapped_columns = list(raw.unmapped)
        frep.hidden_columns = list(raw.hidden_columns)
        if not part:
            frep.blank_rows_skipped = frep.summary_rows_skipped = frep.rows_read = 0
            frep.rows_duplicate = frep.rows_passed = frep.rows_quarantined = 0
            frep.seconds = 0.0
        frep.blank_rows_skipped += raw.blank_rows_skipped
        frep.summary_rows_skipped += raw.summary_rows_skipped
        if raw.unmapped and not part:
            frep.notices.append(message("EXTRA_COLUMNS", file=rel, sheet=raw.sheet, detail="、".join(raw.unmapped)))
        if raw.hidden_columns and not part:
            frep.notices.append(
                message("HIDDEN_COLUMNS", file=rel, sheet=raw.sheet, detail="、".join(raw.hidden_columns))
            )
        df = raw.data
        n = len(df)
        frep.rows_read += n
        if n == 0 and not part:
            frep.status = "empty"
            frep.notices.append(message("HEADER_ONLY", file=rel, sheet=raw.sheet))
        elif n and frep.status == "empty":  # a first chunk without data rows: the file was not empty
            frep.status = "ok"
            frep.notices = [m for m in frep.notices if m.get("code") != "HEADER_ONLY"]
        src_row = raw.source_row

        # exact duplicates: within this source and against earlier sources of the same table
        # the reader's codes of each column, unless the frame was cut after reading (then per cell again)
        coded = {k: c for k, c in (raw.coded or {}).items() if len(c) == n}
        if n:
            h = _row_hashes([coded.get(c, df[c]) for c in df.columns])
            seen = self._row_hashes.setdefault(table.name, _HashSet())
            dup = pd.Series(h).duplicated(keep="first").to_numpy().copy()
            if seen:
                dup = dup | seen.contains(h)
            seen.add(h)
        else:
            dup = np.zeros(0, dtype=bool)
        frep.rows_duplicate += int(dup.sum())
        reason = np.full(n, None, dtype=object)
        reason_col = np.full(n, None, dtype=object)
        has_reason = np.zeros(n, dtype=bool)
        if raw.malformed is not None and raw.malformed.any():
            m = raw.malformed & ~dup
            reason[m] = MALFORMED_ROW
            reason_col[m] = "*"
            has_reason |= m

        # Each column is validated per distinct cell: ``uv``/``ur`` hold the value and reason of each
        # distinct cell (and a last null entry), ``codes`` says which cell each row holds.
        values: dict[str, np.ndarray] = {}
        by_code: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if label not in self._chunk_memos or not part:  # only the source being read keeps its memos
            self._chunk_memos = {label: {}}
        memos = self._chunk_memos[label] if raw.format == "csv" else {}
        for col in table.columns:
            # notes are nearly all distinct: looking them up would cost memory and save nothing
            memo = memos.setdefault(col.name, _ChunkMemo()) if raw.format == "csv" and col.privacy != FREE_TEXT else None
            cc = coded.get(col.name)
            codes, uniques = (cc.codes, cc.uniques) if cc is not None else _factorize(df[col.name])
            if col.privacy == FREE_TEXT:
                limit = col.max_length or fmt.max_text

                def _free(u, limit=limit):
                    if _blank(u, fmt):
                        return None, None
                    t = u if isinstance(u, str) and u.strip() else _cell_str(u)
                    return (None, TEXT_TOO_LONG) if len(t) > limit else (t, None)

                uv, ur = _map_coded(codes, uniques, _free, memo)
            else:
                uv, ur = _map_coded(codes, uniques, _column_func(col, self.as_of, fmt), memo,
                                    _unchanged_func(col, self.as_of, fmt))
            unull = pd.isna(pd.Series(uv, dtype=object)).to_numpy()
            if col.type == "phone":
                for w in (PHONE_INVALID, PHONE_SERVICE_NUMBER):
                    k = int(((ur[codes] == w) & ~dup).sum()) if (ur == w).any() else 0
                    if k:
                        frep.warnings[f"{w}:{col.name}"] = frep.warnings.get(f"{w}:{col.name}", 0) + k
                ur = np.full(len(ur), None, dtype=object)
            if col.type == "resident_id" and n:  # the cell's length as written, once per distinct cell
                def _len(u):
                    return len(_WS.sub("", _nfkc(u))) if isinstance(u, str) else 0

                if memo is not None:
                    ulen = memo.carry("raw_len", _len, dtype=np.int64)
                else:
                    ulen = np.array([_len(u) for u in uniques], dtype=np.int64)
                raw_len = np.append(ulen, 0)[codes]
                k = int(((raw_len == 15) & ~unull[codes] & ~dup).sum())
                if k:
                    frep.legacy_ids_upgraded += k
                    key = f"{ID_LEGACY_15}:{col.name}"
                    frep.warnings[key] = frep.warnings.get(key, 0) + k
            if col.required:
                ur = np.where(unull & pd.isna(pd.Series(ur, dtype=object)).to_numpy(), REQUIRED_MISSING, ur)
            values[col.name] = uv[codes]
            by_code[col.name] = (codes, uv)
            uhas = ~pd.isna(pd.Series(ur, dtype=object)).to_numpy()
            if uhas.any():
                first = uhas[codes] & ~has_reason & ~dup
                reason[first] = ur[codes[first]]
                reason_col[first] = col.name
                has_reason |= first
        ok = ~has_reason & ~dup
        for col in table.columns:
            if col.unique:  # among the rows that are not exact duplicates (a duplicated row is no clash)
                s = pd.Series(values[col.name], dtype=object)
                cand = ok.copy()
                sub = s[cand]
                clash_sub = sub.duplicated(keep=False).to_numpy() & sub.notna().to_numpy()
                clash = np.zeros(n, dtype=bool)
                clash[np.flatnonzero(cand)[clash_sub]] = True
                reason[clash] = DUPLICATE_KEY
                reason_col[clash] = col.name
                ok &= ~clash
        quarantined = ~ok & ~dup
        frep.rows_passed += int(ok.sum())
        frep.rows_quarantined += int(quarantined.sum())

        # ---- identities: scanner index from every row (quarantined too), vault from passed rows
        def distinct(name: str, rows: np.ndarray) -> np.ndarray:
            """The distinct values of column ``name`` in ``rows`` (a mask), from its distinct cells."""
            codes, uv = by_code[name]
            used = np.zeros(len(uv), dtype=bool)
            used[codes[rows]] = True
            return pd.unique(uv[used])

        for name in PLACE_COLUMNS:
            if name in values:
                self.places.update(v for v in distinct(name, ok) if isinstance(v, str))

        for col in table.columns:
            if col.privacy != DIRECT:
                continue
            if col.type == "person_name":
                self._add_known("names", distinct(col.name, ~dup))
            elif col.type == "phone":
                self._add_known("phones", distinct(col.name, ~dup))
            elif col.type == "address":
                self._add_known("addresses", distinct(col.name, ~dup))
            else:
                self._add_known("id_numbers", distinct(col.name, ~dup))
                memo = memos.get(col.name)
                if memo is not None:  # the raw forms of the previous chunk's cells are already known
                    raw_forms = {_raw_text_identifier(u) for u in memo.cells[memo.new]}
                else:
                    raw_forms = {_raw_text_identifier(u) for u in pd.unique(df[col.name].to_numpy(dtype=object))}
                self._add_known("id_numbers", raw_forms)
            if col.type == "resident_id":
                self.person_ids.update(x for x in distinct(col.name, ok) if isinstance(x, str))

        out = self._build_output(table, label, values, ok, src_row, by_code, memos)
        self._collect_vault(table, values, ok, out, by_code)
        self._collect_conflicts(table, values, ok, out, rel, raw.sheet, src_row, by_code)
        free = [c.name for c in table.columns if c.privacy == FREE_TEXT]
        note_jobs = self._anonymize(table, values, ok, out, free) if free and frep.rows_passed else []

        q = None
        if frep.rows_quarantined:
            q = df[quarantined].copy()
            q["reason_code"] = reason[quarantined]
            q["column"] = reason_col[quarantined]
            q["source_row"] = src_row[quarantined]
            q["source_file"] = label
            q.attrs["headers"] = dict(raw.headers)
        scan_cols = [
            c
            for c in out.columns
            if c not in ("source_file", "source_row", "knowledge_date")
            and c not in {x.pseudonym for x in table.token_columns}
            and not c.startswith(NOTE_KEY_PREFIX)
        ]
        extra_rows = None
        if raw.extra is not None and n:
            extra_rows = src_row
        pend = _Pending(table, rep, out, free, scan_cols, label, frep, raw.extra, extra_rows, q)
        pend.note_jobs = note_jobs
        for col in table.columns:
            if col.unique:
                pend.unique_values[col.name] = values[col.name][ok]
        pend.headers = dict(raw.headers)
        if self.spill_dir is not None:
            pend.spill = self.spill_dir / f"{len(self.pending):06d}.pkl"
            pend.frame = out  # written aside
        if pend.unique_values:
            raw_ok = df[ok].copy()
            raw_ok["source_row"] = src_row[ok]
            pend.raw_ok = raw_ok  # written aside too when the rows are
        self.pending.append(pend)
        self._collect_notes(wait=False)  # background batches already done go into their chunks' rows
        frep.seconds = round(frep.seconds + time.perf_counter() - t0, 3)
        return frep

    def _collect_conflicts(
        self,
        table: Table,
        values: dict[str, np.ndarray],
        ok: np.ndarray,
        out: pd.DataFrame,
        rel: str,
        sheet: str | None,
        src_row: np.ndarray,
        by_code: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        """Person attributes that disagree with the ID number (birth date, sex) or across records
        (name): the rows stay linked by the ID's token; the conflict is recorded (never the values).
        Dates, sexes and (ID, name) pairs are worked out per distinct value (``by_code``, as
        :meth:`_build_output` takes it) and compared per row."""
        idx = np.flatnonzero(ok)
        if not len(idx):
            return
        rows = src_row[idx]
        by_code = by_code or {}

        def coded(name: str) -> tuple[np.ndarray, np.ndarray]:
            """``(codes, distinct)`` of the rows' values of ``name``: ``values[name][idx]`` is
            ``distinct[codes]``, −1 being None — per distinct *value* (two cells that normalize alike
            share a code), from the chunk's distinct cells when it has them."""
            cv = by_code.get(name)
            if cv is None:
                c, u = pd.factorize(pd.Series(values[name][idx], dtype=object), use_na_sentinel=True)
                return c, np.asarray(u, dtype=object)
            vcode, distinct = pd.factorize(pd.Series(cv[1], dtype=object), use_na_sentinel=True)
            return vcode[cv[0][idx]], np.asarray(distinct, dtype=object)

        def at(per_value: np.ndarray, codes: np.ndarray) -> np.ndarray:
            """``per_value[codes]`` with None where a code is −1."""
            return np.append(per_value.astype(object), None)[codes]

        for tok_col in table.token_columns:
            if tok_col.type != "resident_id":
                continue
            id_codes, id_distinct = coded(tok_col.name)
            ids_u = pd.Series(id_distinct, dtype=object)
            toks = out[tok_col.pseudonym].to_numpy(dtype=object)
            have = id_codes >= 0
            for c in table.columns:
                if c.person_attribute is None or (c.identity_of not in (None, tok_col.pseudonym)):
                    continue
                v_codes, v_distinct = coded(c.name)
                if c.person_attribute == "birth_date":
                    from_id = at(ids_u.str.slice(6, 14).to_numpy(dtype=object), id_codes)
                    got_u = pd.to_datetime(pd.Series(v_distinct, dtype=object), errors="coerce").dt.strftime("%Y%m%d")
                    got = at(got_u.to_numpy(dtype=object, na_value=None), v_codes)
                    bad = have & pd.notna(got) & (got != from_id)
                    code = "CONFLICT_BIRTH_DATE"
                elif c.person_attribute == "sex":
                    digit = pd.to_numeric(ids_u.str.slice(16, 17), errors="coerce").to_numpy(dtype="float64")
                    expect = at(np.where(digit % 2 == 1, "男", "女"), id_codes)
                    v = at(v_distinct, v_codes)
                    bad = have & (v_codes >= 0) & (v != expect)
                    code = "CONFLICT_SEX"
                else:
                    continue
                for i in np.flatnonzero(bad):
                    self.conflict_rows.append((code, toks[i], rel, sheet, int(rows[i]), table.department))
            for c in table.columns:
                if c.type == "person_name" and c.identity_of == tok_col.pseudonym:
                    n_codes, n_distinct = coded(c.name)
                    m = have & (n_codes >= 0)
                    if m.any():
                        # one row per (ID, name) of this file, the first in row order (what _conflicts lists)
                        key = id_codes[m].astype(np.int64) * (len(n_distinct) + 1) + n_codes[m]
                        _, first = np.unique(key, return_index=True)
                        pick = np.flatnonzero(m)[np.sort(first)]
                        nf = pd.DataFrame(
                            {
                                "token": toks[pick],
                                "name": n_distinct[n_codes[pick]],
                                "file": rel,
                                "sheet": sheet,
                                "row": rows[pick],
                                "department": table.department,
                            }
                        )
                        self.name_frames.append(nf)
                        self._name_rows += len(nf)
                        if self._name_rows > max(COMPACT_ROWS, 2 * len(self.name_frames[0])):
                            names = pd.concat(self.name_frames, ignore_index=True)
                            self.name_frames = [names.drop_duplicates(_NAME_KEY)]
                            self._name_rows = len(self.name_frames[0])

    def _build_output(
        self,
        table: Table,
        rel: str,
        values: dict[str, np.ndarray],
        ok: np.ndarray,
        src_row: np.ndarray,
        by_code: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
        memos: Mapping[str, _ChunkMemo] | None = None,
    ) -> pd.DataFrame:
        """The output rows (``ok``) of one chunk: tokens for direct identifiers, typed columns.

        A column in ``by_code`` (``codes`` per row, −1 for null, and the value of each distinct cell with
        a last null entry, as :func:`_map_coded` gives them) is converted and tokenized once per
        distinct cell and then taken by code; the others cell by cell. With the column's
        :class:`_ChunkMemo` (``memos``, the same chunk's), tokens are only computed for the distinct
        cells that were not in the previous chunk (a monthly export repeats the same people chunk
        after chunk)."""
        idx = np.flatnonzero(ok)
        by_code = by_code or {}
        memos = memos or {}

        def tokens(name: str, kind: str) -> pd.Series:
            cv, memo = by_code.get(name), memos.get(name)
            if cv is None or memo is None or memo.uniques is None or len(memo.uniques) + 1 != len(cv[1]):
                return column(name, lambda x: self.pz.tokens(kind, x))
            codes, uv = cv
            per_cell = memo.carry_many(
                f"token:{kind}", lambda pos: self.pz.tokens(kind, pd.Series(uv[pos], dtype=object)).to_numpy(dtype=object)
            )
            return pd.Series(np.append(per_cell, None), dtype="str").take(codes[idx]).reset_index(drop=True)

        def column(name: str, convert: Callable[[pd.Series], pd.Series]) -> pd.Series:
            cv = by_code.get(name)
            if cv is None:
                return convert(pd.Series(values[name][idx], dtype=object))
            codes, uv = cv
            return convert(pd.Series(uv, dtype=object)).take(codes[idx]).reset_index(drop=True)

        out: dict[str, pd.Series] = {
            "source_file": pd.Series([rel], dtype="str").take(np.zeros(len(idx), dtype=np.intp)).reset_index(drop=True),
            "source_row": pd.Series(src_row[idx], dtype="Int64"),
        }
        for col in table.columns:
            if col.privacy == DIRECT:
                if col.pseudonym is not None:
                    out[col.pseudonym] = tokens(col.name, col.token_kind)
                continue
            if col.keyed:
                out[col.name] = tokens(col.name, "R")
                continue
            if col.type in ("date", "datetime", "month") or col.generalize == "month":
                def _dates(x, col=col):
                    s = pd.Series(pd.to_datetime(x), dtype="datetime64[us]")
                    if col.generalize == "month" or col.type == "month":
                        s = s.dt.to_period("M").dt.to_timestamp().astype("datetime64[us]")
                    elif col.type == "date":
                        s = s.dt.floor("D")
                    return s

                out[col.name] = column(col.name, _dates)
            elif col.type == "int":
                out[col.name] = column(col.name, lambda x: pd.Series(x, dtype="Int64"))
            elif col.type in ("float", "amount"):
                out[col.name] = column(col.name, lambda x: pd.Series(x, dtype="float64"))
            elif col.type == "bool":
                out[col.name] = column(col.name, lambda x: pd.Series(x, dtype="boolean"))
            else:
                out[col.name] = column(col.name, lambda x: pd.Series(x, dtype="str"))
        frame = pd.DataFrame(out)
        kd = table.knowledge_date
        if kd is not None:
            base = (
                frame[kd.column]
                if kd.column in frame
                else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
            )
            base = base.dt.floor("D")
            if kd.month_end:
                base = (
                    (base.dt.to_period("M").dt.to_timestamp(how="end")).dt.floor("D").astype("datetime64[us]")
                )
            frame["knowledge_date"] = base + pd.to_timedelta(kd.lag_days, unit="D")
        else:
            frame["knowledge_date"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
        return frame[[c for c in table.output_columns if c in frame.columns]]

    def _collect_vault(
        self,
        table: Table,
        values: dict[str, np.ndarray],
        ok: np.ndarray,
        out: pd.DataFrame,
        by_code: Mapping[str, tuple] | None = None,
    ) -> None:
        idx = np.flatnonzero(ok)
        for tok_col in table.token_columns:
            if tok_col.type != "resident_id":
                continue
            rec = {
                "token": out[tok_col.pseudonym].to_numpy(dtype=object),
                "id_number": values[tok_col.name][idx],
            }
            for c in table.columns:
                if c.identity_of == tok_col.pseudonym:
                    field_name = {"person_name": "name", "phone": "phone", "address": "address"}.get(c.type)
                    if field_name and field_name not in rec:
                        rec[field_name] = values[c.name][idx]
            for place in ("community", "township"):
                if place in values:
                    rec[place] = values[place][idx]
            # first non-null value per field and token, in row order (as _write_vault takes them). The rows
            # are grouped by ID number as an integer code (a token is a keyed hash of it: the same groups,
            # in the same order) on an object frame; only the one row per person is typed as pandas
            # infers it — building the chunk's whole frame with inferred string columns cost more than
            # the grouping (issue 8)
            cv = (by_code or {}).get(tok_col.name)
            if cv is not None:
                vkey, _ = pd.factorize(pd.Series(cv[1], dtype=object), use_na_sentinel=True)
                key = vkey[cv[0][idx]]
            else:
                key, _ = pd.factorize(pd.Series(rec["id_number"], dtype=object), use_na_sentinel=True)
            has = (key >= 0) & pd.notna(pd.Series(rec["token"], dtype=object)).to_numpy()
            if not has.all():
                rec = {k: a[has] for k, a in rec.items()}
                key = key[has]
            first = pd.DataFrame(rec, dtype=object).groupby(key, sort=False).first()
            frame = pd.DataFrame({k: first[k].to_numpy(dtype=object) for k in rec})
            self.vault_frames.append(frame)
            self._vault_rows += len(frame)
            if self._vault_rows > max(COMPACT_ROWS, 2 * len(self.vault_frames[0])):
                allv = pd.concat(self.vault_frames, ignore_index=True)
                self.vault_frames = [allv.groupby("token", sort=False).first().reset_index()]
                self._vault_rows = len(self.vault_frames[0])

    def _row_known(self, table: Table, values: dict[str, np.ndarray], idx: np.ndarray) -> list[dict]:
        kinds = {"person_name": "names", "phone": "phones", "address": "addresses"}
        per: list[tuple[str, np.ndarray]] = []
        for c in table.columns:
            if c.privacy == DIRECT:
                per.append((kinds.get(c.type, "id_numbers"), values[c.name][idx]))
        known = []
        for i in range(len(idx)):
            d: dict[str, list[str]] = {"names": [], "id_numbers": [], "phones": [], "addresses": []}
            for kind, arr in per:
                v = arr[i]
                if isinstance(v, str) and v:
                    d[kind].append(v)
            known.append(d)
        return known

    def _anonymize(
        self, table: Table, values: dict[str, np.ndarray], ok: np.ndarray, out: pd.DataFrame, free: list[str]
    ) -> list[_NoteJob]:
        """Anonymize the passed rows' free-text cells; with a note cache, a cell whose text and record
        identities are unchanged since the previous ingest takes its stored result instead (its key goes
        into the hidden column ``NOTE_KEY_PREFIX + name``, removed before the table is written).

        A batch of at least :data:`BACKGROUND_MIN_NOTES` notes goes to background workers
        (:meth:`_background_for`): its cells stay empty in ``out`` and are filled by
        :meth:`_collect_notes` before the table is scanned. Returns those batches."""
        idx = np.flatnonzero(ok)
        known = self._row_known(table, values, idx)
        jobs: list[_NoteJob] = []
        for name in free:
            texts = values[name][idx].tolist()
            todo = np.arange(len(texts))
            anon = np.full(len(texts), None, dtype=object)
            if self._note_cache is not None:
                keys = self._note_keys(texts, known)
                out[NOTE_KEY_PREFIX + name] = pd.Series(keys, index=out.index, dtype=object)
                hit = self._note_cache.reindex(keys).to_numpy(dtype=object)
                found = pd.notna(hit) | pd.isna(pd.Series(texts, dtype=object)).to_numpy()
                anon[found] = np.where(pd.notna(hit[found]), hit[found], None)
                todo = np.flatnonzero(~found)
                self.report.notes_reused += int(pd.notna(hit).sum())
            background = self._background_for(len(todo))
            if len(todo) and background is not None:
                jobs.append(_NoteJob(name, todo, background.submit([texts[i] for i in todo],
                                                                   [known[i] for i in todo])))
            elif len(todo):
                got = self.anonymizer.anonymize_many([texts[i] for i in todo], [known[i] for i in todo],
                                                     n_jobs=self.anonymizer_jobs)
                if len(got) != len(todo):
                    raise IngestError(f"{table.name}.{name}: anonymizer returned {len(got)} notes for {len(todo)}")
                anon[todo] = np.array(got, dtype=object)
                self.report.notes_anonymized += sum(1 for t in got if t is not None)
            out[name] = pd.Series(anon, index=out.index, dtype="str")
        return jobs

    def _background_for(self, n_notes: int):
        """The background anonymizer for a batch of ``n_notes`` notes, started on first use; None when the
        batch is anonymized in place: fewer than :data:`BACKGROUND_MIN_NOTES` notes, one process allowed
        (``anonymizer_jobs == 1``), or an anonymizer workers cannot rebuild (e.g. a test's)."""
        from privacy.anonymizer import BackgroundAnonymizer

        if self._background is not None:
            return self._background
        if n_notes < BACKGROUND_MIN_NOTES or self.anonymizer_jobs == 1 or not BackgroundAnonymizer.usable(self.anonymizer):
            return None
        self._background = BackgroundAnonymizer(self.anonymizer, self.anonymizer_jobs)
        return self._background

    def _collect_notes(self, *, wait: bool, pending: Sequence[_Pending] | None = None) -> None:
        """Put the notes of finished background batches into their chunks' output rows (read back and
        written aside again when spilled); ``wait``: wait for every batch of ``pending`` (default: all).

        Raises
        ------
        IngestError
            A batch came back with a different number of notes.
        """
        for p in self.pending if pending is None else pending:
            done = [j for j in p.note_jobs if wait or self._background.ready(j.handle)]
            if not done:
                continue
            frame = p.frame
            for job in done:
                got = self._background.result(job.handle)
                if len(got) != len(job.positions):
                    raise IngestError(f"{p.table.name}.{job.column}: anonymizer returned {len(got)} notes "
                                      f"for {len(job.positions)}")
                col = np.array(frame[job.column].astype(object).where(frame[job.column].notna(), None), dtype=object)
                col[job.positions] = np.array(got, dtype=object)
                frame[job.column] = pd.Series(col, index=frame.index, dtype="str")
                self.report.notes_anonymized += sum(1 for t in got if t is not None)
            p.frame = frame
            p.note_jobs = [j for j in p.note_jobs if j not in done]

    def stop_background(self, *, wait: bool = True) -> None:
        """Stop the background workers: let them exit (``wait``), or terminate them (a failed ingest)."""
        if self._background is not None:
            (self._background.close if wait else self._background.terminate)()
            self._background = None

    def _note_keys(self, texts: list, known: list[dict]) -> np.ndarray:
        """One keyed hash per note: HMAC (the pseudonym key, :class:`privacy.tokens.Pseudonymizer`) of
        the anonymizer version, the record's identities and the text — so a cached result is reused only
        for the same text with the same identities under the same code, and the cache reveals nothing
        about notes to whoever lacks the key."""
        ver = self.note_cache_version or ""
        comp = [
            None if not isinstance(t, str) else
            f"note|{ver}|{json.dumps(k, ensure_ascii=False, sort_keys=True)}|{t}"
            for t, k in zip(texts, known, strict=True)
        ]
        return self.pz.tokens("R", pd.Series(comp, dtype=object)).to_numpy(dtype=object)

    def _cache_notes(self, p: _Pending, keys: dict[str, pd.Series], frame: pd.DataFrame) -> None:
        """Remember the final (scanned, possibly redacted) text of each note for the next ingest."""
        for name, k in keys.items():
            v = frame[name].astype(object)
            m = k.notna().to_numpy() & v.notna().to_numpy()
            if m.any():
                self._note_cache_out.append(pd.DataFrame({"key": k.to_numpy()[m], "text": v.to_numpy()[m]}))

    def _write_note_cache(self) -> None:
        if self._note_cache is None:
            return
        frames = self._note_cache_out
        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"key": [], "text": []})
        df = df.drop_duplicates("key")
        tbl = pa.table({"key": pa.array(df["key"].tolist(), type=pa.string()),
                        "text": pa.array(df["text"].tolist(), type=pa.string())},
                       metadata={"humiao.note_cache_version": self.note_cache_version or ""})
        _write_parquet(self.out_dir / NOTE_CACHE_FILE, tbl)
        self._note_cache_out = []

    # ---------------------------------------------------------------------------------- phase 2
    def _known(self):
        factory = self.known_factory or _default_known_factory()
        known = factory()
        for kind, values in self.known_sets.items():
            known.add(kind, sorted(values))  # the index normalizes what it stores
        if hasattr(known, "add_places"):
            known.add_places(sorted(self.places))
        return known

    def _scan(self, scanner, p: _Pending, frame: pd.DataFrame) -> list[dict]:
        """Scan every non-token column of ``frame`` (``p``'s rows); redact notes with findings in place;
        return structured findings."""
        undeclared: list[dict] = []
        src = frame["source_row"].to_numpy()
        for name in p.scan_columns:
            s = frame[name]
            if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_bool_dtype(s):
                continue  # parsed dates/booleans cannot carry identifiers
            if name in p.free_text:
                texts = s.astype(object).where(s.notna(), None)
                sub = pd.DataFrame({name: texts.to_numpy()})
                findings = scanner.scan_dataframe(sub, location=p.rel, free_text_columns=(name,))
                undeclared += [  # a finding in the column NAME (row None) is never a note
                    {"file": p.rel, "column": name, "entity_type": f.entity_type, "masked": f.masked, "row": None}
                    for f in findings
                    if f.row is None
                ]
                findings = [f for f in findings if f.row is not None]
                rows = sorted({int(f.row) for f in findings})
                if rows:
                    new = texts.to_numpy().copy()
                    new[rows] = REDACTION_MARKER
                    frame[name] = pd.Series(new, index=frame.index, dtype="str")
                    for f in findings:
                        p.report.notes_redacted.append(
                            {
                                "file": p.rel,
                                "row": int(src[int(f.row)]),
                                "column": name,
                                "entity_type": f.entity_type,
                            }
                        )
                continue
            # structured: each distinct value scanned once
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
            if not len(uniques):
                continue
            first_pos = pd.Series(np.arange(len(codes))).groupby(codes).first()
            uniq_text = [u if isinstance(u, str) else _cell_str(u) for u in uniques]
            sub = pd.DataFrame({name: uniq_text})
            for f in scanner.scan_dataframe(sub, location=p.rel, free_text_columns=()):
                pos = first_pos.get(int(f.row), None) if f.row is not None else None
                undeclared.append(
                    {
                        "file": p.rel,
                        "column": name,
                        "entity_type": f.entity_type,
                        "masked": f.masked,
                        "row": int(src[pos]) if pos is not None and pos >= 0 else None,
                    }
                )
        return undeclared

    # ------------------------------------------------------------------------------ finishing
    def _threshold(self, table: Table) -> float | None:
        """Per-table threshold: configuration mapping > contract > configuration scalar."""
        m = self.max_quarantine_share
        if isinstance(m, Mapping) and table.name in m:
            return float(m[table.name])
        if table.max_quarantine_share is not None:
            return table.max_quarantine_share
        if m is not None and not isinstance(m, Mapping):
            return float(m)
        return None

    def _cross_source_records(self, table: Table, ps: list[_Pending]) -> tuple[int, int]:
        """Several sources of one table (a workbook and the same sheet re-saved as CSV, two monthly
        files that overlap): a passed row whose record number (the contract's ``keyed`` column,
        normalized and tokenized) was already passed from an earlier source is a duplicate — removed
        and counted in ``rows_duplicate`` — whether its normalized contents are equal (a copy) or not
        (a conflict: the earlier source's row is kept, the conflict is recorded). Sources are taken in
        plan order (file path, then sheet), so the choice is deterministic. Within one source nothing
        is changed here (nor between the chunks of one source). Returns (duplicates, conflicts)."""
        if len(_source_groups(ps)) < 2:
            return 0, 0
        keyed = [c for c in table.columns if c.keyed]
        # a table without a record number: a row whose *normalized* contents equal a row passed from an
        # earlier source is a copy (an xlsx date and the same date re-saved as CSV text normalize alike)
        key = keyed[0].name if keyed else None
        # one record number can cover several people (one 警情编号, every person involved): a record is
        # the record number *and* the row's subject (the table's first resident-ID token column)
        subject = next((c.pseudonym for c in table.columns if c.type == "resident_id" and c.is_token_source),
                       None) if keyed else None
        seen: dict[str, list[tuple[int, tuple]]] = {}  # key token → [(content hash, (file, sheet, row))]
        dups = conflicts = 0
        dropped: set[tuple] = set()
        for group in _source_groups(ps):  # the chunks of one source are never compared with each other
            staged = []
            for p in group:
                f = p.frame
                if not len(f) or (key is not None and key not in f.columns):
                    continue
                content = [c for c in f.columns if c not in ("source_file", "source_row")
                           and not c.startswith(NOTE_KEY_PREFIX)]
                hashes = pd.util.hash_pandas_object(f[content].astype(str), index=False).to_numpy()
                if key is None:
                    keys = hashes.astype(str).astype(object)
                else:
                    keys = f[key].astype(object).where(f[key].notna(), None).to_numpy(dtype=object)
                if subject is not None and subject in f.columns:
                    person = f[subject].astype(object).where(f[subject].notna(), "").to_numpy(dtype=object)
                    keys = np.array([None if k is None else f"{k}|{s}" for k, s in zip(keys, person, strict=True)],
                                    dtype=object)
                rows = f["source_row"].to_numpy()
                fr = p.file_report
                where = (fr.file, fr.sheet)
                drop = np.zeros(len(f), dtype=bool)
                for i, (k, h) in enumerate(zip(keys, hashes, strict=True)):
                    prev = seen.get(k) if k is not None else None
                    if prev is None:
                        continue
                    drop[i] = True
                    if all(ph != h for ph, _ in prev):
                        conflicts += 1
                        first = prev[0][1]
                        self.record_conflicts.append({
                            "code": "CONFLICT_RECORD", "token": k, "field": "record",
                            "records": [
                                {"file": first[0], "sheet": first[1], "row": int(first[2]),
                                 "department": table.department},
                                {"file": where[0], "sheet": where[1], "row": int(rows[i]),
                                 "department": table.department},
                            ],
                        })
                staged.append((keys[~drop], hashes[~drop], rows[~drop], where))
                n = int(drop.sum())
                if not n:
                    continue
                dups += n
                dropped.update((*where, int(r)) for r in rows[drop])
                keep = ~drop
                p.frame = f[keep].reset_index(drop=True)
                for k in list(p.unique_values):
                    p.unique_values[k] = p.unique_values[k][keep]
                if p.raw_ok is not None:
                    p.raw_ok = p.raw_ok[keep]
                fr.rows_passed -= n
                fr.rows_duplicate += n
                fr.rows_duplicate_record += n
            for keys, hashes, rows, where in staged:
                for k, h, r in zip(keys, hashes, rows, strict=True):
                    if k is not None:
                        seen.setdefault(k, []).append((h, (*where, r)))
        if dropped:  # person-attribute conflicts of removed rows would be counted twice
            self.conflict_rows = [c for c in self.conflict_rows if (c[2], c[3], c[4]) not in dropped]
            frames = []
            for nf in self.name_frames:
                m = np.fromiter(((a, b, int(c)) not in dropped for a, b, c in
                                 zip(nf["file"], nf["sheet"], nf["row"], strict=True)), dtype=bool, count=len(nf))
                frames.append(nf[m])
            self.name_frames = frames
        return dups, conflicts

    def _several_files_warning(self, table: Table, ps: list[_Pending], dups: int, conflicts: int) -> None:
        files = list(dict.fromkeys(p.file_report.file for p in ps))
        if len(files) < 2:
            return
        keyed = [c for c in table.columns if c.keyed]
        key = keyed[0].header if keyed else "、".join(c.header for c in table.columns if c.privacy == DIRECT)
        self.report.warnings.append(message(
            "TABLE_SEVERAL_FILES", file="、".join(files), header=table.name, expected=str(len(files)),
            detail=", ".join(files), key=key if keyed else "整行 / whole row", dups=dups, conflicts=conflicts,
        ))

    def _cross_source_unique(self, table: Table, ps: list[_Pending]) -> None:
        """A unique key passed in two sources of the same table: quarantine it everywhere (DUPLICATE_KEY)."""
        for col in (c for c in table.columns if c.unique):
            counts: dict = {}
            for i, p in enumerate(ps):
                for v in pd.unique(pd.Series(p.unique_values.get(col.name, []), dtype=object).dropna()):
                    counts.setdefault(v, set()).add(i)
            bad = {v for v, where in counts.items() if len(where) > 1}
            if not bad:
                continue
            for p in ps:
                vals = pd.Series(p.unique_values.get(col.name, []), dtype=object)
                clash = vals.isin(bad).to_numpy()
                if not clash.any():
                    continue
                keep = ~clash
                p.frame = p.frame[keep].reset_index(drop=True)
                for k in list(p.unique_values):
                    p.unique_values[k] = p.unique_values[k][keep]
                moved = p.raw_ok[clash].copy()
                p.raw_ok = p.raw_ok[keep]
                moved["reason_code"] = DUPLICATE_KEY
                moved["column"] = col.name
                moved["source_file"] = p.rel
                p.quarantine = moved if p.quarantine is None else pd.concat([p.quarantine, moved])
                k = int(clash.sum())
                p.file_report.rows_passed -= k
                p.file_report.rows_quarantined += k

    def _finalize_file(self, p: _Pending) -> None:
        """Per-file reasons, the listed quarantined rows with their messages."""
        fr, _table = p.file_report, p.table
        fr.reasons, fr.reasons_by_column = {}, {}
        q = p.quarantine
        if q is not None and len(q):
            q = q.sort_values("source_row", kind="stable")
            p.quarantine = q
            codes = q["reason_code"].astype(str)
            fr.reasons = {str(k): int(v) for k, v in codes.value_counts().sort_index().items()}
            pairs = pd.DataFrame({"r": codes.to_numpy(), "c": q["column"].astype(str).to_numpy()})
            for (k, c), v in pairs.value_counts().sort_index().items():
                fr.reasons_by_column.setdefault(str(k), {})[str(c)] = int(v)
            msgs = [self._row_message(p, r) for r in q.itertuples(index=False)]
            q["message_zh"] = [m["message_zh"] for m in msgs]
            q["message_en"] = [m["message_en"] for m in msgs]
            fr.quarantined_rows = [
                {k: m[k] for k in ("row", "column", "header", "code", "message_zh", "message_en")}
                for m in msgs[: self.max_listed_rows]
            ]
            fr.quarantined_rows_not_listed = max(0, len(msgs) - self.max_listed_rows)
        if fr.rows_duplicate:
            fr.reasons[DUPLICATE_ROW] = fr.rows_duplicate
        for w, k in fr.warnings.items():
            code, _, colname = w.partition(":")
            hdr = p.headers.get(colname, colname)
            fr.notices.append(message(code, file=fr.file, sheet=fr.sheet, header=hdr, column=colname, detail=str(k)))

    def _row_message(self, p: _Pending, r) -> dict:
        table = p.table
        code = r.reason_code
        colname = r.column
        fr = p.file_report
        header, expected, detail = None, "", ""
        if colname and colname != "*":
            header = p.headers.get(colname) or table.column(colname).header
            col = table.column(colname)
            if code == INVALID_CATEGORY:
                expected = "、".join(col.values or ())
            elif code == TEXT_TOO_LONG:
                fmt = table.formats
                expected = str(col.max_length or (fmt.max_text_length if col.type == "text" else fmt.max_string_length))
                cell = getattr(r, colname, None)
                detail = str(len(cell)) if isinstance(cell, str) else "?"
        if code in (ids.INVALID_BIRTH_DATE, DATE_AFTER_AS_OF):
            expected = self.as_of.isoformat()
        return message(
            code, file=fr.file, sheet=fr.sheet, row=int(r.source_row), header=header,
            column=None if colname == "*" else colname, expected=expected, detail=detail,
        )

    def _write_quarantine(self, table: Table, ps: list[_Pending]) -> None:
        qpath = self.quarantine_dir / f"{table.name}.csv"
        frames = [p for p in ps if p.quarantine is not None and len(p.quarantine)]
        if not frames:
            if qpath.exists():
                qpath.unlink()
            return
        headers = dict(frames[0].headers)
        parts = []
        for p in frames:
            q = p.quarantine
            d = pd.DataFrame(
                {
                    headers.get(c.name, c.header): q[c.name].map(lambda u: None if u is None else _cell_str(u))
                    for c in table.columns
                }
            )
            d["reason_code"] = q["reason_code"].to_numpy()
            d["column"] = q["column"].to_numpy()
            d["source_row"] = q["source_row"].to_numpy()
            d["source_file"] = q["source_file"].to_numpy()
            d["message_zh"] = q["message_zh"].to_numpy()
            d["message_en"] = q["message_en"].to_numpy()
            parts.append(d)
        _write_private_csv(qpath, pd.concat(parts, ignore_index=True))

    def _scan_extra(self, scanner, p: _Pending) -> None:
        """Columns not in the contract are dropped — but scanned, and personal information in them is
        reported (the clerk may have added a phone column the contract should declare)."""
        if p.extra is None or not len(p.extra):
            return
        fr = p.file_report
        for name in p.extra.columns:
            s = p.extra[name]
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
            if not len(uniques):
                continue
            first_pos = pd.Series(np.arange(len(codes))).groupby(codes).first()
            uniq = [u if isinstance(u, str) else _cell_str(u) for u in uniques]
            found: dict[str, list[int]] = {}
            for f in scanner.scan_dataframe(pd.DataFrame({"v": uniq}), location=p.rel, free_text_columns=()):
                if f.row is None:
                    continue
                pos = first_pos.get(int(f.row))
                found.setdefault(f.entity_type, []).append(int(p.extra_rows[pos]) if pos is not None else -1)
            for entity, rows in sorted(found.items()):
                fr.extra_column_findings.append(
                    {"column": str(name), "entity_type": entity, "values": len(rows), "first_row": min(rows)}
                )
            if found:
                fr.notices.append(
                    message("EXTRA_COLUMN_PII", file=fr.file, sheet=fr.sheet, header=str(name),
                            detail="、".join(sorted(found)))
                )
        p.extra = None

    def _aggregate(self, rep: TableReport, ps: list[_Pending]) -> None:
        frs = [p.file_report for p in ps]
        rep.files = [f.label for f in frs]
        rep.file = frs[0].file if len(frs) == 1 else ", ".join(rep.files)
        rep.encoding, rep.sheet, rep.header_rows = frs[0].encoding, frs[0].sheet, list(frs[0].header_rows)
        for attr in ("rows_read", "rows_passed", "rows_quarantined", "rows_duplicate",
                     "blank_rows_skipped", "summary_rows_skipped"):
            setattr(rep, attr, sum(getattr(f, attr) for f in frs))
        rep.reasons, rep.reasons_by_column, rep.warnings, rep.unmapped_columns = {}, {}, {}, []
        for f in frs:
            for k, v in f.reasons.items():
                rep.reasons[k] = rep.reasons.get(k, 0) + v
            for k, d in f.reasons_by_column.items():
                for c, v in d.items():
                    rep.reasons_by_column.setdefault(k, {})[c] = rep.reasons_by_column.get(k, {}).get(c, 0) + v
            for k, v in f.warnings.items():
                rep.warnings[k] = rep.warnings.get(k, 0) + v
            rep.unmapped_columns += [u for u in f.unmapped_columns if u not in rep.unmapped_columns]
        rep.reasons = dict(sorted(rep.reasons.items()))
        rep.seconds = round(sum(f.seconds for f in frs), 3)

    def _conflicts(self, max_items: int = 200) -> dict:
        items: list[dict] = [dict(c) for c in self.record_conflicts]
        for code, tok, rel, sheet, row, dept in self.conflict_rows:
            items.append({"code": code, "token": tok, "field": code.removeprefix("CONFLICT_").lower(),
                          "records": [{"file": rel, "sheet": sheet, "row": row, "department": dept}]})
        if self.name_frames:
            names = pd.concat(self.name_frames, ignore_index=True)
            nun = names.groupby("token")["name"].nunique()
            multi = nun[nun > 1].index
            if len(multi):
                sub = names[names["token"].isin(multi)].drop_duplicates(["token", "name", "file", "sheet"])
                for tok, g in sub.groupby("token", sort=True):
                    items.append({
                        "code": "CONFLICT_NAME", "token": tok, "field": "name",
                        "records": [
                            {"file": r.file, "sheet": r.sheet, "row": int(r.row), "department": r.department}
                            for r in g.itertuples(index=False)
                        ][:10],
                    })
        by_field: dict[str, int] = {}
        for it in items:
            by_field[it["field"]] = by_field.get(it["field"], 0) + 1
        for it in items[:max_items]:
            m = message(it["code"], detail=it["token"])
            it["message_zh"], it["message_en"] = m["message_zh"], m["message_en"]
        return {"count": len(items), "by_field": by_field, "items": items[:max_items],
                "items_not_listed": max(0, len(items) - max_items)}

    def finish(self, *, raise_on_undeclared: bool = True, raise_on_error: bool = False) -> IngestReport:
        """Scan, apply thresholds, write every table, the quarantine files, the identity stores and the
        report; then raise :class:`UndeclaredPersonalInformation` (``raise_on_undeclared``) or
        :class:`IngestFailed` (``raise_on_error``) when something failed."""
        t0 = time.perf_counter()
        known = self._known()
        # what only reading needed goes before the scanner is built (a 2M city: gigabytes; issue 8)
        self.known_sets = {k: set() for k in self.known_sets}
        self._row_hashes = {}
        self._chunk_memos = {}
        pseudo_dir = self.out_dir / "pseudonymized"
        pseudo_dir.mkdir(parents=True, exist_ok=True)
        # what only the end needs leaves memory before the scanner is built (the scan is the peak)
        self._write_id_attributes(pseudo_dir)
        self.report.persons = len(self.person_ids)
        self.person_ids = set()
        self._spill_vault_frames()
        gc.collect()
        factory = self.scanner_factory or _default_scanner_factory()
        scanner = factory(known)
        undeclared_all: list[dict] = []
        by_table: dict[str, list[_Pending]] = {}
        for p in self.pending:
            by_table.setdefault(p.table.name, []).append(p)
        # tables whose notes are still anonymized in the background come last: the workers go on while
        # the others are scanned and written
        for name, ps in sorted(by_table.items(), key=lambda kv: any(p.note_jobs for p in kv[1])):
            if any(p.note_jobs for p in ps):
                self._collect_notes(wait=True, pending=ps)
            if not any(p.note_jobs for p in self.pending):
                self.stop_background()  # its workers' memory is free before the vault is written
            table, rep = ps[0].table, self.report.tables[name]
            path = pseudo_dir / f"{name}.parquet"
            groups = _source_groups(ps)
            if len(groups) > 1:
                dups, conflicts = self._cross_source_records(table, ps)
                self._several_files_warning(table, ps, dups, conflicts)
            if len(ps) > 1:  # several sources, or several chunks of one source
                self._cross_source_unique(table, ps)
            for p in ps:
                self._scan_extra(scanner, p)
            for group in groups:  # one quarantine listing per source
                qs = [p.quarantine for p in group if p.quarantine is not None and len(p.quarantine)]
                for p in group[1:]:
                    p.quarantine = None
                group[0].quarantine = pd.concat(qs) if len(qs) > 1 else (qs[0] if qs else None)
                self._finalize_file(group[0])
            self._aggregate(rep, [g[0] for g in groups])
            self._write_quarantine(table, ps)
            share = rep.rows_quarantined / rep.rows_read if rep.rows_read else 0.0
            limit = self._threshold(table)
            rep.quarantine_share, rep.max_quarantine_share = round(share, 4), limit
            if limit is not None and share > limit:
                err = message(
                    "QUARANTINE_THRESHOLD", file=rep.file,
                    detail=f"{share:.1%} ({rep.rows_quarantined}/{rep.rows_read})", expected=f"{limit:.1%}",
                )
                rep.errors.append(err)
                rep.status = "failed"
                for p in ps:
                    p.file_report.status = "failed"
            undeclared: list[dict] = []
            # scanned chunk by chunk and written as scanned (a refused table's file is removed below)
            writer = None
            tmp = path.with_name(path.name + ".tmp")
            try:
                for group in groups:
                    found_here: list[dict] = []
                    for p in group:
                        frame = p.frame
                        keys = {c.removeprefix(NOTE_KEY_PREFIX): frame.pop(c) for c in list(frame.columns)
                                if c.startswith(NOTE_KEY_PREFIX)}
                        found = self._scan(scanner, p, frame)
                        if keys and not found:
                            self._cache_notes(p, keys, frame)
                        found_here += found
                        if not (found or undeclared or found_here or rep.status == "failed"):
                            validate_output(frame, table, rep.file)
                            tbl = _to_arrow(frame, table)
                            if writer is None:
                                writer = pq.ParquetWriter(tmp, tbl.schema, compression="zstd")
                            writer.write_table(tbl)
                        del frame
                        p.release()
                    undeclared += found_here
                    if found_here:
                        fr = group[0].file_report
                        fr.status = "failed"
                        ents = "、".join(sorted({f"{f['column']}:{f['entity_type']}" for f in found_here}))
                        fr.errors.append(message("UNDECLARED_PII", file=fr.file, sheet=fr.sheet, detail=ents))
            except BaseException:
                _close_discard(writer, tmp)
                raise
            if undeclared:
                rep.status = "failed"
                rep.undeclared = [
                    {k: v for k, v in f.items() if k != "masked"} | {"masked": f["masked"]} for f in undeclared
                ]
                undeclared_all.extend(undeclared)
                log.error("%s: undeclared personal information; table not written", rep.file)
            for p in ps:
                p.file_report.errors.extend(e for e in rep.errors if e not in p.file_report.errors)
            if rep.status == "failed":
                _close_discard(writer, tmp)
                if path.exists():
                    path.unlink()  # never leave a stale copy that downstream might read
                continue
            writer.close()  # every chunk, even an empty one, was written: the writer exists
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        for name, rep in self.report.tables.items():  # tables that failed before any row was read
            if rep.status == "failed" and name not in by_table:
                stale = pseudo_dir / f"{name}.parquet"
                if stale.exists():
                    stale.unlink()
        index = getattr(scanner, "index", None)  # what the scanner derived: kept for the next scans
        del scanner
        self.report.conflicts = self._conflicts()
        self.name_frames = []
        self._write_note_cache()
        index_path = self.out_dir / "identity_index.bin"
        known.save(index_path, self.vault_key)  # before the vault: one at a time
        with contextlib.suppress(FileNotFoundError):
            os.chmod(index_path, 0o600)
        del known
        if index is not None and hasattr(index, "save"):
            from privacy.identities import scanner_cache_path
            from privacy.scanner import file_digest

            index.save(scanner_cache_path(index_path), self.vault_key, file_digest(index_path))
        del index
        gc.collect()
        vault_n = self._write_vault()
        self.report.vault_records = vault_n
        self.report.seconds += time.perf_counter() - t0 + sum(t.seconds for t in self.report.tables.values())
        errs = list(self.report.errors)
        for f in self.report.files:
            errs += [e for e in f.errors if e not in errs]
        for t in self.report.tables.values():
            errs += [e for e in t.errors if e not in errs]
        self.report.errors = errs
        warns = list(self.report.warnings)
        for f in self.report.files:
            warns += [n for n in f.notices if n not in warns]
        self.report.warnings = warns
        (self.out_dir / "ingest_report.json").write_text(
            json.dumps(self.report.to_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8"
        )
        if undeclared_all and raise_on_undeclared:
            raise UndeclaredPersonalInformation(undeclared_all)
        if raise_on_error and self.report.errors:
            raise IngestFailed(self.report.errors, self.report)
        return self.report

    def _write_id_attributes(self, pseudo_dir: Path) -> None:
        norm = pd.Series(sorted(self.person_ids), dtype=object)
        tokens = self.pz.tokens("P", norm) if len(norm) else pd.Series([], dtype="str")
        s = norm.astype(str)
        birth = pd.to_datetime(s.str.slice(6, 12) + "01", format="%Y%m%d", errors="coerce")
        sex = (
            np.where(s.str.slice(16, 17).astype(int) % 2 == 1, "男", "女")
            if len(s)
            else np.array([], dtype=object)
        )
        tbl = pa.table(
            {
                "person_token": pa.array(tokens.astype(object).tolist(), type=pa.string()),
                "birth_month": pa.array(birth.to_numpy(dtype="datetime64[D]"), type=pa.date32()),
                "sex": pa.array(list(sex), type=pa.string()),
                "id_area_code": pa.array(s.str.slice(0, 6).tolist(), type=pa.string()),
            }
        )
        _write_parquet(pseudo_dir / "id_attributes.parquet", tbl)

    def _spill_vault_frames(self) -> None:
        """Write the vault's rows aside (mode 0600, in :attr:`spill_dir`) while the tables are scanned;
        :meth:`_write_vault` reads them back (≈ 5.7 M people, about 2 GB as Python strings, at 2M)."""
        if self.spill_dir is None or not self.vault_frames:
            return
        frames = pd.concat(self.vault_frames, ignore_index=True)
        self.vault_frames = []
        _write_private_pickle(self.spill_dir / "vault_rows.pkl", frames)
        del frames

    def _write_vault(self) -> int:
        fields = ["name", "id_number", "phone", "address", "community", "township"]
        spilled = None if self.spill_dir is None else self.spill_dir / "vault_rows.pkl"
        if spilled is not None and spilled.exists():
            self.vault_frames = [pd.read_pickle(spilled)]
            spilled.unlink()
        if self.vault_frames:
            allv = pd.concat(self.vault_frames, ignore_index=True)
            for f in fields:
                if f not in allv.columns:
                    allv[f] = None
            agg = allv.groupby("token", sort=True)[fields].first()  # first non-null per field
            del allv
            self.vault_frames = []
            return Vault.write_frame(self.out_dir / "vault.bin", agg, self.vault_key)
        return Vault.write(self.out_dir / "vault.bin", {}, self.vault_key)


# ----------------------------------------------------------------------------------- public API


def _resolve_raw(raw_dir: Path, table: Table) -> Path | None:
    p = Path(raw_dir) / table.department / table.file
    if p.exists():
        return p
    for ext in (".csv", ".xlsx"):
        alt = p.with_suffix(ext)
        if alt.exists():
            return alt
    return None


def ingest_table(
    raw_path: Path,
    table: Table,
    *,
    pseudonymizer: Pseudonymizer,
    vault_key: bytes,
    out_dir: Path,
    quarantine_dir: Path,
    as_of: dt.date,
    anonymizer=None,
    scanner_factory: Callable | None = None,
    known_factory: Callable | None = None,
    raw_dir: Path | None = None,
) -> TableReport:
    """Ingest one raw file on its own (its own vault, index and report in ``out_dir``).

    Parameters
    ----------
    raw_path
        The departmental file (.csv or .xlsx).
    table
        Its contract (:func:`privacy.contracts.load_contracts`).
    pseudonymizer
        Keyed tokenizer (:class:`privacy.tokens.Pseudonymizer`).
    vault_key
        Fernet key for ``vault.bin`` and ``identity_index.bin`` (separate from the pseudonym key).
    out_dir, quarantine_dir
        Output folders (quarantine beside the input, git-ignored; DESIGN §3).
    as_of
        Birth dates after it are invalid (resident IDs).
    anonymizer
        Object with ``anonymize_many(texts, known)``; default ``privacy.anonymizer.NoteAnonymizer()``.
    scanner_factory
        ``known -> scanner`` with ``scan_dataframe(df, location, free_text_columns)``; default
        ``privacy.scanner.LeakScanner``.
    known_factory
        Builds the identity index (``privacy.identities.KnownIdentities``) with ``.save(path, key)``.
    raw_dir
        Folder ``source_file`` is relative to (default: two levels up, ``<raw>/<department>/<file>``).

    Returns
    -------
    TableReport

    Raises
    ------
    UndeclaredPersonalInformation
        Personal information in a structured column (file, column, entity type; masked); the table's
        Parquet is not written (and a stale one is removed).
    privacy.contracts.HeaderError, privacy.readers.EncodingError, privacy.readers.RawReadError
        The file cannot be read under its contract.
    privacy.contracts.ContractViolation
        The output breaks the contract schema (a bug, never silently written).
    IngestError
        Scanner/anonymizer/index unavailable (fail closed).
    """
    raw_path = Path(raw_path)
    base = Path(raw_dir) if raw_dir is not None else raw_path.parent.parent
    try:
        rel = raw_path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        rel = raw_path.name
    session = IngestSession(
        pseudonymizer=pseudonymizer,
        vault_key=vault_key,
        out_dir=out_dir,
        quarantine_dir=quarantine_dir,
        as_of=as_of,
        anonymizer=anonymizer,
        scanner_factory=scanner_factory,
        known_factory=known_factory,
    )
    try:
        rep = session.add_table(raw_path, table, rel)
        session.finish()
    finally:
        session.stop_background(wait=False)  # still running only when the ingest failed
    return rep


def _file_error(e: Exception, rel: str, sheet: str | None = None) -> dict:
    if isinstance(e, EncodingError):
        return message("ENCODING_UNKNOWN", file=rel, sheet=sheet, detail=str(e))
    if isinstance(e, HeaderError):
        expected = "、".join(e.columns) if e.columns else "、".join(e.missing)
        return message(e.code, file=rel, sheet=sheet, expected=expected)
    text = str(e)
    if "unsupported file type" in text or "old binary spreadsheet" in text:
        suffix = Path(rel).suffix or "?"
        return message("FILE_TYPE_UNSUPPORTED", file=rel, sheet=sheet, detail=suffix)
    return message("FILE_UNREADABLE", file=rel, sheet=sheet, detail=type(e).__name__)


def ingest_folder(
    raw_dir: Path,
    contracts: Mapping[str, Table] | Path,
    *,
    pseudonymizer: Pseudonymizer,
    vault_key: bytes,
    out_dir: Path,
    quarantine_dir: Path,
    as_of: dt.date,
    anonymizer=None,
    scanner_factory: Callable | None = None,
    known_factory: Callable | None = None,
    tables: Sequence[str] | None = None,
    missing_ok: bool = True,
    raise_on_undeclared: bool = True,
    mapping: Path | Mapping | None = None,
    max_quarantine_share: float | Mapping[str, float] | None = None,
    raise_on_error: bool = True,
    fail_on_unrecognized: bool = False,
    min_score: float = 0.5,
    margin: float = 0.1,
    max_listed_rows: int = 100,
    anonymizer_jobs: int = -1,
    note_cache: Path | None = None,
    note_cache_version: str | None = None,
) -> IngestReport:
    """Ingest every file under ``raw_dir`` (any names, sub-folders), each file or sheet recognized as
    a contract table (:mod:`privacy.recognize`): mapping file > ``<department>/<file>`` layout > headers.

    All sources are read first (so each is scanned against the identities of every table), then
    scanned and written; several files/sheets of one table are concatenated (exact duplicates across
    them counted once). A table fails — and nothing of it is written — when one of its files cannot
    be read under the contract (missing required column, two columns for one, encoding), when its
    quarantined share exceeds the threshold, or when undeclared personal information is found. The
    report and identity stores are always written; then :class:`UndeclaredPersonalInformation` (if
    any, and ``raise_on_undeclared``) or :class:`IngestFailed` (``raise_on_error``) is raised.

    Parameters
    ----------
    raw_dir
        The input folder.
    contracts
        Tables by name, or the ``contracts/`` folder.
    tables
        Only these table names (default: all).
    missing_ok
        A contract table with no file is reported with status ``missing`` (True) or raises
        FileNotFoundError.
    mapping
        A mapping file/dict (file → table); default ``<raw_dir>/humiao_mapping.yaml`` when present.
    max_quarantine_share
        Threshold: a share for every table, or ``{table: share}``; precedence: mapping entry >
        contract ``max_quarantine_share`` > scalar. None: contract values only.
    raise_on_error
        Raise :class:`IngestFailed` when any file/table failed (after writing the report).
    fail_on_unrecognized
        Count an unrecognized file as an error (default: a warning in the report).
    min_score, margin
        Recognition thresholds (:func:`privacy.recognize.recognize_source`).
    max_listed_rows
        Quarantined rows listed (with messages) per file in the report; all are in the quarantine file.
    anonymizer_jobs
        Processes anonymizing the free-text columns (``n_jobs`` of
        :meth:`privacy.anonymizer.NoteAnonymizer.anonymize_many`; -1: every core).
    note_cache, note_cache_version
        Incremental ingest (issue 8: departments re-deliver their whole history every cycle, and
        anonymizing notes is the slowest part). When ``note_cache_version`` (a hash of the anonymizer's
        code and models) is given, the final text of every note is written to
        ``<out_dir>/note_cache.parquet`` keyed by an HMAC of the version, the record's identities and
        the note (never the note itself); a note found in ``note_cache`` (the previous ingest's file)
        is not anonymized again. Every note, reused or not, is still scanned against this delivery's
        identities (fail closed). None: no cache.

    Other parameters as :func:`ingest_table`.

    Returns
    -------
    IngestReport
        Also written to ``<out_dir>/ingest_report.json``.

    Raises
    ------
    privacy.recognize.MappingError
        A malformed mapping file (before anything is read).
    """
    from privacy.recognize import plan_folder

    if not isinstance(contracts, Mapping):
        contracts = load_contracts(Path(contracts))
    raw_dir = Path(raw_dir)
    session = IngestSession(
        pseudonymizer=pseudonymizer,
        vault_key=vault_key,
        out_dir=out_dir,
        quarantine_dir=quarantine_dir,
        as_of=as_of,
        anonymizer=anonymizer,
        scanner_factory=scanner_factory,
        known_factory=known_factory,
        max_quarantine_share=max_quarantine_share,
        max_listed_rows=max_listed_rows,
        anonymizer_jobs=anonymizer_jobs,
        note_cache=note_cache,
        note_cache_version=note_cache_version,
    )
    plan = plan_folder(raw_dir, contracts, mapping, min_score=min_score, margin=margin)
    session.spill_dir = Path(out_dir) / ".ingest_chunks"  # chunks' rows wait on disk, not in memory
    try:
        return _ingest_planned(session, plan, contracts, out_dir, tables, missing_ok, fail_on_unrecognized,
                               raise_on_undeclared, raise_on_error)
    finally:
        session.stop_background(wait=False)  # still running only when the ingest failed
        for p in session.pending:
            p.release()
        shutil.rmtree(session.spill_dir, ignore_errors=True)


def _ingest_planned(session, plan, contracts, out_dir, tables, missing_ok, fail_on_unrecognized,
                    raise_on_undeclared, raise_on_error) -> IngestReport:
    """The body of :func:`ingest_folder` once the folder is planned."""
    rep = session.report
    rep.ignored = list(plan.ignored)
    rep.mapping_file = plan.mapping_file
    for rule in plan.unused_mapping_rules:
        rep.warnings.append(message("MAPPING_INVALID", file=plan.mapping_file or "mapping",
                                    detail=f"rule {rule!r} matches no file"))
    per_file: dict[str, int] = {}
    for ps in plan.sources:
        if ps.status == "recognized":
            per_file[ps.rel] = per_file.get(ps.rel, 0) + 1
    seen_tables: set[str] = set()
    for ps in plan.sources:
        fr = FileReport(file=ps.rel, sheet=ps.sheet, table=ps.table, recognized_by=ps.how,
                        score=round(ps.score, 3) if ps.score else None,
                        candidates=[c.to_dict() for c in ps.candidates], header_rows=list(ps.header_rows))
        if ps.source is not None:
            fr.encoding = ps.source.encoding_label or ps.source.encoding
        if ps.table is not None and tables is not None and ps.table not in tables:
            continue
        if ps.status == "failed":
            fr.status = "failed"
            fr.errors.append(_file_error(ps.error, ps.rel, ps.sheet))
            rep.files.append(fr)
            continue
        if ps.status == "empty":
            fr.status = "empty"
            fr.notices.append(message("EMPTY_FILE", file=ps.rel, sheet=ps.sheet))
            rep.files.append(fr)
            continue
        if ps.status in ("unrecognized", "ambiguous"):
            fr.status = ps.status
            detail = "; ".join(f"{c.table} {c.score:.2f}" for c in ps.candidates) or "—"
            m = message("TABLE_AMBIGUOUS" if ps.status == "ambiguous" else "TABLE_UNRECOGNIZED",
                        file=ps.rel, sheet=ps.sheet, detail=detail)
            (fr.errors if ps.status == "ambiguous" or fail_on_unrecognized else fr.notices).append(m)
            rep.files.append(fr)
            continue
        table = contracts[ps.table]
        seen_tables.add(table.name)
        label = ps.rel if per_file.get(ps.rel, 1) <= 1 or not ps.sheet else f"{ps.rel}#{ps.sheet}"
        try:  # a large CSV comes in chunks (privacy.readers.CSV_STREAM_BYTES), each added as read
            for part, raw in enumerate(iter_source(ps.source, table, ps.header_rows or None, ps.names or None)):
                session.add_raw(raw, ps.rel, label=label, file_report=fr, part=part)
                del raw
        except (HeaderError, RawReadError, UnicodeDecodeError) as e:
            fr.status = "failed"
            fr.errors.append(_file_error(e, ps.rel, ps.sheet))
            if fr not in rep.files:
                rep.files.append(fr)
            trep = session._table_report(table)
            trep.status = "failed"
            trep.file = trep.file or ps.rel
            trep.files.append(fr.label)
            trep.errors.append(fr.errors[-1])
            continue
        ps.source = None
    # a table with one failed file fails as a whole (fail closed: no partial table downstream)
    failed_tables = {f.table for f in rep.files if f.status == "failed" and f.table}
    for name in failed_tables:
        rep.tables[name].status = "failed"
    for name, table in contracts.items():
        if (tables is not None and name not in tables) or name in seen_tables:
            continue
        if not missing_ok:
            raise FileNotFoundError(f"{table.relative_path}: raw file missing for table {name}")
        rep.tables[name] = TableReport(table=name, file=table.relative_path, status="missing")
        rep.warnings.append(message("TABLE_MISSING", file=table.relative_path))
        stale = Path(out_dir) / "pseudonymized" / f"{name}.parquet"
        if stale.exists():
            stale.unlink()
    return session.finish(raise_on_undeclared=raise_on_undeclared, raise_on_error=raise_on_error)
