"""The help desk's forms: what a visitor may POST, bounded by the model's own fields."""

from __future__ import annotations

from django import forms

from help_desk.models import OfflineMessage, Rating


class FirstProblem:
    """Says a refused form's first error as the page shows it: `field: message`."""

    errors: forms.utils.ErrorDict
    fields: dict[str, forms.Field]

    def problem(self) -> str:
        field, errors = next(iter(self.errors.items()))
        return f"{self.fields[field].label}: {errors[0]}" if field in self.fields else str(errors[0])


class OfflineMessageForm(FirstProblem, forms.ModelForm[OfflineMessage]):
    """Left when nobody is on duty. Django's fields refuse NUL characters and over-long text."""

    class Meta:
        model = OfflineMessage
        fields = ["name", "email", "message"]


SCORES = [(5, "5 · excellent"), (4, "4 · good"), (3, "3 · fair"), (2, "2 · poor"), (1, "1 · very poor")]


class RatingForm(FirstProblem, forms.ModelForm[Rating]):
    """How the customer rates her conversation once it ended; the comment is optional."""

    score = forms.TypedChoiceField(choices=SCORES, coerce=int, widget=forms.RadioSelect, label="Your rating")

    class Meta:
        model = Rating
        fields = ["score", "comment"]
        labels = {"comment": "Comment (optional)"}
        widgets = {"comment": forms.Textarea(attrs={"rows": 2})}


class TranscriptForm(FirstProblem, forms.Form):
    email = forms.EmailField(label="Your e-mail address", max_length=254)
