"""The import hook's caches of rewritten code: in the process, and beside the ``.pyc``."""
import sys
from pathlib import Path

import pytest

from cleanup_trace import importhook, rewrite


@pytest.fixture
def rewrites(monkeypatch: pytest.MonkeyPatch) -> list:
    """The module names rewritten from here on (none cached in the process before)."""
    made: list = []
    real = rewrite.compile_instrumented

    def counted(source, filename, module_name):
        made.append(module_name)
        return real(source, filename, module_name)

    monkeypatch.setattr(rewrite, "compile_instrumented", counted)
    monkeypatch.setattr(importhook, "_made_in_process", {})
    return made


def code_of(name: str, path: Path):
    return importhook.InstrumentingLoader(name, str(path)).get_code(name)


def returned(code) -> int:
    namespace: dict = {"__name__": "cached_module"}
    exec(code, namespace)
    return namespace["answer"]()


def test_a_module_imported_again_in_the_process_is_not_rewritten_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rewrites: list) -> None:
    """A test that clears ``sys.modules`` and imports a module afresh (astor's suite does
    so for its whole package) gets the code rewritten at the first import, also when no
    bytecode may be written."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    source = tmp_path / "again.py"
    source.write_text("def answer():\n    return 1\n")
    first = code_of("again", source)
    assert code_of("again", source) is first
    assert rewrites == ["again"]
    assert not list(tmp_path.rglob("*.pyc"))
    # The same file imported under another name is another module (its recording keys
    # name the module): rewritten for that name.
    assert code_of("package.again", source) is not first
    assert rewrites == ["again", "package.again"]


def test_a_module_edited_between_two_imports_is_rewritten(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rewrites: list) -> None:
    """The source's hash decides, not its time stamp: an edit of the same size within
    the same clock tick is seen."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    source = tmp_path / "edited.py"
    source.write_text("def answer():\n    return 1\n")
    assert returned(code_of("edited", source)) == 1
    source.write_text("def answer():\n    return 2\n")
    assert returned(code_of("edited", source)) == 2
    assert rewrites == ["edited", "edited"]


def test_the_disk_cache_serves_another_process_and_never_a_stale_edit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rewrites: list) -> None:
    """Written beside the normal ``.pyc`` under its own name; read by a process that has
    not rewritten the module (here: the process cache emptied); an edit made right after,
    with the same size, is rewritten."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", None)
    source = tmp_path / "on_disk.py"
    source.write_text("def answer():\n    return 1\n")
    assert returned(code_of("on_disk", source)) == 1
    [written] = (tmp_path / "__pycache__").iterdir()
    assert written.name.endswith(importhook._CACHE_SUFFIX)
    monkeypatch.setattr(importhook, "_made_in_process", {})
    assert returned(code_of("on_disk", source)) == 1
    assert rewrites == ["on_disk"]  # (served from the file)
    monkeypatch.setattr(importhook, "_made_in_process", {})
    source.write_text("def answer():\n    return 3\n")
    assert returned(code_of("on_disk", source)) == 3
    assert rewrites == ["on_disk", "on_disk"]
