"""The image path: fetch a job's image safely, decode it once, keep it for the job's later steps.

``image`` (Image, ImageFetcher, decode_image), ``netguard`` (which addresses a fetch may reach),
``check`` (is an upload an image), ``working_copy``, ``cache`` and ``job_images`` (one decode per job).
Classifiers import ``Image`` from here.
"""

from pipeline.images.image import Image, ImageFetcher, OwnBlobs, decode_image

__all__ = ["Image", "ImageFetcher", "OwnBlobs", "decode_image"]
