from bot.kicks import form_store
from bot.kicks.features import build_features
from bot.kicks.form import FormCounts
from bot.store.db import get_engine
from bot.store.schema import upgrade


def test_incremental_update_equals_batch(tmp_path, small_kicks):
    history, new = small_kicks[:5000], small_kicks[5000:]
    batch_url, url = f"sqlite:///{tmp_path / 'batch.db'}", f"sqlite:///{tmp_path / 'inc.db'}"
    upgrade(batch_url)
    upgrade(url)
    batch_engine = get_engine(batch_url)
    counts = FormCounts()
    X_all, y_all = build_features(small_kicks, counts)
    form_store.replace_all(batch_engine, counts, small_kicks)

    engine = get_engine(url)
    history_counts = FormCounts()
    build_features(history, history_counts)
    form_store.replace_all(engine, history_counts, history)
    result = form_store.apply_update(engine, new)

    assert len(result.new) == len(new) and result.skipped == [] and result.out_of_order == 0
    assert form_store.load_counts(engine).counts == form_store.load_counts(batch_engine).counts
    assert form_store.load_kickers(engine) == form_store.load_kickers(batch_engine)
    # the new kicks' features are those a full replay would have computed
    assert (result.X == X_all[5000:]).all() and (result.y == y_all[5000:]).all()
    assert form_store.count_kicks(engine) == len(small_kicks)

    again = form_store.apply_update(engine, new[:10])
    assert again.new == [] and len(again.skipped) == 10
    assert form_store.load_counts(engine).counts == form_store.load_counts(batch_engine).counts
