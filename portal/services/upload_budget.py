"""The day's budget of anonymous uploads: how much evidence all reporters together may send in a day.

Files cost storage (each is kept sealed as it arrives, then stored encrypted
with the report) and cleaning, and anyone can send them without an account:
without a ceiling, a few clients could fill the disk. The budget counts KiB
per UTC day in one counter for the whole instance (``throttle``: the database
every node shares, or Redis), so it holds across processes and nodes. It
keeps no one's data: the counter's window starts at midnight, so not even
the hour of the day's first upload is stored.
"""

from datetime import timedelta

from . import clock, throttle

NAME = "anonymous-uploads"
DAY = timedelta(days=1)


def take(session, config, size: int) -> bool:
    """Count a file of ``size`` bytes against today's budget; False (nothing counted) when it does not fit."""
    megabytes = config["UPLOAD_MB_PER_DAY"]
    if megabytes <= 0:
        return True
    return throttle.spend(session, NAME, megabytes * 1024, now=clock.start_of_today(), window=DAY,
                          redis_url=config["REDIS_URL"], amount=_kib(size))


def give_back(session, config, size: int) -> None:
    """Uncount a file taken today that was never cleaned nor kept (the cleaners were busy): the
    worker sends it again in a minute, and it must not count twice."""
    if config["UPLOAD_MB_PER_DAY"] > 0:
        throttle.give_back(session, NAME, clock.start_of_today(), window=DAY, redis_url=config["REDIS_URL"],
                           amount=_kib(size))


def _kib(size: int) -> int:
    return max(1, -(-size // 1024))
