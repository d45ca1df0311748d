"""Benchmark: cleaning evidence files in the confined process (portal.services.attachments).

For a 12 MP and a 48 MP phone photo (JPEG with EXIF and GPS, turned by its
orientation tag) and a 20-page scanned PDF, prints the time ``attachments.clean``
takes and the peak memory (RSS) of the confined child, each measured in a fresh
process so one case's peak does not hide another's. Inputs are generated here.

Run: PYTHONPATH=. .venv/bin/python bench/clean_bench.py   (always exits 0)
"""

import io
import json
import resource
import subprocess
import sys
import time

MiB = 1024 * 1024


def photo(width: int, height: int) -> bytes:
    from PIL import Image

    # Noise compresses like a real photo's detail does.
    channels = [Image.effect_noise((width, height), sigma) for sigma in (40, 60, 80)]
    image = Image.merge("RGB", channels)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Bench", "Phone", 6
    exif.get_ifd(0x8825).update({1: "N", 2: (5.0, 21.0, 30.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def scanned_pdf(pages: int) -> bytes:
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


CASES = {
    "photo 12 MP (4000 x 3000 JPEG)": lambda: photo(4000, 3000),
    "photo 48 MP (8000 x 6000 JPEG)": lambda: photo(8000, 6000),
    "PDF, 20 scanned A4 pages": lambda: scanned_pdf(20),
}


def one(name: str) -> None:
    """In a fresh process: make the input, clean it, print the figures as JSON."""
    from portal.services import attachments

    data = CASES[name]()
    started = time.perf_counter()
    result = attachments.clean(data)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(json.dumps({"input": len(data), "output": len(result.data), "seconds": seconds, "peak": peak,
                      "steps": result.steps, "pages": result.pages}))


def main() -> int:
    print("Cleaning in the confined child (one at a time, fresh process per case)")
    print(f"{'case':34} {'input':>9} {'output':>9} {'time':>7} {'child peak RSS':>15}")
    for name in CASES:
        done = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{name:34} failed: {done.stderr.strip().splitlines()[-1]}")
            continue
        figures = json.loads(done.stdout)
        print(f"{name:34} {figures['input'] / MiB:7.1f}MB {figures['output'] / MiB:7.1f}MB "
              f"{figures['seconds']:6.2f}s {figures['peak'] / MiB:11.0f} MiB")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        one(sys.argv[2])
    else:
        sys.exit(main())
