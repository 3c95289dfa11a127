"""Validated, immutable value objects of scenario format v1: Scenario, Donor, Request, Partner, Policy.

Field checks live on the models; checks that need the whole scenario (unique ids, references,
commitments against budgets) live in :func:`check_scenario`, run when a Scenario is built.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, field_validator, model_validator

from matcher.errors import Problem, ScenarioError
from matcher.reference import PARTNER_TYPES, REGIONS, THEMES, countries, region_slugs

# A larger amount is a typing slip in any currency, and sums of such would overflow the solver's 64-bit integers.
MAX_MONEY = 10**15


def _number(v: object) -> object:
    """A number must be written as one: YAML reads yes/no/on/off/true/false as booleans, which Python
    would count as 1 and 0, and a quoted "100" is text (a spreadsheet's import converts its own cells)."""
    if isinstance(v, bool):
        raise ValueError(f"{str(v).lower()} is not a number (YAML reads yes/no/on/off as true/false); write a number")
    if isinstance(v, str):
        if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+", v.strip()):  # YAML 1.1 reads 1e12 as text
            raise ValueError(
                f"'{v}' is read as text (YAML takes an exponent only after a dot and a sign, e.g. "
                f"1.0e+12); write the number in full"
            )
        raise ValueError(f"'{v}' is text, not a number; write the number without quotes")
    return v


Number = BeforeValidator(_number)


def _calendar_date(v: object) -> object:
    """A day as YYYY-MM-DD (YAML reads it as a date; JSON and spreadsheets give the text): not a time of
    day, nor a number (which pydantic would read as seconds since 1970)."""
    if v is None or (isinstance(v, date) and not isinstance(v, datetime)):
        return v
    if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v.strip()):
        try:
            return date.fromisoformat(v.strip())
        except ValueError:
            raise ValueError(f"'{v}' is no day of the calendar; write YYYY-MM-DD, e.g. 2027-01-15") from None
    shown = v.isoformat(sep=" ") if isinstance(v, datetime) else repr(v)
    raise ValueError(f"{shown} is not a date; write the day as YYYY-MM-DD, e.g. 2027-01-15")


Money = Annotated[int, Number, Field(ge=0, le=MAX_MONEY)]
Share = Annotated[float, Number, Field(ge=0, le=1)]
Id = Annotated[str, Field(min_length=1)]
Term = Literal["coverage", "volume", "grants", "cost"]

DEFAULT_PRIORITY_WEIGHTS = {1: 1.0, 2: 2.0, 3: 4.0, 4: 8.0, 5: 16.0}


def _suggest(value: str, choices: tuple[str, ...] | frozenset[str] | list[str], what: str) -> str:
    """``'stockpiles' is not a theme; did you mean 'stockpile'?`` with the vocabulary when short."""
    same_but_case = [c for c in choices if c.casefold() == value.casefold()]  # usd, mli, ner-pssm-01
    close = same_but_case or difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    listing = "" if len(choices) > 20 else f" (one of: {', '.join(sorted(choices))})"  # the spec: list the vocabulary
    return f"'{value}' is not {what}{hint}{listing}"


# ISO 4217 codes newer than the bundled IATI codelist, or left out of it (metals and fund units)
RECENT_CURRENCIES = frozenset(
    {"ZWG", "XCG", "XAU", "XAG", "XPT", "XPD", "XUA", "XSU", "XBA", "XBB", "XBC", "XBD", "XTS"}
)


def _check_currency(code: str | None) -> str | None:
    if code is None:
        return code
    if not (len(code) == 3 and code.isalpha() and code.isupper()):
        hint = f"; did you mean '{code.upper()}'?" if len(code) == 3 and code.isalpha() else ""
        raise ValueError(f"'{code}' is not an ISO 4217 currency code (three capital letters, e.g. EUR){hint}")
    from matcher.iati.codelists import codelist  # the IATI Currency codelist (ISO 4217), bundled

    known = codelist("Currency")
    if code not in known and code not in RECENT_CURRENCIES:
        raise ValueError(_suggest(code, list(known), "an ISO 4217 currency code"))
    return code


# ISO 3166-1 codes whose UN M49 entry has no region (the table gives every other code its region)
WITHOUT_REGION = {"ATA": "Antarctica"}


def _check_country(code: str) -> str:
    if code in WITHOUT_REGION:
        raise ValueError(
            f"'{code}' ({WITHOUT_REGION[code]}) lies in no UN M49 region, so no earmark, floor or cap could place it; "
            "name the country the work is for"
        )
    if code not in countries():
        # XKX (Kosovo, a user-assigned code) only for what starts like it: XXX is a placeholder, not a typo of it
        near = [c for c in countries() if not c.startswith("X") or code.upper().startswith(c[:2])]
        raise ValueError(_suggest(code, near, "an ISO 3166-1 alpha-3 country code"))
    return code


def _check_region(slug: str) -> str:
    if slug not in region_slugs():
        raise ValueError(_suggest(slug, region_slugs(), "a UN M49 region slug"))
    return slug


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        """A key written with no value (YAML's `regions:` is null) means the key is absent, as the spec reads
        an absent or empty earmark: its default. Only for keys that have a default other than null (lists,
        priority, min_funding, must_fund...); a required key left null stays an error."""
        if not isinstance(data, dict) or None not in data.values():
            return data
        return {k: v for k, v in data.items() if not (v is None and k in _defaulted(cls))}


@functools.cache
def _defaulted(model: type[BaseModel]) -> frozenset[str]:
    """The keys of a model with a default other than null (read once per model: sweeps parse every draw)."""
    return frozenset(n for n, f in model.model_fields.items() if not f.is_required() and f.default is not None)


class Donor(_Frozen):
    """An offer of funds (``kind: funds``) or of in-kind capacity (``kind: in_kind``) for the period."""

    id: Id
    name: str | None = None
    kind: Literal["funds", "in_kind"] = "funds"
    budget: Money | None = None
    currency: str | None = None
    min_grant: Money | None = None
    max_grant: Money | None = None
    regions: list[str] = []
    countries: list[str] = []
    exclude_countries: list[str] = []
    themes: list[str] = []
    partner_types: list[str] = []
    capacity: Money | None = None
    unit: str | None = None
    confidence: Share | None = None
    budget_range: tuple[Money, Money] | None = None

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        return [_check_region(s) for s in v]

    @field_validator("countries", "exclude_countries")
    @classmethod
    def _countries(cls, v: list[str]) -> list[str]:
        return [_check_country(c) for c in v]

    @field_validator("themes")
    @classmethod
    def _themes(cls, v: list[str]) -> list[str]:
        for t in v:
            if t not in THEMES:
                raise ValueError(_suggest(t, THEMES, "a theme"))
        return v

    @field_validator("partner_types")
    @classmethod
    def _partner_types(cls, v: list[str]) -> list[str]:
        for t in v:
            if t not in PARTNER_TYPES:
                raise ValueError(_suggest(t, PARTNER_TYPES, "a partner type"))
        return v

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str | None) -> str | None:
        return _check_currency(v)

    @model_validator(mode="after")
    def _kind_keys(self) -> Donor:
        if self.kind == "funds":
            if self.budget is None:
                raise ValueError("a funds donor needs 'budget' (whole units of its currency)")
            if self.capacity is not None:
                raise ValueError("'capacity' is for in-kind donors; add 'kind: in_kind' or use 'budget'")
        else:
            if self.capacity is None:
                raise ValueError("an in-kind donor needs 'capacity' (units it can deliver)")
            if self.budget is not None:
                raise ValueError("an in-kind donor has 'capacity', not 'budget'")
        if self.min_grant is not None and self.max_grant is not None and self.min_grant > self.max_grant:
            raise ValueError(f"min_grant {self.min_grant} is above max_grant {self.max_grant}")
        if self.budget_range is not None and self.budget_range[0] > self.budget_range[1]:
            raise ValueError("budget_range must be [low, high] with low <= high")
        return self


class Request(_Frozen):
    """A national assistance request."""

    id: Id
    country: str
    region: str | None = None
    theme: str
    amount: Annotated[int, Number, Field(gt=0, le=MAX_MONEY)]
    priority: Annotated[int, Number, Field(ge=1, le=5)] = 3
    min_funding: Share = 1.0
    partner: str | None = None
    agenda: list[str] = []
    requires: list[str] = []
    title: str | None = None
    must_fund: StrictBool = False

    @field_validator("country")
    @classmethod
    def _country(cls, v: str) -> str:
        return _check_country(v)

    @field_validator("theme")
    @classmethod
    def _theme(cls, v: str) -> str:
        if v not in THEMES:
            raise ValueError(_suggest(v, THEMES, "a theme"))
        return v

    @model_validator(mode="after")
    def _region_matches_country(self) -> Request:
        actual = countries()[self.country].region
        if self.region is not None and self.region != actual:
            raise ValueError(
                f"region '{self.region}' is not the M49 region of {self.country} ('{actual}');"
                " leave 'region' out to derive it"
            )
        return self

    @property
    def prerequisites(self) -> list[str]:
        """The requests this one requires (rule 8), each once and never itself: a request that
        requires itself or names one twice asks nothing more (the spec's rule holds trivially)."""
        return [q for q in dict.fromkeys(self.requires) if q != self.id]

    @property
    def m49_region(self) -> str:
        """The request's UN M49 region, given or derived from its country."""
        return self.region or countries()[self.country].region

    @property
    def areas(self) -> frozenset[str]:
        """Region, sub-region and intermediate region slugs a donor earmark may name."""
        return countries()[self.country].areas

    @property
    def min_amount(self) -> int:
        """Smallest useful funding when funded at all: ceil(min_funding × amount), at least 1."""
        return max(1, ceil_share(self.min_funding, self.amount))


class Partner(_Frozen):
    """An implementing partner."""

    id: Id
    name: str | None = None
    type: str | None = None
    max_projects: Annotated[int, Number, Field(ge=0)] | None = None

    @field_validator("type")
    @classmethod
    def _type(cls, v: str | None) -> str | None:
        if v is not None and v not in PARTNER_TYPES:
            raise ValueError(_suggest(v, PARTNER_TYPES, "a partner type"))
        return v


class Policy(_Frozen):
    """Weights, shares and the lexicographic objective order."""

    # keys are text in JSON (canonical form, exports): only the weights must be written as numbers
    priority_weights: dict[Annotated[int, Field(ge=1, le=5)], Annotated[float, Number, Field(ge=0)]] = {}
    agenda_weights: dict[str, Annotated[float, Number, Field(ge=0)]] = {}
    max_donors_per_request: Annotated[int, Number, Field(ge=1)] | None = None
    max_country_share: Annotated[float, Number, Field(gt=0, le=1)] | None = None
    region_floors: dict[str, Share] = {}
    objective: list[Term] = ["coverage", "volume", "grants"]

    @field_validator("region_floors")
    @classmethod
    def _floors(cls, v: dict[str, float]) -> dict[str, float]:
        for slug in v:
            _check_region(slug)
        return v

    @field_validator("objective")
    @classmethod
    def _objective(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("name at least one term: coverage, volume, grants or cost")
        if len(set(v)) != len(v):
            raise ValueError("each objective term may appear once")
        return v

    def weight_of_priority(self, priority: int) -> float:
        """Weight of a priority level; levels the policy leaves out keep the default weight."""
        return self.priority_weights.get(priority, DEFAULT_PRIORITY_WEIGHTS[priority])


class Commitment(_Frozen):
    """A grant already committed: held fixed and counted against every limit."""

    donor: Id
    request: Id
    amount: Annotated[int, Number, Field(gt=0, le=MAX_MONEY)]


class Offer(_Frozen):
    """What an in-kind donor can deliver to one request, whole or not at all."""

    donor: Id
    request: Id
    units: Money
    value: Money
    cost: Money = 0


class Scenario(_Frozen):
    """One allocation problem: donors, requests, partners, commitments, offers and policy."""

    format: Annotated[Literal[1], Number] = 1
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    title: str | None = None
    currency: str
    fx: dict[str, Annotated[float, Number, Field(gt=0)]] = {}
    fx_date: Annotated[date | None, BeforeValidator(_calendar_date)] = None
    policy: Policy = Policy()
    donors: list[Donor]
    requests: list[Request]
    partners: list[Partner] = []
    commitments: list[Commitment] = []
    offers: list[Offer] = []

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        return _check_currency(v)  # type: ignore[return-value]

    @field_validator("fx")
    @classmethod
    def _fx(cls, v: dict[str, float]) -> dict[str, float]:
        for code in v:
            _check_currency(code)
        return v

    @model_validator(mode="after")
    def _whole_scenario(self) -> Scenario:
        problems = check_scenario(self)
        if problems:
            raise ScenarioError(problems)
        return self

    def weight(self, request: Request) -> float:
        """w[r] = priority weight × product of the agenda weights of its tags."""
        w = self.policy.weight_of_priority(request.priority)
        for tag in request.agenda:
            w *= self.policy.agenda_weights.get(tag, 1.0)
        return w

    def budget_in_currency(self, donor: Donor) -> int:
        """The donor's budget in scenario currency, converted with ``fx`` and rounded down."""
        return self.convert(donor.budget or 0, donor.currency)

    def convert(self, amount: int, currency: str | None) -> int:
        """Whole units of ``currency`` in whole scenario-currency units, rounded down (exact decimal)."""
        if currency is None or currency == self.currency:
            return amount
        rate = Decimal(str(self.fx[currency]))
        return int((rate * amount).to_integral_value(rounding=ROUND_FLOOR))

    def partner_of(self, request: Request) -> Partner | None:
        """The request's implementing partner, if it names one."""
        if request.partner is None:
            return None
        return next(p for p in self.partners if p.id == request.partner)


def earmark_block(donor: Donor, request: Request, partner: Partner | None) -> str | None:
    """Which of the donor's earmarks excludes the request (rule 1), or None when it is eligible."""
    return (
        area_block(donor, request.country)
        or theme_block(donor, request.theme)
        or partner_type_block(donor, partner.type if partner else None)
    )


def area_block(donor: Donor, country: str) -> str | None:
    """Rule 1 on where the request is: the regions, countries and exclude_countries earmarks."""
    if donor.regions and not (countries()[country].areas & set(donor.regions)):
        c = countries()[country]
        where = ", ".join(dict.fromkeys(a for a in (c.intermediate_region, c.sub_region, c.region) if a))
        return f"regions earmark ({_listed(donor.regions)}) excludes {country} (in {where})"
    if donor.countries and country not in donor.countries:
        return f"countries earmark ({_listed(donor.countries)}) excludes {country}"
    if country in donor.exclude_countries:
        return f"exclude_countries names {country}"
    return None


def theme_block(donor: Donor, theme: str) -> str | None:
    """Rule 1 on what the request is for: the themes earmark."""
    if donor.themes and theme not in donor.themes:
        return f"themes earmark ({_listed(donor.themes)}) excludes '{theme}'"
    return None


def partner_type_block(donor: Donor, ptype: str | None) -> str | None:
    """Rule 1 on who implements it: the partner_types earmark (None: no partner or no type)."""
    if donor.partner_types and ptype not in donor.partner_types:
        if not ptype:  # "excludes no partner type" read as if it excluded nothing
            listed = _listed(donor.partner_types)
            return f"partner_types earmark ({listed}) needs an implementing partner of those types; it names none"
        return f"partner_types earmark ({_listed(donor.partner_types)}) excludes '{ptype}'"
    return None


def _listed(items) -> str:
    """An earmark's list as people write it: marking, tracing (not ['marking', 'tracing'])."""
    return ", ".join(str(x) for x in items)


def check_scenario(s: Scenario) -> list[Problem]:
    """Every whole-scenario problem: duplicate ids, dangling references, currencies, commitments."""
    problems: list[Problem] = []
    problems += _duplicates("donors", [d.id for d in s.donors])
    problems += _duplicates("requests", [r.id for r in s.requests])
    problems += _duplicates("partners", [p.id for p in s.partners])
    if problems:
        return problems
    donors = {d.id: d for d in s.donors}
    requests = {r.id: r for r in s.requests}
    partners = {p.id: p for p in s.partners}
    for i, d in enumerate(s.donors):
        if d.currency and d.currency != s.currency and d.currency not in s.fx:
            problems.append(
                Problem(f"donors[{i}].currency", f"no rate for '{d.currency}' in fx; add fx: {{{d.currency}: RATE}}")
            )
    for i, r in enumerate(s.requests):
        if r.partner is not None and r.partner not in partners:
            problems.append(Problem(f"requests[{i}].partner", _unknown(r.partner, partners, "partner")))
        for j, q in enumerate(r.requires):
            if q not in requests:
                problems.append(Problem(f"requests[{i}].requires[{j}]", _unknown(q, requests, "request")))
    if problems:
        return problems
    problems += _check_commitments(s, donors, requests, partners)
    problems += _check_offers(s, donors, requests, partners)
    return problems


def _duplicates(section: str, ids: list[str]) -> list[Problem]:
    seen: dict[str, int] = {}
    out = []
    for i, ident in enumerate(ids):
        if ident in seen:
            out.append(
                Problem(
                    f"{section}[{i}].id", f"'{ident}' is already used by {section}[{seen[ident]}]; ids must be unique"
                )
            )
        seen.setdefault(ident, i)
    return out


def _unknown(ident: str, known: dict, what: str) -> str:
    if not known:
        return f"'{ident}' is not a known {what} id: the scenario defines no {what}s; add it to the {what}s list"
    return _suggest(ident, list(known), f"a known {what} id")


def _check_commitments(s: Scenario, donors: dict, requests: dict, partners: dict) -> list[Problem]:
    """Commitments that name no donor or request, or an in-kind donor. Commitments the rules cannot
    hold (over a limit, or to a request the donor's earmarks exclude) are valid input and make the
    round infeasible: commitment_conflicts."""
    problems: list[Problem] = []
    for i, c in enumerate(s.commitments):
        if c.donor not in donors:
            problems.append(Problem(f"commitments[{i}].donor", _unknown(c.donor, donors, "donor")))
            continue
        if c.request not in requests:
            problems.append(Problem(f"commitments[{i}].request", _unknown(c.request, requests, "request")))
            continue
        d = donors[c.donor]
        if d.kind != "funds":
            problems.append(
                Problem(f"commitments[{i}].donor", f"'{d.id}' is an in-kind donor; commit its deliveries as offers")
            )
    return problems


def unusual_rules(s: Scenario) -> list[str]:
    """Rules the format allows that are surely not what their author meant, each with what it does:
    a request that requires itself or names a prerequisite twice (nothing more is asked), floors of
    the M49 regions that add up to more than 1 (only an allocation of nothing keeps them)."""
    out = []
    for i, r in enumerate(s.requests):
        if r.id in r.requires:
            out.append(f"requests[{i}].requires: '{r.id}' requires itself; that asks nothing, so it is ignored")
        if len(set(r.requires)) < len(r.requires):
            out.append(f"requests[{i}].requires: a prerequisite is named twice; once is enough")
    floors = sum(v for g, v in s.policy.region_floors.items() if g in REGIONS)
    if floors > 1 + 1e-9:
        out.append(
            f"policy.region_floors: the floors of the M49 regions add up to {floors:g}, more than 1: "
            "only an allocation of nothing keeps them; lower them to add up to at most 1"
        )
    return out


def commitment_conflicts(s: Scenario) -> list[str]:
    """Commitments the hard rules cannot hold: to a request the donor's earmarks exclude (rule 1),
    over the donor's budget, over the request's amount, above the donor's max_grant, from more
    donors than max_donors_per_request. The format allows them and the round is then infeasible
    (spec: "infeasible (the hard rules admit no solution, e.g. commitments over budget)"); each
    line says which commitment and what to change."""
    donors = {d.id: d for d in s.donors}
    requests = {r.id: r for r in s.requests}
    partners = {p.id: p for p in s.partners}
    per_donor: dict[str, int] = {}
    per_request: dict[str, int] = {}
    per_pair: dict[tuple[str, str], int] = {}
    out: list[str] = []
    for i, c in enumerate(s.commitments):
        d, r = donors[c.donor], requests[c.request]
        per_donor[d.id] = per_donor.get(d.id, 0) + c.amount
        per_request[r.id] = per_request.get(r.id, 0) + c.amount
        per_pair[(d.id, r.id)] = per_pair.get((d.id, r.id), 0) + c.amount
        block = earmark_block(d, r, partners.get(r.partner) if r.partner else None)
        if block:
            out.append(
                f"commitments[{i}]: donor '{d.id}' may not fund '{r.id}': its {block}; remove the "
                "commitment or widen the earmark"
            )
        if per_donor[d.id] > s.budget_in_currency(d):
            out.append(
                f"commitments[{i}]: commitments of '{d.id}' reach {per_donor[d.id]:,}, over its budget of "
                f"{s.budget_in_currency(d):,} {s.currency}; lower the commitments or raise the budget"
            )
        if per_request[r.id] > r.amount:
            out.append(
                f"commitments[{i}]: commitments to '{r.id}' reach {per_request[r.id]:,}, over its amount "
                f"{r.amount:,}; lower the commitments or raise the amount"
            )
        if d.max_grant is not None and per_pair[(d.id, r.id)] > d.max_grant:
            out.append(
                f"commitments[{i}]: {per_pair[(d.id, r.id)]:,} committed by '{d.id}' to '{r.id}', above its "
                f"max_grant {d.max_grant:,}"
            )
    limit = s.policy.max_donors_per_request
    committed: dict[str, set[str]] = {}
    for c in s.commitments:
        committed.setdefault(c.request, set()).add(c.donor)
    out += [
        f"commitments to '{rid}' come from {len(ds)} donors, over max_donors_per_request {limit}"
        for rid, ds in committed.items()
        if limit is not None and len(ds) > limit
    ]
    return out


def _check_offers(s: Scenario, donors: dict, requests: dict, partners: dict) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    for i, o in enumerate(s.offers):
        if o.donor not in donors:
            problems.append(Problem(f"offers[{i}].donor", _unknown(o.donor, donors, "donor")))
            continue
        if o.request not in requests:
            problems.append(Problem(f"offers[{i}].request", _unknown(o.request, requests, "request")))
            continue
        d, r = donors[o.donor], requests[o.request]
        if d.kind != "in_kind":
            problems.append(
                Problem(f"offers[{i}].donor", f"'{d.id}' is a funds donor; offers come from donors with kind: in_kind")
            )
            continue
        # an offer above the donor's capacity, or to a request its earmarks exclude, is allowed by the
        # format and can simply never be delivered (the engine leaves it out: compile.py)
        if (o.donor, o.request) in seen:
            problems.append(
                Problem(
                    f"offers[{i}]",
                    f"'{d.id}' already offers to '{r.id}' in offers[{seen[(o.donor, o.request)]}]; merge them",
                )
            )
        seen.setdefault((o.donor, o.request), i)
    return problems


def deliverable_offers(s: Scenario) -> list[int]:
    """Indices of the offers that can be delivered: the value fits the request, the units the donor's
    capacity, and the donor's earmarks admit the request (rule 1). The format allows the others
    (docs/scenario-format.md); they are never delivered, and nothing counts on them."""
    donors = {d.id: d for d in s.donors}
    requests = {r.id: r for r in s.requests}
    out = []
    for k, o in enumerate(s.offers):
        d, r = donors[o.donor], requests[o.request]
        if o.value <= r.amount and o.units <= (d.capacity or 0) and earmark_block(d, r, s.partner_of(r)) is None:
            out.append(k)
    return out


def ceil_share(share: float, amount: int) -> int:
    """ceil(share × amount) in exact decimal arithmetic."""
    return math.ceil(Decimal(str(share)) * amount)
