"""Configuration of the simulated city: every rate, with the source it was calibrated from.

Each default carries a tag from ``shared/SIMULATOR_FACTS.md``: ``[Sn]`` a figure read in source *n*,
``≈`` a figure derived from sourced ones by arithmetic, ``⚠`` an assumption (no source found; a knob,
not a fact), ``[D§x]`` a decision of ``shared/DESIGN.md``. Monthly hazards are per person (or household)
per month unless said otherwise; "per 1,000" figures are per 1,000 children.

The configuration is a plain frozen dataclass so that it hashes into the manifest's ``config_hash``
(:func:`config_hash`) and can be replaced field by field with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

__all__ = ["DistrictSpec", "LegacyCode", "SimulatorConfig", "config_hash", "default_districts"]


@dataclass(frozen=True)
class LegacyCode:
    """An ID address code that people registered before a boundary change still carry.

    Parameters
    ----------
    code : str
        Six-digit GB/T 2260 code, e.g. ``"330104"`` (江干区, retired 2021).
    until : str
        ``YYYY-MM``: people whose ID was issued (born) before this month carry the code.
    townships : tuple of str
        Townships of today's district the rule applies to; empty = the whole district.
    confirmed : bool
        False when SIMULATOR_FACTS marks the code ⚠ unconfirmed; such rules are used only when
        :attr:`SimulatorConfig.use_unconfirmed_codes` is true.
    """

    code: str
    until: str
    townships: tuple[str, ...] = ()
    confirmed: bool = True


@dataclass(frozen=True)
class DistrictSpec:
    """One county-level unit of the city.

    Parameters
    ----------
    name : str
        Chinese name as written in the exports' 区(县、市) column.
    code : str
        Current GB/T 2260 code [S13].
    census_share : float
        Share of the city's residents, 2020 census [S1]; children are allocated in proportion.
    kind : str
        ``core`` (urban core), ``suburban`` (urban districts with many migrants and some villages),
        ``outer`` (富阳/临安) or ``rural_county`` (桐庐/淳安/建德).
    urban_share : float
        Share of the district's children living in a 社区 (urban) rather than a 村 (⚠ district
        urbanization not found; city-wide 84.8% [S5]).
    nonlocal_share : float
        Share of resident children with non-local hukou (≈ from 户籍/常住 ratios [S7][S8][S9], ⚠ split).
    dibao_tier : float
        The district's 低保 standard as a multiple of the main-district standard [S21].
    townships : tuple of str
        Real township names (街道 urban, 镇/乡 rural) in order of use.
    legacy_codes : tuple of LegacyCode
        Retired ID codes that people born before a change carry (§1.4 of SIMULATOR_FACTS) [S11][S13].
    """

    name: str
    code: str
    census_share: float
    kind: str
    urban_share: float
    nonlocal_share: float
    dibao_tier: float
    townships: tuple[str, ...]
    legacy_codes: tuple[LegacyCode, ...] = ()


_OLD_JIANGGAN = (
    "凯旋街道",
    "采荷街道",
    "闸弄口街道",
    "四季青街道",
    "笕桥街道",
    "丁兰街道",
    "九堡街道",
    "彭埠街道",
)
_OLD_XIACHENG = (
    "武林街道",
    "天水街道",
    "朝晖街道",
    "潮鸣街道",
    "长庆街道",
    "文晖街道",
    "东新街道",
    "石桥街道",
)


def default_districts() -> tuple[DistrictSpec, ...]:
    """The 13 county-level units of Hangzhou with 2020 census shares [S1] and code history [S11][S13].

    The scenic area (0.20%) is merged into 西湖区. Urbanization and non-local shares by district are
    assumptions (⚠) shaped by the city-wide figures (84.8% urban [S5]; 户籍/常住 0.77 [S9], 0.60 萧山 [S8],
    0.65 上城 [S7]).
    """
    L = LegacyCode
    return (
        DistrictSpec(
            "上城区",
            "330102",
            0.1109,
            "core",
            1.00,
            0.33,
            1.0,
            ("湖滨街道", "清波街道", "小营街道", "望江街道", "紫阳街道", "南星街道", *_OLD_JIANGGAN),
            (L("330104", "2021-04", _OLD_JIANGGAN),),
        ),
        DistrictSpec(
            "拱墅区",
            "330105",
            0.0939,
            "core",
            1.00,
            0.30,
            1.0,
            (
                "米市巷街道",
                "湖墅街道",
                "小河街道",
                "和睦街道",
                "拱宸桥街道",
                "大关街道",
                "上塘街道",
                "祥符街道",
                "康桥街道",
                "半山街道",
                *_OLD_XIACHENG,
            ),
            (L("330103", "2021-04", _OLD_XIACHENG),),
        ),
        DistrictSpec(
            "西湖区",
            "330106",
            0.0933,
            "core",
            0.92,
            0.30,
            1.0,
            (
                "北山街道",
                "西溪街道",
                "灵隐街道",
                "翠苑街道",
                "文新街道",
                "古荡街道",
                "留下街道",
                "转塘街道",
                "蒋村街道",
                "三墩镇",
                "双浦镇",
            ),
        ),
        DistrictSpec(
            "滨江区", "330108", 0.0422, "core", 1.00, 0.35, 1.0, ("西兴街道", "长河街道", "浦沿街道")
        ),
        DistrictSpec(
            "萧山区",
            "330109",
            0.1685,
            "suburban",
            0.70,
            0.42,
            1.0,
            (
                "城厢街道",
                "北干街道",
                "蜀山街道",
                "新塘街道",
                "宁围街道",
                "新街街道",
                "闻堰街道",
                "衙前镇",
                "瓜沥镇",
                "义桥镇",
                "所前镇",
                "戴村镇",
                "河上镇",
                "楼塔镇",
                "进化镇",
                "临浦镇",
                "浦阳镇",
                "益农镇",
                "党湾镇",
            ),
            (L("330181", "2001-03", (), confirmed=False),),
        ),
        DistrictSpec(
            "余杭区",
            "330110",
            0.1028,
            "suburban",
            0.75,
            0.40,
            1.0,
            (
                "余杭街道",
                "仓前街道",
                "闲林街道",
                "五常街道",
                "中泰街道",
                "仁和街道",
                "良渚街道",
                "瓶窑镇",
                "径山镇",
                "黄湖镇",
                "鸬鸟镇",
                "百丈镇",
            ),
            (L("330184", "2001-03", (), confirmed=False),),
        ),
        DistrictSpec(
            "临平区",
            "330113",
            0.0985,
            "suburban",
            0.80,
            0.40,
            1.0,
            ("临平街道", "东湖街道", "南苑街道", "星桥街道", "运河街道", "乔司街道", "崇贤街道", "塘栖镇"),
            (L("330184", "2001-03", (), confirmed=False), L("330110", "2021-04")),
        ),
        DistrictSpec(
            "钱塘区",
            "330114",
            0.0644,
            "suburban",
            0.75,
            0.42,
            1.0,
            ("下沙街道", "白杨街道", "河庄街道", "义蓬街道", "新湾街道", "临江街道", "前进街道"),
            (
                L(
                    "330181",
                    "2001-03",
                    ("河庄街道", "义蓬街道", "新湾街道", "临江街道", "前进街道"),
                    confirmed=False,
                ),
                L("330104", "2021-04", ("下沙街道", "白杨街道")),
                L("330109", "2021-04", ("河庄街道", "义蓬街道", "新湾街道", "临江街道", "前进街道")),
            ),
        ),
        DistrictSpec(
            "富阳区",
            "330111",
            0.0697,
            "outer",
            0.55,
            0.25,
            1.0,
            (
                "富春街道",
                "春江街道",
                "东洲街道",
                "银湖街道",
                "鹿山街道",
                "新登镇",
                "场口镇",
                "常安镇",
                "万市镇",
                "洞桥镇",
                "胥口镇",
                "永昌镇",
                "里山镇",
                "渌渚镇",
                "湖源乡",
                "上官乡",
            ),
            (L("330183", "2015-02", (), confirmed=False),),
        ),
        DistrictSpec(
            "临安区",
            "330112",
            0.0532,
            "outer",
            0.50,
            0.22,
            0.85,
            (
                "锦城街道",
                "锦北街道",
                "锦南街道",
                "玲珑街道",
                "青山湖街道",
                "於潜镇",
                "太湖源镇",
                "天目山镇",
                "昌化镇",
                "河桥镇",
                "龙岗镇",
                "清凉峰镇",
                "岛石镇",
                "高虹镇",
                "太阳镇",
                "湍口镇",
            ),
            (L("330185", "2017-09", (), confirmed=False),),
        ),
        DistrictSpec(
            "桐庐县",
            "330122",
            0.0380,
            "rural_county",
            0.42,
            0.15,
            0.80,
            (
                "城南街道",
                "旧县街道",
                "桐君街道",
                "凤川街道",
                "分水镇",
                "富春江镇",
                "横村镇",
                "江南镇",
                "百江镇",
                "瑶琳镇",
                "钟山乡",
                "莪山畲族乡",
                "新合乡",
                "合村乡",
            ),
        ),
        DistrictSpec(
            "淳安县",
            "330127",
            0.0276,
            "rural_county",
            0.35,
            0.10,
            0.80,
            (
                "千岛湖镇",
                "文昌镇",
                "石林镇",
                "临岐镇",
                "威坪镇",
                "姜家镇",
                "梓桐镇",
                "汾口镇",
                "中洲镇",
                "大墅镇",
                "枫树岭镇",
                "里商乡",
                "金峰乡",
                "富文乡",
                "左口乡",
                "屏门乡",
                "瑶山乡",
                "王阜乡",
                "宋村乡",
                "鸠坑乡",
                "浪川乡",
                "界首乡",
                "安阳乡",
            ),
        ),
        DistrictSpec(
            "建德市",
            "330182",
            0.0371,
            "rural_county",
            0.45,
            0.12,
            0.80,
            (
                "新安江街道",
                "洋溪街道",
                "更楼街道",
                "梅城镇",
                "寿昌镇",
                "乾潭镇",
                "杨村桥镇",
                "下涯镇",
                "大洋镇",
                "三都镇",
                "大同镇",
                "李家镇",
                "航头镇",
                "大慈岩镇",
                "莲花镇",
                "钦堂乡",
            ),
        ),
    )


def _dict(**kw: float) -> dict:
    return dict(kw)


@dataclass(frozen=True)
class SimulatorConfig:
    """Every rate and knob of the synthetic city (see the module docstring for the tags).

    Attributes are grouped: places, people, the causal process (parents, grandparents, income,
    conflict, disability, guardianship state), detection (visits, police, hospitals, schools),
    registration, and data messiness. Defaults are documented inline with their source tags.
    """

    # ---------------------------------------------------------------- places
    districts: tuple[DistrictSpec, ...] = field(default_factory=default_districts)
    children_per_community: float = 250.0  # ⚠ sizing: 20,000 children -> ~80 communities (brief: 40–120)
    children_per_township: float = 900.0  # ⚠ sizing of townships in the scaled-down city
    min_communities_per_township: int = 2  # ⚠
    village_share_in_subdistricts: float = 0.15  # ⚠ share of 村 among communities of a 街道 outside the core
    community_share_in_towns: float = 0.20  # ⚠ share of 社区 (town centre) among communities of a 镇/乡
    use_unconfirmed_codes: bool = True  # use ⚠ legacy codes 330181/330183/330184/330185 [S14 §8]
    moved_within_city_share: float = 0.08  # ⚠ children whose ID carries another Hangzhou district's code

    # ---------------------------------------------------------------- people
    children_per_household: tuple[float, float, float] = (
        0.55,
        0.38,
        0.07,
    )  # ⚠ 1/2/3 children; mean size 2.36 [S1]
    child_sex_ratio: float = 1.08  # boys per girl [S1][S5] ⚠ child-specific ratio unconfirmed
    single_parent_share: float = 0.07  # ⚠ divorced/never-married one-parent households
    rural_hukou_share_in_villages: float = 0.85  # ⚠ local children living in a 村 with 农业家庭户口
    rural_hukou_share_in_communities: float = 0.12  # ⚠ local children living in a 社区 with 农业家庭户口
    migrant_village_share: float = 0.20  # ⚠ migrant households living in a 村 (industrial villages)
    coresident_grandparents_rural: tuple[float, float, float] = (0.22, 0.30, 0.48)  # ⚠ P(0/1/2 co-resident)
    coresident_grandparents_urban: tuple[float, float, float] = (0.50, 0.22, 0.28)  # ⚠
    coresident_grandparents_migrant: tuple[float, float, float] = (0.85, 0.10, 0.05)  # ⚠
    maternal_grandparent_share: float = 0.20  # ⚠ 外祖父母 rather than 祖父母
    other_relative_fallback: float = 0.45  # ⚠ P(a relative steps in when no capable adult is left); 4% of LBC carers are other relatives [S15]
    migrant_household_leave_per_month: float = 0.010  # ⚠ migrant family leaves the city
    migrant_household_arrive_per_month: float = (
        0.010  # ⚠ new migrant families during the window (share of stock)
    )
    local_household_moveout_per_month: float = 0.0015  # ⚠ 迁出

    # ---------------------------------------------------------------- standing stocks at the start
    orphan_per_1000: float = 0.4  # [S19][S17] ≈ (national 0.65, assume lower in the east)
    orphan_institution_share: float = 0.31  # ≈ [S19] 13.4万 of 19.3万 orphans are 散居
    de_facto_per_1000: float = 0.5  # [S18][S17] ≈ (national 0.85)
    de_facto_causes: tuple[float, float, float, float] = (
        0.45,
        0.27,
        0.08,
        0.20,
    )  # [S18] one dead/missing+other, both severely disabled, prison, other
    one_parent_dead_share: float = 0.006  # ⚠ households where one parent died before the window
    parent_severe_disability_share: float = 0.004  # ⚠ parent with grade 1–2 disability at start

    # ---------------------------------------------------------------- monthly hazards: parents
    parent_death_per_month: float = (
        0.00012  # ⚠ ≈1.5/1,000/yr at ages 30–50 (city death rate 5.2‰ all ages [S5])
    )
    father_prison_per_month: float = 0.00006  # ⚠ raised ×k by household conflict propensity
    mother_prison_per_month: float = 0.00001  # ⚠
    prison_median_months: float = 20.0  # ⚠ lognormal sentence length
    parent_missing_per_month: float = 0.00002  # ⚠ 失联
    parent_missing_return_per_month: float = 0.03  # ⚠
    parent_severe_illness_per_month: float = 0.00005  # ⚠ onset of grade 1–2 disability or serious illness
    parent_inpatient_per_month: float = 0.0015  # ⚠ ordinary hospital stays of parents

    # leaving for work (local households only; migrant parents already work in the city)
    leave_per_month: dict = field(
        default_factory=lambda: _dict(core=0.0017, suburban=0.0009, outer=0.0014, rural_county=0.0022)
    )  # ⚠ tuned to D§11.15
    village_leave_multiplier: float = 2.0  # ⚠ rural 村 vs urban 社区
    follow_per_month: float = 0.08  # ⚠ second parent follows the first (needs a carer at home)
    follow_without_grandparent: float = 0.25  # ⚠ multiplier when no co-resident grandparent
    return_per_month: float = 0.045  # ⚠ a parent comes home for good (mean stay ≈ 2 years)
    spring_festival_return_multiplier: float = 2.5  # ⚠ February returns
    away_destination_in_city: float = 0.25  # ⚠ parent works in urban Hangzhou, not another city
    away_insured_share: float = 0.60  # ⚠ parents away who get social insurance at the workplace
    away_insurance_delay_months: tuple[int, int] = (1, 4)  # brief: 1–4 months after leaving
    local_insured_share: float = (
        0.78  # ⚠ resident working parents with social insurance (not researched [S29])
    )
    migrant_insured_share: float = 0.60  # ⚠

    # ---------------------------------------------------------------- grandparents
    gp_inpatient_at_65_per_month: float = 0.006  # ⚠ doubles every ~12 years of age
    gp_frail_after_admission: float = 0.30  # ⚠ becomes unable to care (腿脚不便) after a stay
    gp_frail_onset_per_month: float = 0.002  # ⚠ without a hospital stay
    gp_death_at_70_per_month: float = 0.0018  # ⚠ Gompertz, doubles every ~8 years

    # ---------------------------------------------------------------- income and 低保
    dibao_children_per_1000: float = 15.0  # [S21] ≈ 1.8% of households (target of the income process)
    near_dibao_children_per_1000: float = 10.0  # [S22] ⚠ (低保边缘, income < 2× standard)
    poverty_onset_per_month: float = 0.0011  # ⚠ tuned to the two targets above
    poverty_exit_per_month: float = 0.030  # ⚠
    near_poor_share_of_poor: float = 0.50  # ⚠ of households falling into poverty, the share that are 低保边缘
    dibao_approval_per_month: float = 0.30  # ⚠ after ≥ 2 months in poverty
    dibao_takeup: float = 0.80  # ⚠
    dibao_standard_2018: float = 917.0  # [S21] 元/人·月, main districts, paid from 2018-01
    dibao_growth_per_year: float = 0.06  # ⚠ [S21] 10.5%/yr 2010–17; post-2018 values unconfirmed
    near_dibao_factor: float = 2.0  # [S22] Hangzhou 低保边缘 threshold since 2022

    # ---------------------------------------------------------------- conflict and maltreatment
    conflict_onset_per_month: float = 0.004  # ⚠ × household propensity (lognormal)
    conflict_mean_months: float = 3.0  # ⚠
    conflict_rural_multiplier: float = 1.6  # [S26] physical DV rural 7.8% vs urban 3.1%
    maltreatment_per_1000_per_year: float = 30.0  # ⚠ from lifetime meta-analyses [S24a–c]
    left_behind_neglect_or: float = 1.6  # [S24e]

    # ---------------------------------------------------------------- disability
    disabled_children_per_1000: float = 15.0  # [S23c–e] ⚠ total unconfirmed
    disability_types_children: tuple[float, ...] = (
        0.06,
        0.10,
        0.06,
        0.20,
        0.33,
        0.05,
        0.20,
    )  # 视力 听力 言语 肢体 智力 精神 多重 [S23c] ⚠
    disability_severe_share: float = 0.30  # grades 1–2 [S23b] (all-age split)
    certificate_given_disabled: float = 0.60  # ⚠
    adult_disability_cert_share: float = 0.015  # ⚠ adults with a certificate (mild and severe)

    # ---------------------------------------------------------------- guardianship state
    state_thresholds: tuple[float, float, float] = (0.95, 1.45, 2.30)  # ⚠ pressure cut-offs for states 1/2/3
    household_frailty_sd: float = 0.38  # ⚠ stable household differences
    pressure_noise_sd: float = 0.22  # ⚠ month-to-month noise (AR(1))
    pressure_noise_rho: float = 0.90  # ⚠
    support_after_detection: float = 0.6  # ⚠ pressure relief for 6 months after a visit finds a failure
    support_months: int = 6  # ⚠

    # ---------------------------------------------------------------- detection
    visit_monthly_categories: tuple[str, ...] = ("孤儿", "事实无人抚养儿童")  # ⚠ cadence unconfirmed [S30]
    visit_compliance: float = 0.85  # ⚠ share of scheduled visits that happen
    visit_unregistered_per_month: dict = field(
        default_factory=lambda: _dict(village=0.030, community=0.012, migrant=0.006)
    )  # ⚠ surveillance bias
    township_visit_sd: float = 0.35  # ⚠ lognormal spread of visit intensity by township
    township_visit_bias: dict = field(default_factory=dict)  # injected bias: {township name: multiplier}
    #: Injected recording bias (known-bias experiments, DESIGN §9, §11.11): ``{district name: k}`` — every
    #: police record of a household in that district (family violence against a child, a hospital's
    #: 强制报告, a missing child or guardian, background incidents, domestic-dispute call-outs) is made
    #: with k × its configured probability (capped at 1; k = 0: none is recorded), as under heavier
    #: (k > 1) or lighter (k < 1) policing of one district (Lum & Isaac 2016). What happens to the
    #: children is unchanged; what gets written down (and what follows from it: event visits) is not.
    #: Empty (the default) leaves the output byte-identical and is left out of :func:`config_hash`.
    district_incident_recording_bias: dict = field(default_factory=dict)
    #: Injected recording bias of visit outcomes: ``{district: k}`` — a director's visit to a child of
    #: that district is written down as 监护不当/监护缺失 with k × the probability the child's true state
    #: gives (capped at 1; the mass comes from 良好/一般), as where a local target or a cautious practice
    #: makes directors record concerns more readily. The children's states are unchanged; a recorded
    #: failure still triggers what a real one does (monthly visits, support, 其他困境 registration).
    #: Empty (the default) leaves the output byte-identical and is left out of :func:`config_hash`.
    district_failure_recording_bias: dict = field(default_factory=dict)
    visit_word_of_mouth: float = 2.0  # ⚠ extra unregistered visits to homes in state 2–3 (neighbours tell)
    high_risk_months: int = 6  # ⚠ monthly visits for this long after a failure is found
    event_visit_prob: float = 0.6  # ⚠ visit next month after a police or hospital notice
    visit_modes: tuple[float, float, float, float] = (0.72, 0.18, 0.04, 0.06)  # 入户 电话 视频 学校 ⚠
    register_other_after_failure: float = 0.35  # ⚠ register as 其他困境儿童 after a verified failure
    police_dv_detect: float = 0.05  # ⚠ per maltreated child-month in a conflict episode
    police_missing_child: tuple[float, float, float, float] = (0.00008, 0.0002, 0.0010, 0.0035)  # ⚠ by state
    police_guardian_lost: float = 0.50  # ⚠ a parent going missing is reported
    police_background_per_month: float = (
        0.0006  # [S27c] ≈ incidents touching a child (fights, theft, traffic)
    )
    police_adult_dv_per_conflict_month: float = 0.06  # ⚠ call-outs for a domestic dispute (child not named)
    job_loss_insurance_stop: float = (
        0.7  # ⚠ a parent's Hangzhou contributions stop while the household is poor
    )
    injury_per_year: float = 0.09  # [S25a]
    injury_left_behind_per_year: float = 0.13  # [S25b]
    injury_maltreated_multiplier: float = 4.0  # ⚠
    hospital_report_prob: float = 0.25  # ⚠ suspicious injury reported (强制报告) -> police incident

    # ---------------------------------------------------------------- registration
    left_behind_target_per_1000_per_180d: float = 2.0  # [D§11.15] city-wide (informative, used in tests)
    lb_find_per_month: dict = field(
        default_factory=lambda: _dict(village_county=0.13, village=0.09, community=0.06)
    )  # ⚠
    lb_never_found_share: float = 0.25  # ⚠ left-behind households a director never finds
    lb_min_months_before_found: int = 2  # ⚠
    lb_register_urban_hukou: float = 0.50  # ⚠ relative chance for non-agricultural hukou children
    lb_age_limit: int = 16  # [S16] MCA definition: under 16
    lb_close_delay_months: tuple[int, int] = (1, 6)  # ⚠
    orphan_register_prob: float = 0.95  # ⚠
    de_facto_register_prob: float = 0.70  # ⚠
    disabled_register_prob: float = 0.55  # ⚠ 重病重残儿童 (grade 1–2 with certificate)
    dibao_child_register_prob: float = 0.65  # ⚠ 低保家庭儿童
    register_delay_months: tuple[int, int] = (1, 5)  # ⚠

    # ---------------------------------------------------------------- school and health
    kindergarten_enrolment: float = 0.90  # ⚠
    senior_enrolment: float = 0.88  # ⚠ ages 15–17 in 高中/职高
    dropout_per_year: float = 0.005  # ⚠ ages 12–17
    dropout_risk_multiplier: float = 3.0  # ⚠ for de-facto unsupported and left-behind children
    absence_base_per_month: float = 0.6  # ⚠ mean days absent
    boarding_share: dict = field(
        default_factory=lambda: _dict(village_junior=0.45, other_junior=0.08, senior=0.55)
    )  # ⚠
    health_check_missed: float = 0.05  # [S29a] management rate 94.9%
    attendance_missing_month_share: float = 0.01  # ⚠ school months a school did not report
    data_quality_multiplier: dict = field(
        default_factory=lambda: _dict(core=0.5, suburban=1.0, outer=1.5, rural_county=3.0)
    )  # ⚠ missing school months and blank employer cells by district kind (data quality differs by place)

    # ---------------------------------------------------------------- directors
    children_per_director: int = 30  # [S30] more directors where flagged children exceed 30

    # ---------------------------------------------------------------- messiness (rates per value)
    fullwidth_digit_rate: float = 0.004  # ⚠ IDs / phones with full-width digits
    lowercase_x_rate: float = 0.25  # ⚠ of IDs ending in X
    legacy_id15_rate: dict = field(
        default_factory=lambda: _dict(
            household_registry=0.01,
            subsistence_allowance=0.05,
            detention_records=0.10,
            inpatient_admissions=0.05,
            child_registry=0.03,
            incidents=0.03,
            social_insurance=0.005,
            residence_permits=0.02,
        )
    )  # D§11.14: adults born before 2000 only
    bad_checksum_rate: float = 0.0005  # brief: ~0.05% of IDs with a wrong check character
    duplicate_row_rate: float = 0.005  # brief: ~0.5% exact duplicate rows
    mixed_date_rate: float = 0.03  # ⚠ date cells in a format other than the table's usual one
    missing_value_rate: float = 0.01  # ⚠ optional cells left empty
    name_typo_rate: float = 0.003  # ⚠ a name written with a different character

    def __post_init__(self) -> None:
        shares = sum(d.census_share for d in self.districts)
        if not self.districts:
            raise ValueError("SimulatorConfig.districts is empty")
        if shares <= 0:
            raise ValueError("district census shares must be positive")
        kinds = {d.kind for d in self.districts}
        bad = kinds - {"core", "suburban", "outer", "rural_county"}
        if bad:
            raise ValueError(f"unknown district kind(s) {sorted(bad)}")
        names = {d.name for d in self.districts}
        for knob in ("district_incident_recording_bias", "district_failure_recording_bias"):
            for name, k in getattr(self, knob).items():
                if name not in names:
                    raise ValueError(f"{knob}: unknown district {name!r}; known: {sorted(names)}")
                if not float(k) >= 0:
                    raise ValueError(f"{knob}[{name!r}] must be a multiplier >= 0, got {k!r}")


#: Injection knobs added after the first release: left out of the hash while empty, so that a city
#: simulated without injection keeps its ``config_hash`` (and manifest) byte for byte.
_HASH_OMITTED_WHEN_EMPTY: tuple[str, ...] = ("district_incident_recording_bias", "district_failure_recording_bias")


def config_hash(config: SimulatorConfig) -> str:
    """SHA-256 of the configuration's canonical JSON (sorted keys), first 16 hex digits.

    Fields of :data:`_HASH_OMITTED_WHEN_EMPTY` are part of the hash only when set.
    """
    d = dataclasses.asdict(config)
    for name in _HASH_OMITTED_WHEN_EMPTY:
        if not d.get(name):
            d.pop(name, None)
    payload = json.dumps(d, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
