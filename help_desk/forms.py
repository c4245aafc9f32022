"""The help desk's forms: what a visitor may POST, bounded by the model's own fields."""

from __future__ import annotations

from django import forms

from help_desk.models import OfflineMessage


class OfflineMessageForm(forms.ModelForm[OfflineMessage]):
    """Left when nobody is on duty. Django's fields refuse NUL characters and over-long text."""

    class Meta:
        model = OfflineMessage
        fields = ["name", "email", "message"]

    def problem(self) -> str:
        """The first error, as the page shows it: `field: message`."""
        field, errors = next(iter(self.errors.items()))
        return f"{self.fields[field].label}: {errors[0]}" if field in self.fields else str(errors[0])
