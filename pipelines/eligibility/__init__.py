"""Eligibility: statute and county policy as data.

    from pipelines.eligibility import load_policy, determine
    policy = load_policy("los_angeles")
    result = determine(counts, persons, policy=policy, county="LOS ANGELES", compute_at=date(2019, 11, 11))

- facts.py: `conviction_facts` — one row per conviction, facts over the person's whole record.
- predicates.py: the documented vocabulary conditions are written in.
- policy.py: `load_policy` / `parse_policy` — a policy YAML validated and compiled (ConfigError with
  file and line on any mistake).
- engine.py: `determine` / `apply_policy` — first matching rule decides; relief, statutory basis and
  an explanation for every determination.
- statutes.yaml / policies/*.yaml: the law and the counties' choices, as data.
"""

from pipelines.eligibility.engine import apply_policy, determine, explanations_long
from pipelines.eligibility.facts import FACTS, conviction_facts
from pipelines.eligibility.policy import Policy, available_policies, load_policy, parse_policy

__all__ = [
    "FACTS",
    "Policy",
    "apply_policy",
    "available_policies",
    "conviction_facts",
    "determine",
    "explanations_long",
    "load_policy",
    "parse_policy",
]
