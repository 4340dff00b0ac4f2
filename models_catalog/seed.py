"""Demo catalog for seed_demo: a dozen global models across providers and categories."""

from decimal import Decimal as D

from models_catalog.models import AIModel

# slug, display name, provider, category, input / output credits per 1k tokens, context, status
DEMO_MODELS = [
    ("gpt-4o", "GPT-4o", "openai", "chat", D("0.0025"), D("0.01"), 128_000, "active"),
    ("gpt-4o-mini", "GPT-4o mini", "openai", "chat", D("0.00015"), D("0.0006"), 128_000, "active"),
    ("text-embedding-3-small", "Text Embedding 3 Small", "openai", "embedding", D("0.00002"), D("0"), 8_191, "active"),
    ("omni-moderation", "Omni Moderation", "openai", "moderation", D("0"), D("0"), 32_768, "active"),
    ("claude-3.5-sonnet", "Claude 3.5 Sonnet", "anthropic", "chat", D("0.003"), D("0.015"), 200_000, "active"),
    ("claude-3.5-haiku", "Claude 3.5 Haiku", "anthropic", "chat", D("0.0008"), D("0.004"), 200_000, "active"),
    ("claude-3-opus", "Claude 3 Opus", "anthropic", "chat", D("0.015"), D("0.075"), 200_000, "deprecated"),
    ("gemini-1.5-pro", "Gemini 1.5 Pro", "google", "chat", D("0.00125"), D("0.005"), 2_000_000, "active"),
    ("gemini-1.5-flash", "Gemini 1.5 Flash", "google", "chat", D("0.000075"), D("0.0003"), 1_000_000, "active"),
    ("llama-3.1-70b-instruct", "Llama 3.1 70B Instruct", "meta", "chat", D("0.00088"), D("0.00088"), 128_000, "active"),
    ("mistral-large", "Mistral Large", "mistral", "chat", D("0.002"), D("0.006"), 128_000, "active"),
    ("codestral", "Codestral", "mistral", "code", D("0.0003"), D("0.0009"), 32_000, "active"),
    ("embed-english-v3", "Embed English v3", "cohere", "embedding", D("0.0001"), D("0"), 512, "active"),
    ("stable-diffusion-xl", "Stable Diffusion XL", "stability", "image", D("0.002"), D("0"), 77, "active"),
    ("whisper-1", "Whisper", "openai", "audio", D("0.006"), D("0"), 448, "active"),
]


def catalog_seed() -> int:
    """Create the demo models where missing (operators' edits are kept). Returns how many exist."""
    for slug, name, provider, category, input_cost, output_cost, context, status in DEMO_MODELS:
        AIModel.all_tenants.get_or_create(
            tenant=None, slug=slug,
            defaults={
                "display_name": name, "provider": provider, "category": category, "status": status,
                "input_cost_per_1k": input_cost, "output_cost_per_1k": output_cost,
                "context_window": context,
            },
        )
    return AIModel.all_tenants.filter(tenant__isnull=True).count()
