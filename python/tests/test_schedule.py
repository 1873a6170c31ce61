"""lrsched_rs.Schedule, the catalog and conversions, against the CLI's semantics."""

import json
import math
import pickle

import pytest

import lrsched_rs

COSINE = {"type": "cosine", "lr": 0.1, "steps": 100}


def test_every_config_form_reads_the_same_schedule():
    forms = [
        COSINE,
        json.dumps(COSINE),
        'type = "cosine"\nlr = 0.1\nsteps = 100\n',
        "cosine(lr=0.1, steps=100)",
        lrsched_rs.Schedule(COSINE),
    ]
    schedules = [lrsched_rs.Schedule(f) for f in forms]
    for s in schedules:
        assert s == schedules[0]
        assert s.value(50) == pytest.approx(0.05)
        assert s.value(100) == 0.0


def test_value_matches_the_closed_form():
    s = lrsched_rs.Schedule(COSINE)
    for t in [0, 1, 37, 99, 100, 1000]:
        expect = 0.05 * (1 + math.cos(math.pi * min(t, 100) / 100))
        assert s.value(t) == pytest.approx(expect, rel=1e-15, abs=1e-18)


def test_values_is_a_numpy_array_equal_to_value():
    np = pytest.importorskip("numpy")
    s = lrsched_rs.Schedule("warmup(steps=10, schedule=cosine(lr=0.1, steps=100))")
    v = s.values(200)
    assert isinstance(v, np.ndarray) and v.dtype == np.float64 and v.shape == (200,)
    assert v.tolist() == [s.value(t) for t in range(200)]
    assert s.values(5, start=100).tolist() == [s.value(t) for t in range(100, 105)]
    assert s.values(0).shape == (0,)
    v[0] = 1.0  # a fresh, writable array


def test_pasted_configs_from_each_library():
    torch_step = lrsched_rs.Schedule({"type": "StepLR", "lr": 0.1, "step_size": 2, "gamma": 0.5})
    assert list(torch_step.values(5)) == [0.1, 0.1, 0.05, 0.05, 0.025]
    assert torch_step.interval == "epoch"
    hf = lrsched_rs.Schedule(
        {
            "type": "transformers.get_cosine_schedule_with_warmup",
            "lr": 0.001,
            "num_warmup_steps": 10,
            "num_training_steps": 110,
        }
    )
    assert hf.value(5) == pytest.approx(0.0005)
    assert hf.interval == "step"
    optax = lrsched_rs.Schedule(
        {"type": "optax.cosine_decay_schedule", "init_value": 0.1, "decay_steps": 100}
    )
    assert optax.value(100) == pytest.approx(0.0, abs=1e-12)
    one_cycle = lrsched_rs.Schedule({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 100})
    assert one_cycle.interval == "step"
    assert one_cycle.momentum(0) == pytest.approx(0.95)


def test_interval_key_and_round_trip():
    s = lrsched_rs.Schedule({"type": "StepLR", "lr": 0.1, "step_size": 3, "interval": "step"})
    assert s.interval == "step"
    again = lrsched_rs.Schedule(s.to_config())
    assert again == s and again.interval == "step"
    assert lrsched_rs.Schedule(s.to_json()) == s
    assert lrsched_rs.Schedule(str(s)) == s
    assert pickle.loads(pickle.dumps(s)) == s
    assert "StepLR" in repr(s)


def test_durations_resolve_with_a_run_shape():
    s = lrsched_rs.Schedule(
        {"type": "cosine", "lr": 0.1, "steps": "50%"}, steps_per_epoch=10, epochs=4
    )
    assert s.length == 20
    with pytest.raises(lrsched_rs.ScheduleError, match="50%"):
        lrsched_rs.Schedule({"type": "cosine", "lr": 0.1, "steps": "50%"})


def test_convert_names_the_target_form():
    s = lrsched_rs.Schedule(COSINE)
    c = s.convert("keras")
    assert c.config["type"] == "keras.CosineDecay" and c.exact
    assert lrsched_rs.Schedule(c.config).value(10) == pytest.approx(s.value(10))
    t = lrsched_rs.Schedule("step(lr=0.1, step_size=30, gamma=0.5)").convert(to="torch")
    assert t.config["type"] == "StepLR"
    assert "StepLR(" in str(t)
    with pytest.raises(lrsched_rs.ScheduleError, match="did you mean `optax`"):
        s.convert("opatx")


def test_catalog():
    cat = lrsched_rs.list()
    names = [t["name"] for t in cat]
    for name in ["cosine", "warmup", "StepLR", "ReduceLROnPlateau", "wsd", "rex"]:
        assert name in names
    for t in cat:
        # Every example parses: the catalog teaches working configs.
        lrsched_rs.Schedule(t["example"])
    step = next(t for t in cat if t["name"] == "StepLR")
    assert step["group"] == "torch" and step["params"]["lr"] is None


@pytest.mark.parametrize(
    "config, message",
    [
        ({"type": "cosine", "lr": 0.1, "stepz": 100}, "did you mean `steps`"),
        ({"type": "cosin", "lr": 0.1, "steps": 100}, "did you mean `cosine`"),
        ({"type": "cosine", "lr": 0.1, "steps": -1}, "steps"),
        ({"type": "cosine", "lr": "fast", "steps": 100}, "lr"),
        ({"type": "cosine", "steps": 100}, "lr"),
        ({"type": "cosine", "lr": {1, 2}, "steps": 100}, "`lr` is a set"),
        ({"type": "cosine", "lr": float("nan"), "steps": 100}, "finite"),
        ({"type": "cosine", "lr": 0.1, "steps": 10**30}, "64 bits"),
        ({1: "cosine"}, "config keys are strings"),
        ({"type": "StepLR", "lr": 0.1, "step_size": 3, "interval": "batch"}, '"step" or "epoch"'),
        ("{\"type\": ", "JSON"),
        ("type = ", "TOML"),
        ("cosine(lr=0.1, steps=", "column 22"),
        ({}, "type"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_problem(config, message):
    with pytest.raises(lrsched_rs.ScheduleError) as e:
        lrsched_rs.Schedule(config)
    assert isinstance(e.value, ValueError)
    assert message in str(e.value)


def test_wrong_argument_types():
    with pytest.raises(TypeError, match="not a int"):
        lrsched_rs.Schedule(42)
    s = lrsched_rs.Schedule(COSINE)
    with pytest.raises(lrsched_rs.ScheduleError, match="step = -1"):
        s.value(-1)
    with pytest.raises(TypeError):
        s.value("3")
    with pytest.raises(lrsched_rs.ScheduleError, match="n = -2"):
        s.values(-2)
    with pytest.raises(lrsched_rs.ScheduleError, match="steps_per_epoch"):
        lrsched_rs.Schedule(COSINE, steps_per_epoch=0)


def test_message_is_the_clis():
    # The CLI prints `error: <ScheduleError>`; the Python message is that text.
    with pytest.raises(lrsched_rs.ScheduleError) as e:
        lrsched_rs.Schedule({"type": "StepLR", "lr": 0.1, "step_size": 0})
    assert str(e.value) == "StepLR: `step_size` = 0 is not allowed: must be an integer >= 1"


def test_far_steps_are_cheap():
    import time

    s = lrsched_rs.Schedule({"type": "CosineAnnealingLR", "lr": 0.1, "T_max": 1000})
    t = time.perf_counter()
    v = s.value(10**12)
    assert time.perf_counter() - t < 5
    assert 0.0 <= v <= 0.1


def test_help_teaches():
    assert "Schedule" in lrsched_rs.__doc__
    assert lrsched_rs.Schedule.value.__doc__
    assert lrsched_rs.list.__doc__


def test_values_is_a_list_without_numpy():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import lrsched_rs\n"
        "v = lrsched_rs.Schedule('step(lr=1, step_size=2, gamma=0.5)').values(5)\n"
        "assert v == [1.0, 1.0, 0.5, 0.5, 0.25] and type(v) is list, v\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_torch_and_trial_are_there_after_a_plain_import():
    pytest.importorskip("torch")
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("LRSCHED_")}
    code = "import lrsched_rs; print(lrsched_rs.torch.LRScheduler.__name__, lrsched_rs.trial.active())"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.split() == ["LRScheduler", "False"]
