"""Request validation: bad input is reported before anything is encoded, signed or sent.

`validate(operation, request)` checks a request model against

- the service model, as each model class's descriptor states it (`__shape__`, an
  `aioecs._spec.ShapeSpec`): required members at every depth, string/list/map lengths, number
  ranges, patterns (Java regex, translated below), and that a union has exactly one member
  set;
- the limits AWS documents but the model lacks: on an operation's request members, as its
  descriptor states them (`OperationSpec.limits`, from `codegen/customizations.py`; a rule
  that is not a length or range is named there and kept in `_RULES`), and wherever a class
  appears (`_BY_CLASS`, `_LISTS_OF`),

and raises one `ValidationError` listing every problem as `(path, message)`, the path in
Python attribute names (`overrides.container_overrides[0].cpu`). Enum values are not checked:
AWS adds values faster than any client ships, and static typing already knows them.

Types: the request's own members come from keyword arguments that `serde.build_request` has
already type-checked, so only the members a constraint looks at are checked again (to report,
not crash on, a wrong type). Nested structures may be model instances the caller built, which
`build_request` passes through as they are, so every member of those is type-checked.

Each class gets one checker, built on first use: a tuple of `(member, required, check)` for
the members with something to check, so a request costs one `getattr` per such member and
nothing for the rest (a request of a few scalars takes a microsecond or two).
Messages never echo a member the model marks sensitive (attrs `repr=False`, and everything
under it), nor long values.
"""

from __future__ import annotations

import math
import re
import typing
import unicodedata
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from ._exceptions import ValidationError
from ._protocol import encode_json
from ._spec import AnySpec, DocumentedLimit, Limit, operation_named, shape_of
from .serde import encode

__all__ = ["validate"]

Problems = list[tuple[str, str]]
Check = Callable[[Any, str, Problems], None]
"""Checks a value that is not None, found at `path`; appends what is wrong to the list."""
Rule = Callable[[Any], str | None]
"""A documented rule that is not a length/range/pattern: the problem with a value, or None."""


# -- documented limits the service model lacks ----------------------------------------------
# Where the documentation can be read two ways, the looser reading wins: the server checks
# again anyway, and a client must never refuse a request AWS would take.


def _not_aws_prefixed(value: Any) -> str | None:
    # API_Tag: "Do not use aws:, AWS:, or any upper or lowercase combination of such as a
    # prefix for either keys or values as it is reserved for AWS use." Only keys are refused
    # here (the looser reading): a value is descriptive text rather than a name.
    if isinstance(value, str) and value[:4].lower() == "aws:":
        return "must not start with 'aws:' (reserved for AWS use)"
    return None


_OVERRIDES_MAX = 8192


def _overrides_fit(value: Any) -> str | None:
    # A task's overrides: "A total of 8192 characters are allowed for overrides. This limit
    # includes the JSON formatting characters of the override structure." (see
    # codegen/customizations.py). Measured on exactly what goes on the wire (compact,
    # unescaped: see `_protocol.encode_body`), in characters.
    size = len(encode_json(encode(value)))
    if size > _OVERRIDES_MAX:
        return f"must be at most {_OVERRIDES_MAX} characters as JSON, got {size}"
    return None


_RULES: dict[str, Rule] = {"overrides_fit": _overrides_fit}
"""The rules operation descriptors name (`OperationSpec.limits`), by name."""

_BY_CLASS: dict[str, dict[str, tuple[Limit | Rule, ...]]] = {
    # API_Tag: key "Length Constraints: Minimum length of 1. Maximum length of 128.", value
    # "Maximum length of 256." (the model says so too), and the reserved prefix above.
    "Tag": {
        "key": (DocumentedLimit(1, 128), _not_aws_prefixed),
        "value": (DocumentedLimit(0, 256),),
    },
}
"""Class -> member -> limits and rules, wherever the class appears in a request."""

_LISTS_OF: dict[str, Limit] = {
    # API_Tag: "Maximum number of tags per resource - 50" (every request that takes tags).
    "Tag": DocumentedLimit(0, 50),
}
"""Class -> limit on any list of it, wherever such a list appears in a request."""


# -- the entry point ------------------------------------------------------------------------

_BY_OPERATION_CACHE: dict[str, tuple[type[Any], Check | None]] = {}


def validate(spec: AnySpec | str, request: Any) -> None:
    """Raise `ValidationError` listing every problem of `request`, a request of the operation
    `spec` describes (or names), or return if there is none."""
    operation = spec if isinstance(spec, str) else spec.name
    entry = _BY_OPERATION_CACHE.get(operation)
    if entry is None or entry[0] is not type(request):
        cls = type(request)
        check = None
        if attrs.has(cls):
            # The request's own members come from keyword arguments, which `build_request` has
            # type-checked; nested structures may be instances the caller built, so those are.
            check = _build_class_check(cls, False, False, _documented(spec))
        entry = _BY_OPERATION_CACHE[operation] = (cls, check)
    check = entry[1]
    if check is not None:
        problems: Problems = []
        check(request, "", problems)
        if problems:
            raise ValidationError(operation, problems)


def _documented(spec: AnySpec | str) -> dict[str, tuple[Limit | Rule, ...]]:
    """An operation's documented limits by member, its named rules looked up."""
    if isinstance(spec, str):
        named = operation_named(spec)
        if named is None:
            return {}
        spec = named
    return {
        member: tuple(_RULES[fact] if isinstance(fact, str) else fact for fact in facts)
        for member, facts in spec.limits.items()
    }


# -- checkers, built once per class -----------------------------------------------------------

_CLASS_CACHE: dict[tuple[type[Any], bool], Check | None] = {}


def _class_check(cls: type[Any], secret: bool) -> Check | None:
    """The checker of a nested structure (None if it has no members); `secret` when it sits
    under a sensitive member. (Shapes are never recursive: codegen refuses them.)"""
    key = (cls, secret)
    if key not in _CLASS_CACHE:
        _CLASS_CACHE[key] = _build_class_check(cls, secret, True, {})
    return _CLASS_CACHE[key]


def _build_class_check(
    cls: type[Any], secret: bool, typed: bool, extra: Mapping[str, tuple[Limit | Rule, ...]]
) -> Check | None:
    """`typed`: check the type of every member, not only of those a constraint looks at."""
    name = cls.__name__
    hints = typing.get_type_hints(cls)
    shape = shape_of(cls)
    required = set(shape.required) if shape is not None else set()
    model_limits = shape.limits if shape is not None else {}
    documented = {**_BY_CLASS.get(name, {}), **extra}
    plan: list[tuple[str, bool, Check | None]] = []
    for field in attrs.fields(cls):
        member = field.name
        hidden = secret or field.repr is False
        limits: list[Limit] = []
        rules: list[Rule] = []
        if member in model_limits:
            limits.append(model_limits[member])
        for item in documented.get(member, ()):
            if isinstance(item, tuple):
                limits.append(item)
            else:
                rules.append(item)
        item_limits = [model_limits[member + "[]"]] if member + "[]" in model_limits else []
        check = _value_check(hints[member], limits, item_limits, hidden, typed)
        if rules:
            check = _with_rules(check, tuple(rules))
        if check is not None or member in required:
            plan.append((member, member in required, check))
    union = tuple(f.name for f in attrs.fields(cls)) if shape is not None and shape.union else ()
    if not plan and not union:
        return None
    return _struct_members_check(tuple(plan), union)


def _struct_members_check(
    plan: tuple[tuple[str, bool, Check | None], ...], union: tuple[str, ...]
) -> Check:
    def check(obj: Any, path: str, out: Problems) -> None:
        for member, required, member_check in plan:
            value = getattr(obj, member)
            if value is None:
                if required:
                    out.append((f"{path}.{member}" if path else member, "required member missing"))
            elif member_check is not None:
                member_check(value, f"{path}.{member}" if path else member, out)
        if union:
            chosen = [m for m in union if getattr(obj, m) is not None]
            if len(chosen) != 1:
                got = "none is" if not chosen else f"{len(chosen)} are ({', '.join(chosen)})"
                out.append((path, f"exactly one of {', '.join(union)} must be set; {got} set"))

    return check


def _with_rules(check: Check | None, rules: tuple[Rule, ...]) -> Check:
    def checked(value: Any, path: str, out: Problems) -> None:
        before = len(out)
        if check is not None:
            check(value, path, out)
        for rule in rules:
            try:
                problem = rule(value)
            except Exception as exc:  # a mistyped model instance: say so, unless already said
                problem = f"is malformed ({type(exc).__name__})" if len(out) == before else None
            if problem is not None:
                out.append((path, problem))

    return checked


def _value_check(
    tp: Any, limits: list[Limit], item_limits: list[Limit], secret: bool, typed: bool
) -> Check | None:
    """The check of one value of type `tp`: None when there is nothing to check (no limit,
    and its type is either not to be checked or cannot be wrong)."""
    tp = _strip_none(tp)
    origin = typing.get_origin(tp)
    if attrs.has(tp):
        return _struct_check(tp, _class_check(tp, secret))
    if origin is list or origin is dict:
        args = typing.get_args(tp)
        inner_tp = args[-1] if args else Any
        if origin is list and attrs.has(inner_tp) and inner_tp.__name__ in _LISTS_OF:
            limits = [*limits, _LISTS_OF[inner_tp.__name__]]
        inner = _value_check(inner_tp, item_limits, [], secret, typed)
        if inner is None and not limits and not typed:
            return None
        lo, hi, _ = _merge(limits)
        if origin is list:
            return _list_check(lo, hi, inner)
        return _map_check(lo, hi, inner, secret)
    if tp is str or origin is Literal:
        if not limits and not typed:
            return None
        lo, hi, patterns = _merge(limits)
        return _str_check(lo, hi, tuple(_Pattern.get(p) for p in patterns), secret)
    if tp is int or tp is float:
        if not limits and not typed and tp is int:
            return None  # (a float is always checked: NaN and infinities are not JSON)
        lo, hi, _ = _merge(limits)
        return _number_check(lo, hi, tp is float, secret)
    if typed and tp in _PLAIN:
        return _type_check(tp, _PLAIN[tp])
    return None  # documents (free-form JSON)


_PLAIN: dict[Any, str] = {bool: "a boolean", datetime: "a datetime"}


def _type_check(kind: type[Any], name: str) -> Check:
    def check(value: Any, path: str, out: Problems) -> None:
        if not isinstance(value, kind):
            out.append((path, f"expected {name}, got {_type_name(value)}"))

    return check


def _strip_none(tp: Any) -> Any:
    args = typing.get_args(tp)
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def _merge(limits: list[Limit]) -> tuple[float | None, float | None, list[str]]:
    """Several limits on one value as one: the tightest bounds, every pattern."""
    lows = [lim[0] for lim in limits if lim[0] is not None]
    highs = [lim[1] for lim in limits if lim[1] is not None]
    patterns = list(dict.fromkeys(lim[2] for lim in limits if lim[2] is not None))
    return (max(lows) if lows else None), (min(highs) if highs else None), patterns


def _bounds(lo: float | None, hi: float | None, unit: str) -> str:
    if lo is not None and hi is not None:
        return f"between {_num(lo)} and {_num(hi)}{unit}"
    if lo is not None:
        return f"at least {_num(lo)}{unit}"
    return f"at most {_num(hi)}{unit}"


def _num(x: float | None) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _type_name(value: Any) -> str:
    return type(value).__name__


def _struct_check(cls: type[Any], inner: Check | None) -> Check:
    def check(value: Any, path: str, out: Problems) -> None:
        if type(value) is not cls and not isinstance(value, cls):
            out.append((path, f"expected {cls.__name__}, got {_type_name(value)}"))
        elif inner is not None:
            inner(value, path, out)

    return check


def _list_check(lo: float | None, hi: float | None, item: Check | None) -> Check:
    low = -math.inf if lo is None else lo
    high = math.inf if hi is None else hi
    size = _bounds(lo, hi, " items") if lo is not None or hi is not None else ""

    def check(value: Any, path: str, out: Problems) -> None:
        if type(value) is not list and not isinstance(value, (list, tuple)):
            out.append((path, f"expected a list, got {_type_name(value)}"))
            return
        if not low <= len(value) <= high:
            out.append((path, f"must have {size}, got {len(value)}"))
        if item is not None:
            for i, element in enumerate(value):
                if element is None:
                    out.append((f"{path}[{i}]", "must not be None"))
                else:
                    item(element, f"{path}[{i}]", out)

    return check


def _map_check(lo: float | None, hi: float | None, item: Check | None, secret: bool) -> Check:
    low = -math.inf if lo is None else lo
    high = math.inf if hi is None else hi
    size = _bounds(lo, hi, " entries") if lo is not None or hi is not None else ""

    def check(value: Any, path: str, out: Problems) -> None:
        if not isinstance(value, Mapping):
            out.append((path, f"expected a mapping, got {_type_name(value)}"))
            return
        if not low <= len(value) <= high:
            out.append((path, f"must have {size}, got {len(value)}"))
        if item is not None:
            for i, (key, element) in enumerate(value.items()):
                where = f"{path}[<key {i}>]" if secret else f"{path}[{key!r}]"
                if element is None:
                    out.append((where, "must not be None"))
                else:
                    item(element, where, out)

    return check


def _str_check(
    lo: float | None, hi: float | None, patterns: tuple[_Pattern | None, ...], secret: bool
) -> Check:
    low = -math.inf if lo is None else lo
    high = math.inf if hi is None else hi
    size = _bounds(lo, hi, " characters long") if lo is not None or hi is not None else ""
    usable = tuple(p for p in patterns if p is not None)
    if lo is None and hi is None and not usable:
        return _type_check(str, "a string")

    def check(value: Any, path: str, out: Problems) -> None:
        if not isinstance(value, str):
            out.append((path, f"expected a string, got {_type_name(value)}"))
            return
        if not low <= len(value) <= high:
            out.append((path, f"must be {size}, got {len(value)}"))
        for pattern in usable:
            if not pattern.fullmatch(value):
                out.append((path, f"must match the pattern {pattern.java}{_shown(value, secret)}"))

    return check


def _number_check(lo: float | None, hi: float | None, is_float: bool, secret: bool) -> Check:
    low = -math.inf if lo is None else lo
    high = math.inf if hi is None else hi
    bounds = _bounds(lo, hi, "") if lo is not None or hi is not None else ""
    kind = "a number" if is_float else "an integer"
    accepted = (int, float) if is_float else (int,)

    def check(value: Any, path: str, out: Problems) -> None:
        if isinstance(value, bool) or not isinstance(value, accepted):
            out.append((path, f"expected {kind}, got {_type_name(value)}"))
        elif is_float and not math.isfinite(value):
            out.append((path, f"must be a finite number{_shown(value, secret)}"))
        elif not low <= value <= high:
            out.append((path, f"must be {bounds}{_shown(value, secret)}"))

    return check


_SHOWN_MAX = 40


def _shown(value: Any, secret: bool) -> str:
    """`, got <value>` when it may be shown: never for sensitive members, nor long values."""
    if secret:
        return " (the value is sensitive and not shown)"
    text = repr(value)
    if len(text) > _SHOWN_MAX:
        return f" (a value of {len(value)} characters, not shown)" if isinstance(value, str) else ""
    return f", got {text}"


# -- patterns: the model's Java regex in Python's `re` -----------------------------------------
#
# Python's `re` has no `\p{..}`. Rather than expanding a category into its hundreds of code
# point ranges (a scan of all 1.1M code points costs ~0.3 s), a value that is not pure ASCII
# is first mapped character by character: every non-ASCII character becomes one private-use
# "sentinel" character standing for its Unicode general category, and `\p{L}` in the pattern
# becomes the ASCII letters plus the sentinels of Lu, Ll, Lt, Lm and Lo. That is exact as long
# as the pattern itself names no non-ASCII character, which `_translate` insists on (it raises
# for anything it does not translate faithfully; the model's patterns all pass, see the
# tests). Java's `\w`, `\d`, `\s` and `\b` are ASCII-only by default, so `re.ASCII`.

_CATEGORIES = (  # Unicode's general categories, by major class
    *("Lu", "Ll", "Lt", "Lm", "Lo"),
    *("Mn", "Mc", "Me"),
    *("Nd", "Nl", "No"),
    *("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"),
    *("Sm", "Sc", "Sk", "So"),
    *("Zs", "Zl", "Zp"),
    *("Cc", "Cf", "Cs", "Co", "Cn"),
)
_SENTINEL = {cat: chr(0xE000 + i) for i, cat in enumerate(_CATEGORIES)}
_NEL = chr(0xE000 + len(_CATEGORIES))  # U+0085, a Cc that Java's `.` does not match
_LINE_BREAKS = "\\n\\r" + "".join(f"\\u{ord(_SENTINEL[c]):04x}" for c in ("Zl", "Zp"))
_DOT = f"[^{_LINE_BREAKS}\\u{ord(_NEL):04x}]"  # Java's `.`: anything but a line terminator

_POSIX = {  # Java's POSIX classes (US-ASCII only)
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1f\\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0b\\f\\r",
}


class _ToSentinel(dict[int, int]):
    """`str.translate` table: ASCII stays, anything else becomes its category's sentinel."""

    def __missing__(self, code: int) -> int:
        if code == 0x85:
            return ord(_NEL)
        return ord(_SENTINEL[unicodedata.category(chr(code))])


_TO_SENTINEL = _ToSentinel({i: i for i in range(128)})


class _Pattern:
    """A model pattern compiled for full matches; `get` returns None for one that cannot be
    translated faithfully (the server still checks it)."""

    __slots__ = ("_regex", "java")
    _cache: typing.ClassVar[dict[str, _Pattern | None]] = {}

    def __init__(self, java: str) -> None:
        self.java = java
        self._regex = re.compile(_translate(java), re.ASCII)

    @classmethod
    def get(cls, java: str) -> _Pattern | None:
        if java not in cls._cache:
            try:
                cls._cache[java] = cls(java)
            except (ValueError, re.error):
                cls._cache[java] = None
        return cls._cache[java]

    def fullmatch(self, value: str) -> bool:
        if not value.isascii():
            value = value.translate(_TO_SENTINEL)
        return self._regex.fullmatch(value) is not None


def _category_class(name: str, negated: bool) -> str:
    """The body of a character class for `\\p{name}` (`\\P{name}` when negated)."""
    if name in _POSIX and not negated:
        return _POSIX[name]
    for prefix in ("general_category=", "gc=", "Is"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    if name in ("LC", "L&"):
        cats = {"Lu", "Ll", "Lt"}
    elif len(name) == 1:
        cats = {c for c in _CATEGORIES if c[0] == name}
    else:
        cats = {name} if name in _SENTINEL else set()
    if not cats:
        raise ValueError(f"unsupported character property \\p{{{name}}}")
    chars = [f"\\x{i:02x}" for i in range(128) if (unicodedata.category(chr(i)) in cats) != negated]
    chars += [f"\\u{ord(_SENTINEL[c]):04x}" for c in _CATEGORIES if (c in cats) != negated]
    if ("Cc" in cats) != negated:
        chars.append(f"\\u{ord(_NEL):04x}")
    return "".join(chars)


_PLAIN_ESCAPES = set("dDwWsSbBAtnrfa") | {c for c in map(chr, range(33, 127)) if not c.isalnum()}


def _translate(java: str) -> str:
    """A Java regex as a Python one over sentinel-mapped values; ValueError if not faithful."""
    out: list[str] = []
    in_class = False
    i, n = 0, len(java)
    while i < n:
        c = java[i]
        if not c.isascii():
            raise ValueError("a non-ASCII character in the pattern")
        if c == "\\":
            text, i = _escape(java, i, in_class)
            out.append(text)
            continue
        if in_class:
            if c == "[" or java.startswith("&&", i):
                raise ValueError("nested classes or intersections")
            if c == "]":
                in_class = False
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
            if java.startswith("^", i + 1):
                out.append("^")
                i += 1
            if java.startswith("]", i + 1):  # Java takes `[]` as an error, Python as a `]`
                raise ValueError("an empty class")
        elif c == ".":
            out.append(_DOT)
        elif c == "(" and java.startswith("(?", i):
            group = re.match(r"\(\?(<(?![=!])|[:=!>]|<[=!]|[ims]*(?:-[ims]*)?[:)])", java[i:])
            if group is None:
                raise ValueError("an unsupported group or flag")
            out.append("(?P<" if group.group(1) == "<" else group.group(0))
            i += len(group.group(0))
            continue
        else:
            out.append(c)
        i += 1
    if in_class:
        raise ValueError("an unterminated class")
    return "".join(out)


def _escape(java: str, i: int, in_class: bool) -> tuple[str, int]:
    """The Python form of the escape that starts at `java[i]` (a backslash), and where the
    pattern goes on after it."""
    n = len(java)
    if i + 1 == n:
        raise ValueError("a trailing backslash")
    e = java[i + 1]
    if e in "pP":
        if java.startswith("{", i + 2):
            end = java.index("}", i + 2)
            name, after = java[i + 3 : end], end + 1
        else:
            name, after = java[i + 2 : i + 3], i + 3
        body = _category_class(name, negated=e == "P")
        return (body if in_class else f"[{body}]"), after
    if e == "Q":
        end = java.find("\\E", i + 2)
        end = n if end < 0 else end
        literal = java[i + 2 : end]
        if not literal.isascii():
            raise ValueError("a non-ASCII character in the pattern")
        return re.escape(literal), end + 2
    hexa = re.match(r"x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})", java[i + 1 :])
    if hexa is not None:
        if int(hexa.group(1) or hexa.group(2), 16) >= 0x80:
            raise ValueError("a non-ASCII character in the pattern")
        return "\\" + hexa.group(0), i + 1 + len(hexa.group(0))
    if e == "z":
        return "\\Z", i + 2
    if e == "e":
        return "\\x1b", i + 2
    if e in _PLAIN_ESCAPES:
        return java[i : i + 2], i + 2
    raise ValueError(f"unsupported escape \\{e}")
