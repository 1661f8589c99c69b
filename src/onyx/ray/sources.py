"""``onyx batch``'s INPUT as a Ray Dataset: Parquet or CSV files, or a folder of images.

Every row gets a ``row`` column: its position in the input (files in name order, then rows
in file order), so that output rows can be matched to input rows and skipped batches named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet
import ray
import ray.data

from onyx.errors import InvalidArgument, NoSuchFile
from onyx.session import NodeArg
from onyx.tools.images import ImageOptions, is_image_file, load_image

ROW = "row"
TABLE_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def input_files(path: str) -> tuple[str, list[str]]:
    """('parquet' | 'csv' | 'images', the files in name order) for a file or a folder."""
    root = Path(path).resolve()  # the workers' current folders are not this process's
    if not root.exists():
        raise NoSuchFile(f"input '{path}' does not exist")
    files = [root] if root.is_file() else sorted(p for p in root.iterdir() if p.is_file()
                                                 and not p.name.startswith((".", "_")))
    kinds = {TABLE_SUFFIXES.get(p.suffix.lower()) or ("images" if is_image_file(p.name) else None)
             for p in files}
    if not files or len(kinds) != 1 or None in kinds:
        found = sorted({p.suffix or p.name for p in files})
        raise InvalidArgument(f"input '{path}' must be a Parquet or CSV file, or a folder of Parquet files, "
                              f"of CSV files or of images (found {found or 'nothing'})")
    return kinds.pop(), [str(p) for p in files]


def read_input(path: str, image_input: NodeArg | None, image_options: ImageOptions) -> ray.data.Dataset:
    """The rows of INPUT with a ``row`` column; images become ``image_input``'s tensor column."""
    kind, files = input_files(path)
    if kind == "images":
        if image_input is None:
            raise InvalidArgument("a folder of images needs a model with one image input")
        items = ray.data.from_items([{ROW: i, "path": f} for i, f in enumerate(files)])
        return items.map_batches(_load_images, fn_kwargs={"arg": image_input, "options": image_options},
                                 batch_format="numpy")
    if kind == "parquet":
        data = ray.data.read_parquet(files)
        rows = sum(pyarrow.parquet.ParquetFile(f).metadata.num_rows for f in files)  # footers only
    else:
        data = ray.data.read_csv(files)
        rows = data.count()
    if ROW in data.columns():
        raise InvalidArgument(f"input '{path}' has a column '{ROW}', the name onyx batch gives row numbers")
    # rows pair up by position (run_batch keeps blocks in order); Dataset.zip is deprecated from
    # Ray 2.60 on and goes in 2.64: the [ray] extra pins 2.60
    return data.zip(ray.data.range(rows).rename_columns({"id": ROW}))


def _load_images(batch: dict[str, Any], arg: NodeArg, options: ImageOptions) -> dict[str, Any]:
    from onyx.model.types import np_dtype_from_type_string

    dtype = np_dtype_from_type_string(arg.type)
    images = [load_image(str(p), arg.name, list(arg.shape), dtype, options) for p in batch["path"]]
    return {**batch, arg.name: np.concatenate(images)}
