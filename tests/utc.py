def seconds_to_utc_midnight(t: float) -> int:
    return 86_400 - int(t) % 86_400
