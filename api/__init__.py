"""gisgov's map API: a thin FastAPI service over the ``gisgov`` core library.

Build the app with :func:`api.app.create_app`; nothing is created at import time.
"""
