"""Fulfilling data-subject requests: what they do to recordings. The request itself, its clock and
its steps are compliance's (compliance/services/subject_requests.py); finding the subject's data,
exporting it, erasing and restricting it act on recordings, which sit above compliance."""
