"""Dashboard forms. They parse and check input; the services decide what is allowed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from leasing.models import ApiKey, LeaseRequest, RequestNote
from leasing.selectors import QUEUE_MAX_PAGE, CandidateSearch
from leasing.services.billing import MAX_MOVEMENT_CENTS, MAX_PRICE_CENTS, MEMO_MAX
from leasing.services.partners import DEFAULT_SCOPES, SCOPES
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


class PartnerLeasesForm(QueuePageForm):
    """A partner's lease list: active (the default) or ended leases, and the page."""

    ACTIVE = "active"
    ENDED = "ended"

    status = forms.ChoiceField(
        choices=[(ACTIVE, "Active"), (ENDED, "Ended")], required=False, label="Leases"
    )

    def ended(self) -> bool:
        self.is_valid()  # a bad page number leaves a good status in cleaned_data
        return bool(self.cleaned_data.get("status") == self.ENDED)


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


# =====================================================================================
# Partners (wallet, price, API keys), pool and search: the console pages of issue 5
# =====================================================================================


def _dollars_to_cents(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


class DollarsField(forms.DecimalField):
    """An amount typed in dollars ("1,250.50", "$40"); `cents()` gives whole cents."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().replace(",", "").replace("$", "", 1)
            if value.startswith("-$"):
                value = "-" + value[2:]
        return super().to_python(value)


def _memo_field() -> forms.CharField:
    return forms.CharField(
        label="Memo",
        max_length=MEMO_MAX,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": "Why the money moves (invoice, ticket…)"}),
        error_messages={"required": "A memo is required: say why the money moves."},
    )


class TopUpForm(forms.Form):
    amount = DollarsField(
        label="Amount (USD)",
        min_value=Decimal("0.01"),
        max_value=Decimal(MAX_MOVEMENT_CENTS) / 100,
        error_messages={"required": "Enter the amount to add."},
    )
    memo = _memo_field()

    def amount_cents(self) -> int:
        return _dollars_to_cents(self.cleaned_data["amount"])


class AdjustmentForm(forms.Form):
    amount = DollarsField(
        label="Amount (USD, negative takes money out)",
        min_value=-Decimal(MAX_MOVEMENT_CENTS) / 100,
        max_value=Decimal(MAX_MOVEMENT_CENTS) / 100,
        error_messages={"required": "Enter the adjustment, for example -25.00 or 40.00."},
    )
    memo = _memo_field()

    def clean_amount(self) -> Decimal:
        value: Decimal = self.cleaned_data["amount"]
        if value == 0:
            raise ValidationError("An adjustment of zero changes nothing.")
        return value

    def amount_cents(self) -> int:
        return _dollars_to_cents(self.cleaned_data["amount"])


class PriceForm(forms.Form):
    price = DollarsField(
        label="Price per account per month (USD)",
        min_value=Decimal("0.01"),
        max_value=Decimal(MAX_PRICE_CENTS) / 100,
        error_messages={"required": "Enter the new monthly price."},
    )

    def price_cents(self) -> int:
        return _dollars_to_cents(self.cleaned_data["price"])


class ApiKeyIssueForm(forms.Form):
    name = forms.CharField(
        label="Label",
        max_length=100,
        required=False,
        strip=True,
        widget=forms.TextInput(attrs={"placeholder": "production, staging…"}),
    )
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        choices=[(scope, scope) for scope in SCOPES],
        initial=DEFAULT_SCOPES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope."},
    )
    tier = forms.ChoiceField(
        label="Rate-limit tier", choices=ApiKey.Tier.choices, initial=ApiKey.Tier.STANDARD
    )


class RetireForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        strip=True,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "Banned, lost, owner took it back…"}
        ),
        error_messages={"required": "Say why the account is retired."},
    )
    # The lease the person saw and agreed to end; the view refuses when it is not the
    # account's active lease any more.
    confirm_lease = forms.IntegerField(required=False, widget=forms.HiddenInput)


IMPORT_TOKEN_RE = r"^[0-9a-f]{32}$"


class PoolImportForm(forms.Form):
    file = forms.FileField(
        label="Pool CSV",
        error_messages={"required": "Choose the CSV file to check."},
    )
    token = forms.RegexField(regex=IMPORT_TOKEN_RE, widget=forms.HiddenInput)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise ValidationError(
                f"The file is {upload.size // 1_000_000} MB; the limit is "
                f"{MAX_IMPORT_BYTES // 1_000_000} MB. Split it and import the parts."
            )
        return upload


class PoolImportCommitForm(forms.Form):
    token = forms.RegexField(regex=IMPORT_TOKEN_RE)


MAX_IMPORT_BYTES = 100_000_000


class SearchForm(forms.Form):
    q = forms.CharField(max_length=200, required=False, strip=True)


class SupplyPageForm(QueuePageForm):
    """The supply and demand table: a page of verticals, or one vertical in full."""

    vertical = forms.CharField(max_length=64, required=False, label="Vertical")

    def vertical_name(self) -> str:
        self.is_valid()  # a bad page number leaves a good vertical in cleaned_data
        return normalize_vertical(self.cleaned_data.get("vertical") or "")
