"""Evidence files for the cleaning benches, generated here: phone photos, scanned PDFs, hostile files.

Shared by bench/clean_bench.py (one file at a time) and bench/cleaning_load_bench.py
(a flood of uploads). The hostile files are built the way tests/portal/test_evidence_cleaning.py
builds them: a PNG declaring any size around a few rows of real pixels, and a PDF whose page
is zeros compressed twice with Flate.
"""

import io
import struct
import zlib

MiB = 1024 * 1024


def photo(width: int, height: int, sigmas=(40, 60, 80), quality: int = 90) -> bytes:
    """A phone photo: JPEG with camera, GPS position and an orientation tag (turned on cleaning).

    Noise compresses like a real photo's detail does; a smaller ``sigmas`` makes a smaller file.
    """
    from PIL import Image

    channels = [Image.effect_noise((width, height), sigma) for sigma in sigmas]
    image = Image.merge("RGB", channels)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Bench", "Phone", 6
    exif.get_ifd(0x8825).update({1: "N", 2: (5.0, 21.0, 30.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def scanned_pdf(pages: int) -> bytes:
    """A PDF of ``pages`` scanned A4 pages (150 dpi JPEGs with lines of text)."""
    import pikepdf
    from PIL import Image, ImageDraw

    pdf = pikepdf.new()
    for number in range(pages):
        scan = Image.merge("RGB", [Image.effect_noise((1240, 1754), 12).point(lambda v: 200 + v // 5)] * 3)
        draw = ImageDraw.Draw(scan)
        for line in range(40):
            draw.text((100, 100 + line * 38), f"Page {number + 1}, line {line + 1}: overtime hours, wage slip",
                      fill=(20, 20, 20))
        encoded = io.BytesIO()
        scan.save(encoded, "JPEG", quality=80)
        pdf.add_blank_page(page_size=(595, 842))
        page = pdf.pages[-1]
        image = pikepdf.Stream(pdf, encoded.getvalue())
        image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        image.Width, image.Height, image.BitsPerComponent = 1240, 1754, 8
        image.ColorSpace, image.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
        page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Scan=image))
        page.obj.Contents = pikepdf.Stream(pdf, b"q 595 0 0 842 0 0 cm /Scan Do Q")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def deflated_zeros(size: int, block: int = 16 * MiB) -> bytes:
    """A zlib stream of ``size`` zero bytes, built in a second: one flushed block repeated."""
    compressor, zeros = zlib.compressobj(9), bytes(block)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(size, block)
    if full < 2:
        raise ValueError("deflated_zeros needs at least two blocks")
    tail = compressor.compress(bytes(rest)) + compressor.flush(zlib.Z_FULL_FLUSH)
    adler32 = ((size % 65521) << 16) | 1  # of zeros: a stays 1, b counts the bytes
    return first + again * (full - 1) + tail + b"\x03\x00" + struct.pack(">I", adler32)


def png(width: int, height: int, rows: int | None = None) -> bytes:
    """A PNG written chunk by chunk: any declared size, any (small) amount of real pixel data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    idat = deflated_zeros((3 * width + 1) * (height if rows is None else rows))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def nested_flate_bomb() -> bytes:
    """A 3 KB PDF whose page inflates to 8 GiB: twice Flate-compressed zeros."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    contents = pikepdf.Stream(pdf, b"")
    contents.write(zlib.compress(deflated_zeros(8 * 1024 * MiB), 9),
                   filter=[pikepdf.Name.FlateDecode, pikepdf.Name.FlateDecode])
    pdf.pages[0].obj.Contents = contents
    out = io.BytesIO()
    pdf.save(out, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return out.getvalue()
