"""Model providers as data: who serves each catalog model, how to reach them, what to try
when they fail (DESIGN.md §12).

A ``Provider`` is an upstream API (an OpenAI-compatible server, Anthropic's messages API,
or the built-in ``echo``) with its base URL, where its key comes from, its timeouts, retry
budget and circuit-breaker settings. A ``ModelRoute`` links one catalog model to the
provider that serves it (and the provider's name for it). ``ModelFallback`` rows are the
operator's ordered list of other catalog models to try when a model's provider fails.

All three are global reference data, edited by operators: the tenant API may read them
and nothing else. No secret is stored here, only a reference to one.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from radiant.models import TimeStamped

# env:NAME, or aws-secretsmanager:SECRET-ID with an optional #json-field.
credential_validator = RegexValidator(
    r"\A(env:[A-Za-z_][A-Za-z0-9_]{0,127}|aws-secretsmanager:[A-Za-z0-9/_+=.@:-]{1,2048}(#[A-Za-z0-9_.-]{1,128})?)\Z",
    "Use env:VARIABLE_NAME or aws-secretsmanager:SECRET-ID (optionally #json-field), or leave it empty.",
)

MAX_TIMEOUT_SECONDS = 900  # a Lambda function's own limit
MAX_RETRIES = 5


class Provider(TimeStamped):
    """An upstream model API and how the gateway treats it."""

    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible HTTP API (OpenAI, vLLM, Ollama, OpenRouter, ...)"
        ANTHROPIC = "anthropic", "Anthropic messages API"
        ECHO = "echo", "Built-in echo (deterministic, no network, no key)"

    slug = models.SlugField(max_length=50, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    base_url = models.URLField(
        max_length=500, blank=True,
        help_text="e.g. https://api.openai.com/v1 or http://localhost:11434/v1; not used by echo.",
    )
    credential = models.CharField(
        max_length=2200, blank=True, validators=[credential_validator],
        help_text="Where the API key is read: env:OPENAI_API_KEY, or aws-secretsmanager:prod/openai#api_key. "
        "Empty: no key (a local server). The key itself is never stored.",
    )
    timeout_seconds = models.DecimalField(
        max_digits=6, decimal_places=2, default=Decimal("60"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(MAX_TIMEOUT_SECONDS)],
        help_text="How long the provider may stay silent (before its answer, or between two streamed chunks).",
    )
    connect_timeout_seconds = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("5"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(60)],
    )
    max_retries = models.PositiveSmallIntegerField(
        default=2, validators=[MaxValueValidator(MAX_RETRIES)],
        help_text="Retries after a 429, a 5xx or a refused connection, with jittered backoff.",
    )
    breaker_threshold = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Consecutive failed calls (per model) that open the circuit breaker.",
    )
    breaker_cooldown_seconds = models.DecimalField(
        max_digits=7, decimal_places=2, default=Decimal("30"),
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(3600)],
        help_text="How long an open breaker refuses calls before one probe may try again.",
    )
    is_enabled = models.BooleanField(default=True, help_text="Off: its models answer upstream_unavailable.")

    web_privileges = "SELECT"

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(condition=Q(timeout_seconds__gt=0), name="provider_timeout_positive"),
            models.CheckConstraint(condition=Q(connect_timeout_seconds__gt=0), name="provider_connect_timeout_positive"),
            models.CheckConstraint(condition=Q(max_retries__lte=MAX_RETRIES), name="provider_retries_bounded"),
            models.CheckConstraint(condition=Q(breaker_threshold__gte=1), name="provider_breaker_threshold_positive"),
            models.CheckConstraint(
                condition=Q(kind="echo") | ~Q(base_url=""), name="provider_base_url_unless_echo",
            ),
        ]

    def __str__(self):
        return f"{self.slug} ({self.kind})"

    def clean(self):
        if self.kind != self.Kind.ECHO and not self.base_url:
            raise ValidationError({"base_url": "Required for every provider but echo."})


class ModelRoute(TimeStamped):
    """Which provider serves a catalog model, under which name."""

    model = models.OneToOneField("models_catalog.AIModel", on_delete=models.CASCADE, related_name="route")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="routes")
    upstream_model = models.CharField(
        max_length=200, blank=True,
        help_text="The provider's name for the model (e.g. gpt-4o-2024-08-06); empty: the catalog slug.",
    )
    max_output_tokens = models.PositiveIntegerField(
        default=4096, validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text="Output tokens a call may ask for at most; a call that names no limit is held and sent with this one.",
    )

    web_privileges = "SELECT"

    class Meta:
        ordering = ["model__slug"]
        constraints = [
            models.CheckConstraint(condition=Q(max_output_tokens__gte=1), name="model_route_max_output_positive"),
        ]

    def __str__(self):
        return f"{self.model_id} → {self.provider_id}"

    @property
    def upstream_name(self) -> str:
        return self.upstream_model or self.model.slug


class ModelFallback(models.Model):
    """One entry of a model's ordered fallbacks: when the model's provider fails (breaker
    open, errors through the retries, a timeout), the next usable fallback is called."""

    route = models.ForeignKey(ModelRoute, on_delete=models.CASCADE, related_name="fallbacks")
    fallback = models.ForeignKey("models_catalog.AIModel", on_delete=models.CASCADE, related_name="fallback_for")
    position = models.PositiveSmallIntegerField(default=1, help_text="Tried in ascending order.")

    web_privileges = "SELECT"

    class Meta:
        ordering = ["route", "position"]
        constraints = [
            models.UniqueConstraint(fields=["route", "position"], name="model_fallback_position_unique"),
            models.UniqueConstraint(fields=["route", "fallback"], name="model_fallback_once"),
        ]

    def __str__(self):
        return f"{self.position}. {self.fallback_id}"

    def clean(self):
        if self.route_id and self.fallback_id and self.route.model_id == self.fallback_id:
            raise ValidationError({"fallback": "A model cannot fall back to itself."})
