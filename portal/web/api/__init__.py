"""Other systems' API: partner instances deliver signed bundles and statuses; SMS gateways
deliver workers' texts."""

from . import sms
from .bundles import make_blueprint

__all__ = ["make_blueprint", "sms"]
