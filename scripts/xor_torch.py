#!/usr/bin/env python3
"""The XOR example of crates/lrsched-train/examples/xor_schedules.rs in PyTorch (step and
cosine schedules, 20 seeds), to check that its convergence rate is the nature of the
problem and not of lrsched: .venv-torch/bin/python scripts/xor_torch.py"""
import torch, torch.nn as nn, math
X = torch.tensor([[0.,0.],[0.,1.],[1.,0.],[1.,1.]]); Y = torch.tensor([[0.],[1.],[1.],[0.]])
def run(seed, sched_name):
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(2,2), nn.BatchNorm1d(2), nn.ReLU(), nn.Linear(2,1))
    for l in m:
        if isinstance(l, nn.Linear): nn.init.kaiming_normal_(l.weight, nonlinearity='relu'); nn.init.zeros_(l.bias)
    opt = torch.optim.Adam(m.parameters(), lr=0.1)
    s = {'step': torch.optim.lr_scheduler.StepLR(opt, 20, 0.1),
         'cosine': torch.optim.lr_scheduler.CosineAnnealingLR(opt, 50, 0.001)}[sched_name]
    lossf = nn.BCEWithLogitsLoss(); hist=[]
    for e in range(100):
        m.train(); opt.zero_grad(); l = lossf(m(X), Y); l.backward(); opt.step(); s.step()
        m.eval()
        with torch.no_grad(): acc = ((m(X) > 0).float() == Y).float().mean().item()
        hist.append(acc)
    ok = hist[-1] == 1.0
    return ok
for name in ['step','cosine']:
    print(name, sum(run(s, name) for s in range(20)), "/20")
