"""The model zoo: a manifest of every model file with source, sha256 and licence."""
from facetrust.zoo.manifest import ModelFile, ModelSpec, get_model, list_models
from facetrust.zoo.store import fetch_model, model_file, verify_model

__all__ = ["ModelFile", "ModelSpec", "fetch_model", "get_model", "list_models", "model_file", "verify_model"]
