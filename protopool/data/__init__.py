"""Datasets: CUB-200-2011, Stanford Cars, labelled image folders and the SynthBirds generator.

Every loader returns a :class:`DatasetIndex`; :func:`open_dataset` picks the loader from what
it finds on disk.
"""

from protopool.data.base import (
    BBox,
    DatasetError,
    DatasetIndex,
    ImageDataset,
    PartLocation,
    Sample,
    load_rgb,
    split_validation,
)
from protopool.data.cars import load_stanford_cars
from protopool.data.crop import bbox_crop_box, crop_sample_to_bbox, load_cropped
from protopool.data.cub import display_name, load_cub
from protopool.data.cub_attributes import CubAnnotations, load_cub_annotations
from protopool.data.detect import detect_format, open_dataset
from protopool.data.folder import load_image_folder
from protopool.data.summary import ImageProblem, summarize, verify_images
from protopool.data.synth import generate_synthbirds

__all__ = [
    "BBox",
    "CubAnnotations",
    "DatasetError",
    "DatasetIndex",
    "ImageDataset",
    "ImageProblem",
    "PartLocation",
    "Sample",
    "bbox_crop_box",
    "crop_sample_to_bbox",
    "detect_format",
    "display_name",
    "generate_synthbirds",
    "load_cropped",
    "load_cub",
    "load_cub_annotations",
    "load_image_folder",
    "load_rgb",
    "load_stanford_cars",
    "open_dataset",
    "split_validation",
    "summarize",
    "verify_images",
]
