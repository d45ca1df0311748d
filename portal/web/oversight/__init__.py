"""The contracting authority's and the administrators' oversight pages."""

from .pages import make_blueprint

__all__ = ["make_blueprint"]
