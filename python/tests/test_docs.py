"""The examples in the docstrings run, so help() teaches what works."""

import doctest

import pytest

import lrsched_rs
import lrsched_rs.trial


@pytest.mark.parametrize("module", ["lrsched_rs", "lrsched_rs.trial", "lrsched_rs.torch",
                                    "lrsched_rs.__main__"])
def test_docstring_examples(module, monkeypatch):
    monkeypatch.delenv("LRSCHED_PROTOCOL", raising=False)
    lrsched_rs.trial._reset()
    if module == "lrsched_rs.torch":
        pytest.importorskip("torch")
    mod = __import__(module, fromlist=["_"])
    finder = doctest.DocTestFinder()
    tests = finder.find(mod, module, extraglobs={})
    tests += finder.find(lrsched_rs.ScheduleError, "ScheduleError", module=False, globs={})
    runner = doctest.DocTestRunner()
    for t in tests:
        runner.run(t)
    assert runner.failures == 0
    assert runner.tries > 0
