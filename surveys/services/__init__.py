"""Named services.

``access_*`` fetch with permission checks, ``check_*`` validate, ``do_*`` mutate.
"""
