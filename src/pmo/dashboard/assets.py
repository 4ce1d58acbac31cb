"""Static assets: the dashboard's CSS and JS, and plotly.js served straight from the installed plotly package."""

from pathlib import Path

import plotly

STATIC_DIR = Path(__file__).parent / "static"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
PLOTLY_VERSION = plotly.__version__


def plotly_url() -> str:
    """A versioned URL, so browsers may cache the 4.8 MB bundle for good."""
    return f"/static/vendor/plotly-{PLOTLY_VERSION}.min.js"
