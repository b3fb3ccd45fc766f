"""People and households of the simulated city.

Households hold 1–3 children (0–17 at the end month, or born during the window), their parents and
0–2 co-resident grandparents. A household is local with agricultural hukou (农业家庭户口), local with
non-agricultural hukou (非农业家庭户口), or a migrant family (non-local hukou: residence permits, not in
the household registry). Names come from Faker's ``zh_CN`` data (surname frequencies, given-name
characters), sampled with numpy so the build is vectorized and seeded. IDs follow GB 11643-1999 with
the address code of the place and time of registration (incl. 330113/330114 after 2021-04 and the
retired 330103/330104 for people born before) [S11][S13][S14].

The standing stocks at the start of the simulation (orphans, de-facto unsupported children, one parent
dead, parents severely disabled, in prison, missing) are sampled here; everything after is in
:mod:`simulator.dynamics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker.providers.person.zh_CN import Provider as _FakerPerson

from .config import SimulatorConfig
from .ids import IdLedger, id_body_keys, make_id_numbers, make_phones
from .places import City

__all__ = ["ORIGINS", "NameMaker", "Population", "build_population"]

# Origins of migrant families (area code, hukou origin as written in residence permits).
ORIGINS = (
    ("341221", "安徽省阜阳市临泉县"),
    ("341222", "安徽省阜阳市太和县"),
    ("340826", "安徽省安庆市宿松县"),
    ("411521", "河南省信阳市罗山县"),
    ("412723", "河南省周口市商水县"),
    ("430524", "湖南省邵阳市隆回县"),
    ("511321", "四川省南充市南部县"),
    ("360124", "江西省南昌市进贤县"),
    ("362421", "江西省吉安市吉安县"),
    ("421127", "湖北省黄冈市黄梅县"),
    ("421182", "湖北省黄冈市武穴市"),
    ("500101", "重庆市万州区"),
    ("330324", "浙江省温州市永嘉县"),
    ("330381", "浙江省温州市瑞安市"),
    ("331081", "浙江省台州市温岭市"),
    ("320721", "江苏省连云港市赣榆县"),
)
_ORIGIN_W = np.array([10, 8, 6, 7, 6, 6, 6, 6, 5, 5, 4, 5, 4, 3, 3, 2], dtype=float)

_MODERN_M = list(
    "浩宇轩睿泽子梓俊博文哲一辰诚明涵晨皓铭杰航天然逸嘉凯瑞翔昊宸煜阳乐锦鹏鑫昕彦毅恒骏霖安铭远朗"
)
_MODERN_F = list("欣怡雨涵梓萱诗可馨思佳琪悦语彤若汐依雅婷菲晴妍瑶嘉一诺心月蕊静宁婉梦颖童沐雯琳晨")

ROLE_CHILD, ROLE_FATHER, ROLE_MOTHER, ROLE_GP = 0, 1, 2, 3


class NameMaker:
    """Vectorized synthetic Chinese names from Faker's zh_CN provider data.

    Surnames follow Faker's frequency table; given names of people born before 1980 come from Faker's
    given-name lists (建国, 秀英 …), younger people get one or two characters from modern pools.
    """

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        ln = _FakerPerson.last_names
        self.surnames = np.array(list(ln.keys()), dtype=object)
        w = np.array(list(ln.values()), dtype=float)
        self.surname_p = w / w.sum()
        self.old_m = np.array(_FakerPerson.first_names_male, dtype=object)
        self.old_f = np.array(_FakerPerson.first_names_female, dtype=object)
        self.new_m = np.array(_MODERN_M, dtype=object)
        self.new_f = np.array(_MODERN_F, dtype=object)

    def surname(self, n: int) -> np.ndarray:
        return self.rng.choice(self.surnames, size=n, p=self.surname_p)

    def given(self, male: np.ndarray, birth_year: np.ndarray) -> np.ndarray:
        n = len(male)
        rng = self.rng
        out = np.empty(n, dtype=object)
        old = birth_year < 1980
        two = rng.random(n) < np.where(birth_year >= 2000, 0.85, 0.6)
        a_m = self.new_m[rng.integers(0, len(self.new_m), n)]
        b_m = self.new_m[rng.integers(0, len(self.new_m), n)]
        a_f = self.new_f[rng.integers(0, len(self.new_f), n)]
        b_f = self.new_f[rng.integers(0, len(self.new_f), n)]
        new = np.where(male, a_m, a_f)
        new = np.where(two, new + np.where(male, b_m, b_f), new)
        oldn = np.where(
            male,
            self.old_m[rng.integers(0, len(self.old_m), n)],
            self.old_f[rng.integers(0, len(self.old_f), n)],
        )
        out[:] = np.where(old, oldn, new)
        # avoid doubled characters such as 浩浩 only half of the time (they exist, but rarely)
        return out

    def full(self, surname: np.ndarray, male: np.ndarray, birth_year: np.ndarray) -> np.ndarray:
        return (surname.astype(object) + self.given(male, birth_year)).astype(object)


@dataclass
class Population:
    """Households and persons with their standing stocks at the start.

    Attributes
    ----------
    hh : DataFrame, one row per household (index = household index ``h``)
        ``hh_number`` (户号), ``community``, ``township``, ``district`` (indices), ``is_village``,
        ``agri`` (农业 hukou), ``migrant``, ``institution`` (orphan in a welfare institution),
        ``fallback`` (a relative steps in when nobody is left), ``frailty``, ``conflict_k``,
        ``lb_findable``, ``address``, ``origin`` (migrants), ``arrive_g``/``leave_g`` (global months
        the family is in the city), ``registered_date`` (hukou registered / arrival), ``dead_*``…
    persons : DataFrame, one row per person (index = person index ``p``)
        ``hh, role, male, birth, id18, name, phone, area, gp_side (0 paternal, 1 maternal)``.
    father, mother : ndarray of int, shape (H,)
        Person index of each parent or -1.
    gp : ndarray of int, shape (H, 2)
        Co-resident grandparents or -1.
    children : ndarray of int
        Person indices of the children.
    init : dict of ndarray
        Standing stocks per household: ``father_dead``/``mother_dead`` (death date or NaT),
        ``*_sick`` (grade 1–2 disability or serious illness), ``father_prison_start``/``_expected``,
        ``*_missing``, ``de_facto_cause``.
    """

    hh: pd.DataFrame
    persons: pd.DataFrame
    father: np.ndarray
    mother: np.ndarray
    gp: np.ndarray
    children: np.ndarray
    init: dict


def _pick(rng: np.random.Generator, p: tuple, n: int) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _days(years: np.ndarray) -> np.ndarray:
    return (np.asarray(years) * 365.25).astype("int64").astype("timedelta64[D]")


def area_codes(
    config: SimulatorConfig, city: City, district_idx: np.ndarray, township_idx: np.ndarray, birth: np.ndarray
) -> np.ndarray:
    """GB/T 2260 address code a person registered at birth in that place carries in their ID [S11][S14]."""
    out = np.empty(len(district_idx), dtype=object)
    tnames = city.townships["township"].to_numpy()
    for di, d in enumerate(config.districts):
        m = district_idx == di
        if not m.any():
            continue
        codes = np.full(m.sum(), d.code, dtype=object)
        decided = np.zeros(m.sum(), dtype=bool)
        b = birth[m]
        tn = tnames[township_idx[m]]
        for rule in sorted(d.legacy_codes, key=lambda r: r.until):
            if not rule.confirmed and not config.use_unconfirmed_codes:
                continue
            hit = (~decided) & (b < np.datetime64(rule.until + "-01"))
            if rule.townships:
                hit &= np.isin(tn, rule.townships)
            codes[hit] = rule.code
            decided |= hit
        out[m] = codes
    return out


def build_population(
    config: SimulatorConfig,
    city: City,
    n_children: int,
    end_month: np.datetime64,
    start_g_month: np.datetime64,
    rng: np.random.Generator,
    names: NameMaker,
    ledger: IdLedger | None = None,
) -> Population:
    """Draw households and persons for a city of exactly ``n_children`` children.

    Parameters
    ----------
    config : SimulatorConfig
    city : City
    n_children : int
    end_month : numpy.datetime64[M]
        Last simulated month; children are 0–17 at its end or born before it.
    start_g_month : numpy.datetime64[M]
        First month of the simulation including burn-in (global month 0).
    rng : numpy.random.Generator
    names : NameMaker
    ledger : IdLedger, optional
        Sharded cities: identifiers handed out by earlier shards. ID numbers, phones and household
        numbers that would repeat one are redrawn (phones are then also unique within the shard), and
        this shard's values are added. None (unsharded): the draws of an unsharded city, unchanged.

    Returns
    -------
    Population
    """
    end_day = (end_month + 1).astype("datetime64[D]") - 1
    # ---- households and their children's ages (eldest uniform 0–18, siblings 1.2–6 years younger)
    n_hh = int(n_children / 1.45 * 1.15) + 16
    k = _pick(rng, config.children_per_household, n_hh) + 1
    eldest_age = rng.uniform(0.0, 18.0, n_hh)
    ages = np.full((n_hh, 3), np.nan)
    ages[:, 0] = eldest_age
    for j in (1, 2):
        a = ages[:, j - 1] - rng.uniform(1.2, 6.0, n_hh)
        a[(k <= j) | (a < 0)] = np.nan
        ages[:, j] = a
    counts = np.isfinite(ages).sum(axis=1)
    cum = np.cumsum(counts)
    last = int(np.searchsorted(cum, n_children))
    if last >= n_hh:
        raise RuntimeError("household draw too small")
    H = last + 1
    ages = ages[:H]
    overshoot = cum[last] - n_children
    if overshoot:
        js = np.flatnonzero(np.isfinite(ages[last]))[::-1][:overshoot]
        ages[last, js] = np.nan
    counts = np.isfinite(ages).sum(axis=1)
    youngest_birth = end_day - _days(np.nanmin(ages, axis=1))
    # standing stocks need children born well before the simulation starts
    stock_ok = youngest_birth < start_g_month.astype("datetime64[D]") - np.timedelta64(180, "D")

    # ---- place and hukou
    dists = city.districts
    comms = city.communities
    dist_p = dists["census_share"].to_numpy()
    d_idx = rng.choice(len(dists), size=H, p=dist_p / dist_p.sum())
    nonlocal_ = dists["nonlocal_share"].to_numpy()[d_idx]
    migrant = rng.random(H) < nonlocal_
    urban_share = dists["urban_share"].to_numpy()[d_idx]
    p_vill_local = np.clip(
        ((1 - urban_share) - nonlocal_ * config.migrant_village_share * (urban_share < 1))
        / np.maximum(1 - nonlocal_, 1e-9),
        0,
        1,
    )
    want_village = np.where(
        migrant,
        (urban_share < 1) & (rng.random(H) < config.migrant_village_share),
        rng.random(H) < p_vill_local,
    )
    c_idx = np.empty(H, dtype=np.int64)
    c_d = comms["district_idx"].to_numpy()
    c_v = comms["is_village"].to_numpy()
    c_w = comms["weight"].to_numpy()
    for di in range(len(dists)):
        for v in (False, True):
            m = (d_idx == di) & (want_village == v)
            if not m.any():
                continue
            cand = np.flatnonzero((c_d == di) & (c_v == v))
            if len(cand) == 0:
                cand = np.flatnonzero(c_d == di)
            w = c_w[cand] / c_w[cand].sum()
            c_idx[m] = rng.choice(cand, size=m.sum(), p=w)
    is_village = c_v[c_idx]
    t_idx = comms["township_idx"].to_numpy()[c_idx]
    agri = np.where(
        migrant,
        rng.random(H) < 0.75,
        rng.random(H)
        < np.where(is_village, config.rural_hukou_share_in_villages, config.rural_hukou_share_in_communities),
    )
    origin_i = rng.choice(len(ORIGINS), size=H, p=_ORIGIN_W / _ORIGIN_W.sum())

    # ---- standing stocks (household level; the probability equals the per-child rate, see docs)
    # per-household probability = per-child rate, rescaled to the households that can hold a stock
    ok_share = max(stock_ok.mean(), 0.05)
    orphan = (
        stock_ok
        & ~migrant
        & (rng.random(H) < config.orphan_per_1000 / 1000 / ok_share / (1 - nonlocal_.mean()))
    )
    de_facto = (
        stock_ok
        & (~orphan)
        & ~migrant
        & (rng.random(H) < config.de_facto_per_1000 / 1000 / ok_share / (1 - nonlocal_.mean()))
    )
    de_facto_cause = np.where(de_facto, _pick(rng, config.de_facto_causes, H), -1)
    institution = orphan & (rng.random(H) < config.orphan_institution_share)
    single = (~orphan) & (~de_facto) & (rng.random(H) < config.single_parent_share)
    single_mother = single & (rng.random(H) < 0.7)
    has_father = ~(single & single_mother)
    has_mother = ~(single & ~single_mother)

    # ---- birth dates
    child_h = np.repeat(np.arange(H), counts)
    child_age = ages[np.isfinite(ages)]
    child_birth = end_day - _days(child_age)
    eldest_birth = end_day - _days(np.nanmax(ages, axis=1))
    mother_age_at_first = np.where(migrant | agri, rng.uniform(20, 33, H), rng.uniform(23, 37, H))
    mother_birth = eldest_birth - _days(mother_age_at_first)
    father_birth = mother_birth - _days(rng.uniform(-1, 5, H))

    # grandparents
    gp_n = np.where(
        migrant,
        _pick(rng, config.coresident_grandparents_migrant, H),
        np.where(
            agri,
            _pick(rng, config.coresident_grandparents_rural, H),
            _pick(rng, config.coresident_grandparents_urban, H),
        ),
    )
    need_carer = (orphan & ~institution) | de_facto
    gp_n = np.where(need_carer & (gp_n == 0) & (rng.random(H) < 0.8), 1, gp_n)
    gp_n = np.where(institution, 0, gp_n)
    maternal = rng.random(H) < np.where(single_mother, 0.7, config.maternal_grandparent_share)
    gp_base = np.where(maternal, mother_birth, father_birth)

    # ---- persons
    rows_hh, rows_role, rows_male, rows_birth, rows_side = [], [], [], [], []

    def add(h, role, male, birth, side):
        rows_hh.append(h)
        rows_role.append(np.full(len(h), role))
        rows_male.append(male)
        rows_birth.append(birth)
        rows_side.append(side)

    n_ch = len(child_h)
    child_male = rng.random(n_ch) < config.child_sex_ratio / (1 + config.child_sex_ratio)
    add(child_h, ROLE_CHILD, child_male, child_birth, np.full(n_ch, -1))
    fh = np.flatnonzero(has_father)
    add(fh, ROLE_FATHER, np.ones(len(fh), bool), father_birth[fh], np.full(len(fh), -1))
    mh = np.flatnonzero(has_mother)
    add(mh, ROLE_MOTHER, np.zeros(len(mh), bool), mother_birth[mh], np.full(len(mh), -1))
    g0 = np.flatnonzero(gp_n > 0)
    g0_male = rng.random(len(g0)) < 0.4  # the first is more often a grandmother, the usual carer [S15]
    g1 = np.flatnonzero(gp_n > 1)
    g1_male = ~g0_male[np.searchsorted(g0, g1)]
    for j, gh, gm in ((0, g0, g0_male), (1, g1, g1_male)):
        gb = gp_base[gh] - _days(rng.uniform(22, 32, len(gh))) - _days(np.where(gm, 2.0, 0.0))
        add(gh, ROLE_GP + j, gm, gb, maternal[gh].astype(int))
    persons = pd.DataFrame(
        {
            "hh": np.concatenate(rows_hh),
            "role": np.concatenate(rows_role),
            "male": np.concatenate(rows_male),
            "birth": np.concatenate(rows_birth).astype("datetime64[D]"),
            "gp_side": np.concatenate(rows_side),
        }
    )
    persons = persons.sort_values(["hh", "role"], kind="stable").reset_index(drop=True)
    P = len(persons)
    ph = persons["hh"].to_numpy()
    role = persons["role"].to_numpy()
    father = np.full(H, -1)
    mother = np.full(H, -1)
    gp = np.full((H, 2), -1)
    idx = np.arange(P)
    father[ph[role == ROLE_FATHER]] = idx[role == ROLE_FATHER]
    mother[ph[role == ROLE_MOTHER]] = idx[role == ROLE_MOTHER]
    gp[ph[role == ROLE_GP], 0] = idx[role == ROLE_GP]
    gp[ph[role == ROLE_GP + 1], 1] = idx[role == ROLE_GP + 1]
    children = idx[role == ROLE_CHILD]

    # ---- identity numbers: area code of the place and time of birth registration
    birth = persons["birth"].to_numpy()
    male = persons["male"].to_numpy()
    p_mig = migrant[ph]
    n_d = len(dists)
    reg_d = d_idx[ph].copy()
    reg_t = t_idx[ph].copy()
    is_child = role == ROLE_CHILD
    # children who moved within the city, adults born elsewhere in the city
    moved = rng.random(P) < np.where(is_child, config.moved_within_city_share, 0.15)
    reg_d[moved] = rng.integers(0, n_d, moved.sum())
    town_d = city.townships["district_idx"].to_numpy()
    for di in np.unique(reg_d[moved]):
        m = moved & (reg_d == di)
        cand = np.flatnonzero(town_d == di)
        reg_t[m] = cand[rng.integers(0, len(cand), m.sum())] if len(cand) else reg_t[m]
    area = area_codes(config, city, reg_d, reg_t, birth)
    # adults of local households born outside the city (married in, moved hukou in)
    outsider = (~is_child) & (~p_mig) & (rng.random(P) < np.where(agri[ph], 0.10, 0.22))
    o_i = rng.choice(len(ORIGINS), size=P, p=_ORIGIN_W / _ORIGIN_W.sum())
    origin_codes = np.array([c for c, _ in ORIGINS], dtype=object)
    area = np.where(outsider, origin_codes[o_i], area)
    area = np.where(p_mig, origin_codes[origin_i[ph]], area)
    ids = make_id_numbers(
        rng, area.astype(str), birth, male, taken=ledger.taken("id") if ledger is not None else None
    )
    if ledger is not None:
        ledger.add("id", id_body_keys(ids))

    # ---- names and phones: children take the father's surname (90%)
    fam_surname = names.surname(H)
    mother_surname = names.surname(H)
    child_mat = rng.random(P) < 0.10
    surname = np.where(role == ROLE_FATHER, fam_surname[ph], mother_surname[ph])
    surname = np.where(is_child, np.where(child_mat, mother_surname[ph], fam_surname[ph]), surname)
    gp_side = persons["gp_side"].to_numpy()
    is_gp = role >= ROLE_GP
    gp_own = names.surname(P)
    gp_male = is_gp & male
    surname = np.where(gp_male, np.where(gp_side == 0, fam_surname[ph], mother_surname[ph]), surname)
    surname = np.where(is_gp & ~male, gp_own, surname)
    by = birth.astype("datetime64[Y]").astype(int) + 1970
    persons["name"] = names.full(surname.astype(object), male, by)
    persons["id18"] = ids
    persons["area"] = area
    phones = make_phones(rng, P, taken=ledger.taken("phone") if ledger is not None else None)
    has_phone = np.where(
        is_child, (by <= 2011) & (rng.random(P) < 0.3), rng.random(P) < np.where(is_gp, 0.65, 0.97)
    )
    persons["phone"] = np.where(has_phone, phones, None)
    if ledger is not None:
        ledger.add("phone", phones[has_phone].astype(np.int64))

    # ---- household numbers (户号) and addresses
    hn = rng.integers(100_000_000, 999_999_999, size=H)
    hn_taken = ledger.taken("hh") if ledger is not None else None
    for _ in range(20):
        _, first = np.unique(hn, return_index=True)
        dup = np.ones(H, bool)
        dup[first] = False
        if hn_taken is not None and len(hn_taken):
            dup |= np.isin(hn, hn_taken)
        if not dup.any():
            break
        hn[dup] = rng.integers(100_000_000, 999_999_999, size=dup.sum())
    else:
        if ledger is not None:  # pragma: no cover - astronomically unlikely
            raise RuntimeError("could not make unique household numbers")
    if ledger is not None:
        ledger.add("hh", hn)
    dname = dists["district"].to_numpy()[d_idx]
    tname = city.townships["township"].to_numpy()[t_idx]
    cname = comms["community"].to_numpy()[c_idx]
    address = np.empty(H, dtype=object)
    num = rng.integers(1, 300, H)
    grp = rng.integers(1, 15, H)
    bld = rng.integers(1, 30, H)
    unit = rng.integers(1, 5, H)
    room = rng.integers(1, 25, H) * 100 + rng.integers(1, 5, H)
    for h in range(H):
        if institution[h]:
            address[h] = f"杭州市{dname[h]}社会福利中心"
        elif is_village[h]:
            extra = f"{room[h] % 100 + 100}室" if migrant[h] else ""
            address[h] = f"杭州市{dname[h]}{tname[h]}{cname[h]}{grp[h]}组{num[h]}号{extra}"
        else:
            sts = city.streets[c_idx[h]]
            st = sts[h % len(sts)]
            address[h] = f"杭州市{dname[h]}{tname[h]}{st}{num[h]}号{bld[h]}幢{unit[h]}单元{room[h]}室"

    # ---- presence window (global months) and hukou registration dates
    G_end = 10**6
    arrive_g = np.full(H, -(10**6))
    leave_g = np.full(H, G_end)
    # stable household vulnerability: partly unobserved, partly known risk factors (one parent, a very
    # young mother, three children) ⚠
    frailty = (
        rng.normal(0, config.household_frailty_sd, H)
        + 0.30 * single
        + 0.25 * (mother_age_at_first < 22)
        + 0.15 * (counts >= 3)
    )
    conflict_k = np.exp(rng.normal(-0.3, 0.9, H))
    hh = pd.DataFrame(
        {
            "hh_number": hn.astype(str),
            "community": c_idx,
            "township": t_idx,
            "district": d_idx,
            "is_village": is_village,
            "agri": agri,
            "migrant": migrant,
            "institution": institution,
            "orphan0": orphan,
            "de_facto0": de_facto,
            "single": single,
            "fallback": rng.random(H) < config.other_relative_fallback,
            "frailty": frailty,
            "conflict_k": conflict_k,
            "lb_findable": rng.random(H) >= config.lb_never_found_share,
            "address": address,
            "origin": np.array([o for _, o in ORIGINS], dtype=object)[origin_i],
            "arrive_g": arrive_g,
            "leave_g": leave_g,
            "n_children": counts,
            "eldest_birth": eldest_birth,
        }
    )

    # ---- standing stocks of parents' conditions (dates before the simulation start)
    start_day = start_g_month.astype("datetime64[D]")
    span = (start_day - youngest_birth).astype(int)

    def before_start(mask: np.ndarray) -> np.ndarray:
        d = np.full(H, np.datetime64("NaT"), dtype="datetime64[D]")
        back = (rng.random(H) * np.maximum(span, 30)).astype("int64")
        d[mask] = (start_day - back.astype("timedelta64[D]"))[mask]
        return d

    one_dead = stock_ok & (~orphan) & (~de_facto) & (~single) & (rng.random(H) < config.one_parent_dead_share)
    which = rng.random(H) < 0.65  # fathers die more often
    father_dead = orphan | (one_dead & which) | ((de_facto_cause == 0) & which)
    mother_dead = orphan | (one_dead & ~which) | ((de_facto_cause == 0) & ~which & (rng.random(H) < 0.5))
    mother_missing = (de_facto_cause == 0) & ~which & ~mother_dead
    father_sick = (
        ((de_facto_cause == 0) & ~which)
        | (de_facto_cause == 1)
        | ((~orphan) & (rng.random(H) < config.parent_severe_disability_share))
    )
    mother_sick = (
        ((de_facto_cause == 0) & which)
        | (de_facto_cause == 1)
        | ((~orphan) & (rng.random(H) < config.parent_severe_disability_share * 0.8))
    )
    father_prison = de_facto_cause == 2
    mother_prison = (de_facto_cause == 2) & (rng.random(H) < 0.5)
    mother_missing |= (de_facto_cause == 2) & ~mother_prison
    father_missing = (de_facto_cause == 3) & (rng.random(H) < 0.6)
    mother_missing |= (de_facto_cause == 3) & ~father_missing
    father_sick |= (de_facto_cause == 3) & ~father_missing
    mother_sick &= ~mother_dead & ~mother_missing
    father_sick &= ~father_dead
    prison_start = before_start(father_prison | mother_prison)
    prison_len = np.exp(
        rng.normal(np.log(config.prison_median_months * 2), 0.5, H)
    )  # long sentences for a stock
    init = {
        "father_dead": before_start(father_dead & has_father),
        "mother_dead": before_start(mother_dead & has_mother),
        "father_sick": father_sick & has_father,
        "mother_sick": mother_sick & has_mother,
        "father_prison": father_prison & has_father,
        "mother_prison": mother_prison & has_mother,
        "prison_start": prison_start,
        "prison_months": prison_len,
        "father_missing": before_start(father_missing & has_father),
        "mother_missing": before_start(mother_missing & has_mother),
        "de_facto_cause": de_facto_cause,
    }
    return Population(hh, persons, father, mother, gp, children, init)
