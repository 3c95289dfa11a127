"""IATI activities with sector 15240 (SALW control) back into requests, partners, donors and commitments.

An activity becomes a request: its identifier (less the reporting organisation's prefix) is the id,
its one recipient country the country, its theme sector (vocabulary 98/99, a theme id) the theme, its
budget (or else its commitments) the amount. Each commitment transaction becomes a commitment of its
provider organisation, and each provider a donor whose budget is what it committed, to be raised by
hand to what it still offers. Activities without sector 15240 are not SALW assistance and are skipped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from matcher.domain import Scenario
from matcher.errors import MatcherError, Problem, ScenarioError
from matcher.iati.codelists import SALW_SECTOR, iso3_of
from matcher.iati.writer import COMMITMENT, IMPLEMENTING
from matcher.reference import THEMES
from matcher.scenario_io import parse_scenario
from matcher.sheets.cells import SheetError

# IATI OrganisationType -> our partner type
PARTNER_TYPE = {
    "10": "government",
    "11": "government",
    "15": "government",
    "21": "ngo",
    "22": "ngo",
    "23": "ngo",
    "24": "ngo",
    "40": "un",
    "80": "research",
}
MAX_BYTES = 200_000_000


@dataclass
class IatiImport:
    """What the import found: the scenario and the activities it skipped, with why."""

    scenario: Scenario
    skipped: list[str] = field(default_factory=list)


@dataclass
class _State:
    requests: list[dict[str, Any]] = field(default_factory=list)
    partners: dict[str, dict[str, Any]] = field(default_factory=dict)
    donors: dict[str, dict[str, Any]] = field(default_factory=dict)
    commitments: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    currencies: set[str] = field(default_factory=set)


def read_activities(
    path: str | Path, name: str | None = None, currency: str | None = None, default_theme: str | None = None
) -> IatiImport:
    """The SALW activities of an IATI activities file as a scenario; every problem listed with its activity."""
    p = Path(path)
    root = _parse(p)
    state = _State()
    for number, act in enumerate(root.iter("iati-activity"), start=1):
        _activity(act, number, state, currency, default_theme)
    if not state.requests and not state.problems:
        raise MatcherError(f"{path}: no activity with sector {SALW_SECTOR} (Reintegration and SALW control)")
    cur = currency or (sorted(state.currencies)[0] if len(state.currencies) == 1 else None)
    if cur is None and not state.problems:
        state.problems.append(
            Problem(
                "",
                f"activities use several currencies ({', '.join(sorted(state.currencies))});"
                " pass --currency and keep only activities in it",
            )
        )
    if state.problems:
        raise SheetError(state.problems, str(path))
    data = {
        "name": name or _slug(p.stem),
        "title": f"SALW activities imported from {p.name}",
        "currency": cur,
        "donors": list(state.donors.values()),
        "requests": state.requests,
        "partners": list(state.partners.values()),
        "commitments": state.commitments,
    }
    try:
        return IatiImport(parse_scenario(data, str(path)), state.skipped)
    except ScenarioError as exc:
        raise SheetError(exc.problems, str(path)) from None


def _parse(path: Path):
    if not path.is_file():
        raise MatcherError(f"{path}: no such file; check the path")
    if path.stat().st_size > MAX_BYTES:
        raise MatcherError(f"{path}: too large for one import; split it")
    try:
        root = ElementTree.parse(str(path)).getroot()
    except DefusedXmlException as exc:
        raise MatcherError(f"{path}: refused unsafe XML ({type(exc).__name__})") from None
    except ElementTree.ParseError as exc:
        raise MatcherError(f"{path}: not well-formed XML: {exc}") from None
    if root.tag != "iati-activities":
        raise MatcherError(f"{path}: root element is <{root.tag}>, not <iati-activities>; is it an IATI activity file?")
    return root


def _activity(act, number: int, state: _State, currency: str | None, default_theme: str | None) -> None:
    ident = (act.findtext("iati-identifier") or "").strip()
    where = f"activity {number} ({ident or 'no iati-identifier'})"
    if not any(_is_salw(s) for s in act.findall("sector")):
        state.skipped.append(f"{where}: no sector {SALW_SECTOR}")
        return
    countries = [c.get("code", "") for c in act.findall("recipient-country")]
    if len(countries) != 1:
        state.skipped.append(f"{where}: {len(countries)} recipient countries; a request is for one country")
        return
    problems_before = len(state.problems)
    request_id = _request_id(act, ident)
    if not request_id:
        state.problems.append(Problem(where, "no iati-identifier; every activity needs one"))
    country = iso3_of().get(countries[0].upper())
    if country is None:
        state.problems.append(Problem(f"{where} recipient-country", f"'{countries[0]}' is not an ISO alpha-2 code"))
    theme = _theme(act) or default_theme
    if theme is None:
        state.problems.append(
            Problem(f"{where} sector", "no theme sector (vocabulary 99 with a theme id); pass --default-theme THEME")
        )
    default_currency = act.get("default-currency")
    commitments = _commitments(act, where, default_currency, currency, state)
    amount = _budget(act, where, default_currency, currency, state) or sum(c["amount"] for c in commitments)
    if amount <= 0:
        state.problems.append(Problem(where, "no budget and no commitment: the amount requested is unknown"))
    if len(state.problems) > problems_before:
        return
    request: dict[str, Any] = {"id": request_id, "country": country, "theme": theme, "amount": amount}
    committed = sum(c["amount"] for c in commitments)
    if 0 < committed < amount:
        # IATI carries no minimum share: a request committed in part keeps that part possible (with the
        # default all-or-nothing, its own commitments would make the round infeasible)
        request["min_funding"] = math.floor(committed / amount * 10**6) / 10**6
    title = act.findtext("title/narrative")
    if title and title.strip():
        request["title"] = title.strip()
    agenda = [t.get("code") for t in act.findall("tag") if t.get("vocabulary") in ("98", "99") and t.get("code")]
    if agenda:
        request["agenda"] = agenda
    partner = _partner(act, state)
    if partner:
        request["partner"] = partner
    state.requests.append(request)
    for c in commitments:
        state.commitments.append({"donor": c["donor"], "request": request_id, "amount": c["amount"]})


def _is_salw(sector) -> bool:
    return sector.get("code") == SALW_SECTOR and sector.get("vocabulary", "1") == "1"


def _request_id(act, ident: str) -> str:
    """The identifier less the reporting organisation's prefix (how the export builds it)."""
    org = act.find("reporting-org")
    ref = org.get("ref", "") if org is not None else ""
    if ref and ident.startswith(ref + "-"):
        return ident[len(ref) + 1 :]
    return ident


def _theme(act) -> str | None:
    for s in act.findall("sector"):
        if s.get("vocabulary") in ("98", "99") and s.get("code") in THEMES:
            return s.get("code")
    return None


def _money(element, where: str, default_currency: str | None, currency: str | None, state: _State) -> int | None:
    """The whole-unit value of a <value> element, or None with a problem recorded."""
    text = (element.text or "").strip()
    cur = element.get("currency") or default_currency
    if cur is None:
        state.problems.append(Problem(where, "no currency on the value or the activity's default-currency"))
        return None
    if currency is not None and cur != currency:
        state.problems.append(Problem(where, f"value in {cur}, not {currency}; convert it or pass --currency {cur}"))
        return None
    state.currencies.add(cur)
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        state.problems.append(Problem(where, f"value '{text}' is not an amount"))
        return None
    return int(number)  # whole units, rounded down like every conversion of the engine


def _budget(act, where: str, default_currency: str | None, currency: str | None, state: _State) -> int:
    """Sum of the activity's original budgets (or of its revised ones when there are only those)."""
    budgets = act.findall("budget")
    originals = [b for b in budgets if b.get("type", "1") == "1"] or budgets
    total = 0
    for i, b in enumerate(originals, start=1):
        value = b.find("value")
        if value is not None:
            total += _money(value, f"{where} budget {i}", default_currency, currency, state) or 0
    return total


def _commitments(act, where: str, default_currency: str | None, currency: str | None, state: _State) -> list[dict]:
    out = []
    funders = [o for o in act.findall("participating-org") if o.get("role") == "1"]
    for i, tx in enumerate(act.findall("transaction"), start=1):
        ttype = tx.find("transaction-type")
        if ttype is None or ttype.get("code") != COMMITMENT:
            continue
        place = f"{where} transaction {i}"
        provider = tx.find("provider-org")
        org = provider if provider is not None else (funders[0] if len(funders) == 1 else None)
        if org is None:
            state.problems.append(Problem(place, "commitment without provider-org; name the donor"))
            continue
        donor = _org_id(org)
        value = tx.find("value")
        amount = _money(value, place, default_currency, currency, state) if value is not None else None
        if donor is None or amount is None or amount <= 0:
            if donor is None:
                state.problems.append(Problem(place, "provider-org has neither ref nor narrative"))
            continue
        d = state.donors.setdefault(donor, {"id": donor, "budget": 0})
        name = org.findtext("narrative")
        if name and name.strip() and name.strip() != donor:
            d["name"] = name.strip()
        d["budget"] += amount
        out.append({"donor": donor, "amount": amount})
    return out


def _partner(act, state: _State) -> str | None:
    for org in act.findall("participating-org"):
        if org.get("role") != IMPLEMENTING:
            continue
        pid = _org_id(org)
        if pid is None:
            continue
        p = state.partners.setdefault(pid, {"id": pid})
        name = org.findtext("narrative")
        if name and name.strip() and name.strip() != pid:
            p["name"] = name.strip()
        if org.get("type") in PARTNER_TYPE:
            p.setdefault("type", PARTNER_TYPE[org.get("type")])
        return pid
    return None


def _org_id(org) -> str | None:
    ref = (org.get("ref") or "").strip()
    if ref:
        return ref
    name = (org.findtext("narrative") or "").strip()
    return name or None


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return slug or "iati-import"
