"""Translations: languages, and texts by key; a bundle falls back to the default language per key."""

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from radiant.invalidation import InvalidatingQuerySet

# Lower-case BCP 47 style: "en", "de", "pt-br", "zh-hant".
language_code_validator = RegexValidator(
    r"\A[a-z]{2,3}(-[a-z0-9]{2,8}){0,2}\Z", "Use a lower-case language code such as en, de or pt-br."
)
translation_key_validator = RegexValidator(
    r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,199}\Z",
    "Use letters, digits, dots, dashes and underscores, e.g. checkout.pay_button.",
)


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Language(TimeStamped):
    code = models.CharField(max_length=20, unique=True, validators=[language_code_validator])
    name = models.CharField(max_length=100)
    is_default = models.BooleanField(
        default=False, help_text="Keys missing in another language fall back to this one. At most one."
    )

    objects = InvalidatingQuerySet.as_manager()

    web_privileges = "SELECT"

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_language"),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Translation(TimeStamped):
    language = models.ForeignKey(Language, on_delete=models.CASCADE, related_name="translations")
    key = models.CharField(max_length=200, validators=[translation_key_validator])
    text = models.TextField()

    objects = InvalidatingQuerySet.as_manager()

    web_privileges = "SELECT"

    class Meta:
        ordering = ["language", "key"]
        constraints = [
            models.UniqueConstraint(fields=["language", "key"], name="translation_unique_key"),
        ]

    def __str__(self):
        return f"{self.language_id}:{self.key}"
