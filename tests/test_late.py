"""Instrumenting in place the modules imported before recording started (``late``)."""
import ast
import types
from pathlib import Path

import pytest

from cleanup_trace import late, rewrite


def test_a_module_holding_no_function_or_class_of_its_own_is_not_parsed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a module's own functions and classes are instrumented in place: a module of
    data alone (names imported from elsewhere included) is not read or parsed."""
    source = tmp_path / "only_data.py"
    source.write_text("from os.path import join\nfrom collections import OrderedDict\nTABLE = {'a': 1}\n")
    module = types.ModuleType("only_data")
    module.__file__ = str(source)
    exec(compile(source.read_text(), str(source), "exec"), vars(module))
    parsed = []

    def rewrite_module(*arguments, **options):
        parsed.append(arguments)
        return ast.Module(body=[], type_ignores=[]), []

    monkeypatch.setattr(rewrite, "rewrite_module", rewrite_module)
    assert late._instrument_module("only_data", module, {}) is None
    assert parsed == []
    exec("def own():\n    return 1\n", vars(module))  # a function of its own: read and parsed
    assert late._instrument_module("only_data", module, {}) is None
    assert len(parsed) == 1
    del module.own
    exec("class Own:\n    pass\n", vars(module))
    late._instrument_module("only_data", module, {})
    assert len(parsed) == 2
