import yaml

from bot.kicks.lookup import main
from bot.kicks.simulate import FIXED_KICKERS


def test_lookup_from_trained_store(trained, tmp_path):
    _, url, _ = trained
    out = tmp_path / "data/nlu/lookup_kickers.yml"
    assert main([str(out), "--database-url", url]) == 0
    doc = yaml.safe_load(out.read_text())
    assert doc["version"] == "3.1" and doc["nlu"][0]["lookup"] == "kicker"
    names = [line[2:] for line in doc["nlu"][0]["examples"].splitlines()]
    assert set(FIXED_KICKERS) <= set(names) and len(names) == len(set(names)) >= 40
