"""Observable state: everything the screens show and every action a person can take, by
session: the app's (`app.AppState`) and its records list (`records.RecordsList`), one
record's (`form.FormSession`, a training event's `training.TrainingSession`) and a
conflict's merge (`merge.MergeSession`)."""

from fieldapp.forms.answers import AnswerLine, answer_lines
from fieldapp.ui.state.app import AppState, Screen, SetupStep
from fieldapp.ui.state.case import CaseSession, ServiceRow
from fieldapp.ui.state.case_files import CASE_FILE_MESSAGES, CaseFilesState
from fieldapp.ui.state.form import REVIEW, SUPERSEDED, FormSession
from fieldapp.ui.state.merge import MergeAddition, MergeRow, MergeSession
from fieldapp.ui.state.office import OfficeState
from fieldapp.ui.state.records import PAGE_SIZE, RecordsList
from fieldapp.ui.state.referrals import ReferralsView, referable
from fieldapp.ui.state.steps import (
    JumpQuestion,
    JumpStep,
    Step,
    answer_text,
    build_steps,
    display_value,
)
from fieldapp.ui.state.training import (
    EventRow,
    EventSummary,
    EventSummaryRow,
    TrainingSession,
    event_summary,
)

__all__ = [
    "CASE_FILE_MESSAGES",
    "PAGE_SIZE",
    "REVIEW",
    "SUPERSEDED",
    "AnswerLine",
    "AppState",
    "CaseFilesState",
    "CaseSession",
    "EventRow",
    "EventSummary",
    "EventSummaryRow",
    "FormSession",
    "JumpQuestion",
    "JumpStep",
    "MergeAddition",
    "MergeRow",
    "MergeSession",
    "OfficeState",
    "RecordsList",
    "ReferralsView",
    "Screen",
    "ServiceRow",
    "SetupStep",
    "Step",
    "TrainingSession",
    "answer_lines",
    "answer_text",
    "build_steps",
    "display_value",
    "event_summary",
    "referable",
]
