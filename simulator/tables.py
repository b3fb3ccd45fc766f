"""Departmental exports built from the simulated history: what each bureau saw, late and noisy.

Each ``table_<name>`` method returns a DataFrame with the contract's English column names (renamed
to the Chinese headers when written). Event tables cover the exported window only; registries
(household registry, child registry, allowances, certificates, detentions, residence permits) also
carry periods that began before it, as a snapshot export does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import SimulatorConfig
from .contracts import TableContract
from .dynamics import ASSESSMENTS, CATEGORIES, MODES, NOTE_FLAGS, History
from .ids import IdLedger, in_sorted
from .mess import Defects, format_dates, format_months
from .places import City
from .population import ROLE_CHILD, ROLE_FATHER, ROLE_GP, ROLE_MOTHER, NameMaker, Population
from .text import incident_summary, visit_note

__all__ = ["Builder"]

_AWAY_CITIES = (
    "上海市",
    "宁波市",
    "苏州市",
    "深圳市",
    "广州市",
    "嘉兴市",
    "绍兴市",
    "金华市",
    "温州市",
    "南京市",
    "无锡市",
    "厦门市",
)
_INJURY_HARM = ("钝器伤", "烧烫伤", "跌倒", "其他")
_INJURY_HARM_P = (0.35, 0.25, 0.3, 0.1)
_INJURY = ("跌倒", "烧烫伤", "动物咬伤", "交通伤", "钝器伤", "中毒", "其他")
_INJURY_P = (0.45, 0.1, 0.1, 0.08, 0.07, 0.03, 0.17)
_WARDS_OLD = ("心血管内科", "呼吸内科", "骨科", "神经内科", "肿瘤科", "普通外科", "内分泌科")
_WARDS_ADULT = ("普通外科", "骨科", "消化内科", "妇产科", "泌尿外科", "心血管内科")
_DIS_TYPES = ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")
_GRADE_ZH = (
    "一年级",
    "二年级",
    "三年级",
    "四年级",
    "五年级",
    "六年级",
    "七年级",
    "八年级",
    "九年级",
    "高一",
    "高二",
    "高三",
)
# school days per calendar month (winter break in February, summer in July/August) ⚠
_SCHOOL_DAYS = np.array([13, 6, 22, 20, 19, 20, 3, 0, 20, 16, 21, 22])
# rough growth reference (WHO-like medians) by age in months: height cm, weight kg
_GROW_AGE = np.array([0, 3, 6, 12, 18, 24, 36, 48, 60, 72, 84])
_GROW_H = np.array([50, 61, 67, 75, 81, 87, 95, 103, 110, 116, 122])
_GROW_W = np.array([3.3, 6.0, 7.8, 9.6, 11.0, 12.2, 14.3, 16.3, 18.3, 20.5, 23.0])
_CHECK_AGES = np.array([1, 3, 6, 8, 12, 18, 24, 30, 36, 48, 60, 72])


class Builder:
    """Turns a :class:`~simulator.dynamics.History` into the 14 departmental tables.

    Parameters
    ----------
    config : SimulatorConfig
    city : City
    pop : Population
    hist : History
    contracts : dict of str to TableContract
    rng : numpy.random.Generator
    names : NameMaker
    end_month : numpy.datetime64[M]
    ledger : IdLedger, optional
        Sharded cities: record numbers (登记编号, 走访编号, 警情编号) continue the earlier shards'
        sequences and ``L…`` student numbers avoid theirs; the ledger is advanced as tables are built.
        None (unsharded): numbering starts at 1, as always.
    directors : list of list of str, optional
        Child directors per community, shared by all shards of a city (``Builder.directors`` of the
        first shard). None: drawn here from this population's registry.
    staff_scale : float
        Multiplies the registered children per community when directors are drawn (a first shard
        holding 1/k of the city draws the whole city's directors with ``k``). 1.0 unsharded.
    """

    def __init__(
        self,
        config: SimulatorConfig,
        city: City,
        pop: Population,
        hist: History,
        contracts: dict[str, TableContract],
        rng: np.random.Generator,
        names: NameMaker,
        end_month: np.datetime64,
        ledger: IdLedger | None = None,
        directors: list | None = None,
        staff_scale: float = 1.0,
    ) -> None:
        self.cfg = config
        self.ledger = ledger
        self.city = city
        self.pop = pop
        self.h = hist
        self.contracts = contracts
        self.rng = rng
        self.names = names
        self.end_month = end_month
        self.end_day = (end_month + 1).astype("datetime64[D]") - 1
        self.g0 = hist.burn_in
        self.defects = Defects(rng, config)
        P = pop.persons
        self.pid_id = P["id18"].to_numpy(dtype=object)
        self.pid_name = P["name"].to_numpy(dtype=object)
        self.pid_phone = P["phone"].to_numpy(dtype=object)
        self.pid_birth = P["birth"].to_numpy().astype("datetime64[D]")
        self.pid_male = P["male"].to_numpy()
        self.pid_role = P["role"].to_numpy()
        self.pid_hh = P["hh"].to_numpy()
        self.pid_side = P["gp_side"].to_numpy()
        hh = pop.hh
        self.hh_d = hh["district"].to_numpy()
        self.hh_t = hh["township"].to_numpy()
        self.hh_c = hh["community"].to_numpy()
        self.dname = city.districts["district"].to_numpy()
        self.tname = city.townships["township"].to_numpy()
        self.cname = city.communities["community"].to_numpy()
        # death month per person
        self.death_g = np.full(len(P), 10**6)
        if len(hist.deaths):
            self.death_g[hist.deaths["pid"].to_numpy()] = hist.deaths["g"].to_numpy()
        self.kids = pop.children
        self.hh_inst = hh["institution"].to_numpy()
        self.hh_mig = hh["migrant"].to_numpy()
        self.hh_vill = hh["is_village"].to_numpy()
        self.hh_addr = hh["address"].to_numpy(dtype=object)
        self.head = self._heads()
        if directors is None:
            self._staff(staff_scale)
        else:
            self.directors = directors

    # ------------------------------------------------------------------ helpers
    def gdate(self, g: np.ndarray) -> np.ndarray:
        """A random day inside each global month ``g`` (datetime64[D])."""
        g = np.asarray(g, dtype=np.int64)
        m0 = (self.h.start_month + g).astype("datetime64[D]")
        m1 = (self.h.start_month + g + 1).astype("datetime64[D]")
        span = (m1 - m0).astype(int)
        return m0 + (self.rng.random(len(g)) * span).astype(int).astype("timedelta64[D]")

    def gmonth(self, g: np.ndarray) -> np.ndarray:
        return (self.h.start_month + np.asarray(g, dtype=np.int64)).astype("datetime64[M]")

    def dstyle(self, dates: np.ndarray, style: str) -> np.ndarray:
        return format_dates(dates, style, self.rng, self.cfg.mixed_date_rate)

    def _heads(self) -> np.ndarray:
        """Household head (户主): paternal grandfather if co-resident, else father, mother, grandparent."""
        pop = self.pop
        H = len(pop.hh)
        head = np.full(H, -1)
        for j in (1, 0):
            g = pop.gp[:, j]
            ok = g >= 0
            ok &= np.where(
                ok, self.pid_male[np.maximum(g, 0)] & (self.pid_side[np.maximum(g, 0)] == 0), False
            )
            head = np.where((head < 0) & ok, g, head)
        for arr in (pop.father, pop.mother, pop.gp[:, 0], pop.gp[:, 1]):
            head = np.where((head < 0) & (arr >= 0), arr, head)
        kids_first = np.full(H, -1)
        kids_first[self.pid_hh[self.kids][::-1]] = self.kids[::-1]
        return np.where(head < 0, kids_first, head)

    def _staff(self, scale: float = 1.0) -> None:
        reg = self.h.registry
        comm_of_child = self.hh_c[self.h.child_hh]
        n_c = len(self.city.communities)
        counts = (
            np.bincount(comm_of_child[reg["child"].to_numpy()], minlength=n_c)
            if len(reg)
            else np.zeros(n_c, int)
        )
        if scale != 1.0:
            counts = counts * scale
        n_dir = np.maximum(1, np.ceil(counts / 3 / self.cfg.children_per_director)).astype(int)
        tot = int(n_dir.sum())
        male = self.rng.random(tot) < 0.3
        nm = self.names.full(self.names.surname(tot), male, self.rng.integers(1970, 1998, tot))
        self.directors = []
        k = 0
        for c in range(n_c):
            self.directors.append(list(nm[k : k + n_dir[c]]))
            k += n_dir[c]

    def _dq(self) -> np.ndarray:
        """Data-quality multiplier per household (by district kind)."""
        kinds = self.city.districts["kind"].to_numpy()[self.hh_d]
        return np.array([self.cfg.data_quality_multiplier.get(k, 1.0) for k in kinds])

    def rel_word(self, pid: int, child: int) -> str:
        """Kinship word of ``pid`` relative to the child (父亲, 奶奶, 外公 …)."""
        r = self.pid_role[pid]
        if r == ROLE_FATHER:
            return "父亲"
        if r == ROLE_MOTHER:
            return "母亲"
        if r >= ROLE_GP:
            mat = self.pid_side[pid] == 1
            if self.pid_male[pid]:
                return "外公" if mat else "爷爷"
            return "外婆" if mat else "奶奶"
        return "亲属"

    def carer(self, h: int, g: int, parents: bool = True) -> tuple[int, str]:
        """Who cares for the household's children in month ``g``: (person, relation for the registry).

        ``parents=False`` skips the parents (orphans, de-facto unsupported children)."""
        pop = self.pop
        if self.hh_inst[h]:
            return -1, "福利机构"
        away = self.h.away[h, :, min(g, self.h.G - 1)] if g >= 0 else np.zeros(2, bool)
        for s, arr, rel in ((1, pop.mother, "母亲"), (0, pop.father, "父亲")) if parents else ():
            p = arr[h]
            if p >= 0 and self.death_g[p] > g and not away[s] and not self._unavailable(p, g):
                return p, rel
        for j in (0, 1):
            p = pop.gp[h, j]
            if p >= 0 and self.death_g[p] > g:
                mat = self.pid_side[p] == 1
                return p, ("外祖父" if mat else "祖父") if self.pid_male[p] else ("外祖母" if mat else "祖母")
        return -1, "其他亲属"

    def _unavailable(self, pid: int, g: int) -> bool:
        if not hasattr(self, "_unavail"):
            self._unavail = {}
            for _, r in self.h.prison.iterrows():
                end = r.g_released if r.g_released >= 0 else r.g_expected
                self._unavail.setdefault(int(r.pid), []).append((int(r.g_start), int(end)))
            for _, r in self.h.missing.iterrows():
                self._unavail.setdefault(int(r.pid), []).append(
                    (int(r.g_start), int(r.g_end) if r.g_end >= 0 else 10**6)
                )
        return any(a <= g <= b for a, b in self._unavail.get(pid, ()))

    def place_cols(self, h: np.ndarray) -> dict:
        return {
            "district": self.dname[self.hh_d[h]],
            "township": self.tname[self.hh_t[h]],
            "community": self.cname[self.hh_c[h]],
        }

    # ------------------------------------------------------------------ public security
    def table_household_registry(self) -> pd.DataFrame:
        pop = self.pop
        hh = pop.hh
        local_h = ~hh["migrant"].to_numpy()
        p = np.flatnonzero(local_h[self.pid_hh])
        h = self.pid_hh[p]
        role = self.pid_role[p]
        institution = hh["institution"].to_numpy()[h]
        head = self.head[h]
        hrole = self.pid_role[np.maximum(head, 0)]
        hside = self.pid_side[np.maximum(head, 0)]
        male = self.pid_male[p]
        rel = np.full(len(p), "其他", dtype=object)
        is_head = p == head
        rel[is_head] = "户主"
        child = role == ROLE_CHILD
        # head is a parent
        hp = (hrole == ROLE_FATHER) | (hrole == ROLE_MOTHER)
        rel[hp & child] = np.where(male[hp & child], "子", "女")
        rel[hp & ~is_head & ((role == ROLE_MOTHER) | (role == ROLE_FATHER))] = "配偶"
        own_parents = (
            hp
            & (role >= ROLE_GP)
            & (
                ((hrole == ROLE_FATHER) & (self.pid_side[p] == 0))
                | ((hrole == ROLE_MOTHER) & (self.pid_side[p] == 1))
            )
        )
        rel[own_parents] = np.where(male[own_parents], "父亲", "母亲")
        # head is a grandparent
        hg = hrole >= ROLE_GP
        rel[hg & child] = np.where(
            hside[hg & child] == 0,
            np.where(male[hg & child], "孙子", "孙女"),
            np.where(male[hg & child], "外孙子", "外孙女"),
        )
        rel[hg & ~is_head & (role >= ROLE_GP)] = "配偶"
        own_child = hg & (((role == ROLE_FATHER) & (hside == 0)) | ((role == ROLE_MOTHER) & (hside == 1)))
        rel[own_child] = np.where(male[own_child], "子", "女")
        rel[institution & child] = "其他"
        birth = self.pid_birth[p]
        area = pop.persons["area"].to_numpy()[p]
        dcodes = [{d.code, *(r.code for r in d.legacy_codes)} for d in self.cfg.districts]
        born_here = np.array([a in dcodes[d] for a, d in zip(area, self.hh_d[h], strict=True)])
        movein_span = np.maximum(((self.end_day - birth).astype(int) - 20 * 365), 30)
        movein = birth + (20 * 365 + self.rng.random(len(p)) * movein_span).astype(int).astype(
            "timedelta64[D]"
        )
        movein = np.where(child, birth + self.rng.integers(1, 400, len(p)).astype("timedelta64[D]"), movein)
        reg = np.where(
            born_here | (child & (self.rng.random(len(p)) < 0.9)),
            birth + self.rng.integers(3, 60, len(p)).astype("timedelta64[D]"),
            movein,
        )
        reg = np.minimum(reg, self.end_day)
        dg = self.death_g[p]
        dead = dg < self.h.G
        dereg = np.full(len(p), np.datetime64("NaT"), dtype="datetime64[D]")
        dereg[dead] = self.gdate(dg[dead]) + self.rng.integers(5, 60, dead.sum()).astype("timedelta64[D]")
        leave = hh["leave_g"].to_numpy()[h]
        moved = (leave < self.h.G) & ~dead
        moved_out = np.full(len(p), np.datetime64("NaT"), dtype="datetime64[D]")
        moved_out[moved] = self.gdate(leave[moved])
        dereg[moved] = moved_out[moved]
        dereg = np.where(dereg > self.end_day, np.datetime64("NaT"), dereg)
        moved_out = np.where(moved_out > self.end_day, np.datetime64("NaT"), moved_out)
        reason = np.where(~np.isnat(dereg), np.where(dead, "死亡", "迁出"), "")
        # a child born during the window is only registered after birth
        keep = birth <= self.end_day
        agri = hh["agri"].to_numpy()[h]
        pc = self.place_cols(h)
        addr = hh["address"].to_numpy()[h]
        df = pd.DataFrame(
            {
                "name": self.pid_name[p],
                "id_number": self.pid_id[p],
                "sex": np.where(male, "男", "女"),
                "birth_date": format_dates(birth, "compact", self.rng, self.cfg.mixed_date_rate),
                "household_number": hh["hh_number"].to_numpy()[h],
                "relation_to_head": rel,
                "address": addr,
                "hukou_type": np.where(agri, "农业家庭户口", "非农业家庭户口"),
                **pc,
                "registered_date": self.dstyle(reg, "compact"),
                "moved_out_date": self.dstyle(moved_out, "compact"),
                "deregistered_date": self.dstyle(dereg, "compact"),
                "deregistration_reason": reason,
                "_birth": birth,
                "_sort": h * 10 + role,
            }
        )[keep]
        df = df.sort_values(["household_number", "_sort"], kind="stable").reset_index(drop=True)
        self.defects.ids(df, "id_number", df["_birth"].to_numpy(), "household_registry", adult=True)
        self._no_legacy_for_children(df, "id_number", df["_birth"].to_numpy())
        self.defects.names(df, "name")
        return df.drop(columns=["_birth", "_sort"])

    def _no_legacy_for_children(self, df: pd.DataFrame, col: str, births: np.ndarray) -> None:
        """Safety net for DESIGN §11.14: nobody born in 2000 or later carries a 15-digit ID."""
        b = np.asarray(births, dtype="datetime64[D]")
        v = df[col].to_numpy(dtype=object)
        bad = np.array([isinstance(x, str) and len(x) == 15 for x in v], dtype=bool) & (
            b >= np.datetime64("2000-01-01")
        )
        assert not bad.any(), "15-digit ID for a person born after 1999"

    def table_residence_permits(self) -> pd.DataFrame:
        pop = self.pop
        hh = pop.hh
        mig = hh["migrant"].to_numpy()
        p = np.flatnonzero(mig[self.pid_hh])
        role = self.pid_role[p]
        p = p[(role != ROLE_CHILD) | (self.rng.random(len(p)) < 0.5)]
        h = self.pid_hh[p]
        arrive = hh["arrive_g"].to_numpy()[h]
        arr_day = np.where(
            arrive >= 0,
            self.gdate(np.maximum(arrive, 0)),
            (self.h.start_month + self.g0).astype("datetime64[D]")
            - (self.rng.random(len(p)) * 8 * 365 + 30).astype(int).astype("timedelta64[D]"),
        )
        birth = self.pid_birth[p]
        regd = np.maximum(arr_day, birth + np.timedelta64(30, "D"))
        leave = hh["leave_g"].to_numpy()[h]
        canc = np.full(len(p), np.datetime64("NaT"), dtype="datetime64[D]")
        left = leave < self.h.G
        canc[left] = self.gdate(leave[left])
        keep = regd <= self.end_day
        pc = self.place_cols(h)
        df = pd.DataFrame(
            {
                "name": self.pid_name[p],
                "id_number": self.pid_id[p],
                "address": hh["address"].to_numpy()[h],
                **pc,
                "hukou_origin": hh["origin"].to_numpy()[h],
                "registered_date": self.dstyle(regd, "iso"),
                "cancelled_date": self.dstyle(canc, "iso"),
                "_birth": birth,
                "_d": regd,
            }
        )[keep]
        df = df.sort_values(["_d", "id_number"], kind="stable").reset_index(drop=True)
        self.defects.ids(df, "id_number", df["_birth"].to_numpy(), "residence_permits", adult=True)
        self.defects.names(df, "name")
        return df.drop(columns=["_birth", "_d"])

    def table_incidents(self) -> pd.DataFrame:
        inc = self.h.incidents
        inc = inc[(inc["g"] >= self.g0)].reset_index(drop=True)
        rows = []
        rng = self.rng
        days = self.gdate(inc["g"].to_numpy())
        secs = rng.integers(0, 86400, len(inc))
        # more calls in the evening
        secs = np.where(rng.random(len(inc)) < 0.5, rng.integers(17 * 3600, 23 * 3600, len(inc)), secs)
        ts = days.astype("datetime64[s]") + secs.astype("timedelta64[s]")
        order = np.argsort(ts, kind="stable")
        # 警情编号 sequences per (district, day); a sharded city continues the earlier shards' ones
        seq_by_day: dict = self.ledger.incident_seq if self.ledger is not None else {}
        i_hh, i_child, i_adult, i_g = (inc[k].to_numpy(dtype=np.int64) for k in ("hh", "child", "adult", "g"))
        i_cat = inc["category"].to_numpy(dtype=object)
        for i in order.tolist():
            h = int(i_hh[i])
            c = int(i_child[i])
            a = int(i_adult[i])
            cat = i_cat[i]
            g = int(i_g[i])
            dcode = self.cfg.districts[self.hh_d[h]].code
            dk = (dcode, str(days[i]))
            seq_by_day[dk] = seq_by_day.get(dk, 0) + 1
            iid = f"J{dcode}{str(days[i]).replace('-', '')}{seq_by_day[dk]:04d}"
            cp = self.kids[c] if c >= 0 else -1
            cname = self.pid_name[cp] if cp >= 0 else ""
            carer, _ = self.carer(h, g)
            reporter_p = carer if carer >= 0 and carer != a else -1
            rep_word = self.rel_word(reporter_p, cp) if reporter_p >= 0 and cp >= 0 else "群众"
            age = int((days[i] - self.pid_birth[cp]).astype(int) // 365) if cp >= 0 else 0
            perp = self.pid_name[a] if a >= 0 else ""
            hosp = self.city.hospitals[self.hh_d[h]][int(rng.integers(0, 3))]
            if cat == "家庭暴力" and c < 0:
                kind = "家庭暴力_adult"
            elif cat == "家庭暴力" and a == -2:
                kind = "家庭暴力_hosp"
            else:
                kind = cat
            rel = self.rel_word(a, cp) if a >= 0 else ""
            summary = incident_summary(
                rng,
                kind,
                cname,
                (rel + perp) if cat == "家庭暴力" else perp,
                f"{rep_word}{self.pid_name[reporter_p]}" if reporter_p >= 0 else "群众",
                rel,
                age,
                self.tname[self.hh_t[h]],
                hosp,
            )
            involved = []
            if cp >= 0:
                role = "受害人" if cat in ("家庭暴力", "儿童走失", "遗弃", "监护人失联") else "当事人"
                involved.append((cp, role))
            if a >= 0:
                if cat == "监护人失联":
                    involved.append((a, "监护人"))
                elif cat == "家庭暴力" and c < 0:
                    involved.append((a, "受害人"))
                    f = self.pop.father[h]
                    if f >= 0:
                        involved.append((f, "当事人"))
                else:
                    involved.append((a, "当事人"))
            if reporter_p >= 0 and rng.random() < 0.7 and all(reporter_p != x for x, _ in involved):
                involved.append((reporter_p, "报警人"))
            for pid, role in involved:
                rows.append(
                    (iid, ts[i], cat, pid, role, summary, self.dname[self.hh_d[h]], self.tname[self.hh_t[h]])
                )
        df = pd.DataFrame(
            rows,
            columns=["incident_id", "_ts", "category", "_pid", "role", "summary", "district", "township"],
        )
        if df.empty:
            df["_pid"] = df["_pid"].astype(int)
        pids = df["_pid"].to_numpy(dtype=int)
        ts_s = pd.to_datetime(df["_ts"]).dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object)
        alt = rng.random(len(df)) < self.cfg.mixed_date_rate
        ts_s[alt] = pd.to_datetime(df["_ts"][alt]).dt.strftime("%Y/%m/%d %H:%M").to_numpy(dtype=object)
        out = pd.DataFrame(
            {
                "incident_id": df["incident_id"],
                "reported_at": ts_s,
                "category": df["category"],
                "involved_id_number": self.pid_id[pids] if len(pids) else [],
                "involved_name": self.pid_name[pids] if len(pids) else [],
                "role": df["role"],
                "summary": df["summary"],
                "district": df["district"],
                "township": df["township"],
            }
        )
        self.defects.ids(
            out, "involved_id_number", self.pid_birth[pids] if len(pids) else None, "incidents", adult=True
        )
        self._no_legacy_for_children(
            out, "involved_id_number", self.pid_birth[pids] if len(pids) else np.array([], "datetime64[D]")
        )
        self.defects.names(out, "involved_name")
        return out

    # ------------------------------------------------------------------ civil affairs
    def table_child_registry(self) -> pd.DataFrame:
        reg = self.h.registry.sort_values(["g_start", "child", "cat"], kind="stable").reset_index(drop=True)
        rng = self.rng
        c = reg["child"].to_numpy()
        p = self.kids[c]
        h = self.h.child_hh[c]
        start = self.gdate(reg["g_start"].to_numpy())
        gend = reg["g_end"].to_numpy()
        end = np.full(len(reg), np.datetime64("NaT"), dtype="datetime64[D]")
        closed = gend >= 0
        end[closed] = self.gdate(gend[closed])
        end = np.where(end > self.end_day, np.datetime64("NaT"), end)
        end = np.where(~np.isnat(end) & (end < start), start + np.timedelta64(15, "D"), end)
        g_name, g_id, g_rel, g_phone, g_birth = [], [], [], [], []
        remarks = []
        rcat = reg["cat"].to_numpy(dtype=np.int64)
        rgs = reg["g_start"].to_numpy(dtype=np.int64)
        for i in range(len(reg)):
            cat = int(rcat[i])
            hi = int(h[i])
            gs = int(rgs[i])
            if cat == 2:  # left-behind: the grandparent (or another relative) who stayed
                pid, rel = -1, "其他亲属"
                for j in (0, 1):
                    q = self.pop.gp[hi, j]
                    if q >= 0 and self.death_g[q] > gs:
                        mat = self.pid_side[q] == 1
                        pid = q
                        rel = (
                            ("外祖父" if mat else "祖父")
                            if self.pid_male[q]
                            else ("外祖母" if mat else "祖母")
                        )
                        if not self.pid_male[q]:
                            break
                if pid < 0:
                    pid2, rel2 = self.carer(hi, gs)
                    if rel2 in ("父亲", "母亲"):
                        pid, rel = pid2, rel2
            else:
                pid, rel = self.carer(hi, gs, parents=cat not in (0, 1))
            if pid >= 0:
                g_name.append(self.pid_name[pid])
                g_id.append(self.pid_id[pid])
                ph = self.pid_phone[pid]
                if not isinstance(ph, str):
                    other = self.pop.mother[hi] if self.pop.mother[hi] >= 0 else self.pop.father[hi]
                    ph = self.pid_phone[other] if other >= 0 else None
                g_phone.append(ph if isinstance(ph, str) else "")
                g_birth.append(self.pid_birth[pid])
            else:
                if rel == "福利机构":
                    g_name.append("")
                    g_id.append("")
                    g_phone.append("0571-" + str(int(rng.integers(8000_0000, 8999_9999))))
                else:
                    g_name.append(
                        self.names.full(
                            self.names.surname(1), np.array([rng.random() < 0.5]), np.array([1965])
                        )[0]
                    )
                    g_id.append("")
                    g_phone.append("")
                g_birth.append(np.datetime64("NaT"))
            g_rel.append(rel)
            r = ""
            u = rng.random()
            if cat == 2 and u < 0.4:
                r = str(rng.choice(["父母均在外务工", "父母在外地打工", "由祖辈照料"]))
            elif cat == 0 and u < 0.5:
                r = "散居孤儿" if rel != "福利机构" else "集中供养"
            elif cat == 4 and u < 0.3:
                r = "已落实低保"
            elif cat == 5 and u < 0.5:
                r = str(rng.choice(["走访发现监护不到位", "需重点关注", "家庭困难"]))
            elif u < 0.05:
                r = "信息待核实"
            remarks.append(r)
        year = start.astype("datetime64[Y]").astype(int) + 1970
        seq0 = 0
        if self.ledger is not None:
            seq0 = self.ledger.registry_seq
            self.ledger.registry_seq += len(reg)
        seq = np.arange(seq0 + 1, seq0 + len(reg) + 1)
        rid = [f"HZ{y}{s:06d}" for y, s in zip(year, seq, strict=True)]
        pc = self.place_cols(h)
        df = pd.DataFrame(
            {
                "record_id": rid,
                "child_name": self.pid_name[p],
                "child_id_number": self.pid_id[p],
                "category": np.array(CATEGORIES, dtype=object)[reg["cat"].to_numpy()],
                "guardian_name": g_name,
                "guardian_id_number": g_id,
                "guardian_relation": g_rel,
                "guardian_phone": g_phone,
                "address": self.pop.hh["address"].to_numpy()[h],
                **pc,
                "registered_date": start,
                "closed_date": end,
                "remarks": remarks,
            }
        )
        self.defects.ids(df, "child_id_number", None, "child_registry", adult=False)
        self.defects.ids(
            df, "guardian_id_number", np.array(g_birth, dtype="datetime64[D]"), "child_registry", adult=True
        )
        self.defects.phones(df, "guardian_phone")
        self.defects.names(df, "child_name")
        return df

    def table_subsistence_allowance(self) -> pd.DataFrame:
        al = self.h.allowances.sort_values(["g_start", "hh"], kind="stable").reset_index(drop=True)
        h = al["hh"].to_numpy()
        head = self.head[h]
        start = self.gdate(al["g_start"].to_numpy())
        ge = al["g_end"].to_numpy()
        end = np.full(len(al), np.datetime64("NaT"), dtype="datetime64[D]")
        end[ge >= 0] = self.gdate(ge[ge >= 0])
        end = np.where(end > self.end_day, np.datetime64("NaT"), end)
        end = np.where(~np.isnat(end) & (end <= start), start + np.timedelta64(31, "D"), end)
        size = np.bincount(self.pid_hh, minlength=len(self.pop.hh))[h]
        year = np.clip(start.astype("datetime64[Y]").astype(int) + 1970, 2010, 2100)
        tier = np.array([self.cfg.districts[d].dibao_tier for d in self.hh_d[h]])
        std = self.cfg.dibao_standard_2018 * (1 + self.cfg.dibao_growth_per_year) ** (year - 2018) * tier
        frac = np.where(
            al["type"].to_numpy() == 1,
            self.rng.uniform(0.3, 1.0, len(al)),
            self.rng.uniform(0.1, 0.35, len(al)),
        )
        amount = np.round(std * size * frac).astype(int)
        pc = self.place_cols(h)
        df = pd.DataFrame(
            {
                "head_name": self.pid_name[head],
                "head_id_number": self.pid_id[head],
                "household_size": size,
                "allowance_type": np.where(al["type"].to_numpy() == 1, "低保", "低保边缘"),
                "monthly_amount": amount.astype(str),
                "start_date": self.dstyle(start, "slash"),
                "end_date": self.dstyle(end, "slash"),
                **pc,
            }
        )
        df["household_size"] = df["household_size"].astype(str)
        self.defects.ids(df, "head_id_number", self.pid_birth[head], "subsistence_allowance", adult=True)
        self.defects.names(df, "head_name")
        return df

    def table_visit_records(self) -> pd.DataFrame:
        v = self.h.visits
        v = v[v["g"] >= self.g0].sort_values(["g", "child"], kind="stable").reset_index(drop=True)
        rng = self.rng
        c = v["child"].to_numpy()
        p = self.kids[c]
        h = self.h.child_hh[c]
        vd = np.minimum(self.gdate(v["g"].to_numpy()), self.end_day)
        lag = np.where(rng.random(len(v)) < 0.5, 0, rng.integers(1, 21, len(v)))
        filed = vd + lag.astype("timedelta64[D]")
        notes, visitor = [], []
        vg, vmode, vflags, vass, vaway = (
            v[k].to_numpy(dtype=np.int64) for k in ("g", "mode", "flags", "assessment", "away_len")
        )
        for i in range(len(v)):
            hi, ci, pi = int(h[i]), int(c[i]), int(p[i])
            g = int(vg[i])
            mode = int(vmode[i])
            cpid, _ = self.carer(hi, g)
            gp_word = "奶奶"
            for j in (0, 1):
                q = self.pop.gp[hi, j]
                if q >= 0:
                    gp_word = self.rel_word(q, pi)
                    break
            if cpid >= 0:
                w = self.rel_word(cpid, pi)
                carer_txt = w + (self.pid_name[cpid] if rng.random() < 0.3 else "")
            else:
                carer_txt = "亲属"
            full = self.pid_name[pi]
            child_txt = full if rng.random() < 0.5 else (full[1:] if len(full) > 2 else full)
            phone = self.pid_phone[cpid] if cpid >= 0 and rng.random() < 0.12 else None
            phone = phone if isinstance(phone, str) else None
            addr = None
            if rng.random() < 0.08:
                a = self.hh_addr[hi]
                addr = a.replace("杭州市", "", 1)
            notes.append(
                visit_note(
                    rng,
                    int(vflags[i]),
                    NOTE_FLAGS,
                    mode,
                    int(vass[i]),
                    child_txt,
                    carer_txt,
                    gp_word,
                    int(vaway[i]),
                    phone,
                    addr,
                )
            )
            dirs = self.directors[self.hh_c[hi]]
            visitor.append(dirs[ci % len(dirs)])
        ym = vd.astype("datetime64[M]")
        v0 = 0
        if self.ledger is not None:
            v0 = self.ledger.visit_seq
            self.ledger.visit_seq += len(v)
        vid = [f"ZF{str(m).replace('-', '')}{v0 + i + 1:07d}" for i, m in enumerate(ym)]
        df = pd.DataFrame(
            {
                "visit_id": vid,
                "visit_date": self.dstyle(vd, "iso"),
                "child_id_number": self.pid_id[p],
                "child_name": self.pid_name[p],
                "visitor_name": visitor,
                "visit_mode": np.array(MODES, dtype=object)[v["mode"].to_numpy()],
                "guardianship_assessment": np.array(ASSESSMENTS, dtype=object)[v["assessment"].to_numpy()],
                "notes": notes,
                "filed_date": self.dstyle(filed, "iso"),
            }
        )
        self.defects.ids(df, "child_id_number", None, "visit_records", adult=False)
        self.defects.names(df, "child_name")
        return df

    # ------------------------------------------------------------------ education
    def _school_plan(self) -> pd.DataFrame:
        """Stages (kindergarten, primary, junior, senior) of each child overlapping the window."""
        if hasattr(self, "_plan"):
            return self._plan
        rng = self.rng
        kids = self.kids
        C = len(kids)
        birth = self.pid_birth[kids]
        by = birth.astype("datetime64[Y]").astype(int) + 1970
        after_aug = (birth.astype("datetime64[M]").astype(int) % 12) >= 8
        entry_year = by + 6 + after_aug  # the September a child enters 一年级
        win_start = (self.h.start_month + self.g0).astype("datetime64[D]")
        h = self.h.child_hh
        stages = []  # (child, stage, first_grade_idx, start_year, n_years)
        spec = (("kindergarten", -3, 3), ("primary", 0, 6), ("junior", 6, 3), ("senior", 9, 3))
        go_k = rng.random(C) < self.cfg.kindergarten_enrolment
        go_s = rng.random(C) < self.cfg.senior_enrolment
        for si, (_name, first, n) in enumerate(spec):
            sy = entry_year + first
            s_start = np.array([np.datetime64(f"{y}-09-01") for y in sy])
            s_end = np.array([np.datetime64(f"{y + n}-06-30") for y in sy])
            ok = (s_start <= self.end_day) & (s_end >= win_start)
            if si == 0:
                ok &= go_k
            if si == 3:
                ok &= go_s
            for ci in np.flatnonzero(ok):
                stages.append((ci, si, first, int(sy[ci]), n, s_start[ci], s_end[ci]))
        plan = pd.DataFrame(
            stages, columns=["child", "stage", "first", "start_year", "n", "s_start", "s_end"]
        )
        # dropout (ages 12–17): monthly hazard raised for left-behind / de-facto and by the state [⚠]
        G = self.h.G
        age_m = np.arange(G)[None, :] - self.h.child_g_birth[:, None]
        st = self.h.state[h]
        lbm = self.h.left_behind
        haz = (
            self.cfg.dropout_per_year
            / 12
            * np.where(lbm, self.cfg.dropout_risk_multiplier, 1.0)
            * (1 + 1.5 * (st >= 2))
        )
        haz = np.where((age_m >= 144) & (age_m < 216), haz, 0.0)
        haz[:, : self.g0] = 0.0
        u = rng.random(haz.shape)
        ev = (u < haz) & self.h.present[h]
        first_drop = np.where(ev.any(1), ev.argmax(1), -1)
        self.dropout_g = first_drop
        plan["hh"] = h[plan["child"].to_numpy()]
        self._plan = plan
        return plan

    def table_student_enrollment(self) -> pd.DataFrame:
        plan = self._school_plan()
        rng = self.rng
        hh = self.pop.hh
        rows = []
        kids = self.kids
        C = len(kids)
        use_g = rng.random(C) < 0.96
        l_num = rng.integers(10**16, 10**17 - 1, C)
        if self.ledger is not None:  # sharded: L numbers unique city-wide
            taken = self.ledger.taken("student")
            for _ in range(50):
                _, first = np.unique(l_num[~use_g], return_index=True)
                dup = np.ones(int((~use_g).sum()), dtype=bool)
                dup[first] = False
                dup |= in_sorted(l_num[~use_g], taken)
                if not dup.any():
                    break
                redo = np.flatnonzero(~use_g)[dup]
                l_num[redo] = rng.integers(10**16, 10**17 - 1, len(redo))
            self.ledger.add("student", l_num[~use_g])
        stud_no = np.where(
            use_g,
            np.char.add("G", self.pid_id[kids].astype(str)).astype(object),
            np.array([f"L{x:017d}" for x in l_num], dtype=object),
        )
        self.student_number = stud_no
        boarding_p = self.cfg.boarding_share
        win_start = (self.h.start_month + self.g0).astype("datetime64[D]")
        leave = hh["leave_g"].to_numpy()
        arrive = hh["arrive_g"].to_numpy()
        for r in plan.itertuples(index=False):
            ci, si, h = int(r.child), int(r.stage), int(r.hh)
            s_start = np.datetime64(r.s_start, "D")
            s_end = np.datetime64(r.s_end, "D")
            d = self.hh_d[h]
            t = self.hh_t[h]
            mig = bool(self.hh_mig[h])
            if si == 0:
                school = self.city.schools["kindergarten"][t]
            elif si in (1, 2):
                school = self.city.schools["primary" if si == 1 else "junior"][t]
                if mig and rng.random() < 0.05:
                    school = self.city.schools["private"][d]
            else:
                school = self.city.schools["senior"][d][int(rng.integers(0, 3))]
            enrolled = s_start
            arr_g = arrive[h]
            if arr_g >= 0:
                arr_day = self.gdate(np.array([arr_g]))[0]
                if arr_day > s_end:
                    continue
                enrolled = max(enrolled, arr_day)
            if self.pid_birth[kids[ci]] > enrolled:
                continue
            g_enr = int((enrolled.astype("datetime64[M]") - self.h.start_month).astype(int))
            grade_i = r.first + max(0, int((enrolled - s_start).astype(int) // 365))
            village = bool(self.hh_vill[h])
            if si == 2:
                bp = boarding_p["village_junior"] if village else boarding_p["other_junior"]
            elif si == 3:
                bp = boarding_p["senior"]
            else:
                bp = 0.0
            boarding = rng.random() < bp * (
                1.3 if self.h.left_behind[ci, max(0, min(g_enr, self.h.G - 1))] else 1.0
            )
            cp, _ = self.carer(h, max(g_enr, 0))
            if cp < 0 or not isinstance(self.pid_phone[cp], str):
                alt = self.pop.mother[h] if self.pop.mother[h] >= 0 else self.pop.father[h]
                cp = alt if alt >= 0 else cp
            gname = self.pid_name[cp] if cp >= 0 else ""
            gphone = self.pid_phone[cp] if cp >= 0 and isinstance(self.pid_phone[cp], str) else ""
            grade = "幼儿园" if grade_i < 0 else _GRADE_ZH[min(grade_i, 11)]
            base = [ci, school, boarding, gname, gphone]
            rows.append([*base, grade, "在读", enrolled, enrolled])
            # status changes within the window
            end_g = int((s_end.astype("datetime64[M]") - self.h.start_month).astype(int))
            dg = int(self.dropout_g[ci])
            lg = int(leave[h])
            events = []
            if 0 <= dg <= end_g and si >= 2:
                events.append((dg, "辍学"))
            if lg < self.h.G and lg <= end_g:
                events.append((lg, "转学"))
            if s_end <= self.end_day:
                events.append((end_g, "毕业"))
            if self.h.child_disabled[ci] and rng.random() < 0.08:
                events.append((int(rng.integers(self.g0, self.h.G)), "休学"))
            events.sort()
            for eg, status in events:
                eday = s_end if status == "毕业" else self.gdate(np.array([eg]))[0]
                if eday < win_start or eday > self.end_day or eday < enrolled:
                    continue
                yrs = int((eday - s_start).astype(int) // 365)
                gi = r.first + min(yrs, r.n - 1)
                rows.append([*base, "幼儿园" if gi < 0 else _GRADE_ZH[min(gi, 11)], status, eday, enrolled])
                if status in ("辍学", "转学", "毕业"):
                    break
        df = pd.DataFrame(
            rows,
            columns=[
                "_c",
                "school",
                "boarding",
                "guardian_name",
                "guardian_phone",
                "grade",
                "status",
                "_sd",
                "_ed",
            ],
        )
        df = df.sort_values(["_sd", "_c"], kind="stable").reset_index(drop=True)
        c = df["_c"].to_numpy(dtype=int)
        out = pd.DataFrame(
            {
                "student_number": stud_no[c],
                "name": self.pid_name[kids[c]],
                "id_number": self.pid_id[kids[c]],
                "school": df["school"],
                "grade": df["grade"],
                "boarding": np.where(df["boarding"], "是", "否"),
                "guardian_name": df["guardian_name"],
                "guardian_phone": df["guardian_phone"],
                "status": df["status"],
                "status_date": self.dstyle(df["_sd"].to_numpy().astype("datetime64[D]"), "iso"),
                "enrolled_date": self.dstyle(df["_ed"].to_numpy().astype("datetime64[D]"), "iso"),
            }
        )
        self.defects.ids(out, "id_number", None, "student_enrollment", adult=False)
        self.defects.phones(out, "guardian_phone")
        self.defects.names(out, "name")
        self.defects.blanks(out, ["guardian_phone", "enrolled_date"])
        self._enrolled_children = np.unique(c)
        return out

    def table_attendance(self) -> pd.DataFrame:
        plan = self._school_plan()
        if not hasattr(self, "student_number"):
            self.table_student_enrollment()
        rng = self.rng
        h = self.h
        G = h.G
        plan = plan[plan["stage"] >= 1]
        months = h.start_month + np.arange(G)
        mon_no = months.astype(int) % 12
        sd = _SCHOOL_DAYS[mon_no]
        c = plan["child"].to_numpy()
        s0 = plan["s_start"].to_numpy().astype("datetime64[M]")
        s1 = plan["s_end"].to_numpy().astype("datetime64[M]")
        g_s0 = (s0 - h.start_month).astype(int)
        g_s1 = (s1 - h.start_month).astype(int)
        hh_of = h.child_hh[c]
        gg = np.arange(G)[None, :]
        active = (gg >= np.maximum(g_s0, self.g0)[:, None]) & (gg <= g_s1[:, None]) & (sd[None, :] >= 5)
        active &= h.present[hh_of]
        arrive = self.pop.hh["arrive_g"].to_numpy()[hh_of]
        active &= gg >= arrive[:, None]
        dg = self.dropout_g[c]
        active &= ~((dg >= 0)[:, None] & (gg >= dg[:, None]))
        # school months a school did not report
        dq = self._dq()[hh_of]
        active &= rng.random(active.shape) >= (self.cfg.attendance_missing_month_share * dq)[:, None]
        st = h.state[hh_of]
        mal = h.maltreated[c]
        dis = h.child_disabled[c]
        indiv = rng.gamma(2.0, 0.5, len(c))
        mu = self.cfg.absence_base_per_month * indiv[:, None] * np.array([1.0, 1.5, 2.5, 4.0])[st]
        mu = mu * np.where(h.conflict[hh_of], 1.3, 1.0)
        mu = mu * np.where(mal, 1.6, 1.0) * np.where(dis, 1.8, 1.0)[:, None] * (sd[None, :] / 20.0)
        # absences rise in the months before a drop-out
        for k, add in ((1, 8.0), (2, 5.0), (3, 3.0)):
            m = (dg >= 0)[:, None] & (gg == (dg - k)[:, None])
            mu = mu + m * add
        days = np.minimum(rng.poisson(mu), sd[None, :])
        r, gcol = np.nonzero(active)
        m_str = format_months(months[gcol], "dash", rng, self.cfg.mixed_date_rate)
        df = pd.DataFrame(
            {
                "student_number": self.student_number[c[r]],
                "month": m_str,
                "days_absent": days[r, gcol].astype(str),
                "school_days": sd[gcol].astype(str),
                "_g": gcol,
                "_c": c[r],
            }
        )
        df = df.sort_values(["_g", "_c"], kind="stable").reset_index(drop=True)
        return df.drop(columns=["_g", "_c"])

    # ------------------------------------------------------------------ health
    def table_child_health_checks(self) -> pd.DataFrame:
        rng = self.rng
        h = self.h
        kids = self.kids
        birth = self.pid_birth[kids]
        rows_c, rows_d, rows_age = [], [], []
        win_start = (h.start_month + self.g0).astype("datetime64[D]")
        for a in _CHECK_AGES:
            due = (
                birth + (a * 30.44).astype(int).astype("timedelta64[D]")
                if False
                else (birth.astype("datetime64[M]") + int(a)).astype("datetime64[D]")
                + (birth - birth.astype("datetime64[M]").astype("datetime64[D]"))
            )
            ok = (due >= win_start) & (due <= self.end_day)
            ci = np.flatnonzero(ok)
            rows_c.append(ci)
            rows_d.append(due[ci])
            rows_age.append(np.full(len(ci), a))
        c = np.concatenate(rows_c)
        due = np.concatenate(rows_d)
        age = np.concatenate(rows_age)
        g = (due.astype("datetime64[M]") - h.start_month).astype(int)
        hh_of = h.child_hh[c]
        present = h.present[hh_of, g]
        st = h.state[hh_of, g]
        mig = self.pop.hh["migrant"].to_numpy()[hh_of]
        lb = h.left_behind[c, g]
        miss = (
            self.cfg.health_check_missed
            * np.array([1.0, 1.6, 2.8, 4.5])[st]
            * np.where(mig, 1.5, 1.0)
            * np.where(lb, 1.3, 1.0)
        )
        done = present & (rng.random(len(c)) >= miss)
        delay = (rng.exponential(10.0, len(c)) * np.array([1.0, 1.5, 2.5, 3.5])[st]).astype(int)
        date = np.maximum(due + delay.astype("timedelta64[D]") - np.timedelta64(5, "D"), win_start)
        done &= date <= self.end_day
        c, date, age, st, delay = c[done], date[done], age[done], st[done], delay[done]
        male = self.pid_male[kids[c]]
        hm = np.interp(age, _GROW_AGE, _GROW_H) * np.where(male, 1.015, 0.985)
        wm = np.interp(age, _GROW_AGE, _GROW_W) * np.where(male, 1.03, 0.97)
        neglect = np.where(st >= 2, 0.96, 1.0)
        height = hm * rng.normal(1.0, 0.035, len(c))
        weight = wm * neglect * rng.normal(1.0, 0.1, len(c))
        df = pd.DataFrame(
            {
                "_c": c,
                "_d": date,
                "height": np.round(height, 1),
                "weight": np.round(weight, 1),
                "on": np.where(delay <= 25, "是", "否"),
            }
        )
        df = df.sort_values(["_d", "_c"], kind="stable").reset_index(drop=True)
        cc = df["_c"].to_numpy()
        out = pd.DataFrame(
            {
                "id_number": self.pid_id[kids[cc]],
                "check_date": self.dstyle(df["_d"].to_numpy().astype("datetime64[D]"), "slash"),
                "height_cm": df["height"].map(lambda x: f"{x:.1f}"),
                "weight_kg": df["weight"].map(lambda x: f"{x:.1f}"),
                "on_schedule": df["on"],
            }
        )
        self.defects.ids(out, "id_number", None, "child_health_checks", adult=False)
        self.defects.blanks(out, ["weight_kg"])
        return out

    def table_injury_visits(self) -> pd.DataFrame:
        rng = self.rng
        inj = self.h.injuries
        inj = inj[inj["g"] >= self.g0].reset_index(drop=True)
        n = len(inj)
        harm = inj["from_harm"].to_numpy().astype(bool)
        t_h = rng.choice(len(_INJURY_HARM), size=n, p=_INJURY_HARM_P)
        t_o = rng.choice(len(_INJURY), size=n, p=_INJURY_P)
        typ = np.where(harm, np.array(_INJURY_HARM, dtype=object)[t_h], np.array(_INJURY, dtype=object)[t_o])
        c = inj["child"].to_numpy()
        d = self.gdate(inj["g"].to_numpy())
        hosp = [
            self.city.hospitals[self.hh_d[self.h.child_hh[ci]]][
                int(rng.choice(5, p=[0.45, 0.15, 0.1, 0.25, 0.05]))
            ]
            for ci in c
        ]
        df = pd.DataFrame({"_d": d, "_c": c, "injury_type": typ, "hospital": hosp})
        df = df.sort_values(["_d", "_c"], kind="stable").reset_index(drop=True)
        out = pd.DataFrame(
            {
                "id_number": self.pid_id[self.kids[df["_c"].to_numpy(dtype=int)]],
                "visit_date": self.dstyle(df["_d"].to_numpy().astype("datetime64[D]"), "iso"),
                "injury_type": df["injury_type"],
                "hospital": df["hospital"],
            }
        )
        self.defects.ids(out, "id_number", None, "injury_visits", adult=False)
        return out

    def table_inpatient_admissions(self) -> pd.DataFrame:
        rng = self.rng
        adm = self.h.admissions
        adm = adm[adm["g"] >= self.g0].reset_index(drop=True)
        pid = adm["pid"].to_numpy(dtype=int)
        los = adm["los"].to_numpy(dtype=int)
        gp = adm["is_gp"].to_numpy().astype(bool)
        # children's own stays (not part of the causal loop): ~0.4%/month, more for disabled children
        kids = self.kids
        G = self.h.G
        k_rate = 0.003 * np.where(self.h.child_disabled, 4.0, 1.0)
        ex = (np.arange(G)[None, :] >= self.h.child_g_birth[:, None]) & self.h.present[self.h.child_hh]
        ex[:, : self.g0] = False
        ev = ex & (rng.random(ex.shape) < k_rate[:, None])
        kc, kg = np.nonzero(ev)
        pid = np.concatenate([pid, kids[kc]])
        g = np.concatenate([adm["g"].to_numpy(dtype=int), kg])
        los = np.concatenate([los, rng.integers(2, 10, len(kc))])
        kind = np.concatenate([np.where(gp, 1, 0), np.full(len(kc), 2)])
        d = self.gdate(g)
        dis = d + los.astype("timedelta64[D]")
        dis = np.where(dis > self.end_day, np.datetime64("NaT"), dis)
        ward = np.where(
            kind == 1,
            np.array(_WARDS_OLD, dtype=object)[rng.integers(0, len(_WARDS_OLD), len(g))],
            np.where(
                kind == 2,
                "儿科",
                np.array(_WARDS_ADULT, dtype=object)[rng.integers(0, len(_WARDS_ADULT), len(g))],
            ),
        )
        df = pd.DataFrame({"_p": pid, "_d": d, "_dis": dis, "ward": ward})
        df = df.sort_values(["_d", "_p"], kind="stable").reset_index(drop=True)
        p = df["_p"].to_numpy(dtype=int)
        out = pd.DataFrame(
            {
                "id_number": self.pid_id[p],
                "admission_date": self.dstyle(df["_d"].to_numpy().astype("datetime64[D]"), "iso"),
                "discharge_date": self.dstyle(df["_dis"].to_numpy().astype("datetime64[D]"), "iso"),
                "ward": df["ward"],
            }
        )
        self.defects.ids(out, "id_number", self.pid_birth[p], "inpatient_admissions", adult=True)
        self._no_legacy_for_children(out, "id_number", self.pid_birth[p])
        return out

    # ------------------------------------------------------------------ disability federation
    def table_disability_certificates(self) -> pd.DataFrame:
        rng = self.rng
        h = self.h
        ci = np.flatnonzero(h.child_cert_g > -(10**5))
        ci = ci[h.child_cert_g[ci] < h.G]
        pid_c = self.kids[ci]
        cat_c = h.child_dis_type[ci]
        grade_c = np.where(h.child_dis_severe[ci], rng.integers(0, 2, len(ci)), rng.integers(2, 4, len(ci)))
        issued_c = self.gdate(h.child_cert_g[ci])
        # adults: severely ill/disabled parents at the start, plus a share of others
        init = self.pop.init
        par = np.stack([self.pop.father, self.pop.mother], 1)
        sick = np.stack([init["father_sick"], init["mother_sick"]], 1) & (par >= 0)
        pa = par[sick & (rng.random(sick.shape) < 0.7)]
        adults = np.flatnonzero(
            (self.pid_role != ROLE_CHILD)
            & (rng.random(len(self.pid_role)) < self.cfg.adult_disability_cert_share)
        )
        pa_all = np.unique(np.concatenate([pa, adults]))
        severe_a = np.isin(pa_all, pa)
        cat_a = rng.choice(7, size=len(pa_all), p=[0.15, 0.2, 0.02, 0.35, 0.05, 0.13, 0.1])
        grade_a = np.where(severe_a, rng.integers(0, 2, len(pa_all)), rng.integers(1, 4, len(pa_all)))
        age_days = (self.end_day - self.pid_birth[pa_all]).astype(int)
        issued_a = self.end_day - (
            rng.random(len(pa_all)) * np.minimum(age_days - 18 * 365, 15 * 365).clip(30)
        ).astype(int).astype("timedelta64[D]")
        p = np.concatenate([pid_c, pa_all])
        cat = np.concatenate([cat_c, cat_a])
        grade = np.concatenate([grade_c, grade_a])
        issued = np.concatenate([issued_c, issued_a])
        keep = issued <= self.end_day
        p, cat, grade, issued = p[keep], cat[keep], grade[keep], issued[keep]
        order = np.lexsort((p, issued))
        p, cat, grade, issued = p[order], cat[order], grade[order], issued[order]
        cert = [f"{self.pid_id[x]}{k + 1}{gr + 1}" for x, k, gr in zip(p, cat, grade, strict=True)]
        df = pd.DataFrame(
            {
                "certificate_number": cert,
                "name": self.pid_name[p],
                "id_number": self.pid_id[p],
                "category": np.array(_DIS_TYPES, dtype=object)[cat],
                "grade": np.array(["一级", "二级", "三级", "四级"], dtype=object)[grade],
                "issued_date": issued,
            }
        )
        self.defects.ids(df, "id_number", self.pid_birth[p], "disability_certificates", adult=True)
        self._no_legacy_for_children(df, "id_number", self.pid_birth[p])
        return df

    # ------------------------------------------------------------------ human resources
    def table_social_insurance(self) -> pd.DataFrame:
        rng = self.rng
        h = self.h
        pop = self.pop
        hh = pop.hh
        G = h.G
        T = G - self.g0
        par = np.stack([pop.father, pop.mother], 1)
        hs, ss = np.nonzero(par >= 0)
        pid = par[hs, ss]
        n = len(pid)
        mig = hh["migrant"].to_numpy()[hs]
        works = rng.random(n) < np.where(ss == 0, 1.0, 0.8)
        insured_home = works & (
            rng.random(n) < np.where(mig, self.cfg.migrant_insured_share, self.cfg.local_insured_share)
        )
        gw = np.arange(self.g0, G)
        alive = self.death_g[pid][:, None] > gw[None, :]
        pres = h.present[hs][:, self.g0 :]
        away = h.away[hs, ss][:, self.g0 :]
        blocked = np.zeros((n, T), bool)
        pos = {int(x): i for i, x in enumerate(pid)}
        for df_, endcol in ((h.prison, "g_released"), (h.missing, "g_end")):
            for r in df_.itertuples(index=False):
                i = pos.get(int(r.pid))
                if i is None:
                    continue
                e = getattr(r, endcol)
                e = (r.g_expected if endcol == "g_released" else 10**6) if e < 0 else e
                a0, a1 = max(int(r.g_start) - self.g0, 0), min(int(e) - self.g0, T - 1)
                if a1 >= a0:
                    blocked[i, a0 : a1 + 1] = True
        sick = np.stack([pop.init["father_sick"], pop.init["mother_sick"]], 1)[hs, ss]
        base = alive & ~blocked & ~sick[:, None]
        # an income drop shows as contributions that stop (job loss) while the household is poor
        poor = h.poverty[hs][:, self.g0 :] > 0
        stops = rng.random(n) < self.cfg.job_loss_insurance_stop
        home_ins = base & ~away & pres & insured_home[:, None] & ~(poor & stops[:, None])
        # away: insured where they work, starting 1–4 months after leaving
        months_away = np.zeros((n, T), int)
        full_away = h.away[hs, ss]
        run = np.zeros(n, int)
        for g in range(G):
            run = np.where(full_away[:, g], run + 1, 0)
            if g >= self.g0:
                months_away[:, g - self.g0] = run
        ins_aw = h.insured_away[hs, ss] & works
        delay = h.insure_delay[hs, ss]
        away_ins = base & away & ins_aw[:, None] & (months_away > delay[:, None])
        # destination city per away spell: stable per person (new draw per spell would need spells)
        dest = np.array(_AWAY_CITIES, dtype=object)[rng.integers(0, len(_AWAY_CITIES), n)]
        in_city = rng.random(n) < self.cfg.away_destination_in_city
        dest = np.where(in_city, "杭州市", dest)
        ins = home_ins | away_ins
        r, t = np.nonzero(ins)
        dname = self.dname[self.hh_d[hs]]
        home_city = np.where(
            rng.random(n) < 0.15, np.char.add("杭州市", dname.astype(str)).astype(object), "杭州市"
        )
        city_ = np.where(away_ins[r, t], dest[r], home_city[r])
        from faker import Faker

        fk = Faker("zh_CN")
        fk.seed_instance(int(rng.integers(0, 2**31)))
        pool = np.array([fk.company() for _ in range(max(50, min(2000, n // 10)))], dtype=object)
        emp_home = pool[rng.integers(0, len(pool), n)]
        emp_away = pool[rng.integers(0, len(pool), n)]
        emp = np.where(away_ins[r, t], emp_away[r], emp_home[r])
        emp = np.where(rng.random(len(r)) < self.cfg.missing_value_rate * self._dq()[hs[r]], "", emp)
        months = h.start_month + gw[t]
        df = pd.DataFrame(
            {
                "id_number": self.pid_id[pid[r]],
                "insured_city": city_,
                "month": format_months(months, "compact", rng, self.cfg.mixed_date_rate),
                "employer": emp,
                "_t": t,
                "_p": pid[r],
            }
        )
        df = df.sort_values(["_t", "_p"], kind="stable").reset_index(drop=True)
        births = self.pid_birth[df["_p"].to_numpy(dtype=int)]
        df = df.drop(columns=["_t", "_p"])
        self.defects.ids(df, "id_number", births, "social_insurance", adult=True)
        return df

    # ------------------------------------------------------------------ justice
    def table_detention_records(self) -> pd.DataFrame:
        pr = self.h.prison.sort_values(["g_start", "pid"], kind="stable").reset_index(drop=True)
        pr = pr[pr["g_start"] < self.h.G].reset_index(drop=True)
        p = pr["pid"].to_numpy(dtype=int)
        start = self.gdate(pr["g_start"].to_numpy())
        exp_ = self.gdate(pr["g_expected"].to_numpy())
        rel_g = pr["g_released"].to_numpy()
        rel = np.full(len(pr), np.datetime64("NaT"), dtype="datetime64[D]")
        rel[rel_g >= 0] = self.gdate(rel_g[rel_g >= 0])
        rel = np.where(rel > self.end_day, np.datetime64("NaT"), rel)
        rel = np.where(~np.isnat(rel) & (rel < start), start + np.timedelta64(60, "D"), rel)
        df = pd.DataFrame(
            {
                "id_number": self.pid_id[p],
                "name": self.pid_name[p],
                "start_date": self.dstyle(start, "cn"),
                "expected_release_date": self.dstyle(exp_, "cn"),
                "released_date": self.dstyle(rel, "cn"),
            }
        )
        self.defects.ids(df, "id_number", self.pid_birth[p], "detention_records", adult=True)
        self.defects.names(df, "name")
        return df

    # ------------------------------------------------------------------ truth
    def truth(self) -> pd.DataFrame:
        """Child × month ground truth over the window (interfaces.md §1)."""
        h = self.h
        G = h.G
        ch = h.child_hh
        gw = np.arange(self.g0, G)
        exists = (gw[None, :] >= h.child_g_birth[:, None]) & h.present[ch][:, self.g0 :]
        st = h.state[ch]
        mal = h.maltreated
        fe = np.zeros_like(mal)
        fe[:, 1:] = ((st[:, 1:] >= 2) & (st[:, :-1] < 2)) | (mal[:, 1:] & ~mal[:, :-1])
        # a child born into (or arriving in) a failing household: the failure is new to them
        first = np.arange(G)[None, :] == np.maximum(h.child_g_birth, 0)[:, None]
        fe |= first & ((st >= 2) | mal)
        r, t = np.nonzero(exists)
        gg = gw[t]
        months = (h.start_month + gg).astype("datetime64[D]")
        return pd.DataFrame(
            {
                "id_number": self.pid_id[self.kids[r]].astype(str),
                "month": months,
                "guardianship_state": st[r, gg].astype(np.int8),
                "true_left_behind": h.left_behind[r, gg],
                "maltreated": mal[r, gg],
                "guardianship_failure_event": fe[r, gg],
            }
        )

    def child_attributes(self) -> pd.DataFrame:
        """Static attributes of every child (truth side, for fairness checks on true outcomes)."""
        hh = self.pop.hh
        h = self.h.child_hh
        p = self.kids
        return pd.DataFrame(
            {
                "id_number": self.pid_id[p].astype(str),
                "birth_date": self.pid_birth[p],
                "sex": np.where(self.pid_male[p], "男", "女"),
                "hukou_type": np.where(
                    hh["migrant"].to_numpy()[h],
                    "非本地户籍",
                    np.where(hh["agri"].to_numpy()[h], "农业家庭户口", "非农业家庭户口"),
                ),
                "urban_rural": np.where(hh["is_village"].to_numpy()[h], "农村", "城镇"),
                "district": self.dname[self.hh_d[h]],
                "township": self.tname[self.hh_t[h]],
                "community": self.cname[self.hh_c[h]],
                "disabled": self.h.child_disabled,
                "household_number": hh["hh_number"].to_numpy()[h],
            }
        )
