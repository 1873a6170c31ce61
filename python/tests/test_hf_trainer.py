"""Hugging Face's `Trainer(optimizers=(optimizer, scheduler))` steps lrsched_rs.torch.LRScheduler
as it steps a torch scheduler: the same rate at every optimizer step, the same weights.

Side by side with torch's OneCycleLR (bit for bit), and with transformers' own
get_cosine_schedule_with_warmup against its paste-in (to the 1e-10 the README states).
"""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")
import torch.optim.lr_scheduler as S  # noqa: E402

import lrsched_rs.torch  # noqa: E402

STEPS = 16  # 64 samples, batches of 8, 2 epochs


class Regression(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(),
                                       torch.nn.Linear(16, 1))

    def forward(self, x, labels=None):
        out = self.net(x)
        return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}


class Rates(transformers.TrainerCallback):
    """The rate each optimizer step used (read before the step)."""

    def __init__(self):
        self.rates = []

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        self.rates.append([g["lr"] for g in optimizer.param_groups])


def run(tmp_path, make_scheduler):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 2, generator=g)
    data = [{"x": x[i], "labels": (torch.sin(x[i, :1]) + x[i, 1:] ** 2)} for i in range(64)]
    model = Regression()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    rates = Rates()
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=8, num_train_epochs=2,
        report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True, seed=0,
        logging_strategy="no",
    )
    trainer = transformers.Trainer(model=model, args=args, train_dataset=data,
                                   optimizers=(opt, make_scheduler(opt)), callbacks=[rates])
    trainer.train()
    return rates.rates, [p.detach().clone() for p in model.parameters()]


@pytest.mark.filterwarnings("ignore")
def test_trainer_steps_a_pasted_class_as_the_torch_class(tmp_path):
    ours = run(tmp_path / "a", lambda o: lrsched_rs.torch.LRScheduler(
        o, {"type": "OneCycleLR", "max_lr": 0.05, "total_steps": STEPS}))
    ref = run(tmp_path / "b", lambda o: S.OneCycleLR(o, max_lr=0.05, total_steps=STEPS))
    assert len(ours[0]) == STEPS and ours[0] == ref[0]
    assert all(torch.equal(a, b) for a, b in zip(ours[1], ref[1]))


@pytest.mark.filterwarnings("ignore")
def test_trainer_with_transformers_own_schedule_pasted(tmp_path):
    config = {"type": "transformers.get_cosine_schedule_with_warmup",
              "num_warmup_steps": 4, "num_training_steps": STEPS, "lr": 1e-2}
    ours = run(tmp_path / "a", lambda o: lrsched_rs.torch.LRScheduler(o, config))
    ref = run(tmp_path / "b", lambda o: transformers.get_cosine_schedule_with_warmup(
        o, num_warmup_steps=4, num_training_steps=STEPS))
    assert len(ours[0]) == STEPS
    for a, b in zip(ours[0], ref[0]):
        assert a[0] == pytest.approx(b[0], rel=1e-10, abs=1e-18)
