"""PyTorch's habits, each side by side with the real torch class (issue 21).

`step(epoch)` (the deprecated closed-form path, CosineAnnealingWarmRestarts' fractional
epochs, torch's warning), a positional number never read as a metric by a schedule
without one, OneCycleLR refusing to step past total_steps, durations in LRScheduler, and
a pasted ReduceLROnPlateau's state staying small.
"""

import io
import json
import warnings

import pytest

torch = pytest.importorskip("torch")
import torch.optim.lr_scheduler as S  # noqa: E402

import lrsched_rs  # noqa: E402
import lrsched_rs.torch  # noqa: E402


def two_groups():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    return torch.optim.SGD([{"params": a.parameters()}, {"params": b.parameters(), "lr": 0.013}],
                           lr=0.1, momentum=0.9)


def calls(sched, call):
    """`call(sched)`'s warnings, as (category, message) pairs."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        call(sched)
    return [(w.category, str(w.message)) for w in seen
            if "optimizer.step()" not in str(w.message)]  # torch's call-order hints


def side_by_side(config, factory, script):
    """Runs `script` (a list of step arguments: None for step(), a number for step(x))
    on torch's class and on the pasted config, both on two param groups; every call's
    rates, raised error and warnings must be the same."""
    ref_opt, our_opt = two_groups(), two_groups()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, ours = factory(ref_opt), lrsched_rs.torch.LRScheduler(our_opt, config)
    assert ours.get_last_lr() == ref.get_last_lr()
    for i, arg in enumerate(script):
        results = []
        for sched, opt in ((ref, ref_opt), (ours, our_opt)):
            opt.step()
            try:
                w = calls(sched, (lambda s: s.step()) if arg is None else (lambda s: s.step(arg)))
                results.append((None, w, sched.get_last_lr(), [g["lr"] for g in opt.param_groups]))
            except TypeError as e:  # an argument torch's signature refuses (wording differs)
                results.append(TypeError)
            except ValueError as e:  # lrsched_rs.ScheduleError is a ValueError
                results.append((ValueError, str(e)))
        assert results[0] == results[1], f"call {i}: step({'' if arg is None else arg})"
    return ref, ours


EPOCH_SCRIPT = [None, None, None, 9, None, None, 4, None, 0, None, 30, None]

EPOCH_CASES = [
    ({"type": "StepLR", "step_size": 3, "gamma": 0.5}, lambda o: S.StepLR(o, 3, 0.5)),
    ({"type": "StepLR", "step_size": 3, "gamma": 0.1}, lambda o: S.StepLR(o, 3, 0.1)),
    ({"type": "MultiStepLR", "milestones": [2, 5, 5, 11], "gamma": 0.3},
     lambda o: S.MultiStepLR(o, [2, 5, 5, 11], 0.3)),
    ({"type": "ConstantLR", "factor": 0.25, "total_iters": 6},
     lambda o: S.ConstantLR(o, factor=0.25, total_iters=6)),
    ({"type": "LinearLR", "start_factor": 0.1, "total_iters": 13},
     lambda o: S.LinearLR(o, start_factor=0.1, total_iters=13)),
    ({"type": "ExponentialLR", "gamma": 0.93}, lambda o: S.ExponentialLR(o, 0.93)),
    ({"type": "PolynomialLR", "total_iters": 17, "power": 2.5},
     lambda o: S.PolynomialLR(o, total_iters=17, power=2.5)),
    ({"type": "CosineAnnealingLR", "T_max": 11, "eta_min": 0.001},
     lambda o: S.CosineAnnealingLR(o, T_max=11, eta_min=0.001)),
    ({"type": "LambdaLR", "lr_lambda": "0.95 ** epoch"},
     lambda o: S.LambdaLR(o, lambda e: 0.95 ** e)),
    ({"type": "MultiplicativeLR", "lr_lambda": "0.9 if epoch % 2 else 0.8"},
     lambda o: S.MultiplicativeLR(o, lambda e: 0.9 if e % 2 else 0.8)),
    ({"type": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4},
     lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4)),
    ({"type": "CosineAnnealingWarmRestarts", "T_0": 5, "T_mult": 2, "eta_min": 0.002},
     lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.002)),
]


@pytest.mark.parametrize("config, factory", EPOCH_CASES,
                         ids=[f"{c['type']}-{i}" for i, (c, _) in enumerate(EPOCH_CASES)])
def test_step_epoch_is_torchs_with_its_warning(config, factory):
    ref, ours = side_by_side(config, factory, EPOCH_SCRIPT)
    # A resume after epoch calls continues as the run itself.
    again = lrsched_rs.torch.LRScheduler(two_groups(), config)
    buf = io.BytesIO()
    torch.save(ours.state_dict(), buf)
    buf.seek(0)
    again.load_state_dict(torch.load(buf, weights_only=True))
    assert again.get_last_lr() == ours.get_last_lr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for arg in [None, 7, None, None]:
            for s in (ref, ours, again):
                s.step() if arg is None else s.step(arg)
            assert ours.get_last_lr() == ref.get_last_lr() == again.get_last_lr()


def test_issue_example_steplr_step_9():
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    sched = lrsched_rs.torch.LRScheduler(opt, {"type": "StepLR", "step_size": 3, "gamma": 0.5})
    with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)`"):
        sched.step(9)
    assert sched.get_last_lr() == [0.0125] and sched.last_epoch == 9


def test_warm_restarts_fractional_epochs_as_its_docs_loop():
    config = {"type": "CosineAnnealingWarmRestarts", "T_0": 2, "T_mult": 2, "eta_min": 0.001}
    iters = 7
    script = [epoch + i / iters for epoch in range(9) for i in range(iters)]
    # Interleaved, as its docstring's second example: steps, then an epoch, then steps.
    script += [None] * 20 + [26, None, 3.25, None]
    side_by_side(config, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2,
                                                                 eta_min=0.001), script)
    # The issue's case: step(epoch + i / iters) gave 0.050 (read as a metric) where torch
    # gives 0.0998; torch's class warns nothing here, nor does ours.
    opt, ref_opt = (torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1) for _ in "ab")
    s = lrsched_rs.torch.LRScheduler(opt, {"type": "CosineAnnealingWarmRestarts", "T_0": 10})
    ref = S.CosineAnnealingWarmRestarts(ref_opt, T_0=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.step(0 + 2 / 10)
        ref.step(0 + 2 / 10)
    assert s.get_last_lr() == ref.get_last_lr() and s.get_last_lr()[0] > 0.0998


def test_a_positional_number_is_never_a_metric_without_one():
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    native = lrsched_rs.torch.LRScheduler(opt, "cosine(lr=0.1, steps=100)")
    with pytest.warns(UserWarning, match="epoch parameter"):
        native.step(50)  # the closed form at epoch 50: the schedule's value
    assert native.get_last_lr() == [lrsched_rs.Schedule("cosine(lr=0.1, steps=100)").value(50)]
    native.step()
    assert native.last_epoch == 51
    with pytest.raises(lrsched_rs.ScheduleError, match="takes no metric"):
        native.step("0.5")
    # A metric-driven schedule reads it as the metric, as torch's ReduceLROnPlateau.
    plateau = lrsched_rs.torch.LRScheduler(opt, "plateau(lr=0.1, patience=0, factor=0.5)",
                                           interval="epoch")
    plateau.step(1.0)
    plateau.step(2.0)
    assert plateau.get_last_lr() == [0.05]


def test_composites_and_plateau_take_epochs_as_torch_does():
    seq = {"type": "SequentialLR", "milestones": [2],
           "schedulers": [{"type": "ConstantLR", "factor": 0.5, "total_iters": 2},
                          {"type": "ExponentialLR", "gamma": 0.9}]}
    side_by_side(seq, lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=2),
                                                   S.ExponentialLR(o, 0.9)], milestones=[2]),
                 [None, 3, None])
    # ReduceLROnPlateau.step(metrics, epoch): the epoch is torch's deprecated argument.
    ref_opt, our_opt = two_groups(), two_groups()
    ref = S.ReduceLROnPlateau(ref_opt, patience=0)
    ours = lrsched_rs.torch.LRScheduler(our_opt, {"type": "ReduceLROnPlateau", "patience": 0})
    for m, e in [(1.0, None), (2.0, 5), (0.5, None), (3.0, None)]:
        w_ref = calls(ref, lambda s: s.step(m) if e is None else s.step(m, e))
        w_ours = calls(ours, lambda s: s.step(m) if e is None else s.step(m, e))
        assert w_ours == w_ref
        assert ours.get_last_lr() == ref.get_last_lr()
        assert [g["lr"] for g in our_opt.param_groups] == [g["lr"] for g in ref_opt.param_groups]


def test_one_cycle_past_total_steps_raises_as_torch():
    config = {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 5}
    side_by_side(config, lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=5),
                 [None] * 5 + [None])
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1, momentum=0.9)
    s = lrsched_rs.torch.LRScheduler(opt, config)
    for _ in range(5):
        s.step()
    with pytest.raises(ValueError, match="Tried to step 6 times. The specified number of total "
                                         "steps is 5"):
        s.step()
    # Refused, not taken: the scheduler is where it was.
    assert s.last_epoch == 5


def test_durations_in_the_scheduler_take_the_run_shape():
    opt = two_groups()
    s = lrsched_rs.torch.LRScheduler(opt, "warmup(steps=10%, schedule=cosine(lr=0.1, steps=100%))",
                                     epochs=3, steps_per_epoch=50)
    ref = lrsched_rs.Schedule("warmup(steps=15, schedule=cosine(lr=0.1, steps=150))")
    for t in range(160):
        assert s.get_last_lr()[0] == ref.value(t)
        opt.step()
        s.step()
    # A pasted class too, its lr from the optimizer; OneCycleLR's total_steps "100%" is 150.
    opt = two_groups()
    ours = lrsched_rs.torch.LRScheduler(opt, {"type": "OneCycleLR", "max_lr": 0.2,
                                              "total_steps": "100%"}, epochs=3,
                                        steps_per_epoch=50)
    ref_opt = two_groups()
    ref = S.OneCycleLR(ref_opt, max_lr=0.2, total_steps=150)
    for _ in range(150):
        assert ours.get_last_lr() == ref.get_last_lr()
        opt.step(), ref_opt.step()
        ours.step(), ref.step()
    with pytest.raises(lrsched_rs.ScheduleError, match="epochs=..., steps_per_epoch=..."):
        lrsched_rs.torch.LRScheduler(two_groups(), "cosine(lr=0.1, steps=10%)")


def test_pasted_plateau_state_stays_small():
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    s = lrsched_rs.torch.LRScheduler(opt, {"type": "ReduceLROnPlateau", "patience": 3})
    ref_opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    ref = S.ReduceLROnPlateau(ref_opt, patience=3)
    sizes = []
    for i in range(20_000):
        m = 1.0 / (1 + i % 97) + i * 1e-6
        s.step(m)
        ref.step(m)
        if i in (99, 19_999):
            sizes.append(len(json.dumps(s.state_dict())))
    assert s.get_last_lr() == ref.get_last_lr()
    assert sizes[1] <= sizes[0] + 64 and sizes[1] < 2048, sizes
    again = lrsched_rs.torch.LRScheduler(torch.optim.SGD(torch.nn.Linear(2, 1).parameters(),
                                                         lr=0.1),
                                         {"type": "ReduceLROnPlateau", "patience": 3})
    again.load_state_dict(json.loads(json.dumps(s.state_dict())))
    for i in range(300):
        m = (i % 13) * 0.1
        for x in (s, ref, again):
            x.step(m)
        assert again.get_last_lr() == s.get_last_lr() == ref.get_last_lr()
