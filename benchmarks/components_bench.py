"""Is solving independent parts apart faster? Rounds made of K generated regional rounds side by side.

Part i is ``generate_round(n, m, seed + i)`` with every id prefixed ``P{i}-``, its countries moved to
a pool of countries (same region) that no other part uses, and every donor earmarked to its part's
countries: K parts that share no donor. The country cap and region floors are dropped (they tie all
money together, so such a round is never split). Each round is solved twice in this process, split
(``MIN_PAIRS_TO_SPLIT`` set to 0) and whole (set to None, the default), and both must agree on the
objective within the lexicographic tolerance.

Usage: python benchmarks/components_bench.py [--parts 4] [--requests 300] [--donors 12] [--time-limit 60]
Prints a Markdown table: seconds (wall and CPU), stage-1 value and gap, split or not.
"""

from __future__ import annotations

import argparse
import copy
import time

from matcher.engine import SolveParams, solve
from matcher.engine import components as comp
from matcher.generate import generate_round
from matcher.reference import countries
from matcher.scenario_io import parse_scenario


def pools(k: int) -> list[dict[str, list[str]]]:
    """Per part, per region, the countries only that part uses."""
    by_region: dict[str, list[str]] = {}
    for iso, c in sorted(countries().items()):
        by_region.setdefault(c.region, []).append(iso)
    return [{g: cs[i::k] for g, cs in by_region.items()} for i in range(k)]


def regional_round(k: int, n: int, m: int, seed: int) -> dict:
    parts = pools(k)
    region_of = {iso: c.region for iso, c in countries().items()}
    data: dict = {}
    for i in range(k):
        part = generate_round(n, m, seed + i)
        p = f"P{i}-"
        used = set()
        for r in part["requests"]:
            pool = parts[i][region_of[r["country"]]]
            r["country"] = pool[sum(map(ord, r["country"])) % len(pool)]
            used.add(r["country"])
            r["id"] = p + r["id"]
            r["requires"] = [p + q for q in r.get("requires", [])]
            if "partner" in r:
                r["partner"] = p + r["partner"]
        for pa in part["partners"]:
            pa["id"] = p + pa["id"]
        for d in part["donors"]:
            d["id"] = p + d["id"]
            d.pop("exclude_countries", None)
            d["countries"] = sorted(used)
        part["commitments"] = []  # the generator checked them against the old countries
        if not data:
            data = copy.deepcopy(part)
            data["name"] = f"regional-{k}x{n}x{m}-s{seed}"
            data["policy"].pop("max_country_share", None)
            data["policy"].pop("region_floors", None)
        else:
            for key in ("donors", "requests", "partners"):
                data[key] += part[key]
    return data


def timed(scenario, params):
    t0, c0 = time.perf_counter(), time.process_time()
    result = solve(scenario, params)
    return result, time.perf_counter() - t0, time.process_time() - c0


def _grants(result) -> str:
    stage = next((st for st in result.solver.stages if st.term == "grants"), None)
    return "-" if stage is None else f"{stage.value:.0f} ({stage.bound:.0f})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="2,4,8")
    ap.add_argument("--requests", type=int, default=300, help="requests per part")
    ap.add_argument("--donors", type=int, default=12, help="donors per part")
    ap.add_argument("--time-limit", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--money-only", action="store_true", help="objective [coverage, volume]: time to the optimum")
    args = ap.parse_args()
    params = SolveParams(time_limit=args.time_limit)
    print("| parts | requests | pairs | way | wall s | cpu s | coverage | gap | grants (bound) | status |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k in (int(x) for x in args.parts.split(",")):
        data = regional_round(k, args.requests, args.donors, args.seed)
        if args.money_only:
            data["policy"]["objective"] = ["coverage", "volume"]
        s = parse_scenario(data)
        pairs = comp.eligible_pairs(s)
        rows = {}
        for way in ("split", "whole"):
            saved = comp.MIN_PAIRS_TO_SPLIT
            comp.MIN_PAIRS_TO_SPLIT = 0 if way == "split" else None
            try:
                rows[way] = timed(s, params)
            finally:
                comp.MIN_PAIRS_TO_SPLIT = saved
        for way, (r, wall, cpu) in rows.items():
            cov = f"{r.solver.stages[0].value:,.3f} | {r.solver.stages[0].gap:.1e}" if r.solver.stages else "- | -"
            print(
                f"| {k} | {len(s.requests)} | {pairs} | {way} ({r.solver.engine}) | {wall:.1f} | {cpu:.1f} | "
                f"{cov} | {_grants(r)} | {r.status} |",
                flush=True,
            )
        a, b = rows["split"][0], rows["whole"][0]
        if a.solver.stages and b.solver.stages and a.solver.stages[0].status == b.solver.stages[0].status == "optimal":
            va, vb = a.solver.stages[0].value, b.solver.stages[0].value
            assert abs(va - vb) <= 1e-6 * max(abs(va), 1), f"split and whole disagree: {va} vs {vb}"


if __name__ == "__main__":
    main()
