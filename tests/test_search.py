"""NASBOT, RandomSearch and Evolution through the ask/tell protocol, as the run loop uses them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nasbot_viz.arch.zoo import initial_pool
from nasbot_viz.distance import DistanceCache
from nasbot_viz.errors import SearchError
from nasbot_viz.records import TrialRecord, TrialState
from nasbot_viz.search import NASBOT, BaseSearcher, Evolution, RandomSearch, Searcher, make_searcher

SEARCHERS = [NASBOT, RandomSearch, Evolution]
CACHE = DistanceCache(n_jobs=1)  # shared by the NASBOT tests: distances depend only on the networks


def objective(arch) -> float:
    """A cheap 'validation error' of an MLP: best near 12 layers and ~2^9 units in total."""
    units = sum(u for u in arch.units if u)
    return abs(arch.num_layers - 12) / 8 + abs(math.log2(units) - 9) / 3


def make(cls, **kw):
    kw.setdefault("kind", "mlp")
    kw.setdefault("seed", 0)
    if cls is NASBOT:
        kw.setdefault("acquisition_budget", 20)
        kw.setdefault("cache", CACHE)
        kw.setdefault("n_jobs", 1)
    return cls(**kw)


def run(searcher, steps: int) -> list:
    out = []
    for _ in range(steps):
        [p] = searcher.ask()
        searcher.tell(p.trial_id, objective(p.architecture))
        out.append(p)
    return out


def replay_lineage(searcher, proposal):
    arch = searcher.state_dict()["trials"][proposal.parents[0]]["architecture"]
    from nasbot_viz.arch.architecture import Architecture

    a = Architecture.from_dict(arch)
    for m in proposal.modifiers:
        a = m.apply(a)
    return a


@pytest.mark.parametrize("cls", SEARCHERS)
def test_pool_first_then_mutations_with_lineage(cls):
    s = make(cls)
    assert isinstance(s, Searcher)
    pool = initial_pool("mlp")
    first = s.ask(len(pool))
    assert [p.architecture.id for p in first] == [a.id for a in pool]
    assert [p.trial_id for p in first] == list(range(len(pool)))
    assert all(p.origin == "pool" and p.parents == () and p.modifiers == () for p in first)
    for p in first:
        s.tell(p.trial_id, objective(p.architecture))
    later = run(s, 3)
    seen = {a.id for a in pool}
    for p in later:
        assert p.origin in ("mutation", "random")
        assert len(p.parents) == 1 and p.parents[0] < p.trial_id and len(p.modifiers) >= 1
        assert replay_lineage(s, p).id == p.architecture.id
        assert p.architecture.id not in seen
        seen.add(p.architecture.id)
        assert s.constraints.is_satisfied(p.architecture)
    if cls is NASBOT:
        mv = later[-1].model_view
        assert mv is not None and mv.acquisition_name == "ei" and mv.std >= 0 and mv.acquisition >= 0
        # Minimising: the posterior mean is in the objective's own units, not its negation.
        assert 0 <= mv.mean <= 3
    else:
        assert later[-1].model_view is None


@pytest.mark.parametrize("cls", SEARCHERS)
def test_outstanding_asks_are_distinct_and_told_in_any_order(cls):
    s = make(cls, initial_pool=initial_pool("mlp")[:3])
    batch = s.ask(6)  # 3 from the pool, 3 more while nothing is told
    assert len({p.architecture.id for p in batch}) == 6
    assert s.pending_ids == [p.trial_id for p in batch]
    for p in reversed(batch):
        s.tell(p.trial_id, objective(p.architecture))
    assert s.best()["value"] == min(objective(p.architecture) for p in batch)
    assert len(run(s, 2)) == 2


@pytest.mark.parametrize("cls", SEARCHERS)
def test_same_seed_same_search(cls):
    a = [p.architecture.id for p in run(make(cls, seed=3), 13)]
    b = [p.architecture.id for p in run(make(cls, seed=3), 13)]
    assert a == b
    if cls is not NASBOT:  # NASBOT's choice at a step is driven by the model and may not depend on the seed
        c = [p.architecture.id for p in run(make(cls, seed=4), 13)]
        assert a != c


def _same(p, q) -> bool:
    return (
        p.trial_id == q.trial_id
        and p.architecture.id == q.architecture.id
        and p.parents == q.parents
        and p.modifiers_as_dicts() == q.modifiers_as_dicts()
        and p.origin == q.origin
        and p.model_view == q.model_view
    )


@pytest.mark.parametrize("cls", SEARCHERS)
def test_state_dict_resume_proposes_exactly_what_the_uninterrupted_run_would(cls):
    s = make(cls, seed=11)
    run(s, 12)
    [pending] = s.ask()  # one evaluation still in flight at the checkpoint
    [doomed] = s.ask()
    s.tell_failure(doomed.trial_id, "out of memory")
    state = json.loads(json.dumps(s.state_dict(), allow_nan=False))
    restored = BaseSearcher.from_state_dict(state)
    assert type(restored) is cls and restored.pending_ids == [pending.trial_id]
    for searcher in (s, restored):
        searcher.tell(pending.trial_id, objective(pending.architecture))
    ahead = s.ask(2)
    again = restored.ask(2)
    assert all(_same(p, q) for p, q in zip(ahead, again))
    # load_state_dict on an existing object rewinds it too.
    other = make(cls, seed=11)
    other.load_state_dict(state)
    other.tell(pending.trial_id, objective(pending.architecture))
    assert all(_same(p, q) for p, q in zip(ahead, other.ask(2)))


def test_state_dict_is_plain_json_with_the_history():
    s = make(RandomSearch)
    run(s, 11)
    d = s.state_dict()
    text = json.dumps(d, allow_nan=False)
    assert d["method"] == "random" and d["config"]["kind"] == "mlp" and d["rng"]["seed"] == 0
    last = d["trials"][-1]
    assert last["state"] == "done" and last["modifiers"] and isinstance(last["modifiers"][0], dict)
    assert "nan" not in text.lower()


@pytest.mark.parametrize("cls", SEARCHERS)
def test_replay_from_store_rows_requeues_interrupted_trials(cls):
    s = make(cls, seed=5)
    done = run(s, 11)
    [running] = s.ask()
    [failed] = s.ask()
    rows = [
        TrialRecord("r", p.trial_id, TrialState.DONE, p.architecture.to_dict(), p.architecture.id,
                    p.parents, tuple(p.modifiers_as_dicts()), p.origin, value=objective(p.architecture),
                    model_view=p.model_view.to_dict() if p.model_view else None)
        for p in done
    ]
    rows.append(TrialRecord("r", running.trial_id, TrialState.RUNNING, running.architecture.to_dict(),
                            running.architecture.id, running.parents, tuple(running.modifiers_as_dicts()), running.origin))
    rows.append(TrialRecord("r", failed.trial_id, TrialState.FAILED, failed.architecture.to_dict(),
                            failed.architecture.id, failed.parents, tuple(failed.modifiers_as_dicts()), failed.origin,
                            failure_reason="diverged"))
    fresh = make(cls, seed=5)
    assert fresh.replay(reversed(rows)) == 1
    [again] = fresh.ask()
    assert again.origin == "resume" and again.trial_id == failed.trial_id + 1
    assert again.architecture.id == running.architecture.id and again.parents == running.parents
    with pytest.raises(SearchError, match="interrupted"):
        fresh.tell(running.trial_id, 0.5)
    fresh.tell(again.trial_id, objective(again.architecture))
    nxt = fresh.ask(3)
    assert failed.architecture.id not in {p.architecture.id for p in nxt}
    with pytest.raises(SearchError, match="fresh searcher"):
        fresh.replay(rows)


def test_failures_are_recorded_and_never_reproposed():
    s = make(Evolution, initial_pool=initial_pool("mlp")[:2])
    a, b = s.ask(2)
    s.tell_failure(a.trial_id, "CUDA out of memory")
    s.tell(b.trial_id, 1.0)
    proposals = run(s, 20)
    assert a.architecture.id not in {p.architecture.id for p in proposals}
    assert s.state_dict()["trials"][0]["failure_reason"] == "CUDA out of memory"
    assert s.best()["trial_id"] != a.trial_id
    with pytest.raises(SearchError, match="already reported as failed"):
        s.tell(a.trial_id, 0.3)


def test_nasbot_keeps_searching_when_every_pool_network_fails():
    s = make(NASBOT, initial_pool=initial_pool("mlp")[:3])
    for p in s.ask(3):
        s.tell_failure(p.trial_id, "failed")
    [p] = s.ask()  # no observation yet: a random walk from the pool
    assert p.origin == "mutation" and p.model_view is None
    s.tell(p.trial_id, 0.7)
    [q] = s.ask()
    assert q.model_view is not None


def test_bad_input_gets_clear_errors():
    s = make(RandomSearch)
    [p] = s.ask()
    with pytest.raises(SearchError, match="unknown trial id 99"):
        s.tell(99, 0.1)
    with pytest.raises(SearchError, match="must be finite"):
        s.tell(p.trial_id, float("nan"))
    with pytest.raises(SearchError, match="must be finite"):
        s.tell(p.trial_id, float("inf"))
    with pytest.raises(SearchError, match="must be a number"):
        s.tell(p.trial_id, "0.3")
    with pytest.raises(SearchError, match="must be a number"):
        s.tell(p.trial_id, None)
    s.tell(p.trial_id, 0.25)
    with pytest.raises(SearchError, match="already told"):
        s.tell(p.trial_id, 0.2)
    with pytest.raises(SearchError, match="unknown trial id"):
        s.tell_failure(42, "x")
    with pytest.raises(SearchError, match="positive integer"):
        s.ask(0)
    cnn = initial_pool("cnn")[0]
    with pytest.raises(SearchError, match="is a CNN, but this search is over MLPs"):
        RandomSearch(kind="mlp", initial_pool=initial_pool("mlp")[:2] + [cnn])
    with pytest.raises(SearchError, match="is a CNN"):
        s.add_observation(cnn, 0.4)
    with pytest.raises(SearchError, match="kind must be"):
        Evolution(kind="rnn")
    with pytest.raises(SearchError, match="direction must be"):
        Evolution(direction="min")
    with pytest.raises(SearchError, match="unknown acquisition 'pi'"):
        NASBOT(acquisition="pi")
    with pytest.raises(SearchError, match="unknown gp_options"):
        NASBOT(gp_options={"lengthscale": 1})
    with pytest.raises(SearchError, match="unknown search method"):
        make_searcher("tpe")
    with pytest.raises(SearchError, match="not a searcher state"):
        BaseSearcher.from_state_dict({"trials": []})
    with pytest.raises(SearchError, match="'random' searcher, not 'nasbot'"):
        NASBOT(kind="mlp").load_state_dict(s.state_dict())
    with pytest.raises(SearchError, match="not a valid architecture"):
        RandomSearch(kind="mlp", initial_pool=[{"kind": "mlp", "layers": [], "edges": []}])


def test_add_observation_registers_pre_evaluated_networks():
    pool = initial_pool("mlp")[:3]
    s = make(Evolution, initial_pool=pool)
    tid = s.add_observation(pool[0].to_dict(), 0.5)
    assert tid == 0 and s.best()["trial_id"] == 0
    proposed = [p.architecture.id for p in s.ask(2)]
    assert proposed == [pool[1].id, pool[2].id]  # the pre-evaluated one is not proposed again
    with pytest.raises(SearchError, match="already part of this search"):
        s.add_observation(pool[1], 0.1)


def test_nasbot_snapshot_shows_the_model_and_its_candidates():
    s = make(NASBOT, acquisition="ucb")
    run(s, 11)
    [p] = s.ask()
    snap = json.loads(json.dumps(s.snapshot(), allow_nan=False))
    assert snap["method"] == "nasbot" and snap["model"]["acquisition_name"] == "ucb"
    assert snap["model"]["trial_id"] == p.trial_id
    n = len(snap["trial_ids"])
    assert n == 11 and len(snap["mean"]) == n and len(snap["std"]) == n and len(snap["observed"]) == n
    assert snap["chosen"] == 0  # best first
    chosen = snap["candidates"][0]
    assert chosen["arch_id"] == p.architecture.id
    assert chosen["acquisition"] == pytest.approx(p.model_view.acquisition)
    assert chosen["mean"] == pytest.approx(p.model_view.mean)
    accs = [c["acquisition"] for c in snap["candidates"]]
    assert accs == sorted(accs, reverse=True) and len(accs) <= 20 - 10  # budget 20, 10 pool members
    assert len(s.snapshot(max_candidates=3)["candidates"]) == 3
    # The posterior at told trials is close to what was observed (small noise).
    assert np.corrcoef(snap["mean"], snap["observed"])[0, 1] > 0.8


def test_baseline_snapshot_is_minimal():
    s = make(Evolution)
    run(s, 11)
    snap = s.snapshot()
    json.dumps(snap, allow_nan=False)
    assert snap["model"] is None and len(snap["observed"]) == 11 and "candidates" not in snap


def test_thompson_sampling_and_maximize_direction():
    s = make(NASBOT, acquisition="ts", direction="maximize")
    for p in s.ask(10):
        s.tell(p.trial_id, -objective(p.architecture))
    [p] = s.ask()
    assert p.model_view.acquisition_name == "ts"
    assert -3 <= p.model_view.mean <= 0  # maximising −objective: means are negative too
