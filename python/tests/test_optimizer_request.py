"""Optimizer requests (``LRSCHED_OPTIMIZER``, docs/protocol.md): the helpers build the
torch optimizer a trial asks for and confirm it in optimizer.json; ``lrsched compare
--command ... --honours-optimizer`` offers its optimizer baselines to a real torch
program, and a program that ignores the request is never ranked under the baseline's
name.

The end-to-end tests need an lrsched binary (LRSCHED_BIN, else target/*/lrsched; as in
test_examples.py).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import lrsched_rs  # noqa: E402
import lrsched_rs.torch  # noqa: E402
import lrsched_rs.trial  # noqa: E402

from test_examples import lrsched_bin  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

# A small real torch program: a two-layer network on a seeded linear-separable problem,
# 8 steps per epoch, its optimizer from the trial when it honours the request (without
# --ignore), else always its own SGD.
PROGRAM = r'''
import sys
import torch
import lrsched_rs.torch, lrsched_rs.trial as trial

honour = "--ignore" not in sys.argv
torch.manual_seed(trial.seed(default=0))
g = torch.Generator().manual_seed(1234)
w = torch.randn(8, generator=g)
x, vx = torch.randn(512, 8, generator=g), torch.randn(256, 8, generator=g)
y, vy = (x @ w > 0).long(), (vx @ w > 0).long()
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
if honour:
    opt = trial.optimizer(model.parameters(), default=lambda p: torch.optim.SGD(p, lr=0.1))
else:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
sched = lrsched_rs.torch.LRScheduler(opt, trial.schedule(8, default="constant(lr=0.1)"))
step = 0
for epoch in range(1, trial.epochs(default=3) + 1):
    for b in range(8):
        i = slice(64 * b, 64 * (b + 1))
        lr = opt.param_groups[0]["lr"]
        loss = torch.nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
        trial.report_step(step, lr=lr, loss=loss.item())
        step += 1
        if sched.interval == "step":
            sched.step()
    with torch.no_grad():
        logits = model(vx)
        trial.report(epoch, val_loss=torch.nn.functional.cross_entropy(logits, vy).item(),
                     val_acc=(logits.argmax(1) == vy).float().mean().item())
    if sched.interval == "epoch":
        sched.step()
'''


@pytest.fixture
def trial_env(tmp_path, monkeypatch):
    """This process as a trial of the protocol, with an optimizer request to set."""
    for k in list(os.environ):
        if k.startswith("LRSCHED_"):
            monkeypatch.delenv(k)
    env = {
        "LRSCHED_PROTOCOL": "1", "LRSCHED_TRIAL": "t",
        "LRSCHED_SCHEDULE": '{"type": "constant", "lr": 1.0}',
        "LRSCHED_SCHEDULE_FILE": str(tmp_path / "schedule.json"), "LRSCHED_INTERVAL": "step",
        "LRSCHED_SEED": "1", "LRSCHED_EPOCHS": "1", "LRSCHED_OUT_DIR": str(tmp_path),
        "LRSCHED_METRICS": str(tmp_path / "metrics.jsonl"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    lrsched_rs.trial._reset()
    yield tmp_path
    lrsched_rs.trial._reset()


@pytest.mark.parametrize("name, cls", [
    ("adam", "torch.optim.adam.Adam"), ("adamw", "torch.optim.adamw.AdamW"),
    ("sgd", "torch.optim.sgd.SGD"), ("prodigy", "prodigyopt.prodigy.Prodigy"),
    ("dadapt-adam", "dadaptation.dadapt_adam.DAdaptAdam"),
    ("dadapt-sgd", "dadaptation.dadapt_sgd.DAdaptSGD"), ("dog", "dog.dog.DoG"),
])
def test_the_request_builds_its_optimizer_and_confirms_it(trial_env, monkeypatch, name, cls):
    package = cls.split(".")[0]
    pytest.importorskip(package)
    monkeypatch.setenv("LRSCHED_OPTIMIZER", json.dumps({"name": name, "lr": 0.5}))
    model = torch.nn.Linear(3, 2)
    opt = lrsched_rs.trial.optimizer(model.parameters(), default=lambda p: 1 / 0)
    assert f"{type(opt).__module__}.{type(opt).__name__}" == cls
    assert opt.param_groups[0]["lr"] == 0.5
    # Plain JSON: lrsched reads it strictly (Prodigy's growth_rate is inf).
    said = json.loads((trial_env / "optimizer.json").read_text(), parse_constant=lambda c: 1 / 0)
    assert said["name"] == name and said["class"] == cls and said["settings"]["lr"] == 0.5
    # It trains: one step changes the weights.
    before = model.weight.detach().clone()
    model(torch.ones(4, 3)).pow(2).sum().backward()
    opt.step()
    assert not torch.equal(before, model.weight)


def test_without_a_request_the_programs_own_optimizer(trial_env):
    opt = lrsched_rs.trial.optimizer(torch.nn.Linear(2, 1).parameters(),
                                     default=lambda p: torch.optim.SGD(p, lr=0.1))
    assert type(opt).__name__ == "SGD"
    assert not (trial_env / "optimizer.json").exists()


@pytest.mark.parametrize("value, message", [
    ("prodigy", "LRSCHED_OPTIMIZER is not JSON"),
    ('["prodigy"]', 'must be an object with a "name"'),
    ('{"name": "lion"}', "name = 'lion' is not allowed: one of sgd, momentum"),
    ('{"name": "adam", "lr": 0.1, "warp": 9}', "refused its settings"),
])
def test_bad_requests_are_named(trial_env, monkeypatch, value, message):
    monkeypatch.setenv("LRSCHED_OPTIMIZER", value)
    with pytest.raises(lrsched_rs.ScheduleError, match=message.replace("(", r"\(")):
        lrsched_rs.trial.optimizer(torch.nn.Linear(2, 1).parameters(), default=None)
    assert not (trial_env / "optimizer.json").exists()


def test_a_missing_package_is_a_clear_error(trial_env, monkeypatch):
    monkeypatch.setitem(sys.modules, "schedulefree", None)  # as if not installed
    monkeypatch.setenv("LRSCHED_OPTIMIZER", '{"name": "sf-adamw", "lr": 0.003}')
    with pytest.raises(lrsched_rs.ScheduleError,
                       match="optimizer `sf-adamw` needs the schedulefree package, which is "
                             "not installed: pip install schedulefree"):
        lrsched_rs.trial.optimizer(torch.nn.Linear(2, 1).parameters())


SCHEDULES = '''
[[schedules]]
name = "cosine"
schedule = "cosine(lr=0.1, steps=100%)"

[[schedules]]
name = "prodigy"
schedule = "constant(lr=1.0)"
optimizer = "prodigy"

[[schedules]]
name = "dog"
schedule = "constant(lr=1.0)"
optimizer = "dog"
'''


def compare(tmp_path, out, *extra, ignore=False):
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    (tmp_path / "s.toml").write_text(SCHEDULES)
    cmd = f"{sys.executable} {program}" + (" --ignore" if ignore else "")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LRSCHED_")}
    return subprocess.run(
        [lrsched_bin(), "compare", "--command", cmd, "--schedules", str(tmp_path / "s.toml"),
         "--seeds", "2", "--epochs", "3", "--jobs", "2", "--quiet", "--out", str(out), *extra],
        capture_output=True, text=True, timeout=600, env=env,
    )


needs_bin = pytest.mark.skipif(lrsched_bin() is None, reason="no lrsched binary (LRSCHED_BIN)")


@needs_bin
def test_compare_offers_the_baselines_to_a_program_that_honours_them(tmp_path):
    pytest.importorskip("prodigyopt")
    pytest.importorskip("dog")
    out = tmp_path / "out"
    o = compare(tmp_path, out, "--honours-optimizer")
    assert o.returncode == 0, o.stderr + o.stdout
    summary = json.loads((out / "summary.json").read_text())
    by_name = {s["name"]: s for s in summary["schedules"]}
    assert set(by_name) == {"cosine", "prodigy", "dog"}
    for name in ("prodigy", "dog"):
        assert by_name[name]["completed"] == 2, by_name[name]
        said = json.loads((out / "trials" / f"{name}-seed0" / "optimizer.json").read_text())
        assert said["name"] == name
    assert by_name["cosine"]["completed"] == 2
    assert not (out / "trials" / "cosine-seed0" / "optimizer.json").exists()
    # Prodigy's rate is its multiplier (1.0), every step, as the schedule said.
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert {s["lr"] for s in steps if s["schedule"] == "prodigy"} == {1.0}


@needs_bin
def test_a_program_that_ignores_the_request_is_never_ranked_under_its_name(tmp_path):
    out = tmp_path / "out"
    o = compare(tmp_path, out, "--honours-optimizer", ignore=True)
    assert o.returncode == 0, o.stderr + o.stdout
    summary = json.loads((out / "summary.json").read_text())
    by_name = {s["name"]: s for s in summary["schedules"]}
    assert summary["best"] == "cosine"
    for name in ("prodigy", "dog"):
        assert by_name[name]["verdict"] == "incomplete"
        assert "wrote no optimizer.json" in by_name[name]["note"], by_name[name]


@needs_bin
def test_without_the_declaration_an_optimizer_entry_is_refused(tmp_path):
    o = compare(tmp_path, tmp_path / "out")
    assert o.returncode == 2
    assert "`prodigy` names an optimizer" in o.stderr and "--honours-optimizer" in o.stderr
    assert not (tmp_path / "out").exists()
