"""The CLI as a user meets it: exact exit codes, one ``Error:`` line naming the place and the fix,
no traceback and nothing written for bad input; ``--help`` with examples; every command in the README."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from matcher import __version__
from matcher.cli import cli

ROOT = Path(__file__).resolve().parent.parent

OK = {
    "name": "t",
    "currency": "USD",
    "donors": [{"id": "DEU", "budget": 100}],
    "requests": [{"id": "A", "country": "NER", "theme": "stockpile", "amount": 100}],
}


def _with(**changes) -> dict:
    data = json.loads(json.dumps(OK))
    for key, value in changes.items():
        if key == "extra_request":
            data["requests"].append({"id": "B", "country": "NER", "theme": "stockpile", "amount": 10, **value})
        else:
            data[key] = value
    return data


def run(tmp_path: Path, args: list[str], data=None, text: str | None = None, name: str = "s.yaml"):
    """Run ``matcher <args>`` on a scenario file written from data (or raw text); stdout to out.txt."""
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    elif data is not None:
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = tmp_path / "out.txt"
    argv = [a.replace("FILE", str(path)).replace("OUT", str(out)) for a in args]
    return CliRunner().invoke(cli, argv), path, out


BAD_INPUTS = {
    "invalid YAML": (
        dict(text="name: t\ncurrency: USD\ndonors: [\n"),
        "s.yaml:4:1: invalid YAML: did not find expected node content",
    ),
    "unknown key": (
        dict(data=_with(extra_request={"colour": "red"})),
        "s.yaml:12: requests[1].colour: unknown key 'colour'; remove it or check its spelling against the format",
    ),
    "unknown country": (
        dict(data=_with(extra_request={"country": "XXY"})),
        "s.yaml:12: requests[1].country: 'XXY' is not an ISO 3166-1 alpha-3 country code",
    ),
    "unknown theme": (
        dict(data=_with(extra_request={"theme": "stockpiles"})),
        "s.yaml:14: requests[1].theme: 'stockpiles' is not a theme; did you mean 'stockpile'?"
        " (one of: border_control, community, coordination, data, ddr, destruction, gender, legislation, marking,"
        " record_keeping, stockpile, tracing, training, transfer_control)",
    ),
    "negative amount": (
        dict(data=_with(donors=[{"id": "DEU", "budget": -5}])),
        "s.yaml:3: donors[0].budget: -5 is below the smallest allowed, 0; write 0 or more",
    ),
    "negative request amount": (
        dict(data=_with(extra_request={"amount": -10})),
        "s.yaml:11: requests[1].amount: -10 is not above 0; write a number above 0",
    ),
    "duplicate id": (
        dict(data=_with(extra_request={"id": "A"})),
        "s.yaml:13: requests[1].id: 'A' is already used by requests[0]; ids must be unique",
    ),
    "dangling partner": (
        dict(data=_with(extra_request={"partner": "UNRECC"}, partners=[{"id": "UNREC"}])),
        "s.yaml:16: requests[1].partner: 'UNRECC' is not a known partner id; did you mean 'UNREC'? (one of: UNREC)",
    ),
    "dangling requires": (
        dict(data=_with(extra_request={"requires": ["C"]})),
        "s.yaml:15: requests[1].requires[0]: 'C' is not a known request id (one of: A, B)",
    ),
    "dangling commitment": (
        dict(data=_with(commitments=[{"donor": "DEU", "request": "Z", "amount": 5}])),
        "s.yaml:4: commitments[0].request: 'Z' is not a known request id (one of: A)",
    ),
    "yes as a number": (
        dict(
            text="name: t\ncurrency: USD\ndonors:\n  - {id: DEU, budget: 100, confidence: yes}\nrequests:\n"
            "  - {id: A, country: NER, theme: stockpile, amount: 100}\n"
        ),
        "s.yaml:4: donors[0].confidence: true is not a number (YAML reads yes/no/on/off as true/false); write a number",
    ),
    "quoted amount": (
        dict(data=_with(extra_request={"amount": "100"})),
        "s.yaml:11: requests[1].amount: '100' is text, not a number; write the number without quotes",
    ),
    "key written twice": (
        dict(text="name: t\ncurrency: USD\ncurrency: EUR\ndonors: []\nrequests: []\n"),
        "s.yaml:3:1: the key 'currency' is written twice in one mapping (the reader would keep the last); keep one",
    ),
    "json key written twice": (
        dict(text='{"name": "t", "name": "u"}', name="s.json"),
        "s.json: the key 'name' is written twice in one object (the reader would keep the last); keep one",
    ),
    "name with capitals and a space": (
        dict(text="name: Sahel Round\ncurrency: USD\ndonors: []\nrequests: []\n"),
        "s.yaml:1: name: 'Sahel Round': a name is lowercase letters, digits, '.', '_' and '-', starting with a letter "
        "or digit (e.g. 'sahel-round')",
    ),
    "money with cents": (
        dict(text="name: t\ncurrency: USD\ndonors: [{id: A, budget: 5.5}]\nrequests: []\n"),
        "s.yaml:3: donors[0].budget: 5.5 is not a whole number; write a whole number (money is in whole currency "
        "units)",
    ),
    "lower-case country": (
        dict(data=_with(extra_request={"country": "mli"})),
        "s.yaml:12: requests[1].country: 'mli' is not an ISO 3166-1 alpha-3 country code; did you mean 'MLI'?",
    ),
    "impossible date": (
        dict(text="name: t\ncurrency: USD\nfx_date: 2027-02-30\ndonors: []\nrequests: []\n"),
        "s.yaml:3: fx_date: '2027-02-30' is no day of the calendar; write YYYY-MM-DD, e.g. 2027-01-15",
    ),
    "exponent YAML reads as text": (
        dict(text="name: t\ncurrency: USD\ndonors: [{id: A, budget: 1e12}]\nrequests: []\n"),
        "s.yaml:3: donors[0].budget: '1e12' is read as text (YAML takes an exponent only after a dot and a sign, "
        "e.g. 1.0e+12); write the number in full",
    ),
    "partner when none are defined": (
        dict(data=_with(extra_request={"partner": "UNDP"})),
        "s.yaml:14: requests[1].partner: 'UNDP' is not a known partner id: the scenario defines no partners; add it "
        "to the partners list",
    ),
    "unknown currency": (
        dict(data=_with(donors=[{"id": "DEU", "budget": 100, "currency": "EUX"}])),
        "s.yaml:4: donors[0].currency: 'EUX' is not an ISO 4217 currency code; did you mean 'UGX'?",
    ),
    "a country with no region": (
        dict(data=_with(extra_request={"country": "ATA"})),
        "s.yaml:12: requests[1].country: 'ATA' (Antarctica) lies in no UN M49 region, so no earmark, floor or cap "
        "could place it; name the country the work is for",
    ),
    "format as a boolean": (
        dict(text="format: true\nname: t\ncurrency: USD\ndonors: [{id: A, budget: 1}]\nrequests: []\n"),
        "s.yaml:1: format: true is not a number (YAML reads yes/no/on/off as true/false); write a number",
    ),
    "fx_date with a time": (
        dict(data=_with(fx_date="2027-01-15T10:00:00")),
        "s.yaml:5: fx_date: '2027-01-15T10:00:00' is not a date; write the day as YYYY-MM-DD, e.g. 2027-01-15",
    ),
    "fx_date as a number": (
        dict(data=_with(fx_date=86400)),
        "s.yaml:5: fx_date: 86400 is not a date; write the day as YYYY-MM-DD, e.g. 2027-01-15",
    ),
}


def test_kosovo_is_a_country_of_southern_europe(tmp_path):
    """XKX, the code the EU, the World Bank and IATI use for Kosovo (not in ISO 3166-1), in a Western Balkans round."""
    data = _with(
        donors=[{"id": "EU", "budget": 100, "regions": ["southern-europe"]}],
        requests=[{"id": "A", "country": "XKX", "theme": "stockpile", "amount": 100}],
    )
    result, _, _ = run(tmp_path, ["solve", "FILE", "--format", "json"], data=data)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["requests"][0]["funded"] == 100


def test_commitments_over_budget_are_a_valid_round_that_is_infeasible(tmp_path):
    """The spec's own example: "infeasible (the hard rules admit no solution, e.g. commitments over
    budget)". It was refused as bad input (exit 1); now valid, solved as infeasible (exit 3), and the
    note names the commitment."""
    data = _with(
        extra_request={},
        commitments=[{"donor": "DEU", "request": "A", "amount": 95}, {"donor": "DEU", "request": "B", "amount": 10}],
    )
    checked, path, _ = run(tmp_path, ["validate", "FILE"], data=data)
    assert checked.exit_code == 0
    why = (
        "commitments[1]: commitments of 'DEU' reach 105, over its budget of 100 USD; lower the commitments or "
        "raise the budget"
    )
    assert checked.stderr == f"Note: infeasible as written: {why}\n"
    solved, _, _ = run(tmp_path, ["solve", "FILE", "--format", "json"], data=data)
    assert solved.exit_code == 3
    assert json.loads(solved.stdout)["status"] == "infeasible"
    assert solved.stderr.rstrip().endswith(f"Commitments the rules cannot hold: {why}.")


def test_a_commitment_the_donors_earmarks_exclude_is_a_valid_round_that_is_infeasible(tmp_path):
    """Rule 1 against rule 11: no allocation keeps both, so the spec's answer is `infeasible` (exit 3); it
    was refused as bad input (exit 1). The note says what to change."""
    data = _with(
        donors=[{"id": "DEU", "budget": 100, "themes": ["marking"]}],
        commitments=[{"donor": "DEU", "request": "A", "amount": 10}],
    )
    checked, _, _ = run(tmp_path, ["validate", "FILE"], data=data)
    assert checked.exit_code == 0
    why = (
        "commitments[0]: donor 'DEU' may not fund 'A': its themes earmark (marking) excludes 'stockpile'; "
        "remove the commitment or widen the earmark"
    )
    assert checked.stderr == f"Note: infeasible as written: {why}\n"
    solved, _, _ = run(tmp_path, ["solve", "FILE", "--format", "json"], data=data)
    assert solved.exit_code == 3
    assert json.loads(solved.stdout)["status"] == "infeasible"


@pytest.mark.parametrize(
    ("changes", "note", "funded"),
    [
        (
            dict(extra_request={"requires": ["B", "A", "A"]}),
            [
                "requests[1].requires: 'B' requires itself; that asks nothing, so it is ignored",
                "requests[1].requires: a prerequisite is named twice; once is enough",
            ],
            {"A": 90, "B": 10},
        ),
        (
            dict(extra_request={"country": "PER"}, policy={"region_floors": {"africa": 0.7, "americas": 0.5}}),
            [
                "policy.region_floors: the floors of the M49 regions add up to 1.2, more than 1: only an allocation of "
                "nothing keeps them; lower them to add up to at most 1"
            ],
            {"A": 0, "B": 0},
        ),
    ],
)
def test_rules_the_format_allows_but_no_one_means_are_solved_and_named(tmp_path, changes, note, funded):
    """Spec-valid files that were refused (a request requiring itself, floors adding up to more than 1):
    solved as the spec reads them, with a Note from validate."""
    data = _with(**changes)
    data["donors"][0]["budget"] = 100
    data["requests"][0]["amount"] = 90
    checked, _, _ = run(tmp_path, ["validate", "FILE"], data=data)
    assert checked.exit_code == 0
    assert checked.stderr == "".join(f"Note: {n}\n" for n in note)
    solved, _, _ = run(tmp_path, ["solve", "FILE", "--format", "json"], data=data)
    assert solved.exit_code == 0
    doc = json.loads(solved.stdout)
    assert doc["status"] == "optimal"
    assert {r["id"]: r["funded"] for r in doc["requests"]} == funded


def test_validate_says_when_sweep_will_refuse_the_uncertainty(tmp_path):
    """validate passed a budget_range on an in-kind donor that sweep then refused: it says so now."""
    data = _with(
        donors=[
            {"id": "DEU", "budget": 100},
            {"id": "MSAG", "kind": "in_kind", "capacity": 4, "unit": "team-week", "budget_range": [1, 4]},
        ]
    )
    checked, _, _ = run(tmp_path, ["validate", "FILE"], data=data)
    assert checked.exit_code == 0
    assert checked.stderr == (
        "Note: `matcher sweep` refuses this round: donors[1].budget_range: 'MSAG' is an in-kind "
        "donor; use 'confidence' for its capacity\n"
    )


def test_an_infeasible_round_names_the_must_fund_request_beyond_its_donors(tmp_path):
    """One donor of 100 and a must_fund request of 900: the note named no request (only one with no eligible
    donor at all was named), and explain refuses an infeasible round."""
    data = _with(requests=[{"id": "A", "country": "NER", "theme": "stockpile", "amount": 900, "must_fund": True}])
    solved, _, _ = run(tmp_path, ["solve", "FILE"], data=data)
    assert solved.exit_code == 3
    assert solved.stderr.rstrip().endswith(
        "must_fund beyond what its eligible donors can give: A needs 900, its eligible donors can give at most 100 USD."
    )


def test_validate_says_when_solve_will_refuse_the_amounts(tmp_path):
    """validate passed a round of amounts above 1e9 that solve then refused: it says so now."""
    data = _with(
        donors=[{"id": "DEU", "budget": 2_700_000_000}],
        requests=[{"id": "A", "country": "NER", "theme": "stockpile", "amount": 1_500_000_000}],
    )
    checked, _, _ = run(tmp_path, ["validate", "FILE"], data=data)
    assert checked.exit_code == 0
    assert checked.stderr.startswith("Note: `matcher solve` refuses this round: donors[DEU].budget: 1,500,000,000")
    solved, _, _ = run(tmp_path, ["solve", "FILE"], data=data)
    assert solved.exit_code == 1


@pytest.mark.parametrize("command", ["validate", "solve"])
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_error_line_exit_1_nothing_written(tmp_path, case, command):
    source, expected = BAD_INPUTS[case]
    args = [command, "FILE"] + (["-o", "OUT"] if command == "solve" else [])
    result, path, out = run(tmp_path, args, **source)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: {path.parent}/{expected}\n"
    assert "Traceback" not in result.output
    assert not out.exists()


def test_missing_file(tmp_path):
    result, _, out = run(tmp_path, ["solve", str(tmp_path / "nope.yaml"), "-o", "OUT"])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path}/nope.yaml: no such file; check the path\n"
    assert not out.exists()


def test_valid_file_validates(tmp_path):
    result, path, _ = run(tmp_path, ["validate", "FILE"], data=OK)
    assert result.exit_code == 0
    solved = CliRunner().invoke(cli, ["solve", str(path), "--format", "json"])
    digest = json.loads(solved.stdout)["solver"]["input_sha256"]  # an auditor checks a file against a result
    assert result.stdout == (
        f"{path}: valid scenario 't': 1 donor, 1 request, 0 partners, 0 commitments, 0 offers; input sha256 {digest}\n"
    )


def test_solve_writes_json_of_the_spec(tmp_path):
    result, _, out = run(tmp_path, ["solve", "FILE", "--format", "json", "-o", "OUT"], data=OK)
    assert result.exit_code == 0
    doc = json.loads(out.read_text())
    assert doc["status"] == "optimal"
    assert doc["allocations"] == [{"donor": "DEU", "request": "A", "amount": 100, "kind": "funds", "committed": 0}]
    assert doc["requests"][0]["status"] == "funded"
    # whole-unit terms as the spec's example writes them ("volume": 9850000, "grants": 37), not 100.0
    assert [(t, v, type(v)) for t, v in doc["objective"].items()] == [
        ("coverage", 4.0, float),
        ("volume", 100, int),
        ("grants", 1, int),
    ]


def test_solve_takes_a_what_if_with_set_and_names_a_bad_one(tmp_path):
    result, _, out = run(
        tmp_path,
        ["solve", "FILE", "--set", "donors[DEU].budget*=0.4", "--format", "json", "-o", "OUT"],
        data=_with(requests=[{**OK["requests"][0], "min_funding": 0}]),
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["requests"][0]["funded"] == 40
    digest = json.loads(out.read_text())["solver"]["input_sha256"]  # the changed round's, named on stderr
    assert result.stderr.startswith(
        f"what-if: {tmp_path / 's.yaml'} with --set 'donors[DEU].budget*=0.4' (input sha256 {digest[:12]})"
    )
    out.unlink()
    result, path, out = run(tmp_path, ["solve", "FILE", "--set", "donors[DEU].budget=-1", "-o", "OUT"], data=OK)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {path} with --set 'donors[DEU].budget=-1': donors[0].budget: -1 is below the smallest allowed, 0; "
        "write 0 or more"
    ]
    assert not out.exists()


def test_solve_csv_is_one_row_per_request_with_its_currency(tmp_path):
    result, _, out = run(tmp_path, ["solve", "FILE", "--format", "csv", "-o", "OUT"], data=_with(extra_request={}))
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["request"], r["amount"], r["funded"], r["currency"], r["status"], r["donors"]) for r in rows] == [
        ("A", "100", "100", "USD", "funded", "DEU:100"),
        ("B", "10", "0", "USD", "unfunded", ""),
    ]


def test_infeasible_exits_3(tmp_path):
    data = _with(extra_request={"must_fund": True, "amount": 50})
    data["requests"][0]["must_fund"] = True
    result, _, _ = run(tmp_path, ["solve", "FILE"], data=data)
    assert result.exit_code == 3
    assert "The hard rules admit no allocation" in result.stderr
    assert "Traceback" not in result.output
    as_json, _, out = run(tmp_path, ["solve", "FILE", "--format", "json", "-o", "OUT"], data=data)
    assert as_json.exit_code == 3
    doc = json.loads(out.read_text(encoding="utf-8"))
    # no allocation: every request says so, none claims it lost a trade-off
    assert {tuple(r["reason_codes"]) for r in doc["requests"]} == {("no_allocation",)}
    assert doc["requests"][0]["reasons"][0].startswith("the hard rules admit no allocation of this round")
    value, _, _ = run(tmp_path, ["value", "FILE"], data=data)
    assert value.exit_code == 1
    # explain and value need an allocation: they say why there is none, as solve does
    for command in (["value", "FILE"], ["explain", "FILE", "A"]):
        needs, _, _ = run(tmp_path, command, data=data)
        assert needs.exit_code == 1
        assert needs.stderr.startswith(
            f"Error: the scenario has no allocation to {command[0]}, status infeasible: The "
            "hard rules admit no allocation"
        )
        assert needs.stderr.count("\n") == 1
    beyond = _with(requests=[{**OK["requests"][0], "must_fund": True, "amount": 150}])
    named, _, _ = run(tmp_path, ["explain", "FILE", "A"], data=beyond)
    assert named.stderr.endswith(
        "must_fund beyond what its eligible donors can give: A needs 150, its eligible "
        "donors can give at most 100 USD.\n"
    )


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"matcher, version {__version__}\n"


def test_unknown_option_is_a_usage_error(tmp_path):
    result, _, _ = run(tmp_path, ["solve", "FILE", "--colour"], data=OK)
    assert result.exit_code == 2


COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("command", [[]] + [[c] for c in COMMANDS], ids=lambda c: " ".join(c) or "matcher")
def test_every_help_has_an_example(command):
    result = CliRunner().invoke(cli, command + ["--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"matcher ([a-z][a-z-]+)", readme))
    missing = [c for c in COMMANDS if c not in documented]
    assert not missing, f"commands missing from README.md: {missing}"


def test_native_writes_to_stdout_go_to_stderr_and_python_output_stays(capfd):
    """HiGHS prints the odd line on file descriptor 1; --format json on stdout must stay parseable."""
    import os
    import sys

    from matcher.cli.common import _native_stdout_to_stderr

    with _native_stdout_to_stderr():
        os.write(1, b"native solver line\n")
        print('{"status": "optimal"}')
        sys.stdout.flush()
    out, err = capfd.readouterr()
    assert out == '{"status": "optimal"}\n'
    assert "native solver line" in err


def test_a_quiet_command_drops_native_writes_and_keeps_python_output(capfd):
    """--quiet (sweep) or no --progress (solve): HiGHS's stray debug lines reach neither stream."""
    import os
    import sys

    from matcher.cli.common import _native_stdout_to_stderr, drop_native_stdout

    with _native_stdout_to_stderr():
        drop_native_stdout()
        os.write(1, b"native solver line\n")
        print('{"status": "optimal"}')
        sys.stdout.flush()
    os.write(1, b"after the command\n")  # descriptor 1 is back
    out, err = capfd.readouterr()
    assert out == '{"status": "optimal"}\nafter the command\n'
    assert err == ""
    drop_native_stdout()  # outside main(): Python's stdout is descriptor 1, so nothing is dropped
    os.write(1, b"still shown\n")
    assert capfd.readouterr().out == "still shown\n"


def test_validate_lists_every_problem(tmp_path):
    text = (
        "name: t\ncurrency: USD\ndonors:\n  - {id: DEU, budget: true}\nrequests:\n"
        "  - {id: A, country: NER, theme: stockpile, amount: '100'}\n"
    )
    result, path, _ = run(tmp_path, ["validate", "FILE"], text=text)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"Error: {path}:4: donors[0].budget: true is not a number (YAML reads yes/no/on/off as true/false); write a "
        "number (+1 more problems)",
        "  also line 6: requests[0].amount: '100' is text, not a number; write the number without quotes",
    ]


@pytest.mark.parametrize("command", ["validate", "solve"])
def test_a_variant_file_is_read_as_the_scenario_it_makes(command):
    result = CliRunner().invoke(cli, [command, str(ROOT / "examples" / "deu-cut.yaml")])
    assert result.exit_code == 0, result.output
    assert "west-africa-2027-deu-cut" in result.stdout or "Germany cuts 20%" in result.stdout


def test_an_assignment_that_breaks_a_valid_file_is_named_not_the_file(tmp_path):
    result, path, _ = run(tmp_path, ["compare", "FILE", "--set", "donors[DEU].bugdet=5"], data=OK)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {path} with --set 'donors[DEU].bugdet=5': donors[0].bugdet: unknown key "
        "'bugdet'; remove it or check its spelling against the format\n"
    )


def test_infeasible_names_a_must_fund_request_no_donor_may_fund(tmp_path):
    data = _with(extra_request={"must_fund": True, "country": "PER"})
    data["donors"][0]["countries"] = ["NER"]
    result, _, _ = run(tmp_path, ["solve", "FILE"], data=data)
    assert result.exit_code == 3
    assert result.stderr.rstrip().endswith("must_fund but no donor may fund it: B.")


def test_yaml_merge_keys_still_load_and_may_be_overridden(tmp_path):
    text = (
        "name: t\ncurrency: USD\ndonors:\n  - &d0 {id: D0, budget: 100, themes: [marking]}\n"
        "  - {<<: *d0, id: D1, budget: 50}\nrequests:\n  - {id: A, country: NER, theme: marking, amount: 100}\n"
    )
    result, path, _ = run(tmp_path, ["validate", "FILE"], text=text)
    assert result.exit_code == 0, result.output
    assert "2 donors" in result.stdout


@pytest.mark.parametrize(
    ("extra", "hint"),
    [
        ([], "the last tie-break: --polish S searches S seconds more for fewer grants"),
        (
            ["--node-limit", "200"],
            "the last tie-break: --polish 1 (any seconds) searches the full model for fewer grants within --node-limit",
        ),
    ],
)
def test_an_open_grants_stage_names_the_option_that_tries_harder(extra, hint):
    """It said "raise --polish (seconds)" under --node-limit too, where seconds do not bound the search."""
    out = CliRunner().invoke(cli, ["solve", str(ROOT / "scenarios" / "global-poa-2027.yaml"), *extra])
    assert out.exit_code == 0
    text = " ".join(out.stdout.split())  # the table output wraps long lines at the terminal's width
    assert "not proven: grants" in text
    assert hint in text


@pytest.mark.parametrize(
    "command",
    [
        ["generate", "--requests", "3", "--donors", "2", "--seed", "1", "-o", "OUT"],
        ["import", "FILE", "-o", "OUT"],
    ],
)
def test_generate_and_import_keep_an_edited_file(tmp_path, command):
    """Both replaced an existing, hand-edited scenario without a word (export and template ask for --force).
    The same content again is written as before; other content needs --force."""
    source = tmp_path / "src.yaml"
    source.write_text(yaml.safe_dump(OK), encoding="utf-8")
    out = tmp_path / "round.yaml"
    argv = [a.replace("FILE", str(source)).replace("OUT", str(out)) for a in command]
    assert CliRunner().invoke(cli, argv).exit_code == 0
    assert CliRunner().invoke(cli, argv).exit_code == 0  # a rerun: the same text
    out.write_text(out.read_text(encoding="utf-8") + "# my edit\n", encoding="utf-8")
    again = CliRunner().invoke(cli, argv)
    assert again.exit_code == 1
    assert again.stderr == (
        f"Error: {out}: exists and differs from what this writes (edited since?); choose another "
        "name, or add --force to replace it\n"
    )
    assert out.read_text(encoding="utf-8").endswith("# my edit\n")
    assert CliRunner().invoke(cli, [*argv, "--force"]).exit_code == 0
    assert "# my edit" not in out.read_text(encoding="utf-8")


def test_problems_name_their_line_in_the_file_and_a_missing_key_its_parent(tmp_path):
    text = (
        "name: t\ncurrency: USD\ndonors:\n  - id: DEU\n    budget: 100\nrequests:\n"
        "  - id: A\n    country: NER\n    theme: stockpile\n    amount: 100\n"
        "  - id: B\n    country: NER\n    theme: stockpiles\n    amount: 100\n"
        "  - id: C\n    country: NER\n    theme: stockpile\n"
    )
    result, path, _ = run(tmp_path, ["validate", "FILE"], text=text)
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"Error: {path}:13: requests[1].theme: 'stockpiles' is not a theme")
    assert lines[1] == "  also line 15: requests[2].amount: required key is missing"
    json_path = tmp_path / "s.json"
    json_path.write_text(json.dumps(yaml.safe_load(text), indent=2), encoding="utf-8")
    as_json = CliRunner().invoke(cli, ["validate", str(json_path)])
    assert as_json.stderr.startswith(f"Error: {json_path}:20: requests[1].theme: ")
    assert "  also line 23: requests[2].amount: required key is missing" in as_json.stderr


def test_a_variant_file_names_no_line_of_its_own(tmp_path):
    """A variant's problems may lie in its base: no line of the variant file is claimed."""
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(_with(extra_request={"theme": "stockpiles"})), encoding="utf-8")
    variant = tmp_path / "v.yaml"
    variant.write_text("base: base.yaml\nset: ['policy.max_country_share=0.5']\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(variant)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {variant}: requests[1].theme: 'stockpiles' is not a theme")


def test_a_key_written_with_no_value_means_its_default(tmp_path):
    """YAML's `regions:` with nothing after it is null: the spec reads an absent or empty earmark as 'any'
    (it was an error, while `min_grant:` was accepted)."""
    text = (
        "name: t\ncurrency: USD\npolicy:\ncommitments:\ndonors:\n  - id: DEU\n    budget: 100\n    regions:\n"
        "    themes:\n    min_grant:\nrequests:\n  - id: A\n    country: NER\n    theme: stockpile\n"
        "    amount: 100\n    priority:\n    min_funding:\n    requires:\n"
    )
    result, _, out = run(tmp_path, ["solve", "FILE", "--format", "json", "-o", "OUT"], text=text)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["requests"][0]["funded"] == 100
    required = run(tmp_path, ["validate", "FILE"], text=text.replace("amount: 100", "amount:"))[0]
    assert required.exit_code == 1 and "requests[0].amount: " in required.stderr


def test_solve_names_the_file_when_it_refuses_an_amount_too_large(tmp_path):
    data = _with(requests=[{**OK["requests"][0], "amount": 2_000_000_000}], donors=[{"id": "DEU", "budget": 100}])
    result, path, out = run(tmp_path, ["solve", "FILE", "-o", "OUT"], data=data)
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: {path}: requests[A].amount: 2,000,000,000 USD is above 1,000,000,000, the largest amount"
    )
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_a_seed_generates_the_same_round_in_every_version():
    """`matcher generate --seed 1` is what benchmarks and bug reports name: adding XKX (Kosovo) to the country
    table once changed every generated round (a country drawn from a longer list), and the S round of the sweep
    benchmark with it, so a 'faster' sweep was only an easier round. The 200 x 15 round of seed 1, as of 0.3.1."""
    import hashlib

    from matcher.generate import generate_round

    text = json.dumps(generate_round(200, 15, 1), sort_keys=True).encode()
    assert hashlib.sha256(text).hexdigest() == "d7220a36c014c6412e024308794d4bcbc3417626da27479961c24b74509251de"
