"""The examples at the top of each module are code a person pastes: run them so they never rot."""

import doctest
import importlib

import pytest

MODULES = ["studio.iac", "studio.iac.report", "studio.iac.extract", "studio.iac.aws_schema", "studio.iac.terraform",
           "studio.iac.kubernetes", "studio.iac.intent", "studio.iac.best_practice", "studio.iac.validation",
           "studio.iac.rewards", "studio.iac.limits", "studio.iac.isolated"]


@pytest.mark.parametrize("name", MODULES)
def test_examples_in_docstrings(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0
