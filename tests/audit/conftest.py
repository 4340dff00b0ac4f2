"""The audit tests charge usage like the billing tests do."""

from tests.billing.conftest import priced_model  # noqa: F401  (a fixture)
