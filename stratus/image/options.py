"""The ``[image]`` options."""

from __future__ import annotations

from stratus.runtime.config import Opt, register
from stratus.runtime.identity_client import register_service_credentials

register(
    "image",
    Opt("port", 9292, "Port of the image API (Glance v2).", int),
    Opt("store_dir", "{data_dir}/images", "Directory that holds the image data files."),
    Opt(
        "image_size_cap",
        1024**4,
        "Largest image data, in bytes, an upload may store (larger uploads get a 413).",
        int,
    ),
    Opt("limit_param_default", 25, "Images per page when a list request gives no limit.", int),
    Opt("api_limit_max", 1000, "Most images one page may hold, whatever limit is asked.", int),
)
register_service_credentials("image", "glance")
