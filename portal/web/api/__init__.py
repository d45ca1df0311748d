"""The instance-to-instance API: partners deliver signed bundles and statuses."""

from .bundles import make_blueprint

__all__ = ["make_blueprint"]
