"""Pages as images, for OCR: image attachments decoded with Pillow, PDF pages rendered by PDFium.

Both are bounded before any pixel is decoded. An image file's header gives its size; past
``limits.max_image_pixels`` it is refused (a decompression bomb: a few KB of PNG or GIF can
claim gigapixels), and Pillow's own ``MAX_IMAGE_PIXELS`` is set to the same cap as a second
guard. A PDF page's size in points gives the pixels it will render to; the resolution is
lowered to fit the cap. Large images are decoded at a reduced scale where the format allows it
(JPEG) and shrunk to about 300 dpi on an A4 page: finer does not read better and costs more.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from govmilter.document.budget import Unscannable

if TYPE_CHECKING:
    from PIL import Image

#: Resolution PDF pages are rendered at: 12-point text is then about 25 pixels high, where
#: Tesseract reads best; scanners deliver 150-300 dpi.
RENDER_DPI = 200
#: An image's longer side is brought down to this many pixels (A4 at 300 dpi) before OCR.
MAX_SIDE = 3508
#: An A4 page's longer side in inches, to guess the resolution of an image without one.
_A4_LONG_INCHES = 11.69

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "PNG"),
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"GIF87a", 0, "GIF"),
    (b"GIF89a", 0, "GIF"),
    (b"WEBP", 8, "WEBP"),
)
#: The sizes of a BMP's info header (bytes 14-17): "BM" alone would take any text beginning
#: with those two letters for an image.
_BMP_HEADER_SIZES = (12, 40, 52, 56, 64, 108, 124)
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif")


def image_format(data: bytes) -> str | None:
    """The image format the bytes start with (PNG, JPEG, TIFF, GIF, BMP, WEBP, HEIF), or None."""
    for magic, offset, name in _MAGIC:
        if data[offset:offset + len(magic)] == magic and (name != "WEBP" or data[:4] == b"RIFF"):
            return name
    if data[:2] == b"BM" and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


@dataclass(frozen=True, slots=True)
class PageImage:
    """One page to read: a greyscale-or-colour image and its resolution in dots per inch."""

    image: Image.Image
    dpi: int


def _dpi_of(image: Image.Image) -> int:
    """The resolution the file declares when plausible, else a guess from an A4 page's size."""
    declared = image.info.get("dpi")
    if isinstance(declared, tuple) and declared and 100 <= float(declared[0]) <= 1200:
        return round(float(declared[0]))
    return max(70, min(600, round(max(image.size) / _A4_LONG_INCHES)))


def _check_pixels(width: int, height: int, cap: int) -> None:
    if width * height > cap:
        raise Unscannable(f"image of {width}x{height} pixels is larger than "
                          f"limits.max_image_pixels ({cap})")


def _register_heif() -> None:
    """Teach Pillow HEIC/HEIF (iPhone photos) through pillow-heif (the ``ocr`` extra).

    :raises Unscannable: pillow-heif is not installed.
    """
    try:
        import pillow_heif
    except ImportError as exc:
        raise Unscannable("HEIC/HEIF image: no decoder installed (pillow-heif); not read") \
            from exc
    pillow_heif.register_heif_opener()


def image_frames(data: bytes, max_pixels: int) -> tuple[int, Callable[[int], PageImage]]:
    """The number of frames (TIFF pages, GIF frames) and a function decoding one of them.

    Each frame's size is checked against ``max_pixels`` before it is decoded.

    :raises Unscannable: not an image Pillow can open, too many pixels, or a format without a
        decoder here (HEIC).
    """
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own guard: past twice this it refuses
    if image_format(data) == "HEIF":
        _register_heif()
    try:
        with warnings.catch_warnings():  # past the cap: refused below, with the size
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        _check_pixels(*image.size, max_pixels)
        count = max(int(getattr(image, "n_frames", 1)), 1)
    except Image.DecompressionBombError as exc:
        raise Unscannable(f"image larger than limits.max_image_pixels ({max_pixels})") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise Unscannable("image could not be read (damaged or unknown format)") from exc

    def frame(index: int) -> PageImage:
        try:
            image.seek(index)
            _check_pixels(*image.size, max_pixels)
            return _prepared(image)
        except Image.DecompressionBombError as exc:
            raise Unscannable(f"image frame larger than limits.max_image_pixels "
                              f"({max_pixels})") from exc
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise Unscannable(f"image frame {index + 1} could not be decoded") from exc

    return count, frame


def _prepared(image: Image.Image) -> PageImage:
    """Decode one frame (reduced while decoding where the format allows) at most MAX_SIDE."""
    from PIL import Image as PILImage

    dpi = _dpi_of(image)
    longest = max(image.size)
    if image.format == "JPEG" and longest > MAX_SIDE:
        image.draft("RGB", (image.size[0] * MAX_SIDE // longest,
                            image.size[1] * MAX_SIDE // longest))
    frame = image.convert("RGB")
    if max(frame.size) > MAX_SIDE:
        scale = MAX_SIDE / max(frame.size)
        frame = frame.resize((max(1, round(frame.size[0] * scale)),
                              max(1, round(frame.size[1] * scale))),
                             PILImage.Resampling.LANCZOS)
        dpi = max(70, round(dpi * scale))
    elif max(frame.size) < longest:  # reduced by draft()
        dpi = max(70, round(dpi * max(frame.size) / longest))
    return PageImage(frame, dpi)


def render_dpi(width_points: float, height_points: float, max_pixels: int,
               dpi: int = RENDER_DPI) -> int:
    """The resolution to render a page of this size at: ``dpi``, lowered to fit ``max_pixels``."""
    area = max(width_points, 1.0) * max(height_points, 1.0) / 72 / 72  # square inches
    fitting = math.floor(math.sqrt(max_pixels / area))
    return max(1, min(dpi, fitting))
