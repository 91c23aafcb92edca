# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resources as tables of fields, and the one list idiom of the collection.

A resource (a Microsoft 365 user, a mailbox, a Practice Protect user, ...) is declared once as a table of ``Field``:
the module option, the service's name for it, how a value is checked and normalised, its length limit, how two values
compare. The module's argument spec, the checks of its input, the comparison with what the service holds, the diff and
the request body all come from that table, so that adding an attribute is one line here, its documentation, and a test
(``tests/unit/plugins/modules/test_docs_match_tables.py`` holds every module's DOCUMENTATION against its table). The
pattern is microsoft.ad's property tables (``_ADObject.psm1``).

Options that hold several values (licences, aliases, full access, role members) all take the same three actions, as
microsoft.ad's modules do (its ``guide_list_values``): ``add`` and ``remove`` change the current values, ``set`` makes
them exactly these (and takes precedence). One option per module, ``max_removals``, guards every removal: a count, or a
share of what the object holds now (``"10%"``, rounded down, at least one).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v

LIST_ACTIONS = ("add", "remove", "set")


class Field:
    """One attribute of a resource.

    ``check(value, field, context)`` returns the normalised value or raises ValidationError (``context`` carries what a
    check needs besides the value, such as the phone region); ``compare(value)`` gives the form two values are compared
    in (case, phone formats); ``max_length`` is the service's limit for strings; ``role`` marks the attributes a joiner's
    ``person`` may carry (the onboarding role hands them to the module under the same name).
    """

    def __init__(self, option, service=None, type="str", elements=None, check=None, compare=None, max_length=None, choices=None,
                 default=None, no_log=None, aliases=None, required=False, role=False, options=None, read=None):
        self.option = option
        self.service = service
        self.read = read or service
        self.type = type
        self.elements = elements
        # (duplicates: plain attribute assignments, nothing to fold)
        self.check = check
        self.compare = compare or (lambda value: value)
        self.max_length = max_length
        self.choices = choices
        self.default = default
        self.no_log = no_log
        self.aliases = aliases
        self.required = required
        self.role = role
        self.options = options

    def spec(self):
        """This field's entry of an Ansible argument spec."""
        out = {"type": self.type}
        for key in ("elements", "choices", "default", "no_log", "aliases", "options"):
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value) if isinstance(value, tuple) else value
        if self.required:
            out["required"] = True
        return out

    def normalise(self, value, context=None):
        """The checked value (None stays None, meaning: leave it as it is)."""
        if value is None:
            return None
        if self.check is not None:
            value = self.check(value, self.option, context or {})
        if isinstance(value, str):
            if not value.strip():
                raise v.ValidationError("%s is empty; leave it out to keep the current value." % self.option, field=self.option)
            if self.max_length and len(value) > self.max_length:
                raise v.ValidationError("%s is %d characters long; Microsoft 365 allows at most %d." % (self.option, len(value), self.max_length),
                                        field=self.option)
        return value


class Resource:
    """A table of fields, by option."""

    def __init__(self, name, fields):
        self.name = name
        self.fields = list(fields)
        self.by_option = dict((f.option, f) for f in self.fields)

    def argument_spec(self, **extra):
        spec = dict((f.option, f.spec()) for f in self.fields)
        spec.update(extra)
        return spec

    def properties(self, params, context=None):
        """``{service name: normalised value}`` of the fields the options set (the ones with a service name)."""
        out = {}
        for field in self.fields:
            if field.service is None:
                continue
            value = field.normalise(params.get(field.option), context)
            if value is not None:
                out[field.service] = value
        return out

    def changes(self, wanted, current):
        """The properties of ``wanted`` that differ from ``current`` (a service object), compared as each field says."""
        out = {}
        by_service = dict((f.service, f) for f in self.fields if f.service)
        for name, value in wanted.items():
            field = by_service.get(name)
            compare = field.compare if field else (lambda x: x)
            if compare((current or {}).get(field.read if field else name)) != compare(value):
                out[name] = value
        return out

    def view(self, obj):
        """The resource's properties as the service holds them (for diffs and results), by the names writes take,
        leaving out what is unset. ``obj`` may hold a property under either name."""
        out = {}
        for f in self.fields:
            if f.service:
                value = obj.get(f.read) if f.read in obj else obj.get(f.service)
                if value not in (None, []):
                    out[f.service] = value
        return out

    def read_names(self, props):
        """``props`` (by the names writes take) under the names reads return them."""
        by_service = dict((f.service, f) for f in self.fields if f.service)
        return dict(((by_service[name].read if name in by_service else name), value) for name, value in props.items())

    def role_fields(self):
        return [f for f in self.fields if f.role]


# -- the list idiom ----------------------------------------------------------------------------------------------------

def list_option(elements="str", description_key=None):
    """The argument spec of a many-valued option: ``{add: [...], remove: [...], set: [...]}``."""
    return {"type": "dict", "options": dict((action, {"type": "list", "elements": elements}) for action in LIST_ACTIONS)}


def is_list_option(spec):
    return spec.get("type") == "dict" and set(spec.get("options") or ()) == set(LIST_ACTIONS)


def plain_list_message(option):
    return "%s takes add, remove or set, for example %s: {add: [...]}; a plain list is not accepted." % (option, option)


MAX_REMOVALS_SPEC = {"type": "raw"}
_PERCENT = re.compile(r"^\s*(\d{1,3})\s*%\s*$")


class ListChange:
    """What a ``{add, remove, set}`` option asks for, with values normalised by ``normalise`` and compared by ``key``."""

    def __init__(self, value, option, normalise=None, key=None):
        value = value or {}
        if not isinstance(value, dict):
            raise v.ValidationError(plain_list_message(option), field=option)
        self.option = option
        self.key = key or (lambda item: item.lower() if isinstance(item, str) else item)
        normalise = normalise or (lambda item, where: item)
        self.add = self._values(value.get("add"), normalise, option + ".add")
        self.remove = self._values(value.get("remove"), normalise, option + ".remove")
        self.set = self._values(value.get("set"), normalise, option + ".set") if value.get("set") is not None else None
        both = set(self.key(x) for x in self.add) & set(self.key(x) for x in self.remove)
        if both and self.set is None:
            raise v.ValidationError("%s lists %s under both add and remove; give each value once." % (option, ", ".join(sorted(both))), field=option)

    def _values(self, values, normalise, where):
        out, seen = [], set()
        for item in values or []:
            item = normalise(item, where)
            if self.key(item) not in seen:
                seen.add(self.key(item))
                out.append(item)
        return out

    @property
    def given(self):
        return bool(self.add or self.remove or self.set is not None)

    def plan(self, current):
        """``(to_add, to_remove)`` against the ``current`` values (to_remove holds the current values, as the service has them)."""
        held = dict((self.key(x), x) for x in current)
        if self.set is not None:
            wanted = set(self.key(x) for x in self.set)
            return [x for x in self.set if self.key(x) not in held], [x for k, x in held.items() if k not in wanted]
        return [x for x in self.add if self.key(x) not in held], [held[self.key(x)] for x in self.remove if self.key(x) in held]

    def after(self, current):
        to_add, to_remove = self.plan(current)
        gone = set(self.key(x) for x in to_remove)
        return [x for x in current if self.key(x) not in gone] + to_add


def removal_limit(max_removals, held, default):
    """``(limit, how)`` for ``max_removals`` (a count, or ``"N%"`` of the ``held`` values, rounded down, at least one)."""
    if max_removals is None or max_removals == "":
        max_removals = default
    if isinstance(max_removals, bool):
        raise v.ValidationError("max_removals must be a number or a percentage such as 10%.", field="max_removals")
    found = _PERCENT.match(str(max_removals))
    if found:
        percent = int(found.group(1))
        if percent > 100:
            raise v.ValidationError("max_removals %s is more than 100%%." % max_removals, field="max_removals")
        limit = max(1, percent * held // 100)
        return limit, "max_removals (%d%% of the %d held now, rounded down, at least 1: %d)" % (percent, held, limit)
    try:
        limit = int(str(max_removals).strip())
    except ValueError:
        raise v.ValidationError("max_removals must be a number or a percentage such as 10%%, not %r." % (max_removals,), field="max_removals")
    if limit < 0:
        raise v.ValidationError("max_removals must be 0 or more.", field="max_removals")
    return limit, "max_removals (%d)" % limit


class RemovalRefused(v.ValidationError):
    """A plan would remove more than ``max_removals`` allows; nothing was written. The module's failure carries
    ``removal_limit`` and ``refused_removals`` (what it would have removed) beside ``field: max_removals``."""

    def __init__(self, message, limit, names):
        super(RemovalRefused, self).__init__(message, field="max_removals", removal_limit=limit, refused_removals=names)
        self.limit = limit
        self.names = names


def check_removals(removals, max_removals, held, default, what, who):
    """Refuse (RemovalRefused) a plan that removes more than the limit allows, naming what it would remove; returns the limit."""
    limit, how = removal_limit(max_removals, held, default)
    if len(removals) > limit:
        names = [str(r) for r in removals]
        raise RemovalRefused(
            "Refusing to remove %d %s from %s, more than %s: %s. List them to keep them, or raise max_removals if this is intended."
            % (len(removals), what, who, how, ", ".join(names)), limit, names)
    return limit
