"""Which of a record's judged errors the screen shows, and when: a wrong answer as it is
typed, a missing one (and a question the form does not have) only where the person already
tried to go on: Next on its step, Done on its repeat entry, Finalise on the whole form. A
draft may lack answers; saying so before the person is done with a step only nags."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fieldapp.forms.spec import FormSpec, RepeatSpec
from fieldapp.forms.validate import Checked, FieldError
from fieldapp.ui.state.steps import Step, answer_names, root_name, value_at

__all__ = ["ShownErrors"]


@dataclass
class ShownErrors:
    """Where the person tried to go on, and so which errors show (`FormSession.errors`)."""

    spec: FormSpec
    steps: list[Step]
    tried_steps: set[int] = field(default_factory=set)  # steps where Next was tried
    tried_instances: set[tuple[str, int]] = field(default_factory=set)  # (repeat, index)

    def shown(self, checked: Checked, editing: tuple[str, int] | None) -> dict[str, str]:
        """The errors to show by path, `editing` the repeat entry open, if one is."""
        return {
            e.path: e.message for e in checked.errors if self._shows(e, checked.values, editing)
        }

    def wrong(self, checked: Checked) -> list[str]:
        """The paths of every wrong (not merely missing) answer, shown yet or not."""
        return [e.path for e in checked.errors if not self._is_missing(e, checked.values)]

    def _shows(
        self, error: FieldError, clean: dict[str, Any], editing: tuple[str, int] | None
    ) -> bool:
        if error.code != "unknown_field" and not self._is_missing(error, clean):
            return True
        return self._is_tried(error, editing)

    def _is_missing(self, error: FieldError, clean: dict[str, Any]) -> bool:
        """A required answer or repeat entry not given yet: what a draft may lack."""
        if error.code == "required":
            return True
        if error.code != "repeat_count":
            return False
        repeat = self.spec.node(error.field)
        assert isinstance(repeat, RepeatSpec)
        return len(value_at(clean, error.path) or []) < repeat.min_count

    def _is_tried(self, error: FieldError, editing: tuple[str, int] | None) -> bool:
        for repeat, index in self.tried_instances:
            if error.path.startswith(f"{repeat}[{index}]."):
                return True
        root = root_name(error.path)
        return any(
            root in answer_names(self.steps[i].nodes)
            and (
                "[" not in error.path
                or not isinstance(self.spec.node(root), RepeatSpec)
                or editing is None
            )
            for i in self.tried_steps
        )
