"""lrsched_rs.trial: the protocol's environment in, its JSON lines out (docs/protocol.md)."""

import json

import pytest

import lrsched_rs
import lrsched_rs.trial as trial


def test_outside_a_trial_helpers_fall_back(monkeypatch):
    monkeypatch.delenv("LRSCHED_PROTOCOL", raising=False)
    trial._reset()
    assert not trial.active()
    assert trial.seed(default=5) == 5 and trial.epochs(default=2) == 2
    assert trial.schedule(default="cosine(lr=0.1, steps=10)").value(10) == 0.0
    trial.report(1, val_loss=0.5)  # writes nothing, fails nothing
    trial.report_step(0, lr=0.1, loss=1.0)
    with pytest.raises(lrsched_rs.ScheduleError, match="default"):
        trial.seed()


def test_reads_the_trial_and_resolves_durations(env):
    assert trial.active()
    assert (trial.seed(), trial.epochs(), trial.name(), trial.interval()) == (
        3, 4, "cosine-seed3", "step")
    s = trial.schedule(steps_per_epoch=25)  # 100% of 4 epochs x 25 steps
    assert s.length == 100 and s.interval == "step"
    with pytest.raises(lrsched_rs.ScheduleError, match="100%"):
        trial.schedule()  # no steps per epoch: the duration cannot be resolved


def test_writes_the_protocols_lines(env):
    trial.report_step(0, lr=0.1, loss=2.5)
    trial.report(1, val_loss=0.25, val_acc=0.5)
    trial.report(2, val_loss=float("nan"), val_acc=float("inf"), other=-float("inf"))
    lines = env.read_text().splitlines()
    assert lines == [
        '{"step":0,"lr":0.1,"loss":2.5}',
        '{"epoch":1,"val_loss":0.25,"val_acc":0.5}',
        '{"epoch":2,"val_loss":NaN,"val_acc":Infinity,"other":-Infinity}',
    ]
    # Python's json module reads them back, as lrsched does.
    assert json.loads(lines[1]) == {"epoch": 1, "val_loss": 0.25, "val_acc": 0.5}


def test_bad_reports_are_refused(env):
    with pytest.raises(lrsched_rs.ScheduleError, match="reserved"):
        trial.report(1, step=3.0)
    with pytest.raises(lrsched_rs.ScheduleError, match="must be a number"):
        trial.report(1, val_loss="low")
    with pytest.raises(lrsched_rs.ScheduleError, match="epoch = 0"):
        trial.report(0, val_loss=1.0)
    with pytest.raises(lrsched_rs.ScheduleError, match="step = -1"):
        trial.report_step(-1, lr=0.1, loss=1.0)


def test_a_bad_environment_names_the_variable(env, monkeypatch):
    monkeypatch.setenv("LRSCHED_SEED", "minus one")
    trial._reset()
    with pytest.raises(lrsched_rs.ScheduleError, match="LRSCHED_SEED"):
        trial.seed()
    monkeypatch.setenv("LRSCHED_SEED", "1")
    monkeypatch.setenv("LRSCHED_SCHEDULE", '{"type": "cosin"}')
    trial._reset()
    with pytest.raises(lrsched_rs.ScheduleError, match="did you mean `cosine`"):
        trial.schedule(steps_per_epoch=10)


def test_tensor_metrics():
    torch = pytest.importorskip("torch")
    assert trial._number("loss", torch.tensor(0.5)) == 0.5


def test_a_pasted_class_without_lr_takes_the_optimizers_rate_in_a_trial(env, monkeypatch):
    torch = pytest.importorskip("torch")
    import torch.optim.lr_scheduler as S

    import lrsched_rs.torch

    # What `lrsched compare --command` hands a program for a pasted StepLR: no lr, as the
    # trial.schedule docstring's own example; the rate is the program's optimizer's.
    monkeypatch.setenv("LRSCHED_SCHEDULE", json.dumps(
        {"type": "StepLR", "step_size": "1ep", "gamma": 0.5}))
    monkeypatch.setenv("LRSCHED_INTERVAL", "epoch")
    trial._reset()
    config = trial.schedule(steps_per_epoch=10)
    assert config == {"type": "StepLR", "step_size": 1, "gamma": 0.5, "interval": "epoch"}
    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.03)
    ref_opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.03)
    ours = lrsched_rs.torch.LRScheduler(opt, config)
    ref = S.StepLR(ref_opt, step_size=1, gamma=0.5)
    for _ in range(4):
        assert ours.get_last_lr() == ref.get_last_lr()
        opt.step(), ref_opt.step()
        ours.step(), ref.step()
    # Per step, its durations resolved with the program's steps per epoch.
    monkeypatch.setenv("LRSCHED_SCHEDULE", json.dumps(
        {"type": "OneCycleLR", "max_lr": 0.2, "total_steps": "100%"}))
    monkeypatch.setenv("LRSCHED_INTERVAL", "step")
    trial._reset()
    assert trial.schedule(steps_per_epoch=25)["total_steps"] == 100


def test_outside_a_trial_the_default_takes_steps_per_epoch(monkeypatch):
    monkeypatch.delenv("LRSCHED_PROTOCOL", raising=False)
    trial._reset()
    s = trial.schedule(steps_per_epoch=60,
                       default="warmup(steps=1ep, schedule=cosine(lr=0.1, steps=10ep))")
    assert s == lrsched_rs.Schedule("warmup(steps=60, schedule=cosine(lr=0.1, steps=600))")
    s = trial.schedule(steps_per_epoch=60, epochs=5, default="cosine(lr=0.1, steps=100%)")
    assert s.length == 300
    # The docstring's default: a pasted class without lr, for the optimizer's rate.
    assert trial.schedule(default={"type": "StepLR", "step_size": 10}) == {
        "type": "StepLR", "step_size": 10, "gamma": 0.1}
