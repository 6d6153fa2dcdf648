"""Dashboard forms. They parse and check input; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from leasing.models import LeaseRequest, RequestNote
from leasing.selectors import QUEUE_MAX_PAGE, CandidateSearch
from leasing.services.requests import NOTE_MAX
from leasing.services.validation import country_code, normalize_vertical

MAX_BULK_CLAIM = 100
# A request asks for at most 50 accounts.
MAX_ASSIGN = 50


class QueuePageForm(forms.Form):
    page = forms.IntegerField(min_value=1, max_value=QUEUE_MAX_PAGE, required=False)

    def page_number(self) -> int:
        if not self.is_valid():
            return 1
        return int(self.cleaned_data.get("page") or 1)


class IdListField(forms.Field):
    """A repeated query or form parameter (ids=a&ids=b) as a list of distinct ids."""

    widget = forms.MultipleHiddenInput

    def __init__(self, *, max_items: int, noun: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_items = max_items
        self.noun = noun

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        if not isinstance(value, list | tuple):
            value = [value]
        ids = list(dict.fromkeys(str(item).strip() for item in value if str(item).strip()))
        if len(ids) > self.max_items:
            raise ValidationError(f"Choose at most {self.max_items} {self.noun}s at once.")
        if any(len(item) > 64 for item in ids):
            raise ValidationError(f"That is not a {self.noun} id.")
        return ids


class BulkClaimForm(forms.Form):
    ids = IdListField(
        max_items=MAX_BULK_CLAIM,
        noun="request",
        error_messages={"required": "Tick at least one request to claim."},
    )


class NoteForm(forms.Form):
    body = forms.CharField(
        label="Note",
        max_length=NOTE_MAX,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Add a note…"}),
        error_messages={"required": "Write the note first."},
    )
    visibility = forms.ChoiceField(
        choices=RequestNote.Visibility.choices,
        initial=RequestNote.Visibility.INTERNAL,
        widget=forms.RadioSelect,
        required=False,
    )

    def clean_visibility(self) -> str:
        return str(self.cleaned_data.get("visibility") or RequestNote.Visibility.INTERNAL)

    @property
    def is_partner_visible(self) -> bool:
        return self.is_valid() and self.cleaned_data["visibility"] == RequestNote.Visibility.PARTNER


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[
            (LeaseRequest.Status.PARTIAL, "Close as partial"),
            (LeaseRequest.Status.REJECTED, "Reject"),
        ]
    )
    note = forms.CharField(
        label="Note to the partner",
        max_length=NOTE_MAX,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Tell the partner why: this note is shown to them."},
    )


class ReleaseForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Why ops takes it back"}),
        error_messages={"required": "Say why the account is taken back."},
    )


class CandidateSearchForm(forms.Form):
    """Widening the candidate search. Absent fields mean the request's own niche."""

    vertical = forms.CharField(
        label="Vertical",
        max_length=64,
        required=False,
        help_text="Empty searches every vertical.",
    )
    any_language = forms.BooleanField(label="Any language", required=False)
    country = forms.CharField(label="Country", max_length=2, required=False)

    def __init__(self, *args: Any, lease_request: LeaseRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lease_request = lease_request
        self.fields["vertical"].initial = lease_request.vertical

    def clean_country(self) -> str:
        value = str(self.cleaned_data.get("country") or "").strip()
        if not value:
            return ""
        code = country_code(value)
        if code is None:
            raise ValidationError(f"{value!r} is not a two-letter country code (for example US)")
        return code

    def search(self) -> CandidateSearch:
        if not self.is_bound or not self.is_valid():
            return CandidateSearch()
        vertical: str | None = None
        if "vertical" in self.data:
            vertical = normalize_vertical(self.cleaned_data["vertical"])
        return CandidateSearch(
            vertical=vertical,
            any_language=self.cleaned_data["any_language"],
            country=self.cleaned_data["country"],
        )

    @property
    def is_widened(self) -> bool:
        search = self.search()
        return (
            search.any_language
            or bool(search.country)
            or (
                search.vertical is not None
                and search.vertical != normalize_vertical(self.lease_request.vertical)
            )
        )


class AssignForm(forms.Form):
    """The accounts to assign: ticked ones, or the best `fill` of the current search."""

    account = IdListField(max_items=MAX_ASSIGN, noun="account", required=False)
    fill = forms.IntegerField(min_value=1, max_value=MAX_ASSIGN, required=False)

    def __init__(self, *args: Any, remaining: int, allow_fill: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.remaining = remaining
        if not allow_fill:
            # The confirmation names its accounts: what was previewed is what is assigned.
            del self.fields["fill"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        accounts: list[str] = list(data.get("account") or [])
        fill = data.get("fill")
        if not accounts and not fill:
            if "fill" in self.fields:
                raise ValidationError("Tick the accounts to assign, or use “Fill best”.")
            raise ValidationError("No accounts were chosen; nothing was assigned.")
        if fill:
            # "Fill best N" was pressed: it replaces whatever was ticked.
            accounts = []
        chosen = fill or len(accounts)
        if chosen > self.remaining:
            raise ValidationError(
                f"This request needs {self.remaining} more account(s); {chosen} chosen."
            )
        data["account"] = accounts
        return data
