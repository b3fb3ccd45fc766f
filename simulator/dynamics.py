"""The causal process: a latent monthly guardianship state and the detections it produces.

One loop over months (a burn-in of ``BURN_IN`` months before the exported window, so that registries,
allowances and prison terms already exist when the window opens); inside a month every step is a
vectorized numpy operation over all households or all children. Order within a month:

1. **Presence** — migrant families arrive/leave; local families move out (迁出).
2. **Parents** — death, imprisonment (more likely in high-conflict households), going missing (失联),
   serious illness/severe disability, ordinary hospital stays, and — for local households — leaving
   to work elsewhere and coming back (the second parent follows the first more readily when a
   grandparent can care; returns peak at the Spring Festival).
3. **Grandparents** — age-dependent hospital stays (→ sometimes frail: 腿脚不便), frailty, death.
4. **Income** — poverty onset (raised by a parent's death, illness or imprisonment) and exit;
   低保/低保边缘 approval after ≥ 2 months in poverty (take-up < 1), ending after recovery.
5. **Conflict** — episodes (household propensity × rural × poverty), lasting ~3 months.
6. **Guardianship state** — pressure = household frailty + AR(1) noise + stressors (no capable adult,
   care by an old/frail grandparent only, poverty, conflict, prison, a recent death, a severely
   disabled child, more children) − support after a detected failure; cut into 0 adequate /
   1 strained / 2 inadequate / 3 absent. Nobody able to care (and no relative stepping in) is 3.
7. **Child harm** — monthly maltreatment with a rate by state, × conflict, × the left-behind odds
   ratio [S24e]; injuries (more for left-behind [S25] and maltreated children).
8. **Detection** — visits by child directors at a cadence set by the registry (monthly for orphans,
   de-facto unsupported and recently-failed children; quarterly for the other registered; rarely for
   the unregistered, more in villages, less for migrants; × a township intensity), plus visits
   triggered by police/hospital/allowance events. A visit's assessment is a noisy function of the
   true state (phone/video visits see less); notes mention true circumstances with a probability.
   Police see family violence, missing children, missing guardians; hospitals report suspicious
   injuries (强制报告).
9. **Registration** — orphans, de-facto unsupported, severely disabled, 低保 children after a delay
   and with a probability; left-behind children only when a director finds them (a monthly hazard
   by place, doubled when visited; some households are never found); other 困境 after a failure.
   Registrations close when the condition ends (with a delay), at 16 (left-behind) or 18.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import SimulatorConfig
from .places import City
from .population import Population

__all__ = ["ASSESSMENTS", "BURN_IN", "CATEGORIES", "NOTE_FLAGS", "History", "run_dynamics"]

BURN_IN = 24  # months simulated before the exported window
NONE = -(10**7)  # no pending registration
DECLINED = NONE - 1  # the condition holds but nobody will register it
CATEGORIES = ("孤儿", "事实无人抚养儿童", "留守儿童", "重病重残儿童", "低保家庭儿童", "其他困境儿童")
ASSESSMENTS = ("良好", "一般", "监护不当", "监护缺失")
MODES = ("入户走访", "电话回访", "视频回访", "学校见面")
# bits of a visit's note: which circumstances the director wrote down
NOTE_FLAGS = (
    "parents_away",
    "father_away_long",
    "gp_hospital",
    "gp_frail",
    "poverty",
    "conflict",
    "harm_signs",
    "nobody_home",
    "school_absence",
    "disability",
    "parent_prison",
    "parent_sick",
    "parent_dead",
    "mother_away",
    "good",
)
_F = {n: 1 << i for i, n in enumerate(NOTE_FLAGS)}

# assessment probabilities (良好, 一般, 监护不当, 监护缺失) of an in-home visit, by true state (⚠ judgment)
_ASSESS = np.array(
    [
        [0.86, 0.13, 0.008, 0.002],
        [0.52, 0.41, 0.06, 0.01],
        [0.20, 0.40, 0.33, 0.07],
        [0.06, 0.18, 0.24, 0.52],
    ]
)
_MODE_BLUR = np.array([0.0, 0.6, 0.5, 0.4])  # share of the assessment that looks like "adequate"


@dataclass
class History:
    """What happened, month by month (global month ``g``; the window is ``g >= burn_in``).

    Attributes
    ----------
    start_month : numpy.datetime64[M]
        Month of ``g = 0``.
    G, burn_in : int
    state : ndarray int8, shape (H, G)
        Household guardianship state (0 adequate, 1 strained, 2 inadequate, 3 absent).
    present : ndarray bool, shape (H, G)
    maltreated : ndarray bool, shape (C, G)
    left_behind : ndarray bool, shape (C, G)
        True (MCA) left-behind condition of the child.
    away : ndarray bool, shape (H, 2, G)
        Father/mother away for work.
    poverty, allowance : ndarray int8, shape (H, G)
        Poverty (0 none, 1 near, 2 poor) and allowance (0 none, 1 低保, 2 低保边缘).
    conflict : ndarray bool, shape (H, G)
    child_g_birth : ndarray int, shape (C,)
    child_hh : ndarray int, shape (C,)
    child_disabled, child_dis_type, child_dis_severe, child_dis_onset_g, child_cert_g : ndarray, shape (C,)
    deaths, admissions, away_spells, prison, missing, allowances, visits, incidents, injuries, registry :
        DataFrames of events (see :func:`run_dynamics`).
    """

    start_month: np.datetime64
    G: int
    burn_in: int
    state: np.ndarray
    present: np.ndarray
    maltreated: np.ndarray
    left_behind: np.ndarray
    away: np.ndarray
    poverty: np.ndarray
    allowance: np.ndarray
    conflict: np.ndarray
    child_g_birth: np.ndarray
    child_hh: np.ndarray
    child_disabled: np.ndarray
    child_dis_type: np.ndarray
    child_dis_severe: np.ndarray
    child_dis_onset_g: np.ndarray
    child_cert_g: np.ndarray
    deaths: pd.DataFrame
    admissions: pd.DataFrame
    away_spells: pd.DataFrame
    prison: pd.DataFrame
    missing: pd.DataFrame
    allowances: pd.DataFrame
    visits: pd.DataFrame
    incidents: pd.DataFrame
    injuries: pd.DataFrame
    registry: pd.DataFrame
    insured_away: np.ndarray  # bool (H, 2): the parent is insured where they work when away
    insure_delay: np.ndarray  # int (H, 2): months from leaving to the first contribution elsewhere


def _month_index(dates: np.ndarray, start_month: np.datetime64) -> np.ndarray:
    """Global month index of day dates (NaT -> very negative)."""
    m = dates.astype("datetime64[M]")
    out = (m - start_month).astype("int64")
    out[np.isnat(dates)] = -(10**6)
    return out


def run_dynamics(
    config: SimulatorConfig,
    city: City,
    pop: Population,
    months: int,
    start_month: np.datetime64,
    rng: np.random.Generator,
    burn_in: int = BURN_IN,
) -> History:
    """Simulate ``burn_in + months`` months of the causal process.

    Parameters
    ----------
    config : SimulatorConfig
    city : City
    pop : Population
    months : int
        Length of the exported window (months).
    start_month : numpy.datetime64[M]
        Calendar month of global month 0 (the first burn-in month).
    rng : numpy.random.Generator
    burn_in : int

    Returns
    -------
    History
    """
    cfg = config
    hh = pop.hh
    H = len(hh)
    G = burn_in + months
    persons = pop.persons
    migrant = hh["migrant"].to_numpy()
    agri = hh["agri"].to_numpy()
    village = hh["is_village"].to_numpy()
    institution = hh["institution"].to_numpy()
    d_idx = hh["district"].to_numpy()
    kinds = city.districts["kind"].to_numpy()[d_idx]
    county = kinds == "rural_county"
    comm = hh["community"].to_numpy()
    frailty = hh["frailty"].to_numpy()
    conflict_k = hh["conflict_k"].to_numpy()
    fallback = hh["fallback"].to_numpy()
    local = ~migrant
    n_children = hh["n_children"].to_numpy()

    # ---- presence windows: migrants arrive/leave, locals sometimes move out
    arrive = np.full(H, -(10**6))
    new_mig = migrant & (rng.random(H) < min(0.45, cfg.migrant_household_arrive_per_month * months))
    arrive[new_mig] = rng.integers(burn_in, G, new_mig.sum())
    first_present = np.maximum(arrive, burn_in)
    leave_rate = np.where(
        migrant, cfg.migrant_household_leave_per_month, cfg.local_household_moveout_per_month
    )
    # every child is in the city for at least one month of the window: a family leaves only after its
    # youngest child is born
    youngest_gb = np.full(H, -(10**6))
    kid_gb = _month_index(persons["birth"].to_numpy()[pop.children], start_month)
    np.maximum.at(youngest_gb, persons["hh"].to_numpy()[pop.children], kid_gb)
    leave = np.maximum(first_present, youngest_gb) + 1 + rng.geometric(leave_rate)
    g_arr = np.arange(G)
    present = (g_arr[None, :] >= arrive[:, None]) & (g_arr[None, :] < leave[:, None])
    hh["arrive_g"] = arrive
    hh["leave_g"] = leave

    # ---- children
    ph = persons["hh"].to_numpy()
    kids = pop.children
    C = len(kids)
    ch_h = ph[kids]
    ch_birth = persons["birth"].to_numpy()[kids]
    ch_gb = _month_index(ch_birth, start_month)
    ch_local = local[ch_h]
    # disability: 60% congenital, else onset during childhood [S23]
    disabled = rng.random(C) < cfg.disabled_children_per_1000 / 1000
    dtypes = rng.choice(
        7, size=C, p=np.array(cfg.disability_types_children) / sum(cfg.disability_types_children)
    )
    severe = rng.random(C) < cfg.disability_severe_share
    age_end = (G - ch_gb) / 12.0
    onset_age = np.where(rng.random(C) < 0.6, 0.0, rng.random(C) * np.maximum(age_end, 0.1))
    dis_onset = ch_gb + (onset_age * 12).astype(int)
    cert_g = np.where(
        disabled & (rng.random(C) < cfg.certificate_given_disabled),
        dis_onset + rng.integers(3, 31, C),
        -(10**6),
    )
    cert_g = np.where(cert_g >= G, -(10**6), cert_g)
    hh_severe_child = np.zeros(H, bool)
    np.logical_or.at(hh_severe_child, ch_h[disabled & severe], True)

    # ---- parent slots (H, 2): 0 father, 1 mother
    par = np.stack([pop.father, pop.mother], axis=1)
    p_ex = par >= 0
    init = pop.init
    dead_g = np.stack(
        [_month_index(init["father_dead"], start_month), _month_index(init["mother_dead"], start_month)], 1
    )
    p_alive = p_ex & (dead_g < -(10**5))
    dead_g = np.where(p_alive | ~p_ex, -(10**6), dead_g)
    p_sick = np.stack([init["father_sick"], init["mother_sick"]], 1) & p_alive
    miss_g0 = np.stack(
        [
            _month_index(init["father_missing"], start_month),
            _month_index(init["mother_missing"], start_month),
        ],
        1,
    )
    p_missing = p_alive & (miss_g0 > -(10**5))
    p_prison_until = np.full((H, 2), -(10**6))
    p_prison_row = np.full((H, 2), -1)
    prison_rows: list[list] = []
    pr0 = np.stack([init["father_prison"], init["mother_prison"]], 1) & p_alive
    pstart = _month_index(init["prison_start"], start_month)
    for h, s in zip(*np.nonzero(pr0), strict=True):
        until = max(int(pstart[h] + init["prison_months"][h]), 6 + int(rng.integers(0, 40)))
        p_prison_until[h, s] = until
        p_prison_row[h, s] = len(prison_rows)
        prison_rows.append([par[h, s], int(pstart[h]), until, -1])
    missing_rows: list[list] = [
        [par[h, s], int(miss_g0[h, s]), -1] for h, s in zip(*np.nonzero(p_missing), strict=True)
    ]
    p_missing_row = np.full((H, 2), -1)
    for i, (h, s) in enumerate(zip(*np.nonzero(p_missing), strict=True)):
        p_missing_row[h, s] = i
    p_away = np.zeros((H, 2), bool)
    p_away_start = np.full((H, 2), -1)
    p_away_incity = np.zeros((H, 2), bool)
    insured_away = rng.random((H, 2)) < cfg.away_insured_share
    lo, hi = cfg.away_insurance_delay_months
    insure_delay = rng.integers(lo, hi + 1, (H, 2))
    away_rows: list[list] = []
    # community-level propensity to migrate for work
    comm_leave = np.exp(rng.normal(0, 0.35, len(city.communities)))
    if "leave_propensity" in city.communities:  # sharded city: drawn once for all shards (core.simulate)
        comm_leave = city.communities["leave_propensity"].to_numpy()
    comm_leave = comm_leave[comm]
    leave_base = np.array([cfg.leave_per_month[k] for k in kinds]) * np.where(
        village, cfg.village_leave_multiplier, 1.0
    )
    leave_base = leave_base * comm_leave * local * ~institution
    # initial stock of parents away (roughly stationary): P(away) ≈ leave / (leave + return)
    stat = leave_base / (leave_base + cfg.return_per_month)
    gp_ex = pop.gp >= 0
    has_gp = gp_ex.any(1)
    first_away = (
        p_alive & ~p_missing & ~pr0 & ~p_sick & (rng.random((H, 2)) < stat[:, None] * np.array([1.0, 0.6]))
    )
    follow_share = np.where(has_gp, 0.55, 0.2)
    both = first_away.any(1) & (rng.random(H) < follow_share)
    start_away = first_away | (both[:, None] & p_alive & ~p_missing & ~pr0 & ~p_sick)
    p_away[:] = start_away
    p_away_start[start_away] = -rng.geometric(cfg.return_per_month, start_away.sum())
    p_away_incity[start_away] = rng.random(start_away.sum()) < cfg.away_destination_in_city

    # ---- grandparents (H, 2)
    gp_pid = pop.gp
    gp_birth = np.where(
        gp_ex, persons["birth"].to_numpy()[np.maximum(gp_pid, 0)], np.datetime64("2000-01-01")
    )
    gp_by = gp_birth.astype("datetime64[M]").astype(int) / 12.0 + 1970
    gp_alive = gp_ex.copy()
    gp_frail = gp_ex & (rng.random((H, 2)) < np.clip(0.04 * 2 ** ((2020 - gp_by - 65) / 8), 0, 0.7))
    sm_year = start_month.astype(int) / 12.0 + 1970
    death_rows: list[list] = []
    for h, s in zip(*np.nonzero(p_ex & ~p_alive), strict=True):
        death_rows.append([par[h, s], int(dead_g[h, s])])

    # ---- income
    p_on = cfg.poverty_onset_per_month
    p_ex_rate = cfg.poverty_exit_per_month
    pov_mult0 = (
        1
        + 0.6 * agri
        + 1.2 * hh["single"].to_numpy()
        + 2.0 * p_sick.any(1)
        + 2.0 * pr0.any(1)
        + 1.5 * (~p_alive & p_ex).any(1)
    ) * (1 + 0.3 * migrant)
    stat_p = p_on * pov_mult0 / (p_on * pov_mult0 + p_ex_rate)
    poverty = np.where(
        rng.random(H) < stat_p, np.where(rng.random(H) < cfg.near_poor_share_of_poor, 1, 2), 0
    ).astype(np.int8)
    pov_months = np.where(poverty > 0, rng.integers(1, 40, H), 0)
    takeup = rng.random(H) < cfg.dibao_takeup
    allowance = np.where((poverty > 0) & local & takeup & (rng.random(H) < 0.85), poverty, 0)
    allowance = np.where(allowance == 2, 1, np.where(allowance == 1, 2, 0)).astype(
        np.int8
    )  # poor->低保(1), near->边缘(2)
    allow_rows: list[list] = []
    allow_row = np.full(H, -1)
    for h in np.flatnonzero(allowance > 0):
        allow_row[h] = len(allow_rows)
        allow_rows.append([h, int(allowance[h]), -int(rng.integers(1, max(2, pov_months[h]) + 1)), -1])

    # ---- conflict
    conflict_left = np.zeros(H, int)

    # ---- child-level state
    mal_prev = np.zeros(C, bool)
    high_risk_until = np.full(C, -1)
    support_until = np.full(H, -1)
    event_flag = np.zeros(C, bool)
    phase = rng.integers(0, 3, C)
    reg_open = np.full((C, 6), -1)  # row index of the open registry period per category
    pending = np.full((C, 6), NONE)  # month a registration will be made (NONE, DECLINED)
    closing = np.full((C, 6), -1)  # month an open registration will be closed
    reg_rows: list[list] = []
    lb_months = np.zeros(C, int)
    lb_findable = hh["lb_findable"].to_numpy() & (agri | (rng.random(H) < cfg.lb_register_urban_hukou))
    lb_find = np.where(
        village,
        np.where(county, cfg.lb_find_per_month["village_county"], cfg.lb_find_per_month["village"]),
        cfg.lb_find_per_month["community"],
    )
    c_mult = city.communities["visit_multiplier"].to_numpy()[comm]
    # injected recording bias: police records of a household are made k × as often (1.0 = none)
    rec_h = np.ones(H)
    d_names = city.districts["district"].to_numpy()[d_idx]
    for name, k in cfg.district_incident_recording_bias.items():
        rec_h[d_names == name] *= float(k)
    # injected recording bias of visit outcomes: failures written down k × as often (None = none)
    fail_h = None
    if cfg.district_failure_recording_bias:
        fail_h = np.ones(H)
        for name, k in cfg.district_failure_recording_bias.items():
            fail_h[d_names == name] *= float(k)
    unreg_rate = np.where(
        migrant,
        cfg.visit_unregistered_per_month["migrant"],
        np.where(
            village,
            cfg.visit_unregistered_per_month["village"],
            cfg.visit_unregistered_per_month["community"],
        ),
    )
    monthly_cats = np.isin(np.array(CATEGORIES), np.array(cfg.visit_monthly_categories))

    # stock registrations made before the simulation start (orphans, de-facto, severe disability, 低保)
    def open_reg(c_idx: np.ndarray, cat: int, g0: np.ndarray) -> None:
        for c, gg in zip(c_idx.tolist(), np.asarray(g0).tolist(), strict=True):
            if reg_open[c, cat] >= 0:
                continue
            reg_open[c, cat] = len(reg_rows)
            reg_rows.append([c, cat, int(gg), -1])

    # ---- outputs
    state_hist = np.zeros((H, G), np.int8)
    mal_hist = np.zeros((C, G), bool)
    lb_hist = np.zeros((C, G), bool)
    away_hist = np.zeros((H, 2, G), bool)
    pov_hist = np.zeros((H, G), np.int8)
    allow_hist = np.zeros((H, G), np.int8)
    conf_hist = np.zeros((H, G), bool)
    adm_rows: list[np.ndarray] = []
    visit_rows: list[np.ndarray] = []
    inc_rows: list[list] = []
    inj_rows: list[np.ndarray] = []
    noise = rng.normal(0, cfg.pressure_noise_sd, H)
    rho = cfg.pressure_noise_rho
    c1, c2, c3 = cfg.state_thresholds
    base_mal = np.array([0.0003, 0.0035, 0.035, 0.07])
    police_missing = np.array(cfg.police_missing_child)
    ages_gp = np.zeros((H, 2))

    for g in range(G):
        month_no = (start_month + g).astype(int) % 12 + 1  # 1..12
        year = sm_year + g / 12.0
        pres = present[:, g]
        ch_exists = (g >= ch_gb) & pres[ch_h]
        ch_age = (g - ch_gb) / 12.0

        # ---------------- 2. parents
        alive_free = p_alive & ~p_missing & (p_prison_until < g)
        # releases
        rel = p_ex & (p_prison_until == g - 1) & (p_prison_row >= 0)
        for h, s in zip(*np.nonzero(rel), strict=True):
            prison_rows[p_prison_row[h, s]][3] = g - 1
        u = rng.random((H, 2))
        die = p_alive & (u < cfg.parent_death_per_month * np.where(p_sick, 4.0, 1.0)) & pres[:, None]
        if die.any():
            for h, s in zip(*np.nonzero(die), strict=True):
                death_rows.append([par[h, s], g])
            p_alive &= ~die
            dead_g[die] = g
            p_away &= ~die
        k_sqrt = np.sqrt(conflict_k)[:, None]
        u = rng.random((H, 2))
        jail_rate = (
            np.array([cfg.father_prison_per_month, cfg.mother_prison_per_month])[None, :]
            * k_sqrt
            * (1 + (poverty > 0)[:, None])
        )
        jail = alive_free & pres[:, None] & (u < jail_rate)
        if jail.any():
            months_ = np.exp(rng.normal(np.log(cfg.prison_median_months), 0.6, jail.sum())).astype(int) + 3
            for (h, s), m in zip(zip(*np.nonzero(jail), strict=True), months_, strict=True):
                p_prison_until[h, s] = g + m
                p_prison_row[h, s] = len(prison_rows)
                early = int(m * rng.uniform(0, 0.2)) if rng.random() < 0.4 else 0
                prison_rows.append([par[h, s], g, g + m, -1])
                p_prison_until[h, s] = g + m - early
            p_away &= ~jail
            event_flag[np.isin(ch_h, np.flatnonzero(jail.any(1)))] = True
        u = rng.random((H, 2))
        go_missing = (
            alive_free
            & ~jail
            & pres[:, None]
            & (u < cfg.parent_missing_per_month * (1 + 2 * (poverty > 0))[:, None] * k_sqrt)
        )
        if go_missing.any():
            for h, s in zip(*np.nonzero(go_missing), strict=True):
                p_missing_row[h, s] = len(missing_rows)
                missing_rows.append([par[h, s], g, -1])
                if rng.random() < cfg.police_guardian_lost * rec_h[h]:
                    kids_h = np.flatnonzero((ch_h == h) & ch_exists)
                    if len(kids_h):
                        inc_rows.append([g, "监护人失联", int(kids_h[0]), int(par[h, s]), h])
                        event_flag[kids_h] = True
            p_missing |= go_missing
            p_away &= ~go_missing
        back = p_missing & ~go_missing & (rng.random((H, 2)) < cfg.parent_missing_return_per_month)
        if back.any():
            for h, s in zip(*np.nonzero(back), strict=True):
                missing_rows[p_missing_row[h, s]][2] = g
            p_missing &= ~back
        sick_on = p_alive & ~p_sick & (rng.random((H, 2)) < cfg.parent_severe_illness_per_month)
        p_sick |= sick_on
        p_sick &= ~(rng.random((H, 2)) < 0.01)  # some recover
        p_away &= ~sick_on
        in_prison = p_ex & (p_prison_until >= g)
        home_par = p_alive & ~p_missing & ~in_prison
        u = rng.random((H, 2))
        hosp_p = home_par & (u < cfg.parent_inpatient_per_month * np.where(p_sick, 6.0, 1.0)) & pres[:, None]
        if hosp_p.any():
            hp = par[hosp_p]
            adm_rows.append(
                np.stack([hp, np.full(len(hp), g), rng.integers(2, 15, len(hp)), np.zeros(len(hp), int)], 1)
            )

        # leaving for work / returning (local households)
        able_gp = gp_ex & gp_alive & ~gp_frail
        gp_ok = able_gp.any(1)
        can_leave = home_par & ~p_away & ~p_sick & pres[:, None]
        other_away = p_away[:, ::-1] | ~p_ex[:, ::-1] | ~p_alive[:, ::-1]
        first = leave_base[:, None] * np.array([1.0, 0.6])[None, :] * (1 + 0.3 * (poverty > 0))[:, None]
        follow = (
            cfg.follow_per_month
            * np.where(gp_ok, 1.0, cfg.follow_without_grandparent)[:, None]
            * local[:, None]
            * ~institution[:, None]
            * np.array([0.7, 1.0])[None, :]
        )
        rate = np.where(other_away & p_ex[:, ::-1] & p_alive[:, ::-1], follow, first)
        leave_now = can_leave & (rng.random((H, 2)) < rate)
        if leave_now.any():
            p_away |= leave_now
            p_away_start[leave_now] = g
            p_away_incity[leave_now] = rng.random(leave_now.sum()) < cfg.away_destination_in_city
        ret_rate = cfg.return_per_month * (cfg.spring_festival_return_multiplier if month_no == 2 else 1.0)
        ret = p_away & ~leave_now & (rng.random((H, 2)) < ret_rate)
        # a carer crisis at home (no able grandparent, both away) brings a parent back sometimes
        crisis = p_away.all(1) & ~gp_ok & (rng.random(H) < 0.08)
        ret |= crisis[:, None] & p_away & (np.array([False, True])[None, :])
        ret |= p_away & ~pres[:, None]
        if ret.any():
            for h, s in zip(*np.nonzero(ret), strict=True):
                away_rows.append([par[h, s], int(p_away_start[h, s]), g, bool(p_away_incity[h, s]), h, s])
            p_away &= ~ret
        away_hist[:, :, g] = p_away

        # ---------------- 3. grandparents
        ages_gp = year - gp_by
        u = rng.random((H, 2))
        gdie = (
            gp_ex & gp_alive & (u < cfg.gp_death_at_70_per_month * 2 ** ((ages_gp - 70) / 8)) & pres[:, None]
        )
        if gdie.any():
            for h, s in zip(*np.nonzero(gdie), strict=True):
                death_rows.append([gp_pid[h, s], g])
            gp_alive &= ~gdie
        u = rng.random((H, 2))
        ghosp = (
            gp_ex
            & gp_alive
            & (
                u
                < cfg.gp_inpatient_at_65_per_month * 2 ** ((ages_gp - 65) / 12) * np.where(gp_frail, 1.8, 1.0)
            )
            & pres[:, None]
        )
        if ghosp.any():
            hp = gp_pid[ghosp]
            adm_rows.append(
                np.stack([hp, np.full(len(hp), g), rng.integers(4, 30, len(hp)), np.ones(len(hp), int)], 1)
            )
            gp_frail |= ghosp & (rng.random((H, 2)) < cfg.gp_frail_after_admission)
        gp_frail |= (
            gp_ex
            & gp_alive
            & (rng.random((H, 2)) < cfg.gp_frail_onset_per_month * 2 ** ((ages_gp - 65) / 10))
        )
        gp_inhosp = ghosp

        # ---------------- 4. income and allowances
        recent_death = ((g - dead_g) < 12).any(1)
        mult = (
            1
            + 0.6 * agri
            + 1.2 * hh["single"].to_numpy() * 0
            + 2.0 * p_sick.any(1)
            + 2.0 * in_prison.any(1)
            + 3.0 * recent_death
        ) * (1 + 0.3 * migrant)
        u = rng.random(H)
        fall = (poverty == 0) & (u < p_on * mult)
        poverty = np.where(fall, np.where(rng.random(H) < cfg.near_poor_share_of_poor, 1, 2), poverty).astype(
            np.int8
        )
        rise = (poverty > 0) & ~fall & (rng.random(H) < p_ex_rate / (1 + 0.5 * (mult > 2)))
        poverty = np.where(rise, 0, poverty).astype(np.int8)
        pov_months = np.where(poverty > 0, pov_months + 1, 0)
        approve = (
            (allowance == 0)
            & (poverty > 0)
            & (pov_months >= 2)
            & local
            & takeup
            & pres
            & (rng.random(H) < cfg.dibao_approval_per_month)
        )
        for h in np.flatnonzero(approve):
            allowance[h] = 1 if poverty[h] == 2 else 2
            allow_row[h] = len(allow_rows)
            allow_rows.append([h, int(allowance[h]), g, -1])
            if allowance[h] == 1:
                event_flag[ch_h == h] |= rng.random() < 0.5
        stop = (allowance > 0) & (((poverty == 0) & (rng.random(H) < 0.15)) | ~pres)
        for h in np.flatnonzero(stop):
            allow_rows[allow_row[h]][3] = g
            allowance[h] = 0
            allow_row[h] = -1
        pov_hist[:, g] = poverty
        allow_hist[:, g] = allowance

        # ---------------- 5. conflict
        adults_home = (home_par & ~p_away).any(1) | (gp_ex & gp_alive).any(1)
        start_c = (
            (conflict_left == 0)
            & adults_home
            & pres
            & (
                rng.random(H)
                < cfg.conflict_onset_per_month
                * conflict_k
                * np.where(village, cfg.conflict_rural_multiplier, 1.0)
                * (1 + 1.5 * (poverty > 0))
                * ~institution
            )
        )
        conflict_left = np.where(
            start_c, rng.geometric(1 / cfg.conflict_mean_months, H), np.maximum(conflict_left - 1, 0)
        )
        conflict = conflict_left > 0
        conf_hist[:, g] = conflict

        # ---------------- 6. guardianship state
        at_home = home_par & ~p_away
        able_par = at_home & ~p_sick & ~hosp_p
        cp = able_par.sum(1)
        gp_present = gp_ex & gp_alive
        gp_capable = gp_present & ~gp_frail & ~gp_inhosp & (ages_gp < 82)
        cg = gp_capable.sum(1)
        weak_gp = (gp_present & ~gp_inhosp).any(1) & (cg == 0)
        nobody = (cp == 0) & (cg == 0)
        weak_only = nobody & weak_gp
        relative = nobody & ~weak_gp & fallback
        absent = nobody & ~weak_gp & ~fallback & ~institution
        n_par_ex = p_ex.sum(1)
        noise = rho * noise + np.sqrt(1 - rho**2) * rng.normal(0, cfg.pressure_noise_sd, H)
        z = (
            frailty
            + noise
            + 0.15 * migrant
            + 0.60 * ((cp == 0) & (cg > 0))
            + 0.25 * ((cp == 1) & (n_par_ex == 2))
            + 0.30 * ((cp == 1) & (n_par_ex == 1))
            + 1.6 * weak_only
            + 1.4 * relative
            + 0.80 * (poverty == 2)
            + 0.4 * (poverty == 1)
            + 1.5 * conflict
            + 0.9 * in_prison.any(1)
            + 1.0 * recent_death
            + 0.5 * hh_severe_child
            + 0.5 * (p_sick & at_home).any(1)
            + 0.12 * (n_children - 1)
            - cfg.support_after_detection * (support_until >= g)
        )
        st = np.digitize(z, [c1, c2, c3]).astype(np.int8)
        st = np.where(absent, 3, st)
        st = np.where(institution, np.minimum(st, 1), st).astype(np.int8)
        state_hist[:, g] = st

        # ---------------- 7. child harm
        cst = st[ch_h]
        lb = (
            ch_exists
            & ch_local
            & (ch_age < cfg.lb_age_limit)
            & (p_away.all(1) | (p_away.any(1) & ~(able_par.any(1))) | ((n_par_ex == 1) & p_away.any(1)))[ch_h]
        )
        lb &= ~institution[ch_h]
        lb_hist[:, g] = lb
        lb_months = np.where(lb, lb_months + 1, 0)
        pm = base_mal[cst] * (1 + 2.5 * conflict[ch_h]) * np.where(lb, cfg.left_behind_neglect_or**0.5, 1.0)
        pm = pm * (cfg.maltreatment_per_1000_per_year / 30.0)
        mal = ch_exists & (rng.random(C) < np.where(mal_prev, np.minimum(0.55 + pm, 0.9), pm))
        mal_hist[:, g] = mal
        mal_prev = mal
        # injuries
        inj_rate = np.where(lb, cfg.injury_left_behind_per_year, cfg.injury_per_year) / 12.0
        inj_rate = (
            inj_rate * np.where(mal, cfg.injury_maltreated_multiplier, 1.0) * np.where(cst >= 2, 1.4, 1.0)
        )
        inj = ch_exists & (rng.random(C) < inj_rate)
        if inj.any():
            ci = np.flatnonzero(inj)
            from_harm = mal[ci] & (rng.random(len(ci)) < 0.6)
            inj_rows.append(np.stack([ci, np.full(len(ci), g), from_harm.astype(int)], 1))
            suspicious = ci[from_harm & (rng.random(len(ci)) < 0.7)]
            rep = suspicious[rng.random(len(suspicious)) < cfg.hospital_report_prob * rec_h[ch_h[suspicious]]]
            for c in rep.tolist():
                inc_rows.append([g, "家庭暴力", c, -2, int(ch_h[c])])  # -2: reported by a hospital
            event_flag[suspicious] |= rng.random(len(suspicious)) < 0.3

        # ---------------- 8. police
        rec_c = rec_h[ch_h]
        dv = ch_exists & mal & conflict[ch_h] & (rng.random(C) < cfg.police_dv_detect * rec_c)
        for c in np.flatnonzero(dv).tolist():
            h = int(ch_h[c])
            perp = par[h, 0] if (p_ex[h, 0] and at_home[h, 0]) else (par[h, 1] if p_ex[h, 1] else -1)
            inc_rows.append([g, "家庭暴力", c, int(perp), h])
        lost = ch_exists & (ch_age >= 2) & (ch_age < 16) & (rng.random(C) < police_missing[cst] * rec_c)
        for c in np.flatnonzero(lost).tolist():
            inc_rows.append([g, "儿童走失", c, -1, int(ch_h[c])])
        aband = ch_exists & (ch_age < 1) & (cst == 3) & (rng.random(C) < 0.01)
        for c in np.flatnonzero(aband).tolist():
            inc_rows.append([g, "遗弃", c, -1, int(ch_h[c])])
        bg_rate = (
            cfg.police_background_per_month * np.where(ch_age >= 10, 2.0, 0.5) * np.where(cst >= 2, 1.5, 1.0)
        )
        bg = ch_exists & (rng.random(C) < bg_rate * rec_c)
        for c in np.flatnonzero(bg).tolist():
            cat = ("打架斗殴", "盗窃", "交通事故", "其他")[int(rng.choice(4, p=[0.3, 0.2, 0.3, 0.2]))]
            if ch_age[c] < 10 and cat in ("打架斗殴", "盗窃"):
                cat = "交通事故"
            inc_rows.append([g, cat, c, -1, int(ch_h[c])])
        # adult-only family violence (the child is not named in the record)
        adv = conflict & pres & (rng.random(H) < cfg.police_adult_dv_per_conflict_month * rec_h)
        for h in np.flatnonzero(adv).tolist():
            if p_ex[h, 1] and p_alive[h, 1]:
                inc_rows.append([g, "家庭暴力", -1, int(par[h, 1]), h])
        police_seen = dv | lost | aband
        event_flag |= police_seen | bg & (rng.random(C) < 0.2)

        # ---------------- 9a. registration conditions
        orphan_c = (p_ex.all(1) & ~p_alive.any(1))[ch_h]
        unable = p_ex & (~p_alive | p_missing | in_prison | p_sick)
        de_facto_c = (p_ex.all(1) & unable.all(1))[ch_h] & ~orphan_c
        dis_c = disabled & severe & (cert_g <= g) & (cert_g > -(10**5))
        dibao_c = (allowance == 1)[ch_h]
        conds = {0: orphan_c & ch_local, 1: de_facto_c & ch_local, 3: dis_c, 4: dibao_c & ch_local}
        if g == 0:  # when each standing condition began (months before the start)
            pr_start = np.where(in_prison, pstart[:, None], -(10**6))
            ms_start = np.where(p_missing, miss_g0, -(10**6))
            dd_start = np.where(p_ex & ~p_alive, dead_g, -(10**6))
            par_start = np.maximum(np.maximum(pr_start, ms_start), dd_start).max(1)
            allow_start = np.array([allow_rows[r][2] if r >= 0 else -(10**6) for r in allow_row])
            cond_start = {0: par_start[ch_h], 1: par_start[ch_h], 3: cert_g, 4: allow_start[ch_h]}
        for cat, cond in conds.items():
            cond = cond & ch_exists & (ch_age < 18)
            prob = (
                cfg.orphan_register_prob,
                cfg.de_facto_register_prob,
                0,
                cfg.disabled_register_prob,
                cfg.dibao_child_register_prob,
            )[cat]
            new = cond & (reg_open[:, cat] < 0) & (pending[:, cat] == NONE)
            if new.any():
                ni = np.flatnonzero(new)
                ok = rng.random(len(ni)) < prob
                lo_, hi_ = cfg.register_delay_months
                delay = rng.integers(lo_, hi_ + 1, len(ni))
                if (
                    g == 0
                ):  # standing stock: registered before the simulation started, after the condition began
                    delay = np.maximum(-rng.integers(1, 36, len(ni)), cond_start[cat][ni] + 1)
                pending[ni, cat] = np.where(ok, g + delay, DECLINED)
            due = cond & (pending[:, cat] > NONE) & (pending[:, cat] <= g) & (reg_open[:, cat] < 0)
            if due.any():
                di_ = np.flatnonzero(due)
                open_reg(di_, cat, np.minimum(pending[di_, cat], g))
                pending[di_, cat] = NONE
            ended = ~cond & (reg_open[:, cat] >= 0) & (closing[:, cat] < 0)
            if ended.any():
                ei = np.flatnonzero(ended)
                closing[ei, cat] = g + rng.integers(0, 4, len(ei))
            pending[~cond & (pending[:, cat] != NONE), cat] = NONE
            closing[cond & (reg_open[:, cat] >= 0) & (closing[:, cat] > g), cat] = -1

        # left-behind: found by a director (hazard by place; more when visited — set below)
        # ---------------- 8b. visits
        reg_any = (reg_open >= 0).any(1)
        monthly = ((reg_open >= 0) & monthly_cats[None, :]).any(1) | (high_risk_until >= g)
        due_q = reg_any & ((g + phase) % 3 == 0)
        # word of mouth: neighbours tell the director about troubled homes
        pv = np.where(
            monthly | due_q,
            cfg.visit_compliance,
            np.where(reg_any, 0.03, unreg_rate[ch_h] * (1 + cfg.visit_word_of_mouth * (cst >= 2))),
        )
        pv = np.where(event_flag, np.maximum(pv, cfg.event_visit_prob), pv)
        pv = np.clip(pv * np.where(monthly | due_q, np.sqrt(c_mult[ch_h]), c_mult[ch_h]), 0, 0.97)
        vis = ch_exists & (ch_age < 18) & (rng.random(C) < pv)
        event_flag[:] = False
        if vis.any():
            vi = np.flatnonzero(vis)
            n = len(vi)
            mode = rng.choice(4, size=n, p=np.array(cfg.visit_modes) / sum(cfg.visit_modes))
            mode = np.where((ch_age[vi] < 6) & (mode == 3), 0, mode)
            s_ = cst[vi]
            pa = (
                _ASSESS[s_] * (1 - _MODE_BLUR[mode])[:, None]
                + _ASSESS[0][None, :] * _MODE_BLUR[mode][:, None]
            )
            m_ = mal[vi]
            shift = np.where(m_, np.where(mode == 0, 0.3, 0.1), 0.0)
            pa = pa.copy()
            moved = (pa[:, 0] + pa[:, 1]) * shift
            pa[:, 0] *= 1 - shift
            pa[:, 1] *= 1 - shift
            pa[:, 2] += moved
            if fail_h is not None:  # only when injected: the default stream of numbers is untouched
                bad_p = pa[:, 2] + pa[:, 3]
                new_bad = np.minimum(bad_p * fail_h[ch_h[vi]], 1.0)
                good_p = pa[:, 0] + pa[:, 1]
                pa[:, 2:] *= np.where(bad_p > 0, new_bad / np.where(bad_p > 0, bad_p, 1.0), 1.0)[:, None]
                pa[:, :2] *= np.where(good_p > 0, (1 - new_bad) / np.where(good_p > 0, good_p, 1.0), 1.0)[:, None]
            cum = np.cumsum(pa, axis=1)
            assess = (rng.random(n)[:, None] > cum).sum(1).clip(0, 3)
            # note flags: true circumstances written down with a probability; a few false mentions
            hv = ch_h[vi]
            see = np.where(mode == 0, 1.0, 0.55)
            r = rng.random((n, len(NOTE_FLAGS)))
            flags = np.zeros(n, np.int64)
            aw = p_away[hv]
            away_len = np.where(aw[:, 0], g - p_away_start[hv, 0], 0)

            rules = (  # (flag, true circumstance, P(written | true), P(written | false))
                ("parents_away", aw.all(1), 0.7, 0.01),
                ("father_away_long", aw[:, 0] & (away_len >= 6), 0.55, 0.005),
                ("mother_away", aw[:, 1] & ~aw[:, 0], 0.5, 0.005),
                ("gp_hospital", gp_inhosp[hv].any(1) | ghosp[hv].any(1), 0.65, 0.01),
                ("gp_frail", (gp_present[hv] & (gp_frail[hv] | (ages_gp[hv] >= 80))).any(1), 0.45, 0.02),
                ("poverty", poverty[hv] > 0, 0.5, 0.03),
                ("conflict", conflict[hv], 0.35, 0.01),
                ("harm_signs", m_, 0.3, 0.003),
                ("nobody_home", (s_ == 3) & (mode == 0), 0.6, 0.004),
                ("school_absence", (s_ >= 2) & (ch_age[vi] >= 6), 0.25, 0.02),
                ("disability", disabled[vi] & (dis_onset[vi] <= g), 0.6, 0.0),
                ("parent_prison", in_prison[hv].any(1), 0.5, 0.0),
                ("parent_sick", (p_sick[hv] & p_alive[hv]).any(1), 0.5, 0.01),
                ("parent_dead", recent_death[hv], 0.6, 0.0),
                ("good", s_ == 0, 0.6, 0.15),
            )
            for name, truth, p_true, p_false in rules:
                i = NOTE_FLAGS.index(name)
                hit = np.where(truth, r[:, i] < p_true * see, r[:, i] < p_false)
                flags |= np.where(hit, _F[name], 0)
            visit_rows.append(np.stack([vi, np.full(n, g), mode, assess, flags, away_len], 1))
            bad = vi[assess >= 2]
            if len(bad):
                high_risk_until[bad] = g + cfg.high_risk_months
                support_until[ch_h[bad]] = g + cfg.support_months
                cand = bad[((reg_open[bad] >= 0).sum(1) == 0) & (pending[bad, 5] == NONE)]
                ok = cand[rng.random(len(cand)) < cfg.register_other_after_failure]
                pending[ok, 5] = g + 1
        else:
            vi = np.zeros(0, int)
        visited = np.zeros(C, bool)
        visited[vi] = True

        # ---------------- 9b. left-behind discovery, 其他困境, closings
        eligible = (
            lb & (lb_months >= cfg.lb_min_months_before_found) & lb_findable[ch_h] & (reg_open[:, 2] < 0)
        )
        pf = lb_find[ch_h] * np.where(visited, 2.0, 1.0) * (1.0 if g > 0 else 0.0)
        found = eligible & (rng.random(C) < pf)
        # a few registrations where only one parent is away and the other is at home (misjudged)
        one_away = (
            ch_exists
            & ch_local
            & (ch_age < cfg.lb_age_limit)
            & p_away.any(1)[ch_h]
            & ~lb
            & (reg_open[:, 2] < 0)
            & lb_findable[ch_h]
        )
        found |= one_away & (rng.random(C) < 0.0015)
        if found.any():
            open_reg(np.flatnonzero(found), 2, np.full(found.sum(), g))
        lb_reg = reg_open[:, 2] >= 0
        lb_end = lb_reg & ~lb & (closing[:, 2] < 0)
        if lb_end.any():
            ei = np.flatnonzero(lb_end)
            lo_, hi_ = cfg.lb_close_delay_months
            closing[ei, 2] = g + rng.integers(lo_, hi_ + 1, len(ei))
        # a child whose parent came back and left again keeps the registration
        closing[lb_reg & lb & (closing[:, 2] > g), 2] = -1
        other_due = (pending[:, 5] > NONE) & (pending[:, 5] <= g) & (reg_open[:, 5] < 0) & ch_exists
        if other_due.any():
            oi = np.flatnonzero(other_due)
            open_reg(oi, 5, np.full(len(oi), g))
            pending[oi, 5] = NONE
            closing[oi, 5] = g + rng.integers(12, 31, len(oi))
        # age limits and leaving the city close everything
        too_old = (ch_age >= 18) | ~pres[ch_h]
        lb_old = ch_age >= cfg.lb_age_limit
        close_now = (closing >= 0) & (closing <= g)
        close_now |= (reg_open >= 0) & too_old[:, None]
        close_now[:, 2] |= (reg_open[:, 2] >= 0) & lb_old
        if close_now.any():
            for c, cat in zip(*np.nonzero(close_now & (reg_open >= 0)), strict=True):
                reg_rows[reg_open[c, cat]][3] = g
                reg_open[c, cat] = -1
            closing[close_now] = -1

    # ---------------- close open spells, build frames
    for h, s in zip(*np.nonzero(p_away), strict=True):
        away_rows.append([par[h, s], int(p_away_start[h, s]), -1, bool(p_away_incity[h, s]), h, s])

    def frame(rows, cols, dtype=None):
        if not rows:
            return pd.DataFrame({c: pd.Series(dtype="int64") for c in cols})
        if isinstance(rows[0], np.ndarray):
            return pd.DataFrame(np.concatenate(rows), columns=cols)
        return pd.DataFrame(rows, columns=cols)

    return History(
        start_month=start_month,
        G=G,
        burn_in=burn_in,
        state=state_hist,
        present=present,
        maltreated=mal_hist,
        left_behind=lb_hist,
        away=away_hist,
        poverty=pov_hist,
        allowance=allow_hist,
        conflict=conf_hist,
        child_g_birth=ch_gb,
        child_hh=ch_h,
        child_disabled=disabled,
        child_dis_type=dtypes,
        child_dis_severe=severe,
        child_dis_onset_g=dis_onset,
        child_cert_g=cert_g,
        deaths=frame(death_rows, ["pid", "g"]),
        admissions=frame(adm_rows, ["pid", "g", "los", "is_gp"]),
        away_spells=frame(away_rows, ["pid", "g_start", "g_end", "in_city", "hh", "slot"]),
        prison=frame(prison_rows, ["pid", "g_start", "g_expected", "g_released"]),
        missing=frame(missing_rows, ["pid", "g_start", "g_end"]),
        allowances=frame(allow_rows, ["hh", "type", "g_start", "g_end"]),
        visits=frame(visit_rows, ["child", "g", "mode", "assessment", "flags", "away_len"]),
        incidents=frame(inc_rows, ["g", "category", "child", "adult", "hh"]),
        injuries=frame(inj_rows, ["child", "g", "from_harm"]),
        registry=frame(reg_rows, ["child", "cat", "g_start", "g_end"]),
        insured_away=insured_away,
        insure_delay=insure_delay,
    )
