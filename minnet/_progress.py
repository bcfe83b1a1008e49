"""The progress bar: tqdm.auto (a widget in Jupyter), quiet when ipywidgets is missing.

Without ipywidgets, tqdm.auto warns on import and falls back to the text bar; the text bar
is fine, so the warning only adds noise to every notebook.
"""

import warnings

from tqdm import TqdmWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm

__all__ = ["tqdm"]
