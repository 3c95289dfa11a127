"""The eligibility graph, before any solve: who may fund whom, and where demand outruns money.

Nodes are donors and requests; an edge joins a donor to a request it may fund (its earmarks admit
the request, or an in-kind offer names it). Connected components are groups of donors and requests
that share no money with the rest. Per component, a max-flow bound says how much money could reach
its requests at most: source -> donor (budget, or the value of its offers) -> request (the largest
grant the pair allows) -> sink (the amount requested). Every allocation that keeps the hard rules
is such a flow, so the bound is never below the money a solve places.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from matcher.domain import Scenario, deliverable_offers, earmark_block

SOURCE, SINK = ("source", ""), ("sink", "")


def donor_node(donor_id: str) -> tuple[str, str]:
    return ("donor", donor_id)


def request_node(request_id: str) -> tuple[str, str]:
    return ("request", request_id)


def eligibility_graph(scenario: Scenario) -> nx.Graph:
    """Donor and request nodes; an edge with ``cap`` (largest possible grant or delivery) per eligible pair."""
    g = nx.Graph()
    for d in scenario.donors:
        g.add_node(donor_node(d.id), kind="donor", money=_donor_money(scenario, d))
    for r in scenario.requests:
        g.add_node(request_node(r.id), kind="request", amount=r.amount)
    for d in scenario.donors:
        if d.kind != "funds":
            continue
        budget = scenario.budget_in_currency(d)
        for r in scenario.requests:
            if earmark_block(d, r, scenario.partner_of(r)) is None:
                cap = min(budget, r.amount, d.max_grant if d.max_grant is not None else r.amount)
                g.add_edge(donor_node(d.id), request_node(r.id), cap=cap)
    for o in (scenario.offers[k] for k in deliverable_offers(scenario)):  # an offer never delivered links nothing
        edge = (donor_node(o.donor), request_node(o.request))
        old = g.edges[edge]["cap"] if g.has_edge(*edge) else 0
        g.add_edge(*edge, cap=old + min(o.value, _amount(scenario, o.request)))
    return g


def _amount(scenario: Scenario, request_id: str) -> int:
    return next(r.amount for r in scenario.requests if r.id == request_id)


def _donor_money(scenario: Scenario, donor) -> int:
    """What a donor could place at most: its budget, or the value of all its offers."""
    if donor.kind == "funds":
        return scenario.budget_in_currency(donor)
    return sum(scenario.offers[k].value for k in deliverable_offers(scenario) if scenario.offers[k].donor == donor.id)


def flow_bound(g: nx.Graph, nodes: set) -> int:
    """Max flow source -> donors -> requests -> sink within the given nodes: money that could reach them."""
    flow = nx.DiGraph()
    flow.add_node(SOURCE)
    flow.add_node(SINK)
    for n in nodes:
        data = g.nodes[n]
        if data["kind"] == "donor":
            flow.add_edge(SOURCE, n, capacity=data["money"])
            for m in g.neighbors(n):
                flow.add_edge(n, m, capacity=g.edges[n, m]["cap"])
        else:
            flow.add_edge(n, SINK, capacity=data["amount"])
    return int(nx.maximum_flow_value(flow, SOURCE, SINK))


def analyse(scenario: Scenario) -> dict[str, Any]:
    """Components with demand and flow bound, orphan requests, and donors that match nothing."""
    g = eligibility_graph(scenario)
    components = []
    for nodes in sorted(nx.connected_components(g), key=lambda c: sorted(c)):
        donors = sorted(n[1] for n in nodes if n[0] == "donor")
        requests = sorted(n[1] for n in nodes if n[0] == "request")
        if not donors or not requests:
            continue  # orphans and idle donors are listed on their own
        demand = sum(g.nodes[request_node(r)]["amount"] for r in requests)
        money = sum(g.nodes[donor_node(d)]["money"] for d in donors)
        bound = flow_bound(g, nodes)
        components.append(
            {
                "donors": donors,
                "requests": requests,
                "demand": demand,
                "money": money,
                "reachable": bound,
                "shortfall": demand - bound,
            }
        )
    orphans = [r.id for r in scenario.requests if g.degree(request_node(r.id)) == 0]
    idle = [d.id for d in scenario.donors if g.degree(donor_node(d.id)) == 0]
    coupled = scenario.policy.max_country_share is not None or bool(scenario.policy.region_floors)
    coupled = coupled or _linked_across(scenario, components)
    return {
        "scenario": scenario.name,
        "currency": scenario.currency,
        "components": components,
        "orphan_requests": orphans,
        "idle_donors": idle,
        "demand": sum(r.amount for r in scenario.requests),
        "reachable": sum(c["reachable"] for c in components),
        # Shares of all money (country cap, region floors) tie every component to every other.
        "separable": len(components) > 1 and not coupled,
    }


def _linked_across(scenario: Scenario, components: list[dict]) -> bool:
    """True when a prerequisite or a partner's project limit joins requests of two components."""
    where = {r: n for n, c in enumerate(components) for r in c["requests"]}
    for r in scenario.requests:
        if any(where.get(q, -1) != where.get(r.id, -1) for q in r.prerequisites):
            return True
    for p in scenario.partners:
        if p.max_projects is not None:
            if len({where.get(r.id, -1) for r in scenario.requests if r.partner == p.id}) > 1:
                return True
    return False


def to_text(doc: dict[str, Any]) -> str:
    """The graph report a coordinator reads before solving."""
    cur = doc["currency"]
    lines = [
        f"{doc['scenario']}: {_count(len(doc['components']), 'component')}; demand {doc['demand']:,} {cur}, "
        f"at most {doc['reachable']:,} can reach it (max-flow bound)"
    ]
    for n, c in enumerate(doc["components"], 1):
        flag = f"  SHORT BY {c['shortfall']:,}" if c["shortfall"] > 0 else ""
        lines.append(
            f"component {n}: {_count(len(c['donors']), 'donor')}, {_count(len(c['requests']), 'request')}; "
            f"demand {c['demand']:,}, "
            f"reachable {c['reachable']:,}{flag}"
        )
        lines.append(f"  donors: {_short(c['donors'])}")
        lines.append(f"  requests: {_short(c['requests'])}")
    lines.append(f"orphan requests (no donor may fund them): {_short(doc['orphan_requests']) or 'none'}")
    idle = _short(doc["idle_donors"]) or "none"
    lines.append(f"donors that can reach no request (earmarks, or no deliverable offer): {idle}")
    if doc["separable"]:
        lines.append("the components share no rule: each can be solved on its own")
    return "\n".join(lines) + "\n"


def _short(items: list[str], most: int = 12) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
