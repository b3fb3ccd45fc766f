"""The city's places: districts, townships, communities, streets, schools, hospitals and staff.

Townships are real Hangzhou names (街道 urban, 镇/乡 rural) taken from :class:`~simulator.config.DistrictSpec`;
communities are synthetic (…社区 urban, …村 rural) and unique city-wide. The number of townships and
communities scales with the number of children (``children_per_township``, ``children_per_community``),
so a 20,000-child city has about 80 communities and a 2,000-child town still has every district.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import SimulatorConfig

__all__ = ["City", "build_city"]

_URBAN_PREFIX = [
    "翠苑",
    "文华",
    "景湖",
    "金沙",
    "春晓",
    "明月",
    "锦绣",
    "和平",
    "东方",
    "紫荆",
    "桂花",
    "丽水",
    "清泰",
    "望湖",
    "南都",
    "德胜",
    "新安",
    "嘉绿",
    "古墩",
    "朝阳",
    "红梅",
    "天城",
    "江锦",
    "云河",
    "星辰",
    "映月",
    "濮家",
    "杨柳",
    "柳营",
    "秋涛",
    "观音",
    "兰亭",
    "荷花",
    "青枫",
    "枫林",
    "银杏",
    "香樟",
    "梧桐",
    "玉泉",
    "宝石",
    "月桂",
    "长乐",
    "康乐",
    "安居",
    "福缘",
    "瑞丰",
    "金色",
    "紫金",
    "晴川",
    "禾丰",
    "湘湖",
    "知章",
    "通惠",
    "江寺",
    "城河",
    "高桥",
    "崇化",
    "广德",
    "永兴",
    "凤凰",
    "白马",
    "学院",
    "府苑",
    "景芳",
    "三里",
    "华丰",
    "新华",
    "东园",
    "西园",
    "南苑",
    "北苑",
    "蓝桥",
    "绿城",
    "星洲",
    "海月",
    "水澄",
    "彩虹",
    "新城",
    "明珠",
    "君悦",
    "万家",
    "金都",
    "华鼎",
    "逸林",
    "锦江",
    "世纪",
    "阳光",
    "滨和",
    "闻涛",
    "钱潮",
    "之江",
]
_URBAN_MID = ("", "苑", "新村", "花园", "家园", "里", "坊", "一区", "二区", "三区")
_RURAL_PREFIX = [
    "石门",
    "上叶",
    "下徐",
    "金家",
    "黄泥",
    "杨梅",
    "里洪",
    "外沙",
    "前山",
    "后溪",
    "大路",
    "小坑",
    "高峰",
    "新桥",
    "东坞",
    "西岭",
    "南堡",
    "北庄",
    "青龙",
    "白沙",
    "桃源",
    "竹林",
    "茶园",
    "枫树",
    "梅林",
    "古城",
    "长林",
    "双溪",
    "三联",
    "五星",
    "红星",
    "胜利",
    "光明",
    "建新",
    "同心",
    "联合",
    "永丰",
    "合丰",
    "上方",
    "下方",
    "王家",
    "李家",
    "徐家",
    "陈家",
    "周家",
    "吴家",
    "郑家",
    "方家",
    "汪家",
    "余家",
    "胡家",
    "潘家",
    "叶家",
    "邵家",
    "程家",
    "姜家",
    "洪家",
    "俞家",
    "钱家",
    "毛家",
    "严家",
    "章家",
    "柴家",
    "童家",
    "鲍家",
    "应家",
    "麻车",
    "芝厦",
    "塘源",
    "云溪",
    "富山",
    "松坑",
    "杏林",
    "龙门",
    "凤林",
    "桂溪",
    "岩下",
    "坪山",
    "仙岩",
    "湖源",
    "樟村",
    "梓桐",
    "航坞",
    "金星",
    "和睦",
    "民主",
    "新民",
    "共和",
]
_RURAL_SUFFIX = ("村", "坞村", "畈村", "桥村", "山村", "溪村", "塘村", "湾村", "岭村", "坑村")
_STREET_WORDS = [
    "文一",
    "文二",
    "文三",
    "天目山",
    "莫干山",
    "解放",
    "庆春",
    "凤起",
    "体育场",
    "延安",
    "中山",
    "建国",
    "钱江",
    "江南",
    "滨盛",
    "江陵",
    "人民",
    "市心",
    "金城",
    "通惠",
    "新塘",
    "育才",
    "星光",
    "迎宾",
    "东湖",
    "藕花洲",
    "世纪",
    "振兴",
    "兴业",
    "富春",
    "新登",
    "千岛湖",
    "新安",
    "环城",
    "滨江",
    "明珠",
    "丰收",
    "建设",
    "工人",
    "学院",
    "商业",
    "园林",
    "青年",
    "长安",
    "华丰",
    "东新",
    "德胜",
    "湖墅",
    "余杭塘",
    "良渚",
    "古墩",
    "紫金港",
    "留和",
    "之江",
    "转塘",
    "西溪",
    "五常",
    "文化",
    "梅花碑",
    "望江",
    "秋涛",
    "九堡",
    "笕桥",
]
_HOSPITALS_CITY = ("杭州市第一人民医院", "杭州市儿童医院", "浙江省人民医院", "杭州市中医院")
_ORDINALS = "一二三四五六七八九十"


@dataclass
class City:
    """Place tables of the simulated city.

    Attributes
    ----------
    districts : DataFrame
        ``district, code, kind, dibao_tier, census_share, urban_share, nonlocal_share``.
    townships : DataFrame
        ``township, district_idx, is_street (街道)``.
    communities : DataFrame
        ``community, township_idx, district_idx, is_village (村), weight, visit_multiplier``.
    streets : list of list of str
        Street names per community (urban) — rural addresses use 组 instead.
    schools : dict
        ``kindergarten``/``primary``/``junior`` per township index, ``senior`` per district index.
    hospitals : list of list of str
        Hospital names per district index (district hospitals then city hospitals).
    directors : list of list of str
        Child directors' names per community (filled by the population builder).
    """

    districts: pd.DataFrame
    townships: pd.DataFrame
    communities: pd.DataFrame
    streets: list
    schools: dict
    hospitals: list
    directors: list


def _short(township: str) -> str:
    for suf in ("畲族乡", "街道", "镇", "乡"):
        if township.endswith(suf) and len(township) > len(suf) + 1:
            return township[: -len(suf)]
    return township


def build_city(config: SimulatorConfig, children: int, rng: np.random.Generator) -> City:
    """Lay out townships and communities for a city of ``children`` children.

    Parameters
    ----------
    config : SimulatorConfig
    children : int
        Number of children 0–17 the city will hold; sets how many townships/communities exist.
    rng : numpy.random.Generator

    Returns
    -------
    City
    """
    dist_rows, town_rows, comm_rows = [], [], []
    total_share = sum(d.census_share for d in config.districts)
    urban_names = [p + m + "社区" for m in _URBAN_MID for p in _URBAN_PREFIX]
    rural_names = [p + s for s in _RURAL_SUFFIX for p in _RURAL_PREFIX]
    urban_names = list(np.array(urban_names)[rng.permutation(len(urban_names))])
    rural_names = list(np.array(rural_names)[rng.permutation(len(rural_names))])
    used: set[str] = set()
    counters = {"u": 0, "r": 0}
    town_names_all = {t for d in config.districts for t in d.townships}

    def next_name(kind: str) -> str:
        pool = urban_names if kind == "u" else rural_names
        while True:
            i = counters[kind]
            counters[kind] += 1
            base = pool[i % len(pool)]
            rnd = i // len(pool)
            if rnd:  # pool exhausted (very large cities): 石门二村, 翠苑三社区 ...
                stem = base[:-2] if base.endswith("社区") else base[:-1]
                tail = "社区" if base.endswith("社区") else "村"
                base = f"{stem}{_ORDINALS[(rnd - 1) % 10]}{'' if rnd <= 10 else rnd}{tail}"
            if base not in used and base not in town_names_all:
                used.add(base)
                return base

    for di, d in enumerate(config.districts):
        n_d = children * d.census_share / total_share
        dist_rows.append(
            dict(
                district=d.name,
                code=d.code,
                kind=d.kind,
                dibao_tier=d.dibao_tier,
                census_share=d.census_share / total_share,
                urban_share=d.urban_share,
                nonlocal_share=d.nonlocal_share,
            )
        )
        n_comm = max(2, round(n_d / config.children_per_community))
        n_village = round(n_comm * (1.0 - d.urban_share))
        if d.urban_share < 1.0 and n_village == 0:
            n_village = 1
        if d.urban_share > 0.0 and n_comm - n_village == 0:
            n_village = n_comm - 1
        n_urban = n_comm - n_village
        streets_ = [t for t in d.townships if t.endswith("街道")]
        towns_ = [t for t in d.townships if not t.endswith("街道")]
        n_town = int(np.clip(round(n_d / config.children_per_township), 1, len(d.townships)))
        n_town = min(n_town, max(1, n_comm // config.min_communities_per_township))
        n_st = min(len(streets_), max(1 if n_urban and streets_ else 0, round(n_town * d.urban_share)))
        n_tw = min(len(towns_), n_town - n_st)
        if n_village and towns_ and n_tw == 0:
            n_tw = 1
            if n_st > 1:
                n_st -= 1
        if n_st + n_tw == 0:
            n_st = 1 if streets_ else 0
            n_tw = 0 if streets_ else 1
        chosen_st = streets_[:n_st]
        chosen_tw = towns_[:n_tw]
        t_idx_st, t_idx_tw = [], []
        for t in chosen_st:
            t_idx_st.append(len(town_rows))
            town_rows.append(dict(township=t, district_idx=di, is_street=True))
        for t in chosen_tw:
            t_idx_tw.append(len(town_rows))
            town_rows.append(dict(township=t, district_idx=di, is_street=False))
        # urban communities go to 街道 (else to town centres), villages to 镇/乡 (else suburban 街道)
        home_u = t_idx_st or t_idx_tw
        home_r = t_idx_tw or t_idx_st
        for k in range(n_urban):
            ti = home_u[k % len(home_u)]
            comm_rows.append(
                dict(
                    community=next_name("u"),
                    township_idx=ti,
                    district_idx=di,
                    is_village=False,
                    weight=d.urban_share / n_urban,
                )
            )
        for k in range(n_village):
            ti = home_r[k % len(home_r)]
            comm_rows.append(
                dict(
                    community=next_name("r"),
                    township_idx=ti,
                    district_idx=di,
                    is_village=True,
                    weight=(1.0 - d.urban_share) / n_village,
                )
            )

    districts = pd.DataFrame(dist_rows)
    townships = pd.DataFrame(town_rows)
    communities = pd.DataFrame(comm_rows)
    # per-township visit intensity: lognormal spread plus any injected bias (known-bias experiments)
    tmult = np.exp(rng.normal(0.0, config.township_visit_sd, size=len(townships)))
    for name, m in config.township_visit_bias.items():
        tmult[townships["township"].to_numpy() == name] *= float(m)
    townships["visit_multiplier"] = tmult
    communities["visit_multiplier"] = tmult[communities["township_idx"].to_numpy()]
    # size variation between communities of the same type
    communities["weight"] = communities["weight"] * np.exp(rng.normal(0, 0.25, size=len(communities)))

    streets = []
    for _ in range(len(communities)):
        k = int(rng.integers(1, 4))
        words = rng.choice(len(_STREET_WORDS), size=k, replace=False)
        streets.append([_STREET_WORDS[w] + ("路" if rng.random() < 0.7 else "街") for w in words])

    schools = {"kindergarten": {}, "primary": {}, "junior": {}, "senior": {}, "private": {}}
    for ti, row in townships.iterrows():
        s = _short(row["township"])
        schools["kindergarten"][ti] = f"{s}幼儿园"
        schools["primary"][ti] = f"{s}小学"
        schools["junior"][ti] = f"{s}初级中学"
    for di, row in districts.iterrows():
        short = row["district"][:-1] if len(row["district"]) > 2 else row["district"]
        schools["senior"][di] = [f"{short}高级中学", f"{short}第二高级中学", f"{short}职业高级中学"]
        schools["private"][di] = f"{short}育英实验学校"
    hospitals = []
    for _, row in districts.iterrows():
        short = row["district"]
        hospitals.append([f"{short}第一人民医院", f"{short}中医院", *_HOSPITALS_CITY])
    return City(
        districts, townships, communities, streets, schools, hospitals, [[] for _ in range(len(communities))]
    )
