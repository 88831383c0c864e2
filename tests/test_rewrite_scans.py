"""The text scans of the rewrite (hints, identity uses, ``global``) and its collector pause."""
import gc

import pytest

from cleanup_trace import inline, rewrite


def hinted_lines(text: str) -> list:
    import ast

    tree = ast.parse(text)
    imported = rewrite.imported_names(tree)
    offsets = rewrite._hint_offsets(text, imported, rewrite.shared_state(tree, text, imported))
    return sorted(set(rewrite._line_numbers(text, offsets)))


def test_a_hint_is_a_whole_word_called_or_named() -> None:
    text = ("import datetime\n"
            "a = mytime(1)\n"              # 2: another name ending like one
            "b = datetime.datetime.utcnow()\n"  # 3: the longer of two names ending alike
            "c = time (2)\n"               # 4: a space before the parenthesis
            "d = x.now\n"                  # 5: an attribute read, uncalled
            "e = sys._getframe\n"          # 6: held, uncalled
            "f = time_of(3)\n"             # 7: a name starting like one
            "g = id(4)\n")                 # 8
    assert hinted_lines(text) == [3, 4, 6, 8]


def test_words_count_only_at_the_start_of_a_word() -> None:
    text = "def f():\n    yield 1\n\ndef g():\n    return fieldir(1)\n\ndef h(dirs):\n    return dir(dirs)\n"
    assert rewrite._line_numbers(text, rewrite._word_offsets(inline.HINT, text)) == [2, 8]


@pytest.mark.parametrize(("text", "names"), [
    ("T = object()\ndef f(x):\n    return x is T\n", ["T"]),
    ("T = object()\ndef f(x):\n    return T is not x\n", ["T"]),
    # ``this`` holds ``is``: the real ``is`` after it still counts
    ("T = object()\n# this is T\n", ["T"]),
    ("T = object()\nU = 1\nnames = {T: 'T', U: 'U'}\n", ["T", "U"]),
    ("T = object()\nexists = True\nthis = T\n", []),
])
def test_identity_uses_are_found_by_their_is_or_dict_key(text: str, names: list) -> None:
    import ast

    assert rewrite.identity_names(ast.parse(text), text) == names


def test_rebound_globals_need_a_global_statement() -> None:
    import ast

    for text, names in (("x = 1\ndef f():\n    global x\n    x = 2\n", ["x"]),
                        ("x = 1\nmyglobal = 2\nglobal_x = 3\n", [])):
        assert rewrite.rebound_globals(ast.parse(text), text) == names


def test_the_collector_is_held_off_while_a_module_is_compiled_and_back_after() -> None:
    collected = []
    watching = []  # (only inside the block: an automatic collection may come just before it)

    def note(phase: str, info: dict) -> None:
        if phase == "start" and watching:
            collected.append(info["generation"])

    gc.callbacks.append(note)
    try:
        with rewrite.collector_paused():
            watching.append(True)
            assert not gc.isenabled()
            gc.collect()  # (an explicit collection still runs)
            garbage = [[] for _ in range(50_000)]  # (far past the threshold of an automatic one)
            del garbage
            watching.clear()
        assert collected == [2]
        assert gc.isenabled()
        gc.disable()  # switched off by the program: stays off
        try:
            with rewrite.collector_paused():
                pass
            assert not gc.isenabled()
        finally:
            gc.enable()
    finally:
        gc.callbacks.remove(note)


def test_imported_names_found_from_the_import_lines_are_those_of_the_whole_walk() -> None:
    """Given the module's text, the import scan looks inside a statement only where its
    lines show ``import``: the same names as walking every statement, on the standard
    library's modules (imports in functions, branches, handlers, ``try``, ``with``...)."""
    import ast
    import os
    import sysconfig

    directory = sysconfig.get_paths()["stdlib"]
    files = sorted(name for name in os.listdir(directory) if name.endswith(".py"))
    assert len(files) > 100
    inner_imports = 0
    for name in files:
        with open(os.path.join(directory, name), "rb") as handle:
            source = handle.read()
        text = source.decode("utf-8", "replace")
        tree = ast.parse(source)
        everywhere = rewrite.imported_names(tree)
        assert everywhere == rewrite.imported_names(tree, text), name
        inner_imports += any(isinstance(node, (ast.Import, ast.ImportFrom)) for statement in tree.body
                             if isinstance(statement, (ast.FunctionDef, ast.ClassDef)) for node in ast.walk(statement))
    assert inner_imports > 50  # (the test is about imports inside functions and classes)
    text = "import os\ndef f():\n    if os:\n        from time import time as now\n    return now()\n"
    assert {"os": "os", "now": "time.time"} == rewrite.imported_names(ast.parse(text), text)
