"""Scans and photos of documents, made the way a scanner or a phone makes them, for OCR tests.

A page is laid out in DejaVu Sans (a Vietnamese-capable font, Debian ``fonts-dejavu-core``) at
A4 size and the wanted resolution, with an optional boxed red secrecy stamp ("MẬT", "TỐI MẬT")
under the number line and a red round seal over the signer; then it is degraded: a grey or
tinted paper background, a small rotation, noise, JPEG compression; a "photo" adds perspective
and uneven light. Deterministic for a given seed. Needs Pillow (a dependency of fpdf2 and of
govmilter) and the DejaVu fonts.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
A4_INCHES = (8.27, 11.69)


@dataclass(frozen=True)
class Letter:
    """What a scanned page shows: header columns, a stamp, and the lines of the text."""

    header: tuple[tuple[str, str], ...]
    lines: tuple[str, ...]
    stamp: str | None = None  #: secrecy stamp ("MẬT", "TỐI MẬT"), boxed red, under the number
    seal: bool = True  #: a red round seal over the signer's name


#: Running text of a letter's body, wrapped to the page's width (about 75 characters a line).
BODY = (
    "Thực hiện Chỉ thị số 34/2008/CT-TTg của Thủ tướng Chính phủ về việc tăng",
    "cường sử dụng hệ thống thư điện tử trong hoạt động của cơ quan nhà nước,",
    "Ủy ban nhân dân tỉnh đề nghị các cơ quan, đơn vị quán triệt đến toàn thể cán",
    "bộ, công chức chỉ sử dụng hộp thư công vụ để trao đổi văn bản, tài liệu.",
    "Các đơn vị tổng hợp tình hình, báo cáo kết quả thực hiện về Văn phòng trước",
    "ngày 30 hằng tháng để tổng hợp, báo cáo cấp có thẩm quyền. Trong quá trình",
    "thực hiện, nếu có khó khăn, vướng mắc, đề nghị phản ánh kịp thời để được",
    "hướng dẫn, giải quyết. Giao Sở Thông tin và Truyền thông chủ trì, phối hợp",
    "với các sở, ban, ngành hướng dẫn, kiểm tra, đôn đốc việc thực hiện.",
)


def official_letter(stamp: str | None = None, number: str = "125/UBND-VP",
                    agency: tuple[str, str] = ("ỦY BAN NHÂN DÂN", "TỈNH QUẢNG NGÃI"),
                    signer: str = "Nguyễn Văn Hùng", pages: int = 1,
                    body: int = 1) -> list[Letter]:
    """A công văn of a people's committee as in Decree 30/2020's model, page by page.

    ``body``: how many times the body paragraph stands on each page (3 fills an A4 page);
    the first page has the heading, number, date and stamp, the last the closing block.
    """
    header = ((agency[0], "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
              (agency[1], "Độc lập - Tự do - Hạnh phúc"),
              (f"Số: {number}", "Quảng Ngãi, ngày 12 tháng 3 năm 2024"),
              ("V/v triển khai chuyển đổi số", ""))
    closing = ("Trân trọng./.",
               "Nơi nhận:                                   TM. ỦY BAN NHÂN DÂN",
               "- Như trên;                                          CHỦ TỊCH",
               "- Lưu: VT, VP.",
               "",
               f"                                               {signer}")
    letters = []
    for page in range(pages):
        lines: tuple[str, ...] = BODY * body
        if page == 0:
            lines = ("Kính gửi: Các sở, ban, ngành thuộc tỉnh", *lines)
        if page == pages - 1:
            lines = (*lines, *closing)
        letters.append(Letter(header if page == 0 else (), lines,
                              stamp if page == 0 else None, seal=page == pages - 1))
    return letters


def render_page(letter: Letter, dpi: int = 200, background: tuple[int, int, int] = (255,) * 3
                ) -> Image.Image:
    """The page as the paper looks: RGB at ``dpi``, text in black, stamp and seal in red."""
    width, height = (round(side * dpi) for side in A4_INCHES)
    page = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(page)
    size = round(12 / 72 * dpi)  # 12 pt
    font = ImageFont.truetype(str(FONT), size)
    bold = ImageFont.truetype(str(BOLD), size)
    left, right, y = round(0.8 * dpi), round(3.9 * dpi), round(0.8 * dpi)
    line = round(size * 1.5)
    for row, (column1, column2) in enumerate(letter.header):
        face = bold if row < 2 else font
        draw.text((left, y), column1, fill=(0, 0, 0), font=face)
        draw.text((right, y), column2, fill=(0, 0, 0), font=face)
        y += line
        if row == 2 and letter.stamp:
            y += line // 2
            stamp_font = ImageFont.truetype(str(BOLD), round(size * 1.3))
            box = draw.textbbox((left + size, y), letter.stamp, font=stamp_font)
            pad = size // 2
            draw.rectangle((box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad),
                           outline=(200, 20, 30), width=max(2, dpi // 60))
            draw.text((left + size, y), letter.stamp, fill=(200, 20, 30), font=stamp_font)
            y += line * 2
    y += line
    signer_at = (0, 0)
    for text in letter.lines:
        draw.text((left, y), text, fill=(0, 0, 0), font=font)
        if text.strip() and text.startswith("   "):
            signer_at = (left + round(4.2 * dpi), y)
        y += line
    if letter.seal and signer_at != (0, 0):
        radius = round(0.6 * dpi)
        cx, cy = signer_at[0] - radius // 3, signer_at[1] - line * 2
        seal = Image.new("RGBA", page.size, (0, 0, 0, 0))
        ring = ImageDraw.Draw(seal)
        for r, w in ((radius, dpi // 40), (radius * 2 // 3, dpi // 80)):
            ring.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(210, 30, 40, 170), width=w)
        ring.regular_polygon((cx, cy, radius // 4), 5, fill=(210, 30, 40, 170))
        page = Image.alpha_composite(page.convert("RGBA"), seal).convert("RGB")
    return page


def degrade(page: Image.Image, seed: int, angle: float = 1.0, noise: float = 12.0,
            quality: int = 60, paper: int = 235) -> Image.Image:
    """What a scanner does to the page: grey paper, rotation, noise, JPEG artefacts."""
    rng = random.Random(seed)
    grey = Image.new("RGB", page.size, (paper, paper, paper - 5))
    page = Image.composite(page, grey, page.convert("L").point(lambda v: 255 if v < 250 else 0))
    page = page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True,
                       fillcolor=(paper, paper, paper - 5))
    speckle = Image.effect_noise(page.size, noise).convert("RGB")
    page = Image.blend(page, speckle, 0.08)
    if rng.random() < 0.5:
        page = page.filter(ImageFilter.GaussianBlur(0.4))
    return jpeg_round_trip(page, quality)


def photograph(page: Image.Image, seed: int) -> Image.Image:
    """What a phone does: perspective (the page seen at an angle), uneven light, JPEG."""
    rng = random.Random(seed)
    width, height = page.size
    shrink = [rng.uniform(0.0, 0.04) for _ in range(8)]
    # quad: where the output's corners come from in the page (upper left, lower left,
    # lower right, upper right), pushed inwards a little and unevenly.
    quad = (-shrink[0] * width, -shrink[1] * height, -shrink[2] * width,
            height * (1 + shrink[3]), width * (1 + shrink[4]), height * (1 + shrink[5]),
            width * (1 + shrink[6]), -shrink[7] * height)
    page = page.transform(page.size, Image.Transform.QUAD, quad,
                          resample=Image.Resampling.BICUBIC, fillcolor=(90, 80, 70))
    light = Image.linear_gradient("L").resize(page.size).rotate(rng.uniform(20, 70))
    light = light.point(lambda v: 150 + v * 105 // 255)
    page = _lit(page, light)
    return jpeg_round_trip(page, 75)


def _lit(page: Image.Image, light: Image.Image) -> Image.Image:
    """``page`` multiplied by the light map (255 keeps a pixel, 150 darkens it by 40 %)."""
    from PIL import ImageChops

    return ImageChops.multiply(page, Image.merge("RGB", (light, light, light)))


def jpeg_round_trip(page: Image.Image, quality: int) -> Image.Image:
    """``page`` after saving as JPEG at ``quality`` and reading back."""
    buffer = io.BytesIO()
    page.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def image_bytes(page: Image.Image, fmt: str, dpi: int = 200) -> bytes:
    """``page`` saved as ``fmt`` (PNG, JPEG, TIFF, GIF, BMP, WEBP)."""
    buffer = io.BytesIO()
    image = page.convert("P", palette=Image.Palette.ADAPTIVE, colors=32) if fmt == "GIF" else page
    options: dict[str, object] = {"dpi": (dpi, dpi)} if fmt in ("PNG", "JPEG", "TIFF") else {}
    if fmt == "JPEG":
        options["quality"] = 70
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def tiff_pages(pages: list[Image.Image], dpi: int = 200) -> bytes:
    """A multi-page TIFF (as a scanner's "scan to file" makes), one page per image."""
    buffer = io.BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:], dpi=(dpi, dpi),
                  compression="tiff_deflate")
    return buffer.getvalue()


def scanned_pdf(pages: list[Image.Image], dpi: int = 200) -> bytes:
    """An image-only PDF: each page one JPEG, no text layer (what a scanner sends by mail)."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt")
    for page in pages:
        width, height = (side * 72 / dpi for side in page.size)
        pdf.add_page(format=(width, height))
        buffer = io.BytesIO()
        page.save(buffer, "JPEG", quality=70)
        buffer.seek(0)
        pdf.image(buffer, x=0, y=0, w=width, h=height)
    return bytes(pdf.output())


def text_image(lines: tuple[str, ...], size: tuple[int, int], font_px: int,
               background: tuple[int, int, int] = (255, 255, 255),
               bubbles: bool = False) -> Image.Image:
    """Lines of text on a plain image: a receipt, a notice, or (``bubbles``) a chat screenshot
    with every other message in a coloured bubble on the right."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), font_px)
    y = font_px
    for number, line in enumerate(lines):
        x = font_px
        if bubbles:
            box = [round(v) for v in draw.textbbox((0, 0), line, font=font)]
            x = size[0] - box[2] - 2 * font_px if number % 2 else font_px
            colour = (0, 132, 255) if number % 2 else (228, 230, 235)
            draw.rounded_rectangle((x - font_px // 2, y - font_px // 3, x + box[2] + font_px // 2,
                                    y + box[3] + font_px // 3), radius=font_px, fill=colour)
            draw.text((x, y), line, fill=(255, 255, 255) if number % 2 else (0, 0, 0), font=font)
            y += round(font_px * 2.4)
        else:
            draw.text((x, y), line, fill=(20, 20, 20), font=font)
            y += round(font_px * 1.5)
    return image


def scan_mail(data: bytes, filename: str = "scan.pdf",
              content_type: tuple[str, str] = ("application", "pdf")) -> bytes:
    """A message from an official mailbox to Gmail with ``data`` attached, as a clerk sends a
    scan."""
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"], mail["To"] = "vanthu@quangngai.gov.vn", "nguoinhan@gmail.com"
    mail["Subject"] = "Gui tai lieu"
    mail.set_content("Gửi anh tài liệu đính kèm.")
    mail.add_attachment(data, maintype=content_type[0], subtype=content_type[1],
                        filename=filename)
    return mail.as_bytes()


def long_scan(pages: int = 3, dpi: int = 200) -> bytes:
    """A scanned letter of ``pages`` full pages that never scores as an official document (its
    heading and number are cut off), so OCR reads every page whole: a slow scan."""
    import dataclasses

    letters = official_letter(None, pages=pages, body=3)
    letters[0] = dataclasses.replace(letters[0], header=())
    return scanned_pdf([degrade(render_page(letter, dpi), seed=number, angle=1.0)
                        for number, letter in enumerate(letters)], dpi)
