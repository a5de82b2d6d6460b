"""Builders of test media from scikit-image's CC0 photos; no media is committed.

``make_clip`` encodes a short H.264 clip whose frame ``i`` carries a marker
square of brightness ``MARKER_STEP * i`` (mod 256) in its top-left corner, so a test
can read back which source frame a decoded frame came from.

``write_microlens`` writes a small MicroLens-layout dataset:

- item 101: cat clip (12 frames) and cat cover
- item 102: coffee clip (12 frames) and coffee cover
- item 103: camera clip with only 3 frames and camera cover
- item 104: corrupt video (random bytes) and coffee cover
- item 105: video file missing, cat cover present
- item 106: video and cover both missing
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MARKER_STEP = 8
MARKER_SIZE = 16
CLIP_SIZE = (160, 128)

# item id -> (photo for the clip or None, clip frames, photo for the cover or None, corrupt video)
MICROLENS_ITEMS = {
    "101": ("chelsea", 12, "chelsea", False),
    "102": ("coffee", 12, "coffee", False),
    "103": ("camera", 3, "camera", False),
    "104": (None, 0, "coffee", True),
    "105": (None, 0, "chelsea", False),
    "106": (None, 0, None, False),
}

# (user, item, timestamp); every user has at least 3 interactions so leave-one-out gives valid and test.
MICROLENS_PAIRS = [
    ("u1", "101", 10), ("u1", "102", 20), ("u1", "103", 30), ("u1", "104", 40),
    ("u2", "102", 11), ("u2", "103", 21), ("u2", "105", 31), ("u2", "101", 41),
    ("u3", "101", 12), ("u3", "105", 22), ("u3", "106", 32), ("u3", "102", 42),
    ("u4", "103", 13), ("u4", "104", 23), ("u4", "101", 33),
    ("u5", "104", 14), ("u5", "106", 24), ("u5", "102", 34), ("u5", "103", 44),
    ("u6", "105", 15), ("u6", "101", 25), ("u6", "104", 35),
]

MICROLENS_TITLES = {
    "101": "A tabby cat looks at the camera",
    "102": "Espresso, served in a white cup",
    "103": "A photographer with a camera",
    "104": "Coffee again",
    "105": "Cat close-up",
    "106": "Nothing to see",
}


def photo(name: str) -> np.ndarray:
    """Return a scikit-image sample photo as an RGB uint8 array."""
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def make_clip(path: Path, image: np.ndarray, frames: int, size: tuple[int, int] = CLIP_SIZE, rate: int = 10) -> Path:
    """Encode ``frames`` frames of ``image`` (resized to ``size``) with a brightness marker per frame."""
    import av
    from PIL import Image

    width, height = size
    base = np.asarray(Image.fromarray(image).resize((width, height)))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": "4", "crf": "18"}
        for index in range(frames):
            frame = np.roll(base, 3 * index, axis=1).copy()
            frame[:MARKER_SIZE, :MARKER_SIZE] = (MARKER_STEP * index) % 256
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def marker_index(frame) -> int:
    """Return the source frame index encoded in a decoded frame's marker square."""
    pixels = np.asarray(frame)[2 : MARKER_SIZE - 2, 2 : MARKER_SIZE - 2]
    return int(round(float(pixels.mean()) / MARKER_STEP))


def save_cover(path: Path, image: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(image).save(path, quality=92)
    return path


def write_corrupt(path: Path) -> Path:
    """Write bytes that no decoder accepts, with a video extension."""
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path


def write_microlens(directory: Path, variant: str = "100k") -> Path:
    """Write the MicroLens-layout fixture described in this module's docstring into ``directory``."""
    prefix = f"MicroLens-{variant}"
    covers, videos = directory / "covers", directory / "videos"
    covers.mkdir(parents=True)
    videos.mkdir()
    for item, (clip_photo, frames, cover_photo, corrupt) in MICROLENS_ITEMS.items():
        if clip_photo is not None:
            make_clip(videos / f"{item}.mp4", photo(clip_photo), frames)
        if corrupt:
            write_corrupt(videos / f"{item}.mp4")
        if cover_photo is not None:
            save_cover(covers / f"{item}.jpg", photo(cover_photo))
    pairs = "".join(f"{user},{item},{stamp}\n" for user, item, stamp in MICROLENS_PAIRS)
    (directory / f"{prefix}_pairs.csv").write_text("user,item,timestamp\n" + pairs, encoding="utf-8")
    titles = "".join(f"{item},{title}\n" for item, title in MICROLENS_TITLES.items())
    (directory / f"{prefix}_title_en.csv").write_text(titles, encoding="utf-8")
    comments = "u1\t101\tlovely cat\nu2\t101\tso fluffy\nu3\t102\tgood coffee\n"
    (directory / f"{prefix}_comment_en.txt").write_text(comments, encoding="utf-8")
    return directory
