"""Free text: child directors' visit notes (走访情况) and police summaries (简要案情).

Notes are assembled from short sentences, one per circumstance the director wrote down (the visit's
note flags, see :data:`simulator.dynamics.NOTE_FLAGS`), so they carry real signal ("父亲在外务工半年未归",
"奶奶腿脚不便", "家中无人") but only when the director noticed it, and with a few false mentions.
They sometimes name the child or a relative, give a phone number or an address — the personal
information the anonymizer must find. Length ≈ 60–200 characters.
"""

from __future__ import annotations

import numpy as np

__all__ = ["incident_summary", "visit_note"]

_OPEN = {
    0: (
        "今日入户走访{child}家，{carer}在家。",
        "到{child}家中走访，与{carer}交谈。",
        "入户走访，见到{child}和{carer}。",
        "上门走访，{child}在家写作业，{carer}在旁照看。",
    ),
    1: ("电话回访{carer}，了解{child}近况。", "电话联系{carer}，询问孩子生活学习情况。"),
    2: ("视频回访，与{child}及{carer}沟通。", "通过微信视频与{carer}联系，看到{child}在家。"),
    3: ("在学校与{child}见面，询问近期情况。", "到学校看望{child}，与班主任沟通。"),
}
_S = {
    "parents_away": (
        "父母均在外务工，孩子由{gp}照看。",
        "父母外出打工，平时由{gp}照顾生活。",
        "父母常年在外地打工，很少回家。",
    ),
    "father_away_long": ("父亲在外务工{months}未归。", "父亲外出打工{months}没有回来过。"),
    "mother_away": ("母亲外出务工，父亲在家照顾。", "母亲在外地打工，过年才回来。"),
    "gp_hospital": ("{gp}住院了，家里暂时没人做饭。", "{gp}近期住院治疗。", "{gp}住院，孩子放学后无人照看。"),
    "gp_frail": ("{gp}腿脚不便，照顾孩子比较吃力。", "{gp}年纪大了身体不好。", "{gp}患慢性病，行动不便。"),
    "poverty": ("家庭经济困难。", "父亲失业，家庭收入不稳定。", "家中经济拮据，孩子衣物单薄。"),
    "conflict": ("邻居反映家中常有争吵。", "夫妻关系紧张，经常吵架。", "家长情绪激动，对孩子态度粗暴。"),
    "harm_signs": (
        "发现孩子手臂有淤青，问其原因不愿回答。",
        "孩子反映曾被家长打骂。",
        "孩子见到家长时表现紧张害怕。",
    ),
    "nobody_home": (
        "家中无人，敲门无应答。",
        "多次上门家中无人，电话也联系不上。",
        "家中无人，邻居说孩子常一个人在家。",
    ),
    "school_absence": ("老师反映孩子近期经常不去上学。", "孩子近期缺课较多。", "孩子最近经常迟到旷课。"),
    "disability": ("孩子有残疾，需要长期康复训练。", "孩子行动不便，日常需要专人照护。"),
    "parent_prison": ("父亲正在服刑。", "孩子父亲因案在押，母亲联系不上。"),
    "parent_sick": ("母亲患病长期卧床。", "父亲身体不好，无法外出工作。"),
    "parent_dead": ("父亲去年因病去世，家庭变故较大。", "家中近期有亲人去世，孩子情绪低落。"),
    "good": (
        "孩子身体健康，学习正常，家庭和睦。",
        "居住环境整洁，监护人照料到位。",
        "孩子性格开朗，与家人关系融洽。",
    ),
}
_CLOSE_OK = (
    "已告知监护人相关关爱政策。",
    "叮嘱监护人注意孩子安全，做好防溺水教育。",
    "了解孩子近期学习和生活情况，无异常。",
)
_CLOSE_BAD = (
    "已向乡镇儿童督导员报告，将持续跟进。",
    "已联系村委会协助照看，下周再次走访。",
    "已督促监护人履行监护职责。",
)
_FILL = (
    "孩子近期身体状况一般。",
    "居住条件简陋。",
    "与孩子简单聊了学习情况。",
    "提醒按时接种疫苗、参加体检。",
)


def _months_text(m: int) -> str:
    if 5 <= m <= 7:
        return "半年"
    if 11 <= m <= 13:
        return "一年多"
    return f"{max(m, 2)}个月"


def visit_note(
    rng: np.random.Generator,
    flags: int,
    flag_names: tuple[str, ...],
    mode: int,
    assessment: int,
    child: str,
    carer: str,
    gp: str,
    months: int,
    phone: str | None,
    address: str | None,
) -> str:
    """One visit note.

    Parameters
    ----------
    rng : numpy.random.Generator
    flags : int
        Bit set of circumstances the director noticed (``flag_names`` order).
    flag_names : tuple of str
    mode : int
        0 入户走访, 1 电话回访, 2 视频回访, 3 学校见面.
    assessment : int
        0 良好 … 3 监护缺失.
    child, carer, gp : str
        How the note names the child (given name or full name), the carer ("奶奶", "母亲王芳") and the
        grandparent ("奶奶", "爷爷", "外婆").
    months : int
        Months the father has been away.
    phone, address : str or None
        Written into the note when not None.

    Returns
    -------
    str
    """
    nobody = flags >> flag_names.index("nobody_home") & 1 if "nobody_home" in flag_names else 0
    opening = "上门走访{child}家。" if (nobody and mode == 0) else str(rng.choice(_OPEN[mode]))
    parts = [opening.format(child=child, carer=carer)]
    for i, name in enumerate(flag_names):
        if flags >> i & 1:
            parts.append(str(rng.choice(_S[name])).format(gp=gp, months=_months_text(int(months))))
    if phone:
        parts.append(f"{carer}联系电话{phone}。")
    if address:
        parts.append(f"家住{address}。")
    fill = list(rng.permutation(len(_FILL)))
    while sum(len(p) for p in parts) < 50 and fill:
        parts.append(_FILL[int(fill.pop())])
    parts.append(str(rng.choice(_CLOSE_BAD if assessment >= 2 else _CLOSE_OK)))
    text = "".join(parts)
    while len(text) > 200 and len(parts) > 3:
        parts.pop(-2)
        text = "".join(parts)
    return text


_INC = {
    "家庭暴力": (
        "{reporter}报警称{perp}在家中殴打{child}，民警到场处置，已对当事人批评教育并出具告诫书。",
        "接{reporter}报警，{child}被{perp}打伤，民警到场后将孩子送医检查。",
    ),
    "家庭暴力_hosp": (
        "{hospital}报告：{child}因外伤就诊，伤情与家长陈述不符，疑似遭受家庭暴力，民警已介入调查。",
    ),
    "家庭暴力_adult": (
        "{perp}报警称与丈夫发生争吵后被殴打，民警到场调解，已出具告诫书。",
        "邻居报警称{perp}家中传出打骂声，民警到场后双方情绪平稳，已调解。",
    ),
    "儿童走失": (
        "{reporter}报警称{child}（{age}岁）走失，民警调取监控后于当日在附近找到。",
        "接群众报警，发现一名走失儿童{child}，经核实已联系家属领回。",
    ),
    "监护人失联": (
        "{reporter}报称{child}的{rel}{perp}已失联多日，电话无法接通，孩子无人照看。",
        "学校反映{child}的家长联系不上，民警上门核实，{rel}{perp}去向不明。",
    ),
    "遗弃": ("群众报警称在{place}发现一名婴儿，疑似被遗弃，已送医院检查。",),
    "打架斗殴": ("{child}与同学发生口角后打架，双方轻微伤，经调解已和解。",),
    "盗窃": ("{child}在超市盗窃商品被店员发现，已通知监护人领回并批评教育。",),
    "交通事故": ("{child}骑自行车与电动车相撞，轻微受伤，已送医。", "{child}横穿马路被车辆擦碰，无大碍。"),
    "其他": ("{child}深夜独自在外逗留，民警护送回家。", "{child}与家人走散后自行到派出所求助。"),
}


def incident_summary(
    rng: np.random.Generator,
    kind: str,
    child: str,
    perp: str,
    reporter: str,
    rel: str,
    age: int,
    place: str,
    hospital: str,
) -> str:
    """A police summary (简要案情) for an incident category (with ``_hosp``/``_adult`` variants)."""
    return str(rng.choice(_INC[kind])).format(
        child=child, perp=perp, reporter=reporter, rel=rel, age=age, place=place, hospital=hospital
    )
