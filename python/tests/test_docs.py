"""The examples in the docstrings run, so help() teaches what works."""

import doctest

import pytest

import lrsched
import lrsched.trial


@pytest.mark.parametrize("module", ["lrsched", "lrsched.trial", "lrsched.torch"])
def test_docstring_examples(module, monkeypatch):
    monkeypatch.delenv("LRSCHED_PROTOCOL", raising=False)
    lrsched.trial._reset()
    if module == "lrsched.torch":
        pytest.importorskip("torch")
    mod = __import__(module, fromlist=["_"])
    finder = doctest.DocTestFinder()
    tests = finder.find(mod, module, extraglobs={})
    tests += finder.find(lrsched.ScheduleError, "ScheduleError", module=False, globs={})
    runner = doctest.DocTestRunner()
    for t in tests:
        runner.run(t)
    assert runner.failures == 0
    assert runner.tries > 0
