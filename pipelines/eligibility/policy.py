"""County policy as data: load, validate and compile a policy YAML file.

A policy file holds metadata (name, version, description, parameters with defaults), the scope
(`applies_to`: which convictions get a determination) and an ordered list of rules. Each rule has an
id, a condition (`when`) built from the predicate vocabulary (pipelines.eligibility.predicates) with
`all` / `any` / `not`, and an outcome (`then`): a determination and a reason. The first rule whose
condition applies decides. See docs/policies.md.

Loading explains every mistake with the file and line: unknown predicate or parameter, wrong
parameter type, duplicate rule id, a rule that can never apply, a missing final rule.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipelines.eligibility.facts import FACTS
from pipelines.eligibility.predicates import COMBINATORS, PREDICATES, Context, Params, Predicate
from pipelines.errors import ConfigError
from pipelines.model import DETERMINATIONS, RELIEFS

POLICY_DIR = Path(__file__).with_name("policies")
DEFAULT_SCOPE: Any = {"all": ["cannabis_conviction", "in_county"]}


# ---------------------------------------------------------------------------------------------
# YAML with line numbers: mappings and lists remember where they and their entries start.
class _Map(dict):
    line: int = 0
    key_lines: dict

class _List(list):
    line: int = 0
    item_lines: list


class _LineLoader(yaml.SafeLoader):
    pass


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise ConfigError(f"{loader.name}, line {key_node.start_mark.line + 1}: key {key!r} appears twice")
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> _List:
    out = _List(loader.construct_object(n, deep=True) for n in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [n.start_mark.line + 1 for n in node.value]
    return out


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def _line_of(node: Any, path: Iterable[Any] = ()) -> int | None:
    """Line of the entry at `path` below `node` (the nearest one known)."""
    line = getattr(node, "line", None)
    for key in path:
        if isinstance(node, _Map) and key in node:
            line, node = node.key_lines[key], node[key]
        elif isinstance(node, _List) and isinstance(key, int) and 0 <= key < len(node):
            line, node = node.item_lines[key], node[key]
        else:
            break
    return line


# ---------------------------------------------------------------------------------------------
# The file's shape, checked with pydantic.
class ParameterModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default: int | float | bool | str | date | list[str]
    description: str = ""


class OutcomeModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    determination: Literal[DETERMINATIONS]  # type: ignore[valid-type]
    reason: str
    relief: Literal[RELIEFS] | None = None  # type: ignore[valid-type]
    statutory_basis: str | None = None
    resulting_section: str | None = None
    resulting_level: Literal["F", "M", "I"] | None = None


class RuleModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    when: Any = "always"
    then: OutcomeModel
    # How the incumbent's summary JSON counts this rule's dismissals and reductions:
    # "section" = by cannabis section, "reason" = by reason, "none" = not counted separately.
    tally: Literal["section", "reason", "none"] = "reason"


class PolicyModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = ""
    version: str
    description: str = ""
    parameters: dict[str, ParameterModel] = {}
    applies_to: Any = DEFAULT_SCOPE
    recall_while_serving: bool = True
    rules: list[RuleModel] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) else v


# ---------------------------------------------------------------------------------------------
# Conditions.
@dataclass(frozen=True)
class Condition:
    """A compiled condition: a predicate with parameters, or all / any / not of conditions."""

    kind: str  # "predicate" | "all" | "any" | "not"
    line: int | None
    predicate: Predicate | None = None
    params: Params | None = None
    children: tuple[Condition, ...] = ()

    def expr(self, ctx: Context) -> pl.Expr:
        if self.kind == "predicate":
            return self.predicate.build(self.params, ctx)
        exprs = [c.expr(ctx) for c in self.children]
        if self.kind == "all":
            return pl.all_horizontal(exprs)
        if self.kind == "any":
            return pl.any_horizontal(exprs)
        return ~exprs[0]

    def facts(self) -> list[str]:
        if self.kind == "predicate":
            return list(self.predicate.facts)
        out: list[str] = []
        for c in self.children:
            out += [f for f in c.facts() if f not in out]
        return out

    def text(self) -> str:
        """The condition in words, for explanations and the CLI."""
        if self.kind == "predicate":
            p = self.params
            if p is None or not p.model_dump(exclude_none=True):
                return self.predicate.name
            if hasattr(p, "text"):
                return f"{self.predicate.name} {p.text()}"
            values = p.model_dump(exclude_none=True)
            if len(values) == 1:
                (value,) = values.values()
                value = ", ".join(map(str, value)) if isinstance(value, list) else value
                return f"{self.predicate.name} {value}"
            return f"{self.predicate.name} {values}"
        if self.kind == "not":
            return f"not ({self.children[0].text()})"
        return f" {self.kind.replace('all', 'and').replace('any', 'or')} ".join(
            f"({c.text()})" if c.kind in ("all", "any") else c.text() for c in self.children
        )

    def key(self) -> str:
        """A canonical form: two conditions with the same key apply to the same convictions."""
        if self.kind == "predicate":
            return f"{self.predicate.name}{self.params.model_dump_json() if self.params else ''}"
        if self.kind == "not":
            return f"not({self.children[0].key()})"
        return f"{self.kind}({','.join(sorted(c.key() for c in self.children))})"

    def disjuncts(self) -> list[frozenset[str]] | None:
        """The condition as an 'or' of 'and's of literals, when it is that simple; else None."""
        if self.kind == "predicate":
            return [frozenset() if self.predicate.name == "always" else frozenset([self.key()])]
        if self.kind == "not":
            child = self.children[0]
            if child.kind == "predicate" and child.predicate.name != "always":
                return [frozenset([self.key()])]
            return None
        parts = [c.disjuncts() for c in self.children]
        if any(p is None for p in parts):
            return None
        if self.kind == "any":
            return [d for p in parts for d in p]
        out = [frozenset()]
        for p in parts:
            out = [a | b for a in out for b in p]
            if len(out) > 64:
                return None
        return out

    def never_applies(self) -> bool:
        ds = self.disjuncts()
        if ds is None:
            return False
        return all(any(f"not({lit})" in d for lit in d) for d in ds)


def compile_condition(node: Any, *, where: str, line: int | None, params: dict[str, Any]) -> Condition:
    """Turn the YAML of a condition into a Condition, or raise ConfigError naming file and line."""
    line = getattr(node, "line", None) or line

    def fail(msg: str, at: int | None = None) -> ConfigError:
        return ConfigError(f"{where}, line {at or line}: {msg}")

    if node is None:
        raise fail("empty condition; write 'always' for a rule that applies to everything")
    if isinstance(node, str):
        name, body = node.strip(), None
    elif isinstance(node, dict):
        if len(node) != 1:
            raise fail(
                f"a condition has exactly one key (a predicate, or all / any / not); found {', '.join(map(str, node))}. "
                "To require several conditions, list them under 'all:'"
            )
        ((name, body),) = node.items()
        name = str(name)
    else:
        raise fail(f"a condition is a predicate name or a mapping, not {type(node).__name__} {node!r}")

    if name in ("all", "any"):
        if not isinstance(body, list) or not body:
            raise fail(f"'{name}' takes a list of conditions")
        lines = getattr(body, "item_lines", [line] * len(body))
        children = tuple(
            compile_condition(c, where=where, line=ln, params=params) for c, ln in zip(body, lines, strict=True)
        )
        return Condition(name, line, children=children)
    if name == "not":
        return Condition("not", line, children=(compile_condition(body, where=where, line=line, params=params),))
    pred = PREDICATES.get(name)
    if pred is None:
        raise fail(f"unknown predicate {name!r}{_suggest(name)}. Predicates are listed in docs/policies.md")
    if pred.params is None:
        if body not in (None, True):
            raise fail(f"predicate {name!r} takes no parameters (found {body!r})")
        return Condition("predicate", line, predicate=pred)
    if body is None:
        body = {}
    elif not isinstance(body, dict):
        if pred.shorthand is None:
            raise fail(f"predicate {name!r} takes parameters as a mapping, e.g. {pred.example}")
        body = {pred.shorthand: body}
    body = {k: _resolve(v, params, fail) for k, v in body.items()}
    try:
        values = pred.params.model_validate(body)
    except ValidationError as e:
        raise fail(f"predicate {name!r}: {_pydantic_message(e)} (example: {pred.example})") from None
    return Condition("predicate", line, predicate=pred, params=values)


def _resolve(value: Any, params: dict[str, Any], fail) -> Any:
    """Replace "$name" by the policy parameter's value."""
    if isinstance(value, str) and value.startswith("$"):
        key = value[1:]
        if key not in params:
            known = ", ".join(sorted(params)) or "none"
            raise fail(f"unknown parameter {value!r} (parameters of this policy: {known})")
        return params[key]
    if isinstance(value, list):
        return [_resolve(v, params, fail) for v in value]
    return value


def _suggest(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, [*PREDICATES, *COMBINATORS], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _pydantic_message(e: ValidationError) -> str:
    msgs = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"])
        msgs.append(f"{loc + ': ' if loc else ''}{err['msg']} (got {err.get('input')!r})")
    return "; ".join(msgs)


# ---------------------------------------------------------------------------------------------
# The compiled policy.
@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    condition: Condition
    determination: str
    reason: str  # template, parameters already filled in; may name facts as {fact}
    reason_facts: tuple[str, ...]
    relief: str | None
    statutory_basis: str | None
    resulting_section: str | None
    resulting_level: str | None
    tally: str
    line: int | None


@dataclass(frozen=True)
class Policy:
    """A validated, compiled county policy. Build with `load_policy` or `policy_from_options`."""

    name: str
    version: str
    title: str
    description: str
    source: str  # file the policy came from (or a description of where)
    parameters: dict[str, Any]
    parameter_descriptions: dict[str, str]
    applies_to: Condition
    rules: tuple[Rule, ...]
    recall_while_serving: bool = True
    text: str = field(default="", repr=False)  # the YAML the policy was read from

    def with_parameters(self, **overrides: Any) -> Policy:
        """The same policy with some parameters changed (rules are recompiled and re-checked)."""
        unknown = set(overrides) - set(self.parameters)
        if unknown:
            raise ConfigError(f"{self.source}: unknown parameter(s) {', '.join(sorted(unknown))}; "
                              f"this policy has {', '.join(sorted(self.parameters)) or 'none'}")
        return parse_policy(self.text, source=self.source, parameters={**self.parameters, **overrides})

    def describe(self) -> str:
        """The rules in words, one per line."""
        lines = [f"{self.name} {self.version}: applies to {self.applies_to.text()}"]
        for i, r in enumerate(self.rules, 1):
            lines.append(f"{i:>2}. {r.id}: if {r.condition.text()} -> {r.determination} ({r.reason})")
        return "\n".join(lines)


def available_policies() -> list[str]:
    """Names of the shipped policies."""
    return sorted(p.stem for p in POLICY_DIR.glob("*.yaml"))


def load_policy(name_or_path: str | Path, *, parameters: dict[str, Any] | None = None) -> Policy:
    """Load a shipped policy by name ("los_angeles") or a policy file by path, validated.

    `parameters` overrides the defaults the file declares (e.g. ``{"age": 55}``).
    """
    path = Path(name_or_path)
    text = str(name_or_path)
    if "/" not in text and "\\" not in text and not path.suffix:
        # A name, never a path in disguise: it must stay inside the shipped policies folder.
        path = POLICY_DIR / f"{text}.yaml"
        if not text or text.startswith(".") or not path.exists():
            raise ConfigError(
                f"no policy named {text!r}; shipped policies: {', '.join(available_policies())}"
                " (or give the path of a policy file)"
            )
    elif path.suffix not in (".yaml", ".yml"):
        raise ConfigError(f"{path}: a policy file must be a .yaml or .yml file (or give a shipped policy's name)")
    if not path.is_file():
        raise ConfigError(f"{path}: policy file not found")
    return parse_policy(path.read_text(encoding="utf-8"), source=str(path), parameters=parameters)


def parse_policy(text: str, *, source: str = "<policy>", parameters: dict[str, Any] | None = None) -> Policy:
    """Validate and compile the YAML text of a policy. Errors name `source` and the line."""
    loader = _LineLoader(text)
    loader.name = source
    try:
        raw = loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{source}, line {mark.line + 1}" if mark else source
        raise ConfigError(f"{where}: not valid YAML: {e.problem}") from None
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a policy file is a mapping with name, version, parameters and rules")
    try:
        model = PolicyModel.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        line = _line_of(raw, err["loc"])
        more = f" (and {len(e.errors()) - 1} more problem(s))" if len(e.errors()) > 1 else ""
        raise ConfigError(
            f"{source}, line {line}: {_where(raw, err['loc'])}: {err['msg']} (got {err.get('input')!r}){more}"
        ) from None

    values = {k: p.default for k, p in model.parameters.items()}
    for key, value in (parameters or {}).items():
        if key not in values:
            raise ConfigError(f"{source}: unknown parameter {key!r}; this policy has "
                              f"{', '.join(sorted(values)) or 'none'}")
        default = values[key]
        if type(value) is not type(default) and not (isinstance(default, float) and isinstance(value, int)):
            raise ConfigError(f"{source}: parameter {key!r} must be {type(default).__name__}, got {value!r}")
        values[key] = value

    scope_line = _line_of(raw, ["applies_to"]) if "applies_to" in raw else None
    applies_to = compile_condition(model.applies_to, where=source, line=scope_line, params=values)

    rules: list[Rule] = []
    seen: dict[str, int | None] = {}
    raw_rules = raw["rules"]
    for i, (rm, node) in enumerate(zip(model.rules, raw_rules, strict=True)):
        line = raw_rules.item_lines[i] if isinstance(raw_rules, _List) else None
        if rm.id in seen:
            raise ConfigError(f"{source}, line {line}: rule id {rm.id!r} is used twice (first at line {seen[rm.id]})")
        seen[rm.id] = line
        when_line = _line_of(node, ["when"]) if isinstance(node, _Map) and "when" in node else line
        cond = compile_condition(rm.when, where=source, line=when_line, params=values)
        reason, reason_facts = _reason_template(rm.then.reason, values, f"{source}, line {_line_of(node, ['then', 'reason']) or line}")
        rules.append(Rule(
            id=rm.id, description=" ".join(rm.description.split()), condition=cond,
            determination=rm.then.determination, reason=reason, reason_facts=reason_facts,
            relief=rm.then.relief, statutory_basis=rm.then.statutory_basis,
            resulting_section=rm.then.resulting_section, resulting_level=rm.then.resulting_level,
            tally=rm.tally, line=line,
        ))
    _check_reachable(rules, source)
    return Policy(
        name=model.name, version=model.version, title=model.title,
        description=" ".join(model.description.split()), source=source, parameters=values,
        parameter_descriptions={k: " ".join(p.description.split()) for k, p in model.parameters.items()},
        applies_to=applies_to, rules=tuple(rules), recall_while_serving=model.recall_while_serving, text=text,
    )


def _where(raw: Any, loc: tuple) -> str:
    """A pydantic location in words: ("rules", 1, "then", "determination") -> "rule 2 (otherwise): then.determination"."""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = raw.get("rules") if isinstance(raw, dict) else None
        rule = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        name = f" ({rule['id']})" if isinstance(rule, dict) and "id" in rule else ""
        rest = ".".join(str(x) for x in loc[2:])
        return f"rule {loc[1] + 1}{name}" + (f": {rest}" if rest else "")
    return ".".join(str(x) for x in loc) or "policy"


def _reason_template(template: str, params: dict[str, Any], where: str) -> tuple[str, tuple[str, ...]]:
    """Fill in parameters now; keep {fact} placeholders for each conviction's own value."""
    out, facts = [], []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ConfigError(f"{where}: reason {template!r}: {e}") from None
    for literal, name, spec, conv in parsed:
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is None:
            continue
        if spec or conv:
            raise ConfigError(f"{where}: reason {template!r}: write placeholders as plain {{name}}")
        if name in params:
            value = params[name]
            out.append(str(value).replace("{", "{{").replace("}", "}}"))
        elif name in FACTS:
            out.append("{" + name + "}")
            facts.append(name)
        else:
            raise ConfigError(
                f"{where}: reason {template!r} names {{{name}}}, which is neither a parameter of this "
                f"policy ({', '.join(sorted(params)) or 'none'}) nor a fact"
            )
    return "".join(out), tuple(facts)


def _check_reachable(rules: list[Rule], source: str) -> None:
    """Refuse rules that can never decide anything, and a rule list without a final catch-all."""
    earlier: list[tuple[Rule, list[frozenset[str]] | None]] = []
    for rule in rules:
        cond = rule.condition
        if cond.never_applies():
            raise ConfigError(f"{source}, line {rule.line}: rule {rule.id!r} can never apply: its condition "
                              f"contradicts itself ({cond.text()})")
        mine = cond.disjuncts()
        for prev, prev_ds in earlier:
            if prev_ds is not None and any(len(d) == 0 for d in prev_ds):
                raise ConfigError(
                    f"{source}, line {rule.line}: rule {rule.id!r} can never apply: rule {prev.id!r} "
                    f"(line {prev.line}) before it applies to every conviction"
                )
            shadowed = prev.condition.key() == cond.key() or (
                mine is not None and prev_ds is not None
                and all(any(p <= m for p in prev_ds) for m in mine)
            )
            if shadowed:
                raise ConfigError(
                    f"{source}, line {rule.line}: rule {rule.id!r} can never apply: every conviction it "
                    f"covers is already decided by rule {prev.id!r} (line {prev.line})"
                )
        earlier.append((rule, mine))
    last = rules[-1]
    last_ds = last.condition.disjuncts()
    if not (last_ds is not None and any(len(d) == 0 for d in last_ds)):
        raise ConfigError(
            f"{source}, line {last.line}: the last rule ({last.id!r}) must apply to every conviction "
            "('when: always'), so that each conviction gets exactly one determination"
        )
