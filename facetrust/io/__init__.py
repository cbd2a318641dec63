"""Turning user inputs (paths, bytes, arrays, PIL images, videos) into RGB uint8 arrays."""
from facetrust.io.image import DEFAULT_MAX_PIXELS, ImageSource, default_max_pixels, load_image
from facetrust.io.sources import IMAGE_SUFFIXES, VIDEO_SUFFIXES, expand_inputs, is_video

__all__ = ["DEFAULT_MAX_PIXELS", "IMAGE_SUFFIXES", "ImageSource", "VIDEO_SUFFIXES", "default_max_pixels", "expand_inputs", "is_video", "load_image"]
