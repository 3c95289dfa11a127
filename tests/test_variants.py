"""Variants: --set edits and variant files patch a base and validate like any scenario."""

from __future__ import annotations

import pytest
import yaml
from analysis_fixtures import two_countries

from matcher.errors import MatcherError, ScenarioError
from matcher.options import load_option
from matcher.variants import apply_sets, patch, resolve_file


def write(path, data) -> str:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


@pytest.fixture
def base_file(tmp_path) -> str:
    return write(tmp_path / "base.yaml", two_countries())


def test_set_by_id_multiplies_and_adds_in_order():
    data = apply_sets(
        two_countries(), ["donors[A].budget*=0.5", "donors[A].budget+=25", "policy.max_country_share=0.4"]
    )
    assert data["donors"][0]["budget"] == 175
    assert data["policy"]["max_country_share"] == 0.4


def test_set_scales_money_exactly_and_names_a_misspelt_key():
    data = apply_sets({"donors": [{"id": "DEU", "budget": 1400000}]}, ["donors[DEU].budget*=0.7"])
    assert data["donors"][0]["budget"] == 980000  # not 979,999 (floating point)
    with pytest.raises(MatcherError, match="no value there to multiply; check the key's spelling"):
        apply_sets({"donors": [{"id": "DEU", "budget": 1}]}, ["donors[DEU].budgte*=0.7"])


def test_a_priority_level_the_file_leaves_out_is_scaled_from_its_default_weight():
    assert apply_sets({"policy": {}}, ["policy.priority_weights.5*=2"])["policy"]["priority_weights"] == {"5": 32}
    # a weight is not money: never rounded down (1 x 0.5 was 0, priority-1 requests weighed nothing)
    assert apply_sets({"policy": None}, ["policy.priority_weights.1*=0.5"])["policy"]["priority_weights"] == {"1": 0.5}
    given = apply_sets({"policy": {"priority_weights": {5: 20}}}, ["policy.priority_weights.5*=2"])
    assert given["policy"]["priority_weights"] == {5: 40}


def test_set_leaves_the_input_untouched():
    data = two_countries()
    apply_sets(data, ["donors[A].budget=1"])
    assert data["donors"][0]["budget"] == 300


def test_variant_file_patches_in_documented_order(tmp_path, base_file):
    variant = {
        "base": "base.yaml",
        "title": "cut",
        "drop_donors": ["B"],
        "add_requests": [{"id": "R5", "country": "GHA", "theme": "training", "amount": 50}],
        "weights": {"priority": {5: 32}, "agenda": {"diversion": 2}},
        "policy": {"max_donors_per_request": 1},
        "set": ["donors[A].budget*=0.5"],
    }
    data = resolve_file(write(tmp_path / "cut.yaml", variant))
    assert data["name"] == "two-countries-cut"
    assert data["title"] == "cut"
    assert [d["id"] for d in data["donors"]] == ["A"]
    assert data["donors"][0]["budget"] == 150
    assert [r["id"] for r in data["requests"]][-1] == "R5"
    assert data["policy"]["priority_weights"] == {5: 32}
    assert data["policy"]["agenda_weights"] == {"diversion": 2}
    assert data["policy"]["max_donors_per_request"] == 1
    assert data["policy"]["objective"] == ["coverage", "volume", "grants"]  # the base policy is kept


def test_variant_of_a_variant(tmp_path, base_file):
    write(tmp_path / "one.yaml", {"base": "base.yaml", "set": ["donors[A].budget=100"]})
    data = resolve_file(
        write(tmp_path / "two.yaml", {"base": "one.yaml", "name": "two", "set": ["donors[A].budget+=1"]})
    )
    assert data["donors"][0]["budget"] == 101
    assert data["name"] == "two"


def test_dropping_a_donor_drops_its_commitments(tmp_path):
    base = two_countries()
    base["commitments"] = [{"donor": "B", "request": "R2", "amount": 50}]
    data = patch(base, {"base": "x", "drop_donors": ["B"]})
    assert data["commitments"] == []


def test_a_variant_validates_like_any_scenario(tmp_path, base_file):
    bad = {"base": "base.yaml", "add_requests": [{"id": "R9", "country": "NER", "theme": "stockpiles", "amount": 5}]}
    with pytest.raises(ScenarioError) as exc:
        load_option(write(tmp_path / "bad.yaml", bad))
    assert "requests[4].theme" in str(exc.value)
    assert "did you mean 'stockpile'" in str(exc.value)


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ({"base": "base.yaml", "drop_donor": ["B"]}, "unknown variant key 'drop_donor'"),
        ({"base": "base.yaml", "drop_donors": ["Z"]}, "drop_donors: no donor 'Z' in the base"),
        ({"base": "missing.yaml"}, "base: no such file"),
        ({"base": "base.yaml", "set": ["donors[Z].budget=1"]}, "no donors entry with id 'Z'"),
        ({"base": "base.yaml", "weights": {"prio": {}}}, "weights: unknown key 'prio'"),
    ],
)
def test_variant_errors_name_the_key(tmp_path, base_file, variant, message):
    with pytest.raises(MatcherError, match=message.replace("[", r"\[")):
        resolve_file(write(tmp_path / "v.yaml", variant))


def test_dropping_a_required_request_is_refused(tmp_path):
    base = two_countries()
    base["requests"][3]["requires"] = ["R3"]
    with pytest.raises(MatcherError, match="request 'R4' requires 'R3'"):
        patch(base, {"base": "x", "drop_requests": ["R3"]})


def test_a_loop_of_bases_is_an_error(tmp_path):
    write(tmp_path / "a.yaml", {"base": "b.yaml"})
    write(tmp_path / "b.yaml", {"base": "a.yaml"})
    with pytest.raises(MatcherError, match="loop"):
        resolve_file(tmp_path / "a.yaml")


def test_load_option_labels_the_sets(base_file):
    option = load_option(base_file, ["donors[A].budget*=0.8"])
    assert option.label == "base [donors[A].budget*=0.8]"
    assert option.scenario.donors[0].budget == 240


def test_bundled_examples_load():
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "examples"
    labels = [load_option(str(p)).scenario.name for p in sorted(folder.glob("*.yaml"))]
    assert labels == ["west-africa-2027-deu-cut", "west-africa-2027-diversion-first", "west-africa-2027"]
