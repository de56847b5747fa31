"""Jupyter notebooks that regenerate the tables and figures of a results directory.

``build.py`` writes them (``python -m reports.notebooks.build``); ``run.py`` executes them on
a results directory with papermill (``python -m reports.notebooks.run RESULTS_DIR``).
"""
