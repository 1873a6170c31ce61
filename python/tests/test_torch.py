"""lrsched_rs.torch.LRScheduler side by side with PyTorch's own schedulers, in a real loop.

Every class lrsched reads is pasted as a config and driven through lrsched's scheduler in
the same training loop as the real torch class: every step's rates and momenta must be
the same bits, and so must the trained weights.
"""

import copy
import io

import pytest

torch = pytest.importorskip("torch")
import torch.optim.lr_scheduler as tls  # noqa: E402

import lrsched_rs  # noqa: E402
import lrsched_rs.torch  # noqa: E402

S = tls  # shorter in the table


def loss_of(model, x, y):
    return torch.nn.functional.mse_loss(model(x), y)


# name, config (pasted: PyTorch's keyword arguments), factory of the torch scheduler,
# optimizer kind, steps, whether it takes a metric.
CASES = [
    ("LambdaLR", {"type": "LambdaLR", "lr_lambda": "0.95 ** epoch"},
     lambda o: S.LambdaLR(o, lambda epoch: 0.95 ** epoch), "sgd", 40, False),
    ("MultiplicativeLR", {"type": "MultiplicativeLR", "lr_lambda": 0.9},
     lambda o: S.MultiplicativeLR(o, lambda epoch: 0.9), "sgd", 40, False),
    ("StepLR", {"type": "StepLR", "step_size": 7, "gamma": 0.5},
     lambda o: S.StepLR(o, step_size=7, gamma=0.5), "sgd", 40, False),
    ("StepLR-with-lr", {"type": "StepLR", "lr": 0.05, "step_size": 3},
     lambda o: S.StepLR(o, step_size=3), "sgd", 20, False),
    ("MultiStepLR", {"type": "MultiStepLR", "milestones": [5, 12, 12, 30], "gamma": 0.3},
     lambda o: S.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3), "sgd", 40, False),
    ("ConstantLR", {"type": "ConstantLR", "factor": 0.25, "total_iters": 6},
     lambda o: S.ConstantLR(o, factor=0.25, total_iters=6), "sgd", 20, False),
    ("LinearLR", {"type": "LinearLR", "start_factor": 0.1, "end_factor": 0.9, "total_iters": 13},
     lambda o: S.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=13), "adam", 30, False),
    ("ExponentialLR", {"type": "ExponentialLR", "gamma": 0.93},
     lambda o: S.ExponentialLR(o, gamma=0.93), "sgd", 60, False),
    ("PolynomialLR", {"type": "PolynomialLR", "total_iters": 17, "power": 2.5},
     lambda o: S.PolynomialLR(o, total_iters=17, power=2.5), "sgd", 30, False),
    ("CosineAnnealingLR", {"type": "CosineAnnealingLR", "T_max": 11, "eta_min": 0.001},
     lambda o: S.CosineAnnealingLR(o, T_max=11, eta_min=0.001), "sgd", 60, False),
    ("CosineAnnealingWarmRestarts",
     {"type": "CosineAnnealingWarmRestarts", "T_0": 5, "T_mult": 2, "eta_min": 0.002},
     lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.002), "sgd", 60, False),
    ("CyclicLR", {"type": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4,
                  "mode": "triangular2"},
     lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4, mode="triangular2"),
     "sgd", 50, False),
    ("CyclicLR-exp_range", {"type": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1,
                            "step_size_up": 3, "step_size_down": 5, "mode": "exp_range",
                            "gamma": 0.97},
     lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, step_size_down=5,
                          mode="exp_range", gamma=0.97), "sgd", 50, False),
    ("OneCycleLR", {"type": "OneCycleLR", "max_lr": 0.2, "total_steps": 40},
     lambda o: S.OneCycleLR(o, max_lr=0.2, total_steps=40), "sgd", 40, False),
    ("OneCycleLR-adam", {"type": "OneCycleLR", "max_lr": 0.01, "epochs": 3,
                         "steps_per_epoch": 9, "three_phase": True, "anneal_strategy": "linear"},
     lambda o: S.OneCycleLR(o, max_lr=0.01, epochs=3, steps_per_epoch=9, three_phase=True,
                            anneal_strategy="linear"), "adam", 27, False),
    ("SequentialLR", {"type": "SequentialLR", "milestones": [5],
                      "schedulers": [{"type": "LinearLR", "start_factor": 0.1, "total_iters": 5},
                                     {"type": "CosineAnnealingLR", "T_max": 20}]},
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                  S.CosineAnnealingLR(o, T_max=20)], milestones=[5]),
     "sgd", 40, False),
    ("ChainedScheduler", {"type": "ChainedScheduler",
                          "schedulers": [{"type": "ConstantLR", "factor": 0.5, "total_iters": 4},
                                         {"type": "ExponentialLR", "gamma": 0.9}]},
     lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.5, total_iters=4),
                                   S.ExponentialLR(o, gamma=0.9)]), "sgd", 30, False),
    ("ReduceLROnPlateau", {"type": "ReduceLROnPlateau", "patience": 2, "factor": 0.5,
                           "cooldown": 1},
     lambda o: S.ReduceLROnPlateau(o, patience=2, factor=0.5, cooldown=1), "sgd", 40, True),
]


def make(kind, seed=0, lr=0.05):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    if kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    return model, opt


def group_state(opt):
    return [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]


def data(n):
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(16, 4, generator=g), torch.randn(16, 1, generator=g)) for _ in range(n)]


def test_every_torch_class_is_covered():
    covered = {c[1]["type"] for c in CASES}
    torch_classes = {t["name"] for t in lrsched_rs.list() if t["group"] == "torch"}
    assert covered == torch_classes


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_side_by_side_with_the_torch_class(case):
    name, config, factory, kind, steps, metric = case
    ref_model, ref_opt = make(kind)
    our_model, our_opt = make(kind)
    ref = factory(ref_opt)
    ours = lrsched_rs.torch.LRScheduler(our_opt, config)
    assert isinstance(ours, tls.LRScheduler)
    batches = data(steps)
    for i, (x, y) in enumerate(batches):
        assert group_state(our_opt) == group_state(ref_opt), f"{name} step {i}"
        for model, opt in ((ref_model, ref_opt), (our_model, our_opt)):
            opt.zero_grad()
            loss_of(model, x, y).backward()
            opt.step()
        if metric:
            # A metric that improves, stalls, then worsens: the plateau cuts.
            m = [1.0, 0.9, 0.8, 0.8, 0.8, 0.85, 0.9, 0.7][i % 8] + (i // 8) * 0.01
            ref.step(m)
            ours.step(m)
        else:
            ref.step()
            ours.step()
        assert ours.get_last_lr() == ref.get_last_lr(), f"{name} after step {i}"
    for a, b in zip(ref_model.parameters(), our_model.parameters()):
        assert torch.equal(a, b), name


def two_groups(kind="sgd"):
    torch.manual_seed(0)
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    groups = [{"params": a.parameters()}, {"params": b.parameters(), "lr": 0.013}]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    return torch.optim.Adam(groups, lr=0.1)


GROUP_CASES = [
    ({"type": "StepLR", "step_size": 2, "gamma": 0.3},
     lambda o: S.StepLR(o, step_size=2, gamma=0.3)),
    ({"type": "CosineAnnealingLR", "T_max": 7, "eta_min": 0.001},
     lambda o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
    ({"type": "OneCycleLR", "max_lr": [0.2, 0.02], "total_steps": 30},
     lambda o: S.OneCycleLR(o, max_lr=[0.2, 0.02], total_steps=30)),
    ({"type": "LambdaLR", "lr_lambda": ["0.9 ** epoch", "1 / (epoch + 1)"]},
     lambda o: S.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: 1 / (e + 1)])),
    ({"type": "SequentialLR", "milestones": [3],
      "schedulers": [{"type": "LinearLR", "start_factor": 0.1, "total_iters": 3},
                     {"type": "ExponentialLR", "gamma": 0.8}]},
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=3),
                                  S.ExponentialLR(o, gamma=0.8)], milestones=[3])),
]


@pytest.mark.parametrize("config, factory", GROUP_CASES, ids=[c[0]["type"] for c in GROUP_CASES])
def test_groups_keep_their_own_base_rates_exactly(config, factory):
    opt, ref_opt = two_groups(), two_groups()
    ours = lrsched_rs.torch.LRScheduler(opt, config)
    ref = factory(ref_opt)
    for i in range(25):
        assert group_state(opt) == group_state(ref_opt), i
        opt.step(), ref_opt.step()
        ours.step(), ref.step()
        assert ours.get_last_lr() == ref.get_last_lr(), i
        assert ours.get_lr() == ours.get_last_lr()
    # Resumes with every group's schedule.
    again = lrsched_rs.torch.LRScheduler(two_groups(), config)
    again.load_state_dict(ours.state_dict())
    assert again.get_last_lr() == ours.get_last_lr()


def test_native_schedule_scales_groups_by_their_initial_rates():
    opt = two_groups()
    s = lrsched_rs.torch.LRScheduler(opt, "cosine(lr=0.1, steps=10)")
    ref = lrsched_rs.Schedule("cosine(lr=0.1, steps=10)")
    for t in range(12):
        assert s.get_last_lr() == [ref.value(t), ref.value(t) * (0.013 / 0.1)]
        opt.step()
        s.step()


def test_per_group_lists_must_match_the_groups():
    with pytest.raises(lrsched_rs.ScheduleError, match="list of 2 numbers"):
        lrsched_rs.torch.LRScheduler(two_groups(), {"type": "OneCycleLR", "max_lr": [0.1, 0.2, 0.3],
                                                 "total_steps": 10})


def test_native_schedule_sets_momentum_and_adam_betas():
    _, opt = make("adam")
    s = lrsched_rs.torch.LRScheduler(opt, "one_cycle(max_lr=0.1, total_steps=20)")
    assert s.interval == "step"
    sched = lrsched_rs.Schedule("one_cycle(max_lr=0.1, total_steps=20)")
    for t in range(10):
        assert opt.param_groups[0]["lr"] == sched.value(t)
        assert opt.param_groups[0]["betas"][0] == sched.momentum(t)
        assert opt.param_groups[0]["betas"][1] == 0.999
        opt.step()
        s.step()


def run(config, steps, state=None, kind="sgd", metrics=None):
    model, opt = make(kind)
    sched = lrsched_rs.torch.LRScheduler(opt, config)
    if state is not None:
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
    lrs = []
    for i in range(steps):
        opt.step()
        if metrics:
            sched.step(metrics[sched.last_epoch % len(metrics)])
        else:
            sched.step()
        lrs.append(sched.get_last_lr())
    return lrs, {"opt": opt.state_dict(), "sched": sched.state_dict()}


@pytest.mark.parametrize(
    "config, metrics",
    [
        ({"type": "CosineAnnealingLR", "T_max": 30}, None),
        ("warmup(steps=5, schedule=cosine(lr=0.1, steps=50))", None),
        ({"type": "ReduceLROnPlateau", "patience": 1}, [1.0, 1.1, 1.2, 0.5, float("nan")]),
        ({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 40}, None),
    ],
)
def test_state_dict_resumes_bit_identically(config, metrics):
    whole, _ = run(config, 30, metrics=metrics)
    first, state = run(config, 12, metrics=metrics)
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    rest, _ = run(config, 18, state=state, metrics=metrics)
    assert first + rest == whole


def test_foreign_state_names_what_changed():
    _, state = run({"type": "CosineAnnealingLR", "T_max": 30}, 3)
    _, opt = make("sgd")
    other = lrsched_rs.torch.LRScheduler(opt, {"type": "CosineAnnealingLR", "T_max": 40})
    with pytest.raises(lrsched_rs.ScheduleError, match="T_max: 30 -> 40"):
        other.load_state_dict(state["sched"])
    torch_state = tls.StepLR(make("sgd")[1], step_size=3).state_dict()
    with pytest.raises(lrsched_rs.ScheduleError, match="not an lrsched scheduler state"):
        other.load_state_dict(torch_state)
    with pytest.raises(lrsched_rs.ScheduleError, match="not an lrsched scheduler state"):
        other.load_state_dict({"lrsched": {"version": 1}})
    with pytest.raises(lrsched_rs.ScheduleError, match="not an lrsched scheduler state"):
        other.load_state_dict([1, 2])


def test_plateau_stepped_without_a_metric_is_refused():
    _, opt = make("sgd")
    s = lrsched_rs.torch.LRScheduler(opt, {"type": "ReduceLROnPlateau", "patience": 1})
    with pytest.raises(lrsched_rs.ScheduleError, match=r"step\(metric\)"):
        s.step()
    with pytest.raises(lrsched_rs.ScheduleError, match="must be a number"):
        s.step("low")
    s.step(torch.tensor(0.5))
    assert s.last_epoch == 1


def test_bad_arguments():
    _, opt = make("sgd")
    with pytest.raises(TypeError, match="Optimizer"):
        lrsched_rs.torch.LRScheduler(object(), "cosine(lr=0.1, steps=10)")
    with pytest.raises(lrsched_rs.ScheduleError, match="interval"):
        lrsched_rs.torch.LRScheduler(opt, "cosine(lr=0.1, steps=10)", interval="batch")
    with pytest.raises(lrsched_rs.ScheduleError, match="did you mean `StepLR`"):
        lrsched_rs.torch.LRScheduler(opt, {"type": "StepLr", "step_size": 3})
    with pytest.raises(lrsched_rs.ScheduleError, match="step_size"):
        lrsched_rs.torch.LRScheduler(opt, {"type": "StepLR", "step_size": "three"})
    with pytest.raises(TypeError):
        lrsched_rs.torch.LRScheduler(opt, 3.0)


def test_deep_copy_and_lr_as_tensor():
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.Adam(model.parameters(), lr=torch.tensor(0.01))
    s = lrsched_rs.torch.LRScheduler(opt, "cosine(lr=0.01, steps=10)")
    opt.step()
    s.step()
    assert isinstance(opt.param_groups[0]["lr"], torch.Tensor)
    assert opt.param_groups[0]["lr"].item() == pytest.approx(lrsched_rs.Schedule(
        "cosine(lr=0.01, steps=10)").value(1))
    copy.deepcopy(s.state_dict())
