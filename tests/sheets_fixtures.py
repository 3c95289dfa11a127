"""Scenario fixtures for the spreadsheet and IATI tests: small enough to read, covering every sheet."""

from __future__ import annotations


def every_part() -> dict:
    """Every sheet and setting in use: fx, policy maps, in-kind offers, commitments, lists, booleans."""
    return {
        "name": "every-part",
        "title": "Every part of the format",
        "currency": "USD",
        "fx": {"EUR": 1.08, "JPY": 0.0067},
        "fx_date": "2026-11-02",
        "policy": {
            "priority_weights": {5: 20, 4: 9},
            "agenda_weights": {"diversion": 1.5},
            "max_donors_per_request": 2,
            "max_country_share": 0.6,
            "region_floors": {"africa": 0.3},
            "objective": ["coverage", "cost", "grants"],
        },
        "donors": [
            {
                "id": "DEU",
                "name": "Germany, Federal Foreign Office",
                "budget": 500000,
                "currency": "EUR",
                "regions": ["africa", "americas"],
                "min_grant": 20000,
                "confidence": 0.9,
            },
            {
                "id": "JPN",
                "budget": 40000000,
                "currency": "JPY",
                "themes": ["stockpile", "marking"],
                "exclude_countries": ["PER"],
                "max_grant": 250000,
                "budget_range": [30000000, 45000000],
            },
            {"id": "2027", "budget": 90000, "countries": ["PER", "NER"], "partner_types": ["un", "ngo"]},
            {"id": "EXPERTS", "kind": "in_kind", "capacity": 30, "unit": "expert-day"},
        ],
        "partners": [
            {"id": "UNDP", "name": "UN Development Programme", "type": "un", "max_projects": 2},
            {"id": "SAS", "type": "research"},
        ],
        "requests": [
            {
                "id": "NER-1",
                "country": "NER",
                "theme": "stockpile",
                "amount": 400000,
                "priority": 5,
                "partner": "UNDP",
                "agenda": ["diversion", "sdg16.4"],
                "title": "Armoury upgrades, Niamey",
            },
            {
                "id": "MLI-1",
                "country": "MLI",
                "region": "africa",
                "theme": "marking",
                "amount": 250000,
                "priority": 4,
                "min_funding": 0.5,
                "must_fund": True,
            },
            {
                "id": "PER-1",
                "country": "PER",
                "theme": "legislation",
                "amount": 100000,
                "partner": "SAS",
                "title": "Ley de armas: réglement & ñandú",
            },
            {"id": "BFA-1", "country": "BFA", "theme": "ddr", "amount": 300000, "priority": 2, "requires": ["NER-1"]},
        ],
        "commitments": [{"donor": "DEU", "request": "NER-1", "amount": 100000}],
        "offers": [{"donor": "EXPERTS", "request": "PER-1", "units": 20, "value": 60000, "cost": 5000}],
    }


def injection() -> dict:
    """Text a spreadsheet would run as a formula, in titles, names and ids."""
    data = every_part()
    data["title"] = '=HYPERLINK("http://evil.example","click")'
    data["donors"][0]["name"] = "+cmd|' /C calc'!A0"
    data["requests"][0]["title"] = "-2+3"
    data["requests"][1]["title"] = "@SUM(A1:A2)"
    data["requests"][2]["title"] = "\tTabbed"
    data["partners"][1]["name"] = "\rCarriage"
    data["requests"][3]["title"] = "'=already quoted"  # a leading quote of its own must survive the CSV quote
    data["donors"][3]["name"] = "-"
    return data
