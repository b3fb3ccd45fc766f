"""Event alerts (紧急核查): new critical events found by cross-department data matching.

DESIGN §8 and issue 6. Zhejiang's provincial apps push such events to child directors' phones (a
parent's death, a guardian imprisoned, a newborn in a 低保 household …); the director visits to verify
and reports back. humiao lists them first on each community's visit list, whatever the score and
capacity, with the event as the reason (``serving.visit_lists.write_visit_lists(alerts=...)``).

Rules
-----
The rules are configuration: ``features/alert_rules.yaml`` (its header documents every key). A rule
reads one pseudonymized table, picks the rows that matter (``condition``), finds the person the row
is about (``person`` token column) and alerts each child for whom that person is the child, a parent,
the guardian or a household member (``who``), with a Chinese phrase (``template``) naming the event
and the relation, never a person: ``父亲于2025年11月被羁押``.

Time (DESIGN §6)
----------------
A fact counts only if it was **known** by ``as_of_date`` and became known **after** ``since`` (the
previous cycle's as-of date): ``since < known_date <= as_of_date``, and its ``event_date`` is not
after ``as_of_date``. ``known_date`` is the row's ``knowledge_date`` (the contract's rule, e.g. a
detention is known 14 days after it starts) unless the rule says otherwise (a death in the household
registry is known on its deregistration date; a newborn in a 低保 household when both the birth
registration and the allowance are known). Children and their links (parents, guardian, household)
are those known at ``as_of_date``: the children of the guardianship cohort (0–17, known to a
department, alive, not moved away; :func:`features.cohorts.create_children_table`).

Output
------
One row per child × event_code (the latest event of that rule; ties: the order of the rule's ``who``,
then its ``order_by``, e.g. the victim of an incident first), columns
:data:`ALERT_COLUMNS`. Children without a known place are kept under community
``features.build.UNPLACED`` (“（未定位）”), as in the feature matrix.

Verification results (核实结果)
-------------------------------
Each alert carries ``alert_id = "AL_" + sha256(child_token | event_code | event_date ISO)[:20]``
(:func:`alert_id`): stable across re-runs and across cycles (the same event of the same child always
gets the same id), so the review app can store a director's verification against it and match it
back later. Suggested record (stored by the review app, one row per verification, appended like visit
records, DESIGN §11.12): ``alert_id, child_token, event_code, event_date, verified_at (date),
verified_by (account), result`` ∈ {``属实``, ``不属实``, ``已有保障``, ``未见到儿童``},
``guardianship_assessment`` (良好/一般/监护不当/监护缺失, the visit categories), ``note`` (free text,
anonymized like 走访情况), ``referral`` (optional service). A verification with a guardianship
assessment is also appended to ``visit_records`` with a visit id derived from the ``alert_id`` so it
feeds the labels exactly as a visit. On key rotation the ids are recomputed from the new child token
through the same old→new token map that re-tokenizes the other stores.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from features.build import UNPLACED
from features.cohorts import create_children_table
from features.sources import (
    TABLE_COLUMNS,
    TABLE_DEPARTMENT,
    _to_date,
    fetch_df,
    open_sources,
    register_as_of_dates,
    sql_literal,
)
from features.spine import GRANDCHILD_RELATIONS

__all__ = [
    "ALERT_COLUMNS",
    "DEFAULT_RULES_PATH",
    "LIST_COLUMNS",
    "ROLES",
    "AlertRule",
    "AlertRuleError",
    "alert_counts",
    "alert_id",
    "event_alerts",
    "for_visit_lists",
    "load_rules",
]

DEFAULT_RULES_PATH = Path(__file__).with_name("alert_rules.yaml")

#: Columns of :func:`event_alerts`'s result, in order.
ALERT_COLUMNS = (
    "child_token",
    "community",
    "township",
    "district",
    "event_code",
    "event",
    "event_date",
    "source_department",
    "alert_id",
    "known_date",
    "as_of_date",
)
#: The columns ``serving.visit_lists.write_visit_lists`` accepts in its ``alerts`` table.
LIST_COLUMNS = (
    "child_token",
    "community",
    "township",
    "district",
    "event",
    "event_date",
    "alert_id",
    "as_of_date",
)

#: Relations of a person to a child, closest first (the order breaks ties between matches).
ROLES = ("child", "parent", "guardian", "household_member")
_PLACEHOLDERS_BUILTIN = ("who", "month", "date")
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_KEYS = {
    "code",
    "label",
    "source_department",
    "table",
    "person",
    "who",
    "condition",
    "child_condition",
    "event_date",
    "known_date",
    "max_age_days",
    "fields",
    "template",
    "template_self",
    "order_by",
}


class AlertRuleError(ValueError):
    """A rule of the configuration is malformed (the message names the rule and the key)."""


@dataclass(frozen=True)
class AlertRule:
    """One event rule (keys documented in ``features/alert_rules.yaml``)."""

    code: str
    label: str
    table: str
    person: str
    who: tuple[str, ...]
    template: str
    source_department: str = ""
    condition: str = "TRUE"
    child_condition: str = "TRUE"
    event_date: str = "s.knowledge_date"
    known_date: str = "s.knowledge_date"
    max_age_days: int | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    template_self: str | None = None
    order_by: str = "0"

    @classmethod
    def from_dict(cls, d: Mapping) -> AlertRule:
        name = d.get("code", "?")
        unknown = set(d) - _KEYS
        if unknown:
            raise AlertRuleError(f"alert rule {name!r}: unknown key(s) {sorted(unknown)}")
        for key in ("code", "label", "table", "person", "who", "template"):
            if not d.get(key):
                raise AlertRuleError(f"alert rule {name!r}: missing {key!r}")
        code = str(d["code"])
        if not _CODE_RE.match(code):
            raise AlertRuleError(f"alert rule {code!r}: code must be lower_snake_case")
        table = str(d["table"])
        if table not in TABLE_COLUMNS:
            raise AlertRuleError(f"alert rule {code!r}: unknown table {table!r}")
        person = str(d["person"])
        if person not in TABLE_COLUMNS[table] or not person.endswith("_token"):
            raise AlertRuleError(f"alert rule {code!r}: {person!r} is not a token column of {table}")
        who = (d["who"],) if isinstance(d["who"], str) else tuple(d["who"])
        bad = [w for w in who if w not in ROLES]
        if bad or not who:
            raise AlertRuleError(f"alert rule {code!r}: who must be among {ROLES}, got {bad or who}")
        fields = {str(k): str(v) for k, v in (d.get("fields") or {}).items()}
        clash = set(fields) & set(_PLACEHOLDERS_BUILTIN)
        if clash:
            raise AlertRuleError(f"alert rule {code!r}: fields may not be named {sorted(clash)}")
        max_age = d.get("max_age_days")
        rule = cls(
            code=code,
            label=str(d["label"]),
            table=table,
            person=person,
            who=who,
            template=str(d["template"]),
            source_department=str(d.get("source_department") or TABLE_DEPARTMENT.get(table, "")),
            condition=str(d.get("condition") or "TRUE"),
            child_condition=str(d.get("child_condition") or "TRUE"),
            event_date=str(d.get("event_date") or "s.knowledge_date"),
            known_date=str(d.get("known_date") or "s.knowledge_date"),
            max_age_days=None if max_age is None else int(max_age),
            fields=fields,
            template_self=None if d.get("template_self") is None else str(d["template_self"]),
            order_by=str(d.get("order_by") or "0"),
        )
        allowed = set(_PLACEHOLDERS_BUILTIN) | set(fields)
        for tpl in (rule.template, rule.template_self):
            if tpl is None:
                continue
            names = {n for _, n, _, _ in string.Formatter().parse(tpl) if n is not None}
            if names - allowed:
                raise AlertRuleError(
                    f"alert rule {code!r}: unknown template field(s) {sorted(names - allowed)}"
                )
        return rule


def load_rules(rules: str | Path | Sequence[Mapping | AlertRule] | None = None) -> list[AlertRule]:
    """The alert rules: from a YAML file (``{rules: [...]}`` or a list), a list of dicts/rules, or the
    default ``features/alert_rules.yaml``. Codes must be unique."""
    if rules is None:
        rules = DEFAULT_RULES_PATH
    if isinstance(rules, str | Path):
        doc = yaml.safe_load(Path(rules).read_text(encoding="utf-8"))
        items = doc.get("rules", []) if isinstance(doc, Mapping) else doc
    else:
        items = list(rules)
    out = [r if isinstance(r, AlertRule) else AlertRule.from_dict(r) for r in items or []]
    codes = [r.code for r in out]
    dup = sorted({c for c in codes if codes.count(c) > 1})
    if dup:
        raise AlertRuleError(f"duplicate alert rule code(s) {dup}")
    return out


def alert_id(child_token: str, event_code: str, event_date: dt.date) -> str:
    """The stable id of an alert: ``"AL_" + sha256("<child_token>|<event_code>|<YYYY-MM-DD>")[:20]``.

    Same formula as the SQL of :func:`event_alerts` (a test checks they agree)."""
    raw = f"{child_token}|{event_code}|{_to_date(event_date).isoformat()}"
    return "AL_" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:20]


# ----------------------------------------------------------------------------------------------
# SQL
# ----------------------------------------------------------------------------------------------


def _bind(sql: str, as_of: dt.date, since: dt.date) -> str:
    return sql.replace("{as_of}", f"DATE {sql_literal(as_of.isoformat())}").replace(
        "{since}", f"DATE {sql_literal(since.isoformat())}"
    )


def _template_sql(template: str, exprs: Mapping[str, str]) -> str:
    """Compile ``"{who}于{month}被羁押"`` into a SQL string concatenation of literals and expressions."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            parts.append(sql_literal(literal))
        if name is not None:
            parts.append(f"COALESCE(CAST(({exprs[name]}) AS VARCHAR), '')")
    return " || ".join(parts) if parts else "''"


def _create_links(con: duckdb.DuckDBPyConnection) -> None:
    """``hm_alert_links(child_token, token, role, who)``: the people around each child at the as-of
    date (one row per role they hold), each with the relation word used in phrases."""
    grandchild = ", ".join(sql_literal(r) for r in GRANDCHILD_RELATIONS)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE hm_alert_links AS
        WITH reg_guardian AS (
            SELECT c.child_token, r.guardian_token, r.guardian_relation
            FROM hm_alert_children c JOIN src_child_registry r
              ON r.child_token = c.child_token AND r.knowledge_date <= c.as_of_date
             AND r.registered_date <= c.as_of_date AND r.guardian_token IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY c.child_token
                    ORDER BY r.registered_date DESC, r.knowledge_date DESC, r.source_row DESC) = 1
        ),
        head AS (  -- the head of each current household, for "the head's parents are grandparents"
            SELECT household_token, ANY_VALUE(person_token) AS head_token
            FROM hm_hh_current WHERE relation_to_head = '户主' GROUP BY household_token
        ),
        member_rel AS (
            SELECT c.child_token, m.person_token AS token,
                   CASE
                     WHEN c.relation_to_head IN ({grandchild}) AND m.relation_to_head IN ('户主', '配偶') THEN
                       (CASE WHEN c.relation_to_head LIKE '外%' THEN '外' ELSE '' END)
                       || (CASE p.sex WHEN '男' THEN '祖父' WHEN '女' THEN '祖母' END)
                     WHEN c.relation_to_head IN ('子', '女') AND m.relation_to_head IN ('父亲', '母亲') THEN
                       (CASE WHEN hp.sex = '女' THEN '外' ELSE '' END)
                       || (CASE m.relation_to_head WHEN '父亲' THEN '祖父' ELSE '祖母' END)
                   END AS rel_word
            FROM hm_alert_children c
            JOIN hm_hh_current m
              ON m.household_token = c.household_token AND m.person_token <> c.child_token
            LEFT JOIN hm_person p ON p.person_token = m.person_token
            LEFT JOIN head h ON h.household_token = c.household_token
            LEFT JOIN hm_person hp ON hp.person_token = h.head_token
        ),
        l AS (
            SELECT child_token, child_token AS token, 'child' AS role FROM hm_alert_children
            UNION ALL
            SELECT child_token, token, role FROM hm_links
            WHERE role IN ('parent', 'guardian') AND token <> child_token
            UNION ALL
            SELECT child_token, token, 'household_member' FROM hm_links
            WHERE role = 'household_member' AND token <> child_token
        ),
        is_parent AS (SELECT DISTINCT child_token, token FROM hm_links WHERE role = 'parent')
        -- the relation word depends on the person, not on the role the rule matched
        SELECT DISTINCT l.child_token, l.token, l.role,
               CASE
                 WHEN l.token = l.child_token THEN '儿童'
                 WHEN ip.token IS NOT NULL THEN
                   CASE p.sex WHEN '男' THEN '父亲' WHEN '女' THEN '母亲' ELSE '父母一方' END
                 WHEN g.guardian_relation IN ('父亲', '母亲', '祖父', '祖母', '外祖父', '外祖母')
                   THEN g.guardian_relation
                 WHEN mr.rel_word IS NOT NULL THEN mr.rel_word
                 WHEN g.guardian_token IS NOT NULL OR l.role = 'guardian' THEN '监护人'
                 ELSE '同住家庭成员'
               END AS who
        FROM l
        LEFT JOIN is_parent ip ON ip.child_token = l.child_token AND ip.token = l.token
        LEFT JOIN hm_person p ON p.person_token = l.token
        LEFT JOIN reg_guardian g ON g.child_token = l.child_token AND g.guardian_token = l.token
        LEFT JOIN member_rel mr ON mr.child_token = l.child_token AND mr.token = l.token
        """
    )


def _rule_sql(rule: AlertRule, as_of: dt.date, since: dt.date) -> str:
    b = lambda s: _bind(s, as_of, since)  # noqa: E731
    event_date = f"CAST(({b(rule.event_date)}) AS DATE)"
    known_date = f"CAST(({b(rule.known_date)}) AS DATE)"
    exprs = {
        "who": "l.who",
        "month": f"strftime({event_date}, '%Y年%-m月')",
        "date": f"strftime({event_date}, '%Y年%-m月%-d日')",
        **{k: b(v) for k, v in rule.fields.items()},
    }
    phrase = _template_sql(rule.template, exprs)
    if rule.template_self is not None:
        phrase = (
            f"CASE WHEN l.role = 'child' THEN {_template_sql(rule.template_self, exprs)} ELSE {phrase} END"
        )
    roles = ", ".join(sql_literal(r) for r in rule.who)
    # ties between matches of one child: the rule's `who` order (e.g. name the missing guardian
    # rather than the child the incident was filed under)
    priority = (
        "CASE l.role " + " ".join(f"WHEN {sql_literal(r)} THEN {i}" for i, r in enumerate(rule.who)) + " END"
    )
    age = ""
    if rule.max_age_days is not None:
        age = f" AND {event_date} > DATE {sql_literal(as_of.isoformat())} - INTERVAL {int(rule.max_age_days)} DAY"
    return f"""
        SELECT c.child_token, {sql_literal(rule.code)} AS event_code, {event_date} AS event_date,
               {known_date} AS known_date, {phrase} AS event, {sql_literal(rule.source_department)} AS source_department,
               {priority} AS priority, ({b(rule.order_by)}) AS tie, s.source_row
        FROM src_{rule.table} s
        JOIN hm_alert_links l ON l.token = s.{rule.person} AND l.role IN ({roles})
        JOIN hm_alert_children c ON c.child_token = l.child_token
        WHERE s.knowledge_date <= c.as_of_date
          AND ({b(rule.condition)})
          AND ({b(rule.child_condition)})
          AND {known_date} > DATE {sql_literal(since.isoformat())}
          AND {known_date} <= c.as_of_date
          AND {event_date} <= c.as_of_date{age}
    """


def event_alerts(
    pseudo_dir: str | Path,
    as_of_date: dt.date,
    *,
    since: dt.date,
    rules: str | Path | Sequence[Mapping | AlertRule] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """Children with a new critical event known in ``(since, as_of_date]`` (module docstring).

    Parameters
    ----------
    pseudo_dir : str or Path
        Pseudonymized Parquet folder (interfaces §2).
    as_of_date : datetime.date
        The cycle's as-of date: only facts known by then, children and links as of then.
    since : datetime.date
        The previous cycle's as-of date: facts already known by then were alerted before.
    rules : path, list of dicts/:class:`AlertRule`, or None
        The rules (default ``features/alert_rules.yaml``).
    con : duckdb.DuckDBPyConnection, optional
        Connection to reuse (temporary tables ``hm_*`` are (re)created in it).

    Returns
    -------
    pandas.DataFrame
        :data:`ALERT_COLUMNS`: ``child_token, community, township, district`` (“（未定位）” when
        unknown), ``event_code, event`` (Chinese phrase), ``event_date, known_date, as_of_date``
        (``datetime.date``), ``source_department`` (民政/公安/…), ``alert_id`` (:func:`alert_id`).
        One row per child and event_code; sorted by district, township, community, event_date
        (newest first), event_code, child_token.
    """
    as_of_date = _to_date(as_of_date)
    since = _to_date(since)
    if since >= as_of_date:
        raise ValueError(f"since ({since}) must be before as_of_date ({as_of_date})")
    rule_list = load_rules(rules)
    con = open_sources(pseudo_dir, con)
    register_as_of_dates(con, [as_of_date])
    create_children_table(con)  # hm_children (both cohorts' union), hm_links, hm_person, hm_first_known …
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE hm_alert_children AS
        SELECT c.as_of_date, c.child_token, c.birth_month, c.age_months, c.household_token, c.relation_to_head,
               c.district, c.township, c.community, f.first_known
        FROM hm_children c LEFT JOIN hm_first_known f ON f.token = c.child_token
        WHERE c.in_cohort_guardianship
        """
    )
    _create_links(con)
    if not rule_list:
        return _empty()
    union = "\nUNION ALL\n".join(_rule_sql(r, as_of_date, since) for r in rule_list)
    unplaced = sql_literal(UNPLACED)
    sql = f"""
        WITH hits AS ({union}),
        best AS (
            SELECT * FROM hits
            QUALIFY row_number() OVER (PARTITION BY child_token, event_code
                    ORDER BY event_date DESC, priority, tie, known_date DESC, source_row DESC, event) = 1
        )
        SELECT b.child_token,
               COALESCE(c.community, {unplaced}) AS community,
               COALESCE(c.township, {unplaced}) AS township,
               COALESCE(c.district, {unplaced}) AS district,
               b.event_code, b.event, b.event_date, b.source_department,
               'AL_' || sha256(b.child_token || '|' || b.event_code || '|' || strftime(b.event_date, '%Y-%m-%d'))[:20]
                   AS alert_id,
               b.known_date, c.as_of_date
        FROM best b JOIN hm_alert_children c USING (child_token)
        ORDER BY district, township, community, event_date DESC, event_code, child_token
    """
    df = fetch_df(con, sql, ("event_date", "known_date", "as_of_date"))
    return df[list(ALERT_COLUMNS)].reset_index(drop=True)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ALERT_COLUMNS})


def for_visit_lists(alerts: pd.DataFrame) -> pd.DataFrame:
    """The columns of ``alerts`` that ``serving.visit_lists.write_visit_lists(alerts=...)`` accepts
    (:data:`LIST_COLUMNS`; it refuses unknown columns)."""
    return alerts[[c for c in LIST_COLUMNS if c in alerts.columns]].copy()


def alert_counts(
    alerts: pd.DataFrame, rules: str | Path | Sequence[Mapping | AlertRule] | None = None
) -> pd.DataFrame:
    """Alerts per rule (every configured rule, zero included): ``event_code, label, alerts``."""
    rule_list = load_rules(rules)
    counts = alerts["event_code"].value_counts() if len(alerts) else pd.Series(dtype="int64")
    return pd.DataFrame(
        {
            "event_code": [r.code for r in rule_list],
            "label": [r.label for r in rule_list],
            "alerts": [int(counts.get(r.code, 0)) for r in rule_list],
        }
    )
