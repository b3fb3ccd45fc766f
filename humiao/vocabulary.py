"""The product's own Chinese vocabulary: words humiao itself writes into its outputs.

The leak scanner searches free text for every 2-character name seen in the raw input (DESIGN §11.1).
In a city of 200,000 children some person is bound to be called like a word of humiao's own fixed
text — a child or parent named 卫健 (surname 卫) makes the model card's sentence "数据来自民政、公安、教育、
卫健、残联…" a finding, and the run stops (seen in the 200,000-child benchmark). Such a word in a
template, the feature dictionary or a rule file is not anybody's name there; these words are given to
the scanner as skip words (the scanner's documented skip rule), so its exact-match search does not
fire on them. Names of three or more characters, identifiers and addresses are not affected, and the
list is small and reviewable (``humiao.vocabulary.product_words()``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Where humiao's fixed output text lives: report templates, the feature dictionary and rules, list and
#: card code (their Chinese string literals), the configuration's level names.
SOURCES = ("serving", "models", "features", "humiao.yaml")
SUFFIXES = (".py", ".j2", ".yaml", ".yml", ".html", ".md")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


def _texts() -> list[str]:
    out = []
    for name in SOURCES:
        root = REPO / name
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES)
        for f in files:
            if "__pycache__" in f.parts:
                continue
            out.extend(_CJK_RUN.findall(f.read_text(encoding="utf-8", errors="ignore")))
    return out


@lru_cache(maxsize=1)
def product_words() -> frozenset[str]:
    """Every 2-character word of humiao's fixed Chinese text (jieba segmentation of the Chinese runs in
    :data:`SOURCES`), e.g. 卫健, 残联, 高危, 走访.

    Returns
    -------
    frozenset of str
        A few thousand words; computed once per process (about a second).
    """
    import jieba

    jieba.setLogLevel(60)
    words = set()
    for run in _texts():
        words.update(w for w in jieba.cut(run) if len(w) == 2 and _CJK_RUN.fullmatch(w))
    return frozenset(words)


__all__ = ["product_words"]
