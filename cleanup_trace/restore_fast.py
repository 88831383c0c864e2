"""jsonpickle's decoding of the forms :mod:`cleanup_trace.flatten_fast` makes.

Recording decodes each stored value it has to check (is the copy equal to the value?).
jsonpickle's ``Unpickler`` dispatches every JSON node through generic tests (a string is
turned into a set of characters to see whether it is a tag); for the handful of tags the
fast flattener writes, this module does the same steps in the same order: the same
``py/id`` numbering, the same proxies for objects referring to themselves while being
built, the same calls (``cls.__new__``, ``setattr``, the reduction's callable,
``__setstate__``, ``extend``, ``__setitem__``). ``tests/test_flatten_fast.py`` compares the
two. Replay keeps jsonpickle's decoder.

Only forms the fast flattener made are given to it (see ``serialise.check_round_trip``):
a tag it does not know is a bug, raised as :class:`Declined`, and the caller decodes with
jsonpickle.
"""
from __future__ import annotations

import dataclasses
import re
import sys
import uuid
from typing import Any

from jsonpickle import backend as _jp_backend
from jsonpickle import errors as _jp_errors
from jsonpickle import handlers as _jp_handlers
from jsonpickle import tags as _jp_tags
from jsonpickle import util as _jp_util
from jsonpickle.unpickler import _IDProxy, _obj_setattr, _obj_setvalue, _Proxy, loadclass

from cleanup_trace import forms
from cleanup_trace._identity import identity as _identity

_RESERVED = frozenset(_jp_tags.RESERVED)
_JSON_KEY = _jp_tags.JSON_KEY
_INT_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)")  # (JSON's integers: no leading zero, no plus)
_NOT_MADE_BY_FLATTEN_FAST = frozenset({_jp_tags.B85, _jp_tags.ITERATOR, _jp_tags.MODULE, _jp_tags.REPR})
# The tags jsonpickle's decoder tells a dict by; a dict with none of them is a plain one.
_TELLING_TAGS = _NOT_MADE_BY_FLATTEN_FAST | {_jp_tags.TUPLE, _jp_tags.SET, _jp_tags.B64, _jp_tags.ID, _jp_tags.OBJECT,
                                             _jp_tags.TYPE, _jp_tags.REDUCE, _jp_tags.FUNCTION}


class Declined(Exception):
    """The form holds a tag this module does not decode."""


class MissingClass(Exception):
    """A class or function named by the form cannot be imported (jsonpickle's wording)."""


_CONTAINERS = (dict, list)  # (what ``restore`` decodes; anything else is itself)
# (class, name) -> what decoding an object of it asks of the class, the same every time:
# (a handler or no class, a list subclass, one whose ``append`` is list's, has a
# ``__setstate__``, a tuple subclass). Emptied when jsonpickle's handlers change, and past
# _PATHS_KEPT (it holds the classes).
_object_plans: dict = {}
_object_plans_version: list = [None]


def _forget_plans_if_handlers_changed() -> None:
    """Once per decoding: a jsonpickle handler registered or removed since the plans were
    made empties them."""
    registry = _jp_handlers.registry
    handlers, bases = getattr(registry, "_handlers", None), getattr(registry, "_base_handlers", None)
    version = (len(handlers), len(bases)) if type(handlers) is dict and type(bases) is dict else None
    if version != _object_plans_version[0] or version is None or len(_object_plans) >= _PATHS_KEPT:
        _object_plans.clear()  # (a registry of another shape: no plan outlives one decoding)
        _object_plans_version[0] = version


def _object_plan(cls: Any, name: str) -> tuple:
    is_type = isinstance(cls, type)
    is_list = is_type and issubclass(cls, list)
    plan = _object_plans[(cls, name)] = (
        _jp_handlers.get(cls, _jp_handlers.get(name)) is not None or not is_type,
        is_list, is_list and cls.append is list.append, hasattr(cls, "__setstate__"),
        is_type and issubclass(cls, tuple))
    return plan


class Restorer:
    """One value's decoding: jsonpickle's ``Unpickler(keys=True, safe=False,
    on_missing="error")`` state."""

    def __init__(self) -> None:
        self.objects: list = []
        self.positions: dict = {}
        self.proxies: list = []
        self.failed: Any = None  # the exception last met coming out of an object's decoding
        self.failed_in: Any = None  # ... and that object's class (or the reduction's callable)

    def restore_value(self, data: Any) -> Any:
        value = self.restore(data)
        for holder, where, proxy, put in self.proxies:
            put(holder, where, proxy)
        return value

    def _number(self, obj: Any) -> Any:
        identity = _identity(obj)
        if identity not in self.positions:
            self.positions[identity] = len(self.objects)
            self.objects.append(obj)
        return obj

    def _renumber(self, proxy: _Proxy, instance: Any) -> None:
        position = self.positions.pop(_identity(proxy))
        self.positions[_identity(instance)] = position
        self.objects[position] = instance

    def restore(self, data: Any) -> Any:
        kind = type(data)
        if kind is dict:
            return self._tagged(data)
        if kind is list:
            return self._list(data)
        return data

    def _tagged(self, data: dict) -> Any:
        if _TELLING_TAGS.isdisjoint(data):  # (a plain dict: most of an object's state)
            return self._dict(data)
        if "py/tuple" in data:
            try:
                return tuple([self.restore(item) for item in data["py/tuple"]])
            except TypeError:
                return ()
        if "py/set" in data:
            try:
                return {self.restore(item) for item in data["py/set"]}  # (stops at an unhashable one)
            except TypeError:
                return set()
        if "py/b64" in data:
            try:
                return _jp_util.b64decode(data["py/b64"].encode("utf-8"))
            except (AttributeError, UnicodeEncodeError):
                return b""
        if not _NOT_MADE_BY_FLATTEN_FAST.isdisjoint(data):
            raise Declined(str(sorted(data)))
        if "py/id" in data:
            position = data["py/id"]
            try:
                return self.objects[position]
            except IndexError:
                return _IDProxy(self.objects, position)
            except TypeError:
                return None
        if "py/object" in data:
            return self._object(data)
        if "py/type" in data:
            found = _load(data["py/type"])
            if found is None:
                raise MissingClass(f"could not find {data['py/type']}")
            return found
        if "py/reduce" in data:
            return self._reduced(data)
        if "py/function" in data:
            return _load(data["py/function"])
        return self._dict(data)

    def _list(self, data: list) -> list:
        parent: list = []
        self._number(parent)
        parent.extend([self.restore(item) for item in data])  # (children first, as jsonpickle)
        for index, item in enumerate(parent):
            if isinstance(item, _Proxy):
                self.proxies.append((parent, index, item, _obj_setvalue))
        return parent

    def _key(self, key: str) -> Any:
        text = key[len(_JSON_KEY):]
        if _INT_TEXT.fullmatch(text):  # (as the codec reads it: a graph's int keys took a codec call each)
            return int(text)
        return self.restore(_jp_backend.json.decode(text))

    def _dict(self, data: dict) -> dict:
        restored: dict = {}
        self._number(restored)
        escaped = False
        for key, item in data.items():
            if isinstance(key, str) and key.startswith(_JSON_KEY):
                escaped = True
                continue
            restored[key] = self.restore(item)  # (jsonpickle swaps no proxy here)
        if escaped:
            for key, item in data.items():
                if isinstance(key, str) and key.startswith(_JSON_KEY):
                    key = self._key(key)
                    restored[key] = value = self.restore(item)
                    if isinstance(value, _Proxy):
                        self.proxies.append((restored, key, value, _obj_setvalue))
        return restored

    def _failed(self, error: Exception, name: Any) -> None:
        if self.failed is not error:  # (the innermost object the exception came out of)
            self.failed, self.failed_in = error, _load(name) if isinstance(name, str) else None

    def _object(self, data: dict) -> Any:
        try:
            return self._built_object(data)
        except Declined:
            raise  # (not a failure: jsonpickle decodes it)
        except Exception as error:
            self._failed(error, data["py/object"])
            raise

    def _built_object(self, data: dict) -> Any:
        name = data["py/object"]
        cls = _load(name)
        if cls is None:
            raise _jp_errors.ClassNotFoundError(f"Unpickler.restore_object could not find {name}!")
        plan = _object_plans.get((cls, name))
        if plan is None:
            plan = _object_plan(cls, name)
        handled, is_list, appends_as_list, sets_state, is_tuple = plan
        if handled and len(data) == 2:
            handler = forms.own_handler(cls, name)
            if handler is not None:
                return self._handled(data, handler)
        # Items of a list of yours are put back by its ``append`` (after its attributes):
        # list's own only, here.
        items = is_list and "py/seq" in data
        # Slots beside an instance dict: the state (dict, slots), set back as jsonpickle does.
        state = data.get("py/state")
        slots_and_dict = type(state) is dict and len(state) == 1 and type(state.get("py/tuple")) is list \
            and len(state["py/tuple"]) == 2 and not sets_state
        # A class made in C with a state of its own (xml.etree's Element): its __setstate__.
        set_state = state is not None and not slots_and_dict and sets_state
        if handled or "default_factory" in data or "py/newargsex" in data or "py/initargs" in data \
                or (state is not None and not is_tuple and not slots_and_dict and not set_state) \
                or ("py/seq" in data and not is_tuple and not (items and appends_as_list)):
            raise Declined(name)
        proxy = _Proxy()
        self._number(proxy)
        arguments = data.get("py/newargs") or []
        if arguments:
            arguments = self.restore(arguments)
        try:
            instance = cls.__new__(cls, *arguments)
        except TypeError:
            raise Declined(name) from None  # (jsonpickle calls the class then)
        proxy.reset(instance)
        self._renumber(proxy, instance)
        if isinstance(instance, tuple):
            return instance  # (jsonpickle reads nothing more: not the items, not "py/seq")
        if isinstance(instance, dict):
            return self._dict_object(data, instance, name)
        for key, item in data.items():
            if key in _RESERVED:
                continue
            if not isinstance(key, str) or key.startswith(_JSON_KEY):
                raise Declined(name)
            self._set_attribute(instance, key, self.restore(item) if type(item) in _CONTAINERS else item)
        if items:
            for item in data["py/seq"]:  # (a proxy among them stays one, as jsonpickle leaves it)
                list.append(instance, self.restore(item))
        if set_state:
            instance.__setstate__(self.restore(state))
        if slots_and_dict:
            restored = self.restore(state)
            if not (isinstance(restored[0], dict) and isinstance(restored[1], dict)):
                raise Declined(name)
            for part in (restored[1], restored[0]):  # (slots first)
                for key, value in part.items():
                    if not isinstance(key, str):
                        raise Declined(name)
                    self._set_attribute(instance, key, value)
        return instance

    def _dict_object(self, data: dict, instance: dict, name: str) -> dict:
        """A dict of yours (flatten_fast's ``_dict_object``), as jsonpickle's
        ``_restore_from_dict`` fills one: each item by its ``__setitem__``, the instance
        dict set whole, in the stored order; a proxy left in an item is swapped by
        ``setattr``, as jsonpickle swaps it."""
        if sum(key in _RESERVED for key in data) != 1:  # (``py/object`` alone)
            raise Declined(name)
        for key, item in data.items():
            if key in _RESERVED:
                continue
            if key.startswith(_JSON_KEY):
                key = self._key(key)
            value = self.restore(item)
            try:
                if key == "__dict__":
                    setattr(instance, key, value)
                else:
                    instance[key] = value
            except TypeError:
                raise Declined(name) from None  # (an immutable mapping: jsonpickle builds it anew)
            if isinstance(value, _Proxy):
                self.proxies.append((instance, key, value, _obj_setattr))
        return instance

    def _handled(self, data: dict, handler: str) -> Any:
        """What jsonpickle's own handler builds of its form (see forms.own_handler)."""
        name = data["py/object"]
        if handler == "UUIDHandler":
            digits = data.get("hex")
            if type(digits) is not str:
                raise Declined(name)
            return self._number(uuid.UUID(digits))  # (nothing inside: numbered once made)
        reduction = data.get("__reduce__")
        if type(reduction) is not list or len(reduction) != 2 or type(reduction[1]) is not list \
                or not reduction[1] or type(reduction[1][0]) is not str:
            raise Declined(name)
        proxy = _Proxy()
        self._number(proxy)  # (numbered before its parts, as jsonpickle's decoder does)
        stored_class, arguments = reduction
        made_by = self.restore(stored_class)
        instance = made_by.__new__(made_by, _jp_util.b64decode(arguments[0]),
                                   *[self.restore(item) for item in arguments[1:]])
        proxy.reset(instance)
        self._renumber(proxy, instance)
        return instance

    def _set_attribute(self, instance: Any, key: str, value: Any) -> None:
        """jsonpickle's way of setting a decoded attribute (Unpickler._restore_from_dict)."""
        if not key.startswith("__"):
            try:
                setattr(instance, key, value)
            except KeyError:
                setattr(instance, f"_{key}", value)
            except dataclasses.FrozenInstanceError:
                object.__setattr__(instance, key, value)
        else:
            setattr(instance, f"_{instance.__class__.__name__}{key}", value)
        if isinstance(value, _Proxy):
            self.proxies.append((instance, key, value, _obj_setattr))

    def _reduced(self, data: dict) -> Any:
        try:
            return self._built_reduction(data)
        except Declined:
            raise  # (not a failure: jsonpickle decodes it)
        except Exception as error:
            self._failed(error, forms.reduced_class(data))
            raise

    def _built_reduction(self, data: dict) -> Any:
        proxy = _Proxy()
        self._number(proxy)
        try:
            parts = [self.restore(part) for part in data["py/reduce"]]
        except TypeError:
            return self._unbuilt(proxy, data)
        parts.extend([None] * (5 - len(parts)))
        function, arguments, state, list_items, dict_items = parts
        if function == "py/newobj" or getattr(function, "__name__", "") == "__newobj__":
            cls = arguments[0]
            if not isinstance(cls, type):
                cls = self.restore(cls)
            made = cls.__new__(cls, *arguments[1:])
        else:
            if not callable(function):
                return self._unbuilt(proxy, data)
            made = function(*arguments)
        if state:
            _set_state(made, state)
        if list_items:
            try:
                made.extend(list_items)
            except AttributeError:
                for item in list_items:
                    made.append(item)
        if dict_items:
            for key, value in dict_items:
                made.__setitem__(key, value)
        proxy.reset(made)
        self._renumber(proxy, made)
        return made

    def _unbuilt(self, proxy: _Proxy, data: dict) -> list:
        """jsonpickle's empty list for a reduction it cannot call, or the tool's error
        when its callable cannot be imported (serialise._Unpickler)."""
        result: list = []
        proxy.reset(result)
        self._renumber(proxy, result)
        name = forms.missing_callable(data)
        if name is not None:
            raise MissingClass(f"could not find {name}")
        return result


def _set_state(made: Any, state: Any) -> None:
    """pickle's protocol for the state of a reduction, as jsonpickle applies it."""
    try:
        made.__setstate__(state)
    except AttributeError:
        try:
            # (the state dict itself becomes the instance dict: proxies in it are swapped later)
            for key, value in made.__dict__.items():
                state.setdefault(key, value)
            made.__dict__ = state
        except AttributeError:
            try:
                for key, value in state.items():
                    setattr(made, key, value)
            except Exception:
                dict_state, slots_state = state
                if dict_state:
                    made.__dict__.update(dict_state)
                if slots_state:
                    for key, value in slots_state.items():
                        setattr(made, key, value)


# A dotted name -> (the module, the attributes below it) that led to it last. Decoding
# names the same classes again and again, and jsonpickle's ``loadclass`` calls
# ``__import__`` for each (an audited event, with its hooks). Names only: no class is
# kept alive by this.
_paths: dict = {}
_PATHS_KEPT = 4096


def _load(name: str) -> Any:
    """jsonpickle's ``loadclass(name)``, the modules already imported looked up directly."""
    path = _paths.get(name)
    if path is not None:
        found = sys.modules.get(path[0])
        if found is not None:
            try:
                for attribute in path[1]:
                    found = getattr(found, attribute)
                return found
            except AttributeError:
                pass
    found = loadclass(name)
    if found is not None:
        _remember_path(name, found)
    return found


def _remember_path(name: str, found: Any) -> None:
    """The split of ``name`` that ``loadclass`` took (the longest module name first)."""
    names = name.split(".")
    for up_to in range(len(names) - 1, 0, -1):
        module_name = _jp_util.untranslate_module_name(".".join(names[:up_to]))
        module = sys.modules.get(module_name)
        if module is None:
            continue
        target = module
        try:
            for attribute in names[up_to:]:
                target = getattr(target, attribute)
        except AttributeError:
            continue
        if target is found:
            if len(_paths) >= _PATHS_KEPT:
                _paths.clear()
            _paths[name] = (module_name, tuple(names[up_to:]))
        return


def restore(data: Any, failure: Any = None) -> Any:
    """The value ``data`` (a form of :func:`flatten_fast.flatten`) decodes to.

    When decoding raises, the class of the innermost object whose decoding it came out
    of, if known, is appended to ``failure`` (a list).
    """
    _forget_plans_if_handlers_changed()
    restorer = Restorer()
    try:
        return restorer.restore_value(data)
    except Exception as error:
        if failure is not None and restorer.failed is error and restorer.failed_in is not None:
            failure.append(restorer.failed_in)
        raise
    finally:
        restorer.failed = None  # (the exception's frames hold the restorer: a cycle otherwise)
