"""Hostile inputs through the Python package (issue 19): every entry point answers with an
error naming the value and what is allowed, never a panic, an abort or a silent clamp.

`PanicException` derives from `BaseException`, so a panic fails these tests as an error
rather than matching `pytest.raises(ValueError)`; an abort is caught by running the call
in a subprocess.
"""

import subprocess
import sys

import pytest

import lrsched_rs
import lrsched_rs.trial as trial

COSINE = {"type": "cosine", "lr": 0.1, "steps": 100}
U64_MAX = 2**64 - 1
# `lrsched trace --steps` prints at most this many values (crates/lrsched-cli/src/main.rs,
# MAX_TRACE_STEPS); `Schedule.values` returns at most as many.
TRACE_LIMIT = 1_000_000_000
# The largest number of steps a run's shape may have: durations ("3ep", "10%") are
# resolved in floating point, exact up to 2^53.
MAX_RUN_STEPS = 2**53


def run_python(code):
    """Runs `code` in a fresh interpreter: an abort there does not take pytest with it."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )


def run_ok(code):
    """`code`'s output, run by `run_python`; it must exit 0."""
    out = run_python(code)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def refused(call, *needles, kind=lrsched_rs.ScheduleError):
    """The one-line message `call()` raises with; it must name every needle."""
    with pytest.raises(kind) as e:
        call()
    message = str(e.value)
    assert "\n" not in message and len(message) < 400, message
    for n in needles:
        assert n in message, message
    return message


# --- Item 4: Schedule.values is bounded as `lrsched trace` is -------------------------


@pytest.mark.parametrize("n", [10**12, 2**63 - 1, TRACE_LIMIT + 1, 2**64, 10**30])
def test_values_past_the_trace_limit_is_a_value_error_not_an_abort(n):
    code = (
        "import lrsched_rs\n"
        "s = lrsched_rs.Schedule('cosine(lr=0.1, steps=100)')\n"
        "try:\n"
        f"    s.values({n})\n"
        "except ValueError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    out = run_python(code)
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    assert out.stdout.startswith("ScheduleError "), out.stdout + out.stderr[-2000:]
    assert str(TRACE_LIMIT) in out.stdout and str(n)[:20] in out.stdout, out.stdout


def test_values_at_the_edges_of_the_step_range():
    s = lrsched_rs.Schedule(COSINE)
    # The last step there is, 2^64 - 1, included.
    assert list(s.values(4, start=U64_MAX - 3)) == [0.0, 0.0, 0.0, 0.0]
    refused(lambda: s.values(5, start=U64_MAX - 3), "start", str(U64_MAX))
    refused(lambda: s.values(1, start=2**64), "start = 18446744073709551616", str(U64_MAX))


def test_values_without_numpy_is_bounded_too():
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "import lrsched_rs\n"
        "s = lrsched_rs.Schedule('cosine(lr=0.1, steps=100)')\n"
        "assert s.values(3) == [0.1, s.value(1), s.value(2)]\n"
        "try:\n"
        "    s.values(10**12)\n"
        "except ValueError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    stdout = run_ok(code)
    assert stdout.startswith("ScheduleError ") and str(TRACE_LIMIT) in stdout


# --- Integer arguments: negative and oversized values are named, never OverflowError --


def test_steps_take_the_whole_u64_range():
    s = lrsched_rs.Schedule(COSINE)
    assert s.value(2**63) == 0.0 and s.value(U64_MAX) == 0.0
    assert s.momentum(U64_MAX) is None


@pytest.mark.parametrize(
    "call, needles",
    [
        (lambda s: s.value(2**64), ["step = 18446744073709551616", str(U64_MAX)]),
        (lambda s: s.value(-(2**70)), ["step = -1180591620717411303424", ">= 0"]),
        (lambda s: s.momentum(2**64), ["step = 18446744073709551616", str(U64_MAX)]),
        (lambda s: s.momentum(-1), ["step = -1", ">= 0"]),
        (lambda s: s.values(-1), ["n = -1", ">= 0"]),
        (lambda s: s.values(2, start=-5), ["start = -5", ">= 0"]),
    ],
)
def test_integer_arguments_out_of_range_are_named(call, needles):
    s = lrsched_rs.Schedule(COSINE)
    refused(lambda: call(s), *needles)


def test_an_integer_too_long_to_print_is_still_named_shortly():
    s = lrsched_rs.Schedule(COSINE)
    # 10**5000 has more digits than Python prints (sys.get_int_max_str_digits).
    message = refused(lambda: s.value(10**5000), "step = ")
    assert "bits" in message or "…" in message, message
    message = refused(lambda: s.value(10**400), "step = 1000")
    assert "…" in message and len(message) < 300, message


def test_integer_arguments_accept_what_python_takes_as_an_index():
    np = pytest.importorskip("numpy")
    s = lrsched_rs.Schedule(COSINE)
    assert s.value(np.int64(50)) == s.value(50)
    assert s.values(np.uint64(2), start=np.int32(99)).tolist() == [s.value(99), 0.0]
    with pytest.raises(TypeError, match="step"):
        s.value(1.5)


# --- Item 15 (Python part): run shapes that do not fit are refused, not clamped ------


@pytest.mark.parametrize(
    "kwargs, needles",
    [
        ({"steps_per_epoch": U64_MAX}, ["steps_per_epoch", str(U64_MAX), str(MAX_RUN_STEPS)]),
        ({"steps_per_epoch": 2**64}, ["steps_per_epoch", str(2**64)]),
        ({"steps_per_epoch": -1}, ["steps_per_epoch", "-1", ">= 1"]),
        ({"steps_per_epoch": 10, "epochs": 1e300}, ["`epochs` = 1e+300", str(MAX_RUN_STEPS)]),
        ({"steps_per_epoch": 2**40, "epochs": 2**20}, ["epochs", str(2**20), str(2**40)]),
        ({"epochs": 10**400}, ["epochs", "1000"]),
        ({"epochs": float("inf")}, ["epochs", "inf", "finite"]),
    ],
)
def test_run_shapes_that_do_not_fit_are_refused_naming_the_value(kwargs, needles):
    config = {"type": "cosine", "lr": 0.1, "steps": "200%"}
    refused(lambda: lrsched_rs.Schedule(config, **kwargs), *needles)


def test_the_largest_run_shape_still_resolves_exactly():
    s = lrsched_rs.Schedule(
        {"type": "cosine", "lr": 0.1, "steps": "100%"}, steps_per_epoch=2**43, epochs=2**10
    )
    assert s.length == MAX_RUN_STEPS
    s = lrsched_rs.Schedule(
        {"type": "cosine", "lr": 0.1, "steps": "1ep"}, steps_per_epoch=MAX_RUN_STEPS
    )
    assert s.length == MAX_RUN_STEPS


def test_trial_steps_per_epoch_that_does_not_fit_is_refused(env, monkeypatch):
    # 100% of 4 epochs of 2^64-1 steps: clamped to 2^64-1 steps before.
    refused(lambda: trial.schedule(steps_per_epoch=U64_MAX), "steps_per_epoch", str(U64_MAX))
    refused(lambda: trial.schedule(steps_per_epoch=2**51 + 1), "LRSCHED_EPOCHS = 4", str(2**51 + 1))
    refused(lambda: trial.schedule(steps_per_epoch=2**64), "steps_per_epoch", str(2**64))
    refused(lambda: trial.schedule(steps_per_epoch=-3), "`steps_per_epoch` = -3", ">= 1")
    assert trial.schedule(steps_per_epoch=2**51).length == MAX_RUN_STEPS
    monkeypatch.setenv("LRSCHED_STEPS_PER_EPOCH", str(U64_MAX))
    trial._reset()
    refused(lambda: trial.schedule(), "LRSCHED_STEPS_PER_EPOCH", str(U64_MAX))


def test_trial_reports_refuse_integers_past_64_bits(env):
    refused(lambda: trial.report(2**64, val_loss=1.0), "epoch = 18446744073709551616")
    refused(lambda: trial.report_step(2**64, lr=0.1, loss=1.0), "step = 18446744073709551616")
    refused(lambda: trial.report(1, val_loss=10**400), "val_loss", "1000")
    assert not env.exists() or env.read_text() == ""


# --- Item 5: conversions from Python values never panic -------------------------------


def test_a_dict_changed_while_it_is_read_is_read_as_it_was():
    config = {"type": "cosine", "steps": 100}

    class Grows:
        def __float__(self):
            for i in range(20):
                config[f"extra{i}"] = i
            return 0.1

    config["lr"] = Grows()
    s = lrsched_rs.Schedule(config)  # a PanicException before
    assert s.value(0) == 0.1


def test_a_dict_emptied_while_it_is_read_is_read_as_it_was():
    config = {"type": "cosine", "steps": 100}

    class Clears:
        def __float__(self):
            config.clear()
            return 0.1

    config["lr"] = Clears()
    assert lrsched_rs.Schedule(config).value(0) == 0.1


def test_a_list_changed_while_it_is_read_is_read_as_it_was():
    milestones = [2, None, 6]

    class Clears:
        def __index__(self):
            milestones.clear()
            return 4

    milestones[1] = Clears()
    s = lrsched_rs.Schedule({"type": "MultiStepLR", "lr": 0.1, "milestones": milestones})
    assert s.to_config()["milestones"] == [2, 4, 6]  # [2, 4] before: the rest was lost


def test_a_list_that_grows_while_it_is_read_ends():
    code = (
        "import lrsched_rs\n"
        "ms = [2]\n"
        "class Grows:\n"
        "    def __index__(self):\n"
        "        ms.append(Grows()) if len(ms) < 10**6 else None\n"
        "        return 4\n"
        "ms.append(Grows())\n"
        "s = lrsched_rs.Schedule({'type': 'MultiStepLR', 'lr': 0.1, 'milestones': ms})\n"
        "print(s.to_config()['milestones'])\n"
    )
    assert run_ok(code).split() == ["[2,", "4]"]


def test_a_state_dict_changed_while_it_is_read_does_not_panic():
    from lrsched_rs._lrsched import _Driver

    s = lrsched_rs.Schedule(COSINE)
    d = _Driver(s, [1.0], "step")
    state = d.state()

    class Grows:
        def __index__(self):
            for i in range(20):
                state[f"x{i}"] = i
            return 0

    state["step"] = Grows()
    d.restore(state)  # a PanicException before
    assert d.step_count == 0


def test_group_scales_changed_while_read_do_not_hang_or_panic():
    from lrsched_rs._lrsched import _Driver

    scales = [1.0]

    class Grows:
        def __float__(self):
            if len(scales) < 50:
                scales.append(Grows())
            return 0.5

    scales.append(Grows())
    d = _Driver(lrsched_rs.Schedule(COSINE), scales, "step")
    assert d.current()[0] == [0.1, 0.05]


# --- Smaller: numbers as Python has them, surrogates, the 64 KiB line ------------------


def test_numpy_numbers_are_numbers():
    np = pytest.importorskip("numpy")
    for lr in [np.array(0.1), np.float64(0.1), np.array(0.1, dtype=np.float64)]:
        s = lrsched_rs.Schedule({"type": "cosine", "lr": lr, "steps": 100})
        assert s.value(0) == 0.1
    s = lrsched_rs.Schedule({"type": "cosine", "lr": np.float32(0.1), "steps": np.array(100)})
    assert s.value(0) == float(np.float32(0.1)) and s.length == 100
    assert lrsched_rs.Schedule({"type": "cosine", "lr": 0.1, "steps": np.int64(7)}).length == 7


def test_numbers_with_dunder_float_are_numbers():
    from decimal import Decimal
    from fractions import Fraction

    assert lrsched_rs.Schedule({"type": "cosine", "lr": Fraction(1, 10), "steps": 100}).value(0) == 0.1
    assert lrsched_rs.Schedule({"type": "cosine", "lr": Decimal("0.1"), "steps": 100}).value(0) == 0.1
    refused(
        lambda: lrsched_rs.Schedule({"type": "cosine", "lr": Fraction(10**400), "steps": 100}),
        "`lr`", "finite",
    )


def test_booleans_are_refused_as_numbers_whatever_their_library():
    np = pytest.importorskip("numpy")
    # A Python bool is refused where a number belongs; numpy's bool the same way (it was
    # read as 1.0 before).
    for flag in [True, np.True_]:
        config = {"type": "cosine", "lr": flag, "steps": 100}
        refused(lambda: lrsched_rs.Schedule(config), "lr", "boolean")


def test_arrays_that_are_not_one_number_are_refused_naming_the_key():
    np = pytest.importorskip("numpy")
    message = refused(
        lambda: lrsched_rs.Schedule({"type": "cosine", "lr": np.array([0.1, 0.2]), "steps": 100}),
        "`lr`", "must be a number",
    )
    assert "integer" not in message


def test_a_surrogate_key_is_named_as_not_unicode():
    message = refused(
        lambda: lrsched_rs.Schedule(
            {"type": "warmup", "steps": 10, "schedule": {"type": "cosine", "\ud800x": 1}}
        ),
        "`schedule`", "not valid Unicode", "\\ud800",
    )
    assert "config keys are strings" not in message


def test_a_surrogate_value_or_text_is_named_as_not_unicode():
    refused(lambda: lrsched_rs.Schedule({"type": "cos\udcffine", "lr": 0.1, "steps": 100}),
            "`type`", "not valid Unicode")
    refused(lambda: lrsched_rs.Schedule({"type": "MultiStepLR", "lr": 0.1, "milestones": ["\ud800"]}),
            "`milestones[0]`", "not valid Unicode")
    refused(lambda: lrsched_rs.Schedule("cosine(lr=0.1, steps=\ud800)"), "not valid Unicode")


def test_an_integer_past_64_bits_in_a_config_is_quoted_shortly():
    for steps in [10**400, 10**5000]:  # the second too long for str()
        config = {"type": "cosine", "lr": 0.1, "steps": steps}
        message = refused(lambda: lrsched_rs.Schedule(config), "`steps`", "64 bits")
        assert "…" in message or "bits)" in message, message


PROTOCOL_LINE_LIMIT = 64 * 1024


def test_report_refuses_a_line_over_the_protocols_limit_before_writing(env):
    message = refused(lambda: trial.report(1, **{"m" * 70_000: 1.0}), str(PROTOCOL_LINE_LIMIT))
    assert "bytes" in message and "70" in message
    many = {f"metric_{i:05d}": 0.123456789 for i in range(4000)}
    refused(lambda: trial.report(2, **many), str(PROTOCOL_LINE_LIMIT))
    assert not env.exists() or env.read_text() == ""
    trial.report(1, **{"m" * 60_000: 1.0})  # under the limit: written
    assert len(env.read_bytes()) <= PROTOCOL_LINE_LIMIT


def test_report_refuses_a_metric_name_that_is_not_unicode(env):
    refused(lambda: trial.report(1, **{"loss\ud800": 1.0}), "not valid Unicode")


def test_values_in_chunks_agree_with_value():
    np = pytest.importorskip("numpy")
    for config in [
        "warmup(steps=1000, schedule=cosine(lr=0.1, steps=200000))",
        {"type": "CosineAnnealingLR", "lr": 0.1, "T_max": 70000},
    ]:
        s = lrsched_rs.Schedule(config)
        v = s.values(150_000, start=3)  # more than one chunk of 65536
        assert v.dtype == np.float64 and v.shape == (150_000,)
        for t in [0, 65535, 65536, 65537, 131072, 149_999]:
            assert v[t] == s.value(t + 3), t


# --- The Python helpers: metrics that are not one float are named, never an OverflowError


def test_trial_metrics_are_what_float_takes():
    torch = pytest.importorskip("torch")
    from decimal import Decimal

    assert trial._number("loss", Decimal("0.5")) == 0.5
    assert trial._number("loss", torch.tensor(0.25)) == 0.25
    refused(lambda: trial._number("loss", torch.tensor([1.0, 2.0])), "`loss`", "one number")
    refused(lambda: trial._number("loss", "0.5"), "`loss`", "must be a number")
    refused(lambda: trial._number("loss", 10**5000), "`loss`", "bits")


def test_torch_scheduler_metrics_that_are_not_numbers_are_named():
    torch = pytest.importorskip("torch")
    import lrsched_rs.torch

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = lrsched_rs.torch.LRScheduler(opt, {"type": "ReduceLROnPlateau"})
    refused(lambda: sched.step(10**400), "metric = 1000", "must be a number")
    refused(lambda: sched.step(torch.tensor([1.0, 2.0])), "metric = tensor", "must be a number")
    refused(lambda: lrsched_rs.torch.LRScheduler(opt, "StepLR(step_size=\ud800)"), "not valid Unicode")


def test_driver_metrics_past_a_float_are_named():
    from lrsched_rs._lrsched import _Driver

    d = _Driver(lrsched_rs.Schedule({"type": "ReduceLROnPlateau", "lr": 0.1}), [1.0], "epoch")
    refused(lambda: d.step(10**400), "metric = 1000", "finite")
    refused(lambda: d.observe(-(10**400)), "metric = -1000", "finite")
    refused(lambda: d.end_epoch(10**400), "metric = 1000", "finite")
    with pytest.raises(TypeError, match="metric = 'low'"):
        d.step("low")
