"""Benchmark of sound and video cleaning (``portal.services.attachments.clean``).

    .venv/bin/python bench/media_bench.py [--runs N]

Not part of the test suite. It makes three files the way a phone would and cleans each:

* a 1-minute voice note (speech from espeak-ng when installed, else a warbling tone; mono AAC
  in M4A, 48 kHz), without and with "Change my voice";
* a 30-second video, 1920x1080 at 30 frames a second, H.264 and AAC in MP4 (its picture is
  copied), and the same in MPEG-4 Part 2 (its picture is encoded anew, as an iPhone's HEVC is).

For each it prints the median wall-clock time of the cleaning, the CPU time ffmpeg and ffprobe
used (user and system, all threads: the wall time on a busy machine says more about the machine), and the peak resident memory of
the largest ffmpeg/ffprobe it ran and of the Python process, measured in a fresh child process
(this script re-run with a hidden flag) so one case does not inherit another's peak.
The exit status is 0 whatever the results: the script reports, it does not gate.
"""

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CASES = (("voice note, 1 min", "voice.m4a", False), ("voice note, 1 min, voice changed", "voice.m4a", True),
         ("video, 30 s, 1080p H.264 (copied)", "video.mp4", False),
         ("video, 30 s, 1080p other (encoded)", "other.mp4", False))


def make_inputs(folder: Path) -> None:
    def ffmpeg(*args):
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)

    speech = folder / "speech.wav"
    if shutil.which("espeak-ng"):
        words = ("We were told to work on Sunday again and nobody was paid for the extra hours. "
                 "The supervisor said that anyone who complains will lose their contract. ") * 6
        subprocess.run(["espeak-ng", "-w", str(speech), words], check=True)
        source = ["-stream_loop", "-1", "-i", str(speech)]
    else:
        source = ["-f", "lavfi", "-i", "sine=frequency=180:beep_factor=2:sample_rate=48000"]
    ffmpeg(*source, "-t", "60", "-ac", "1", "-ar", "48000", "-c:a", "aac", "-b:a", "64k",
           "-metadata", "location=+50.8503+004.3517/", str(folder / "voice.m4a"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=30",
           "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=48000:duration=30",
           "-c:v", "libx264", "-preset", "veryfast", "-b:v", "12M", "-c:a", "aac", "-b:a", "128k",
           "-pix_fmt", "yuv420p", "-metadata", "location=+50.8503+004.3517/", str(folder / "video.mp4"))
    ffmpeg("-i", str(folder / "video.mp4"), "-c:v", "mpeg4", "-q:v", "4", "-c:a", "copy", str(folder / "other.mp4"))


def one(path: str, disguise: bool, runs: int) -> dict:
    from portal.services import attachments

    data = Path(path).read_bytes()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        clean = attachments.clean(data, disguise_voice=disguise)
        times.append(time.perf_counter() - started)
    tools = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"seconds": statistics.median(times), "tool_cpu": (tools.ru_utime + tools.ru_stime) / runs,
            "tool_rss_mib": tools.ru_maxrss / 1024,
            "python_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "in_kib": len(data) / 1024, "out_kib": len(clean.data) / 1024, "steps": clean.steps}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1] == "1", args.runs)))
        return
    with tempfile.TemporaryDirectory() as folder:
        make_inputs(Path(folder))
        for label, name, disguise in CASES:
            done = subprocess.run([sys.executable, __file__, "--runs", str(args.runs), "--one",
                                   str(Path(folder) / name), "1" if disguise else "0"],
                                  capture_output=True, text=True, check=True)
            result = json.loads(done.stdout)
            print(f"{label:36} {result['seconds']:6.2f} s ({result['tool_cpu']:6.2f} s CPU)  ffmpeg peak RSS {result['tool_rss_mib']:6.0f} MiB  "
                  f"python peak RSS {result['python_rss_mib']:5.0f} MiB  "
                  f"{result['in_kib']:7.0f} KiB -> {result['out_kib']:7.0f} KiB  {','.join(result['steps'])}")


if __name__ == "__main__":
    main()
