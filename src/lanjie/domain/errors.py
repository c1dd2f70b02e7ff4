"""Domain errors.

    DomainError
    ├── IllegalTransition   a state change that is not in the entity's transition table
    ├── RuleViolation       a business rule refused the command (names the rule)
    └── NotFound            the object does not exist for this shop
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the domain raises."""

    code = "domain_error"


class IllegalTransition(DomainError):
    code = "illegal_transition"

    def __init__(self, entity: str, current: str, target: str) -> None:
        # str() first: a StrEnum's repr is "<CaseStatus.open: 'open'>", not fit for an API message.
        super().__init__(f"{entity} cannot go from {str(current)!r} to {str(target)!r}")
        self.entity, self.current, self.target = entity, current, target


class RuleViolation(DomainError):
    code = "rule_violation"

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule, self.detail = rule, detail


class NotFound(DomainError):
    code = "not_found"

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident!r} not found")
        self.what, self.ident = what, ident
