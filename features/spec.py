"""The feature specification: declarative aggregations in the style of triage's ``collate``.

Everything here is *data* (frozen dataclasses of strings, numbers and tuples); :mod:`features.collate`
compiles it to DuckDB SQL, and another backend (Spark, Ibis) could compile the same objects.

An :class:`Aggregation` says: from ``source`` (a pseudonymized table), reach the child through
``entity`` (the child itself, or the child's students / parents / guardians / household members /
household adults, see :func:`features.spine.create_links`) by the source's ``key`` column; a row is
usable at an as-of date ``d`` only if the latest of its ``knowledge_columns`` is ``<= d`` and its
``date_column`` is ``<= d``; each :class:`Metric` is computed over each interval
``(d - interval, d]`` (or over all history for ``"all"``, or as a state at ``d`` when the metric has
no intervals). Names are ``<family>_<metric>_<interval suffix>`` (``3 months`` → ``3m``), state
metrics ``<family>_<metric>``; a metric imputed ``nan_flag`` also produces ``<name>_missing``.

Metric functions (column = the metric's ``column``; P = its ``where`` predicates):

=====================  =============================================================  ==========
function               value                                                          imputation
=====================  =============================================================  ==========
count                  rows with P                                                    zero
count_distinct         distinct values of column among rows with P                    zero
sum / max / min / avg  of column                                                      zero / nan
any                    1 if any row with P                                            zero
days_since_latest      days from the latest date with P to d                          nan_flag
months_since_latest    calendar months from the latest date with P to d               nan_flag
months_since_earliest  calendar months from the earliest date with P to d             nan_flag
active_any             1 if a row with P has started (date <= d) and not ended        zero
                       (``end_column`` NULL or > d)
active_count           distinct ``column`` values (default the key) of active rows    zero
active_max             max of column over active rows                                 zero
latest_in              1 if the latest row's column value is in ``choices``           zero
latest_mapped          ``mapping[value]`` of the latest row's column                  nan_flag
max_mapped             max of ``mapping[value]`` over rows                            zero
=====================  =============================================================  ==========

"Latest" orders rows by (date, knowledge_date, source_row). Predicates may compare to the as-of
date with the value :data:`AS_OF`.

A :class:`Derived` feature is arithmetic on other features (ratio, change vs the prior period,
restriction to an age range), also data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

AS_OF = "__AS_OF__"  #: predicate value standing for the as-of date

ENTITIES = ("child", "student", "parent", "guardian", "household_member", "household_adult")

FUNCTIONS_ZERO = {
    "count", "count_distinct", "sum", "any", "active_any", "active_count", "active_max",
    "latest_in", "max_mapped",
}
FUNCTIONS_NAN_FLAG = {"days_since_latest", "months_since_latest", "months_since_earliest", "latest_mapped"}
FUNCTIONS_NAN = {"max", "min", "avg"}
FUNCTIONS = FUNCTIONS_ZERO | FUNCTIONS_NAN_FLAG | FUNCTIONS_NAN
OPS = {"eq", "ne", "in", "not_in", "contains_any", "le", "lt", "ge", "gt", "is_null", "not_null",
       "null_or_gt", "is_true", "is_false", "not_startswith"}


@dataclass(frozen=True)
class Predicate:
    """A row filter: ``column <op> value`` (ops: see :data:`OPS`; ``contains_any`` = substring match)."""

    column: str
    op: str
    value: object = None

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"unknown predicate op {self.op!r}")


@dataclass(frozen=True)
class Metric:
    """One aggregate of an :class:`Aggregation` (see the module docstring for ``function``)."""

    name: str
    function: str
    description_zh: str
    reason_zh: str
    unit: str
    column: str | None = None
    where: tuple[Predicate, ...] = ()
    end_column: str | None = None
    mapping: tuple[tuple[str, float], ...] = ()
    choices: tuple = ()
    intervals: tuple[str, ...] | None = None  # None → the aggregation's; () → state at as-of date
    imputation: str | None = None  # zero | nan | nan_flag; default by function
    monotone: int = 0

    def __post_init__(self):
        if self.function not in FUNCTIONS:
            raise ValueError(f"unknown metric function {self.function!r}")
        if self.function.startswith("active") and not self.end_column:
            raise ValueError(f"{self.name}: {self.function} needs end_column")

    @property
    def resolved_imputation(self) -> str:
        if self.imputation:
            return self.imputation
        if self.function in FUNCTIONS_ZERO:
            return "zero"
        if self.function in FUNCTIONS_NAN_FLAG:
            return "nan_flag"
        return "nan"


@dataclass(frozen=True)
class Aggregation:
    """Aggregations of one source table reached through one entity (triage: a ``feature_aggregation``)."""

    family: str
    source: str
    entity: str
    key: str
    date_column: str
    metrics: tuple[Metric, ...]
    intervals: tuple[str, ...] = ("all",)
    knowledge_columns: tuple[str, ...] = ("knowledge_date",)
    where: tuple[Predicate, ...] = ()
    sensitive: bool = False
    sensitive_reason_zh: str = ""
    name: str = ""  # unique id of the aggregation (default: family + source + entity)

    def __post_init__(self):
        if self.entity not in ENTITIES:
            raise ValueError(f"unknown entity {self.entity!r}")
        for i in self.intervals:
            interval_suffix(i)

    @property
    def id(self) -> str:
        return self.name or f"{self.family}_{self.source}_{self.entity}"


@dataclass(frozen=True)
class Derived:
    """A feature computed from other features of the same row.

    kinds: ``ratio`` (inputs[0] / inputs[1], NaN when the denominator is 0 or missing),
    ``change`` (short - (long - short): the last period minus the one before; inputs = (short, long)),
    ``below_age`` (inputs[0] where inputs[1] < threshold, else NaN),
    ``flag_missing_below_age`` (1 if inputs[0] is missing and inputs[1] < threshold, else 0).
    """

    name: str
    family: str
    kind: str
    inputs: tuple[str, ...]
    description_zh: str
    reason_zh: str
    unit: str
    source_department: str
    threshold: float | None = None
    monotone: int = 0
    sensitive: bool = False
    sensitive_reason_zh: str = ""


@dataclass(frozen=True)
class FeatureDoc:
    """Dictionary entry of a feature computed by hand-written (still set-based) SQL in collate."""

    name: str
    family: str
    description_zh: str
    reason_zh: str
    unit: str
    source_department: str
    monotone: int = 0
    sensitive: bool = False
    sensitive_reason_zh: str = ""


@dataclass(frozen=True)
class FeatureSpec:
    aggregations: tuple[Aggregation, ...]
    derived: tuple[Derived, ...] = ()
    custom: tuple[FeatureDoc, ...] = field(default_factory=tuple)


_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*(day|days|week|weeks|month|months|year|years)\s*$")


def parse_interval(interval: str) -> tuple[int, str]:
    """``'3 months'`` → ``(3, 'MONTH')``; raises ValueError on anything else than N day/week/month/year."""
    m = _INTERVAL_RE.match(interval)
    if not m:
        raise ValueError(f"bad interval {interval!r}: expected 'all' or 'N days|weeks|months|years'")
    unit = m.group(2).rstrip("s").upper()
    return int(m.group(1)), unit


def interval_suffix(interval: str) -> str:
    """Feature-name suffix: ``'all'`` → ``all``, ``'3 months'`` → ``3m``, ``'90 days'`` → ``90d``."""
    if interval == "all":
        return "all"
    n, unit = parse_interval(interval)
    return f"{n}{ {'DAY': 'd', 'WEEK': 'w', 'MONTH': 'm', 'YEAR': 'y'}[unit]}"


def interval_zh(interval: str) -> str:
    """Chinese phrase for an interval: ``'3 months'`` → ``近3个月``, ``'all'`` → ``累计``."""
    if interval == "all":
        return "累计"
    n, unit = parse_interval(interval)
    return f"近{n}{ {'DAY': '天', 'WEEK': '周', 'MONTH': '个月', 'YEAR': '年'}[unit]}"


def categorical(
    name: str,
    category_column: str,
    choices: Mapping[str, tuple[str, str]],
    *,
    function: str = "count",
    description_zh: str,
    reason_zh: str,
    unit: str,
    where: tuple[Predicate, ...] = (),
    monotone: int = 0,
    **kwargs,
) -> tuple[Metric, ...]:
    """Expand a categorical column into one metric per choice (triage ``categoricals``).

    ``choices`` maps a value to ``(code, label_zh)``; metric names are ``f"{name}_{code}"`` and
    ``{choice}`` in the texts is replaced by ``label_zh``.
    """
    return tuple(
        Metric(
            name=f"{name}_{code}" if name else code,
            function=function,
            description_zh=description_zh.replace("{choice}", label),
            reason_zh=reason_zh.replace("{choice}", label),
            unit=unit,
            where=(*where, Predicate(category_column, "eq", value)),
            monotone=monotone,
            **kwargs,
        )
        for value, (code, label) in choices.items()
    )


# --------------------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------------------

REGISTRY_CATEGORIES = {
    "孤儿": ("orphan", "孤儿"),
    "事实无人抚养儿童": ("de_facto_unsupported", "事实无人抚养儿童"),
    "留守儿童": ("left_behind", "留守儿童"),
    "重病重残儿童": ("ill_disabled", "重病重残儿童"),
    "低保家庭儿童": ("subsistence_family", "低保家庭儿童"),
    "其他困境儿童": ("other", "其他困境儿童"),
}
#: Priority of registry categories when a child has several active ones (serving column).
REGISTRY_PRIORITY = ("孤儿", "事实无人抚养儿童", "重病重残儿童", "留守儿童", "低保家庭儿童", "其他困境儿童")

INCIDENT_CATEGORIES = {
    "家庭暴力": ("domestic_violence", "家庭暴力"),
    "儿童走失": ("child_missing", "儿童走失"),
    "监护人失联": ("guardian_missing", "监护人失联"),
    "遗弃": ("abandonment", "遗弃"),
    "打架斗殴": ("fight", "打架斗殴"),
    "盗窃": ("theft", "盗窃"),
    "交通事故": ("traffic", "交通事故"),
    "其他": ("other", "其他"),
}
ASSESSMENT_CODES = (("良好", 0.0), ("一般", 1.0), ("监护不当", 2.0), ("监护缺失", 3.0))
DISABILITY_SEVERITY = (("一级", 4.0), ("二级", 3.0), ("三级", 2.0), ("四级", 1.0))
GRANDPARENT_RELATIONS = ("祖父", "祖母", "外祖父", "外祖母")

#: Keyword groups searched in the anonymized visit notes (走访情况).
NOTE_KEYWORDS = {
    "hospital": (("住院", "生病", "病重", "看病", "医院"), "提到住院或生病"),
    "migrant_work": (("务工", "打工", "外出", "在外地"), "提到外出务工"),
    "unattended": (("无人", "独自", "一个人在家", "没人管", "无人照看"), "提到无人照料"),
    "beating": (("打骂", "殴打", "打孩子", "伤痕", "体罚"), "提到打骂或伤痕"),
    "school_problem": (("辍学", "逃学", "不上学", "厌学"), "提到辍学或厌学"),
    "drinking": (("酗酒", "喝酒", "醉酒", "赌博"), "提到酗酒或赌博"),
    "conflict": (("吵架", "离婚", "矛盾", "分居"), "提到家庭矛盾"),
}

SENSITIVE_DISABILITY = "残疾是需要支持的需求，不是过错：用于及早发现照料压力并链接康复、护理等帮扶资源。"
SENSITIVE_ILLNESS = "疾病是需要支持的需求，不是过错：监护人住院时儿童可能暂时无人照料，需要上门确认。"
SENSITIVE_POVERTY = "经济困难是需要支持的需求，不是过错：用于链接救助，不用于评判家庭。"
SENSITIVE_POLICE = "警情记录说明家庭可能需要保护和帮助，不是对家庭的定性或指控；仅用于安排上门关心。"
SENSITIVE_DETENTION = "父母或监护人被羁押意味着儿童可能缺少照料，是需要帮扶的情形，不是对儿童的评判。"
SENSITIVE_DEATH = "失去父母或监护人是需要关爱的情形，不是对家庭的评判。"
SENSITIVE_HUKOU = "户籍类型用于识别流动和留守儿童的帮扶需要，不是对任何群体的评判。"

_COUNT = "次"
_DAYS = "天"
_MONTHS = "月"
_FLAG = "是/否"
_PERSONS = "人"


def _m(name, function, desc, reason, unit, **kw) -> Metric:
    return Metric(name=name, function=function, description_zh=desc, reason_zh=reason, unit=unit, **kw)


P = Predicate

# --------------------------------------------------------------------------------------------
# The aggregations
# --------------------------------------------------------------------------------------------

AGGREGATIONS: tuple[Aggregation, ...] = (
    # 民政 台账: registry categories, months since registered
    Aggregation(
        family="registry", source="child_registry", entity="child", key="child_token",
        date_column="registered_date", intervals=("all",),
        metrics=(
            _m("active_any", "active_any", "当前在困境儿童台账中", "已登记为困境儿童", _FLAG,
               end_column="closed_date", intervals=()),
            *categorical("active", "category", REGISTRY_CATEGORIES, function="active_any",
                         end_column="closed_date", intervals=(),
                         description_zh="当前登记为{choice}", reason_zh="已登记为{choice}", unit=_FLAG),
            _m("guardian_grandparent", "active_any", "台账监护人为祖父母或外祖父母", "由祖辈监护", _FLAG,
               end_column="closed_date", intervals=(),
               where=(P("guardian_relation", "in", GRANDPARENT_RELATIONS),)),
            _m("guardian_institution", "active_any", "台账监护人为福利机构", "由福利机构监护", _FLAG,
               end_column="closed_date", intervals=(), where=(P("guardian_relation", "eq", "福利机构"),)),
            _m("months_since_first", "months_since_earliest", "距首次登记为困境儿童的月数",
               "登记为困境儿童已{value:.0f}个月", _MONTHS),
            _m("months_since_latest", "months_since_latest", "距最近一次登记困境儿童的月数",
               "最近一次登记在{value:.0f}个月前", _MONTHS),
            _m("entries", "count", "{interval_zh}台账登记条数", "{interval_zh}台账登记{value:.0f}条", "条"),
            _m("closed", "count", "{interval_zh}已注销的台账登记条数", "有{value:.0f}条登记已注销", "条",
               where=(P("closed_date", "le", AS_OF),)),
        ),
    ),
    # 公安 户籍: death of a parent or guardian
    Aggregation(
        family="guardian", source="household_registry", entity="guardian", key="person_token",
        date_column="deregistered_date", knowledge_columns=("knowledge_date", "deregistered_date"),
        where=(P("deregistration_reason", "eq", "死亡"),), intervals=("12 months", "all"),
        sensitive=True, sensitive_reason_zh=SENSITIVE_DEATH,
        metrics=(
            _m("deceased", "count_distinct", "{interval_zh}去世的父母或监护人人数",
               "{interval_zh}有{value:.0f}位父母或监护人去世", _PERSONS, column="person_token", monotone=1),
            _m("months_since_death", "months_since_latest", "距父母或监护人去世的月数",
               "父母或监护人于{value:.0f}个月前去世", _MONTHS, intervals=("all",)),
        ),
    ),
    # 司法 羁押服刑: parent or guardian in custody
    Aggregation(
        family="detention", source="detention_records", entity="guardian", key="person_token",
        date_column="start_date", intervals=("all",),
        sensitive=True, sensitive_reason_zh=SENSITIVE_DETENTION,
        metrics=(
            _m("active_count", "active_count", "当前被羁押或服刑的父母或监护人人数",
               "有{value:.0f}位父母或监护人正在羁押或服刑", _PERSONS, end_column="released_date",
               column="person_token", intervals=(), monotone=1),
            _m("ever_count", "count_distinct", "曾被羁押的父母或监护人人数",
               "有{value:.0f}位父母或监护人曾被羁押", _PERSONS, column="person_token"),
            _m("months_since_start", "months_since_latest", "距父母或监护人最近一次被羁押的月数",
               "父母或监护人{value:.0f}个月前被羁押", _MONTHS),
        ),
    ),
    # 卫健 住院: guardian and household adults
    Aggregation(
        family="guardian", source="inpatient_admissions", entity="guardian", key="person_token",
        date_column="admission_date", intervals=("3 months", "12 months"),
        sensitive=True, sensitive_reason_zh=SENSITIVE_ILLNESS,
        metrics=(
            _m("admissions", "count", "{interval_zh}父母或监护人住院次数",
               "{interval_zh}父母或监护人住院{value:.0f}次", _COUNT, monotone=1),
            _m("inpatient_now", "active_count", "当前正在住院的父母或监护人人数",
               "父母或监护人正在住院", _PERSONS, end_column="discharge_date", column="person_token",
               intervals=(), monotone=1),
        ),
    ),
    Aggregation(
        family="household", source="inpatient_admissions", entity="household_adult", key="person_token",
        date_column="admission_date", intervals=("12 months",),
        sensitive=True, sensitive_reason_zh=SENSITIVE_ILLNESS,
        metrics=(
            _m("adult_admissions", "count", "{interval_zh}同户成年人住院次数",
               "{interval_zh}家中成年人住院{value:.0f}次", _COUNT, monotone=1),
            _m("adults_inpatient_now", "active_count", "当前正在住院的同户成年人人数",
               "家中有{value:.0f}位成年人正在住院", _PERSONS, end_column="discharge_date",
               column="person_token", intervals=()),
        ),
    ),
    # 民政 低保: the household head (any member of the child's household, or the child) on allowance
    Aggregation(
        family="subsistence", source="subsistence_allowance", entity="household_member", key="head_token",
        date_column="start_date", intervals=("all",),
        sensitive=True, sensitive_reason_zh=SENSITIVE_POVERTY,
        metrics=(
            _m("active", "active_any", "家庭当前享受低保", "家庭享受低保", _FLAG, end_column="end_date",
               intervals=(), where=(P("allowance_type", "eq", "低保"),)),
            _m("near_active", "active_any", "家庭当前为低保边缘户", "家庭为低保边缘户", _FLAG,
               end_column="end_date", intervals=(), where=(P("allowance_type", "eq", "低保边缘"),)),
            _m("amount", "active_max", "家庭当前月保障金额（元）", "月保障金{value:.0f}元", "元",
               column="monthly_amount", end_column="end_date", intervals=()),
            _m("months_on", "months_since_earliest", "家庭本轮享受低保或低保边缘的月数",
               "享受低保已{value:.0f}个月", _MONTHS, where=(P("end_date", "null_or_gt", AS_OF),)),
            _m("spells", "count", "家庭历次低保或低保边缘记录数", "有{value:.0f}次低保记录", "次"),
        ),
    ),
    # 残联: disability certificate of the child
    Aggregation(
        family="disability", source="disability_certificates", entity="child", key="person_token",
        date_column="issued_date", intervals=("all",),
        sensitive=True, sensitive_reason_zh=SENSITIVE_DISABILITY,
        metrics=(
            _m("child_certificate", "any", "儿童持有残疾人证", "儿童有残疾，需要康复和照料支持", _FLAG),
            _m("child_severity", "max_mapped", "儿童残疾程度（一级=4 … 四级=1，无证=0）",
               "儿童残疾等级较重（{value:.0f}/4）", "等级", column="grade", mapping=DISABILITY_SEVERITY),
            _m("child_intellectual_mental", "any", "儿童为智力、精神或多重残疾",
               "儿童有智力、精神或多重残疾", _FLAG, where=(P("category", "in", ("智力", "精神", "多重")),)),
        ),
    ),
    Aggregation(
        family="disability", source="disability_certificates", entity="household_adult", key="person_token",
        date_column="issued_date", intervals=("all",),
        sensitive=True, sensitive_reason_zh=SENSITIVE_DISABILITY,
        metrics=(
            _m("adults", "count_distinct", "持残疾人证的同户成年人人数", "家中有{value:.0f}位成年人残疾",
               _PERSONS, column="person_token"),
            _m("adults_severe", "count_distinct", "一、二级残疾的同户成年人人数",
               "家中有{value:.0f}位成年人重度残疾", _PERSONS, column="person_token",
               where=(P("grade", "in", ("一级", "二级")),)),
        ),
    ),
    Aggregation(
        family="disability", source="disability_certificates", entity="guardian", key="person_token",
        date_column="issued_date", intervals=("all",),
        sensitive=True, sensitive_reason_zh=SENSITIVE_DISABILITY,
        metrics=(
            _m("guardians_severe", "count_distinct", "一、二级残疾的父母或监护人人数",
               "有{value:.0f}位父母或监护人重度残疾", _PERSONS, column="person_token",
               where=(P("grade", "in", ("一级", "二级")),), monotone=1),
        ),
    ),
    # 教育 学籍: latest status, boarding, transfers
    Aggregation(
        family="school", source="student_enrollment", entity="child", key="child_token",
        date_column="status_date", intervals=("12 months", "all"),
        metrics=(
            _m("enrolled", "latest_in", "最新学籍状态为在读", "在校就读", _FLAG, column="status",
               choices=("在读",), intervals=()),
            _m("dropped_out", "latest_in", "最新学籍状态为辍学", "学籍显示辍学", _FLAG, column="status",
               choices=("辍学",), intervals=(), monotone=1),
            _m("suspended", "latest_in", "最新学籍状态为休学", "学籍显示休学", _FLAG, column="status",
               choices=("休学",), intervals=(), monotone=1),
            _m("boarding", "latest_in", "住校", "住校生", _FLAG, column="boarding", choices=(True,),
               intervals=()),
            _m("transfers", "count", "{interval_zh}转学次数", "{interval_zh}转学{value:.0f}次", _COUNT,
               where=(P("status", "eq", "转学"),)),
            _m("status_changes", "count", "{interval_zh}学籍状态变动次数", "{interval_zh}学籍变动{value:.0f}次",
               _COUNT, intervals=("12 months",)),
        ),
    ),
    # 教育 缺勤月报: windows on the knowledge date = the latest N monthly reports available
    Aggregation(
        family="school", source="attendance", entity="student", key="student_token",
        date_column="knowledge_date", intervals=("1 month", "3 months", "6 months", "12 months"),
        metrics=(
            _m("days_absent", "sum", "{interval_zh}已报送月份的缺勤天数合计", "{interval_zh}缺勤{value:.0f}天",
               _DAYS, column="days_absent", monotone=1),
            _m("school_days", "sum", "{interval_zh}已报送月份的应出勤天数合计",
               "{interval_zh}应出勤{value:.0f}天", _DAYS, column="school_days", intervals=("3 months",)),
            _m("months_high_absence", "count", "{interval_zh}缺勤5天及以上的月份数",
               "{interval_zh}有{value:.0f}个月缺勤5天以上", _MONTHS, where=(P("days_absent", "ge", 5),),
               intervals=("6 months", "12 months"), monotone=1),
        ),
    ),
    # 卫健 体检 / 伤害就诊
    Aggregation(
        family="health", source="child_health_checks", entity="child", key="child_token",
        date_column="check_date", intervals=("12 months", "all"),
        metrics=(
            _m("months_since_check", "months_since_latest", "距最近一次儿童健康体检的月数",
               "已{value:.0f}个月未体检", _MONTHS, intervals=("all",)),
            _m("checks", "count", "{interval_zh}体检次数", "{interval_zh}体检{value:.0f}次", _COUNT,
               intervals=("12 months",)),
            _m("late_checks", "count", "{interval_zh}未按时体检次数", "{interval_zh}{value:.0f}次未按时体检",
               _COUNT, where=(P("on_schedule", "is_false"),), intervals=("12 months",)),
        ),
    ),
    Aggregation(
        family="injury", source="injury_visits", entity="child", key="child_token",
        date_column="visit_date", intervals=("12 months", "all"),
        metrics=(
            _m("visits", "count", "{interval_zh}伤害就诊次数", "{interval_zh}因伤就诊{value:.0f}次", _COUNT,
               monotone=1),
            _m("burn_blunt", "count", "{interval_zh}烧烫伤或钝器伤就诊次数",
               "{interval_zh}烧烫伤或钝器伤就诊{value:.0f}次", _COUNT,
               where=(P("injury_type", "in", ("烧烫伤", "钝器伤")),), intervals=("12 months",)),
            _m("days_since", "days_since_latest", "距最近一次伤害就诊的天数", "{value:.0f}天前因伤就诊",
               _DAYS, intervals=("all",)),
        ),
    ),
    # 公安 警情: involving the child / the household
    Aggregation(
        family="police", source="incidents", entity="child", key="person_token",
        date_column="reported_at", intervals=("12 months", "all"),
        sensitive=True, sensitive_reason_zh=SENSITIVE_POLICE,
        metrics=(
            *categorical("child", "category", INCIDENT_CATEGORIES, function="count",
                         description_zh="{interval_zh}涉及儿童本人的{choice}警情次数",
                         reason_zh="{interval_zh}儿童涉及{choice}警情{value:.0f}次", unit=_COUNT),
            _m("child_days_since", "days_since_latest", "距最近一次涉及儿童本人警情的天数",
               "{value:.0f}天前儿童涉及警情", _DAYS, intervals=("all",)),
        ),
    ),
    Aggregation(
        family="police", source="incidents", entity="household_member", key="person_token",
        date_column="reported_at", intervals=("12 months",),
        sensitive=True, sensitive_reason_zh=SENSITIVE_POLICE,
        metrics=(
            *categorical("household", "category",
                         {k: v for k, v in INCIDENT_CATEGORIES.items() if k in ("家庭暴力", "监护人失联",
                                                                            "儿童走失", "遗弃", "打架斗殴")},
                         function="count_distinct", column="incident_id",
                         description_zh="{interval_zh}涉及同户成员的{choice}警情数",
                         reason_zh="{interval_zh}家中发生{choice}警情{value:.0f}起", unit=_COUNT),
            _m("household_any", "count_distinct", "{interval_zh}涉及同户成员的警情总数",
               "{interval_zh}家中警情{value:.0f}起", _COUNT, column="incident_id"),
            _m("household_days_since", "days_since_latest", "距最近一次涉及同户成员警情的天数",
               "{value:.0f}天前家中发生警情", _DAYS, intervals=("all",)),
        ),
    ),
    # 民政 走访记录: visit history
    Aggregation(
        family="visit", source="visit_records", entity="child", key="child_token",
        date_column="visit_date", intervals=("12 months", "all"),
        metrics=(
            _m("days_since_last", "days_since_latest", "距最近一次走访的天数", "已{value:.0f}天未走访", _DAYS,
               intervals=("all",)),
            _m("last_assessment", "latest_mapped", "最近一次监护评估（良好0、一般1、监护不当2、监护缺失3）",
               "最近一次监护评估等级{value:.0f}", "等级", column="guardianship_assessment",
               mapping=ASSESSMENT_CODES, intervals=(), monotone=1),
            _m("count", "count", "{interval_zh}走访次数", "{interval_zh}走访{value:.0f}次", _COUNT),
            _m("home_visits", "count", "{interval_zh}入户走访次数", "{interval_zh}入户走访{value:.0f}次", _COUNT,
               where=(P("visit_mode", "eq", "入户走访"),), intervals=("12 months",)),
            _m("fair", "count", "{interval_zh}监护评估为“一般”的次数", "{interval_zh}监护评估“一般”{value:.0f}次",
               _COUNT, where=(P("guardianship_assessment", "eq", "一般"),), intervals=("12 months",), monotone=1),
            _m("failures", "count", "{interval_zh}监护评估为监护不当或监护缺失的次数",
               "{interval_zh}{value:.0f}次评估为监护不当或缺失", _COUNT,
               where=(P("guardianship_assessment", "in", ("监护不当", "监护缺失")),), monotone=1),
        ),
    ),
    # 民政 走访情况 (anonymized free text): keyword signals
    Aggregation(
        family="notes", source="visit_records", entity="child", key="child_token",
        date_column="visit_date", intervals=("12 months", "all"),
        metrics=tuple(
            _m(code, "count", f"{{interval_zh}}走访记录中{label}的次数", f"{{interval_zh}}走访记录{label}{{value:.0f}}次",
               _COUNT, where=(P("notes", "contains_any", words),),
               intervals=None if code in ("hospital", "migrant_work", "unattended", "beating") else ("12 months",))
            for code, (words, label) in NOTE_KEYWORDS.items()
        ),
    ),
)


DERIVED: tuple[Derived, ...] = (
    Derived("school_absence_rate_3m", "school", "ratio", ("school_days_absent_3m", "school_school_days_3m"),
            "近3个月缺勤天数占应出勤天数的比例", "近3个月缺勤率{value:.0%}", "比例", "教育", monotone=1),
    Derived("school_absent_trend_3m", "school", "change", ("school_days_absent_3m", "school_days_absent_6m"),
            "近3个月缺勤天数减去之前3个月缺勤天数（正数表示缺勤增加）", "缺勤比之前3个月增加{value:.0f}天", _DAYS,
            "教育", monotone=1),
    Derived("health_months_since_check_under7", "health", "below_age",
            ("health_months_since_check_all", "demo_age_months"),
            "7岁以下儿童距最近一次体检的月数（7岁及以上为空）", "7岁以下儿童已{value:.0f}个月未体检", _MONTHS,
            "卫健", threshold=84, monotone=1),
    Derived("health_no_check_under7", "health", "flag_missing_below_age",
            ("health_months_since_check_all", "demo_age_months"),
            "7岁以下儿童没有任何已知体检记录", "7岁以下儿童无体检记录", _FLAG, "卫健", threshold=84, monotone=1),
)


CUSTOM: tuple[FeatureDoc, ...] = (
    FeatureDoc("demo_age_months", "demo", "截至评估日的年龄（月，按出生年月计）", "年龄{value:.0f}个月", _MONTHS, "公安"),
    FeatureDoc("demo_sex_male", "demo", "性别为男（1）或女（0），未知为空", "性别", _FLAG, "公安"),
    FeatureDoc("demo_hukou_agricultural", "demo", "户口性质为农业家庭户口", "农业户口", _FLAG, "公安",
               sensitive=True, sensitive_reason_zh=SENSITIVE_HUKOU),
    FeatureDoc("demo_hukou_nonlocal", "demo", "非本地户籍（仅有居住登记）", "非本地户籍的流动儿童", _FLAG, "公安",
               sensitive=True, sensitive_reason_zh=SENSITIVE_HUKOU),
    FeatureDoc("demo_hukou_unknown", "demo", "户籍信息未知", "户籍信息缺失", _FLAG, "公安"),
    FeatureDoc("demo_rural", "demo", "居住在村（农村，1）或社区（城镇，0），未知为空", "居住在农村", _FLAG, "民政"),
    FeatureDoc("household_members", "household", "同户在册人数（含儿童本人，无户籍为0）", "同户{value:.0f}人",
               _PERSONS, "公安"),
    FeatureDoc("household_adults", "household", "同户在册成年人数", "家中仅有{value:.0f}位成年人", _PERSONS, "公安",
               monotone=-1),
    FeatureDoc("household_elderly", "household", "同户在册65岁及以上老人数", "家中有{value:.0f}位65岁以上老人",
               _PERSONS, "公安"),
    FeatureDoc("household_siblings", "household", "同户在册的其他未成年人数", "家中另有{value:.0f}名未成年人",
               _PERSONS, "公安"),
    FeatureDoc("household_grandparent_only", "household", "同户成年人均为50岁及以上（隔代家庭）",
               "户内只有祖辈成年人（隔代家庭）", _FLAG, "公安", monotone=1),
    FeatureDoc("household_child_is_grandchild", "household", "儿童与户主关系为孙子女或外孙子女",
               "儿童登记在祖辈户内", _FLAG, "公安"),
    FeatureDoc("household_parents_present", "household", "父母中仍在同户在册的人数", "父母在户{value:.0f}人",
               _PERSONS, "公安", monotone=-1),
    FeatureDoc("household_months_since_moved_in", "household", "儿童迁入现户的月数", "迁入现户{value:.0f}个月",
               _MONTHS, "公安"),
    FeatureDoc("household_months_since_moved_in_missing", "household", "儿童没有在册户籍记录",
               "无本地户籍记录", _FLAG, "公安"),
    FeatureDoc("parents_known", "parents", "已识别的父母人数（户籍关系或台账监护人）", "已知父母{value:.0f}人",
               _PERSONS, "公安"),
    FeatureDoc("parents_away_months_6m", "parents", "近6个月父母中外地参保月数的最大值",
               "父母近6个月有{value:.0f}个月在外地参保", _MONTHS, "人社", monotone=1),
    FeatureDoc("parents_away_months_12m", "parents", "近12个月父母中外地参保月数的最大值",
               "父母近12个月有{value:.0f}个月在外地参保", _MONTHS, "人社", monotone=1),
    FeatureDoc("parents_away_count_6m", "parents", "近6个月外地参保3个月及以上的父母人数",
               "{value:.0f}位父母在外地工作", _PERSONS, "人社", monotone=1),
    FeatureDoc("parents_both_away_6m", "parents", "父母双方近6个月均在外地参保3个月及以上",
               "父母双方均在外地工作", _FLAG, "人社", monotone=1),
    FeatureDoc("parents_one_away_6m", "parents", "恰有一位父母近6个月在外地参保3个月及以上",
               "父母一方在外地工作", _FLAG, "人社"),
    FeatureDoc("parents_both_away_months_12m", "parents", "近12个月中父母双方同时在外地参保的月数",
               "父母双方同时在外地已{value:.0f}个月", _MONTHS, "人社", monotone=1),
    FeatureDoc("parents_local_insured_months_6m", "parents", "近6个月父母中在本市参保月数的最大值",
               "父母近6个月在本市参保{value:.0f}个月", _MONTHS, "人社", monotone=-1),
)

SPEC = FeatureSpec(aggregations=AGGREGATIONS, derived=DERIVED, custom=CUSTOM)
