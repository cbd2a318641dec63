"""Training of the project's own forgery detector (needs the ``[train]`` extra: torch, onnx).

Nothing here is imported by the runtime path: ``facetrust.forensics.sbi`` runs the
exported ONNX file with onnxruntime.
"""
