"""How long something took or has left, written the one way the studio shows it (Jobs, Evaluate, the logs).

    >>> format_duration(185), format_duration(3725), format_duration(None)
    ('3m05s', '1h02m', '?')
"""

from __future__ import annotations


def format_duration(seconds: float | None) -> str:
    """'1h02m', '3m05s', '42s' (or '?' when not known yet)."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
