"""Demo configuration for seed_demo."""

from configuration.models import ConfigEntry

DEMO_ENTRIES = [
    # key, type, value, overridable, constraints, description
    ("chat.default_model", "string", "gpt-4o-mini", True, {"max_length": 100}, "Model used when a request names none."),
    ("chat.max_tokens", "integer", 4096, True, {"min_value": 1, "max_value": 32768}, "Upper bound on output tokens per call."),
    ("chat.temperature", "number", 0.7, True, {"min_value": 0, "max_value": 2}, "Default sampling temperature."),
    ("ui.theme", "string", "system", True, {"choices": ["light", "dark", "system"]}, "Dashboard theme."),
    ("features.streaming", "boolean", True, True, {}, "Stream responses token by token."),
    ("moderation.enabled", "boolean", True, False, {}, "Moderate prompts and outputs (platform policy)."),
    ("retention.days", "integer", 30, False, {"min_value": 1, "max_value": 365}, "Days request logs are kept."),
    (
        "webhooks.retry_policy", "json", {"max_attempts": 5, "backoff_seconds": 30}, True,
        {
            "json_schema": {
                "type": "object",
                "properties": {
                    "max_attempts": {"type": "integer", "minimum": 0, "maximum": 20},
                    "backoff_seconds": {"type": "integer", "minimum": 1, "maximum": 3600},
                },
                "required": ["max_attempts", "backoff_seconds"],
                "additionalProperties": False,
            }
        },
        "How failed webhook deliveries are retried.",
    ),
]


def config_seed() -> int:
    """Create the demo entries where missing (operators' edits are kept). Returns how many exist."""
    for key, value_type, value, overridable, constraints, description in DEMO_ENTRIES:
        if ConfigEntry.objects.filter(key=key).exists():
            continue
        entry = ConfigEntry(
            key=key, value_type=value_type, value=value, is_overridable=overridable,
            description=description, **constraints,
        )
        entry.full_clean()
        entry.save()
    return ConfigEntry.objects.count()
