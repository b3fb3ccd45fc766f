"""humiao simulator: a synthetic Hangzhou-like city with known ground truth.

It plays the outside world: it writes the departmental exports exactly as bureaus deliver them (the 14
tables of ``contracts/``: GBK or UTF-8 CSV, .xlsx with IDs as text cells, Chinese headers) and, apart
from them, the truth that no bureau sees. It imports nothing of the product.

Usage
-----
>>> from simulator import simulate                                     # doctest: +SKIP
>>> manifest = simulate(Path("data/raw"), Path("data/truth"), children=20000, months=36, seed=42)

or ``python -m simulator --children 20000 --months 36 --seed 42 --out data/raw --truth data/truth``
(add ``--shard-children 250000`` to bound the memory of a larger city; see *Sharding*).

Outputs
-------
- ``<out>/<department>/<file>`` for every contract table, ``<out>/manifest.json`` (interfaces.md §1,
  with sha256 per file; extra key ``rows``).
- ``<truth>/child_month_truth.parquet`` (id_number, month, guardianship_state, true_left_behind,
  maltreated, guardianship_failure_event), ``<truth>/child_attributes.parquet`` (static attributes per
  child) and ``<truth>/injected_defects.parquet`` (every deliberate defect: file, source_row, column,
  defect — e.g. ``INVALID_ID_CHECKSUM`` rows that ingest must quarantine).

The city (``places``)
---------------------
The 13 real county-level units with 2020 census shares [S1]: urban cores (上城, 拱墅, 西湖, 滨江),
suburban districts with many migrant families (萧山, 余杭, 临平, 钱塘), outer districts (富阳, 临安) and
rural counties (桐庐, 淳安, 建德). Real township names (街道 urban, 镇/乡 rural), synthetic communities
(…社区 / …村, unique city-wide), about one community per 250 children.

The people (``population``)
---------------------------
Households of 1–3 children with parents and 0–2 co-resident grandparents; local agricultural,
local non-agricultural or migrant (non-local hukou: residence permits, not in the household
registry). IDs are GB 11643 checksum-valid with the address code valid at birth in that place
(330113/330114 from 2021-04; retired 330103/330104 and 330110 for 临平 before) [S11][S14]. Standing
stocks at the start: orphans 0.4‰ [S19], de-facto unsupported 0.5‰ with the MCA causes [S18], one
parent dead, parents severely disabled, in prison or missing.

The causal process (``dynamics``)
---------------------------------
Each household has a **latent guardianship state** per month — 0 adequate, 1 strained,
2 inadequate, 3 absent — the cut of a *pressure* that moves:

    pressure = household frailty (stable; partly known risk factors: one parent, a mother under 22
               at first birth, three children) + AR(1) noise
             + no parent able at home but a grandparent (+) / only an old or frail grandparent (++)
             / only a relative who stepped in (++) / nobody (→ state 3)
             + poverty + conflict episode + a parent in prison + a death in the last year
             + a severely disabled child + more children + migrant family
             − support for six months after a visit found a failure.

The drivers have causes of their own: parents leave to work elsewhere (hazard by district kind and
village, community propensity; the second parent follows when a grandparent can care) and come back
(more at the Spring Festival, or when the carer at home falls ill); grandparents age, are admitted to
hospital (→ sometimes frail: 腿脚不便) and die; poverty starts after a death, illness or imprisonment
and leads to 低保 with a delay; conflict episodes arise from a household propensity (more in villages
[S26], in poverty) and raise imprisonment; parents die, go missing, fall seriously ill.
Children are maltreated with a monthly rate by state, raised by conflict and by being left behind
(OR 1.6 [S24e]); about 3% per year [S24]. A *guardianship failure event* starts when a child's state
enters 2–3 or maltreatment begins.

What departments see (late, noisy, partial)
-------------------------------------------
- 人社: contributions in another city (参保地 ≠ 杭州市) start 1–4 months after a parent leaves, only
  for ~60% of them; contributions in Hangzhou stop — also when the household falls into poverty
  (job loss), before any 低保 application.
- 卫健: grandparents' and parents' admissions (inpatient_admissions); injuries (more for left-behind
  [S25] and maltreated children); 0–6 health checks missed more often in strained households.
- 教育: absences rise with the state and in the three months before a drop-out; status changes.
- 公安: family violence against the child (sometimes reported by a hospital, 强制报告), domestic
  disputes between the parents during conflict episodes (the child not named), missing children,
  missing guardians, unrelated fights/theft/traffic; deaths and moves in the household registry.
- 司法: detentions of parents. 残联: certificates (only ~60% of disabled children have one).
- 民政: 低保 spells; visit records whose notes mention what the director noticed ("父母均在外务工",
  "奶奶住院", "家中无人") — often before any registry changes — with a few false mentions.

Labels are detections
---------------------
A failure becomes visible only if someone notices: a visit assessed 监护不当/监护缺失 (a noisy
function of the true state; phone/video visits see less), or police (家庭暴力, 儿童走失, 监护人失联).
Visit cadence depends on the registry — monthly for orphans, de-facto unsupported and children with a
recent failure; quarterly for the other registered; rarely for the unregistered (villages more than
urban communities, migrants least) — times a township intensity (injectable bias,
``township_visit_bias``). So observed labels carry surveillance bias; the truth shows how much.

Left-behind registration
------------------------
When both parents of a local child under 16 are away (or one is away and the other cannot care), a
director may find the child (monthly hazard by place — highest in rural-county villages — doubled in
a visited month; a quarter of households are never found) and add a ``留守儿童`` row to
child_registry (one row per (child, category) period, DESIGN §11.13); the row closes months after a
parent returns, or at 16. New registrations ≈ 2 per 1,000 children per 180 days city-wide, several
times that in rural counties (DESIGN §11.15).

Messiness
---------
Full-width digits, lower-case ``x``, 15-digit IDs for adults born before 2000 (never children,
DESIGN §11.14), ~0.05% wrong check characters, ~0.5% exact duplicate rows, mixed date formats,
empty optional cells, name typos; each department has its own usual date style.

Sharding (large cities)
-----------------------
A city is held in memory as a monthly panel (≈ 20 kB per child: 200,000 children peak at 4 GB), so a
city larger than ``shard_children`` (default 250,000; ``--shard-children``) is simulated in
``ceil(children / shard_children)`` near-equal shards, one after the other:

- **One city, random sub-populations.** Townships and communities are laid out once for the whole
  city (community names stay unique city-wide); every shard draws its households over all districts
  and communities like an unsharded city, with its own generators (seed, stage, shard). The community
  propensity to leave for work is drawn once for the city (not per shard), and the first shard draws
  the child directors of every community (its registry counts scaled to the city) for all shards.
- **Unique identifiers.** An ``ids.IdLedger`` carries what earlier shards handed out: ID numbers
  (a new sequence number of the same sex parity when the body repeats one — migrants share origin
  area codes, so shards would otherwise collide), phones, household numbers (户号), ``L…`` student
  numbers; record numbers continue the earlier shards' sequences (登记编号, 走访编号, 警情编号 per
  district and day). Certificate and ``G…`` student numbers derive from the (unique) IDs.
- **Files.** CSV rows are appended shard by shard (header once); the .xlsx tables (child registry,
  disability certificates: ≈ 52 and 39 rows per 1,000 children, 105,000 and 79,000 at 2,000,000 —
  far below Excel's 1,048,576) are collected and written once; ``rows`` in the
  manifest and every ``source_row`` of ``injected_defects`` refer to the combined files; the truth is
  written as one parquet row group (or more) per shard.
- **What is lost.** Households never interact in the dynamics, so nothing causal; but each file is a
  sequence of per-shard blocks, each sorted by date (not one date order), a day's 警情编号 follow
  shard order rather than time, each shard has its own pool of employer names, and a sharded city is
  a different draw from the unsharded city of the same seed (same distributions, not the same bytes).
  A city of at most ``shard_children`` children is byte-identical to the unsharded simulator's.

Determinism
-----------
Same seed and configuration (and ``shard_children``) → byte-identical files (numpy generators per
stage and shard, fixed xlsx metadata and zip timestamps). Source tags ``[Sn]`` refer to
``shared/SIMULATOR_FACTS.md``.
"""

from .config import DistrictSpec, LegacyCode, SimulatorConfig, config_hash
from .core import TRUTH_FILE, simulate

__all__ = ["TRUTH_FILE", "DistrictSpec", "LegacyCode", "SimulatorConfig", "config_hash", "simulate"]
