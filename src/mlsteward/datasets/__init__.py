"""Bundled example data with provenance and licence."""

from mlsteward.datasets._loaders import data_path, load_acs_employment, load_adult, provenance

__all__ = ["data_path", "load_acs_employment", "load_adult", "provenance"]
