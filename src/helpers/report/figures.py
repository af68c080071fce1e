"""The look shared by every figure: style, colours, CJK font, date axes, and showing a
figure on a page (embedded PNG, also saved with the study outputs)."""

from __future__ import annotations

import importlib.util
import io
from functools import lru_cache
from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import Image, display
from matplotlib import font_manager
from matplotlib.figure import Figure

from helpers.report.i18n import is_chinese

ACTUAL_COLOUR = "#1f4e79"
MODEL_COLOUR = "#e07b39"
FIGSIZE = (7.5, 4.2)
DPI = 110
#: PNGs are drawn at this multiple of DPI and shown at 1x size: sharp on high-resolution
#: screens and projectors
SCALE = 2


#: Fonts tried in order; the first covers Chinese and is registered from mplfonts when present.
FONT_FAMILIES = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "PingFang SC", "Microsoft YaHei", "DejaVu Sans"]
_BUNDLED_CJK_FONT = "fonts/NotoSansCJKsc-Regular.otf"


@lru_cache(maxsize=1)
def register_cjk_font() -> str | None:
    """Register the Chinese font shipped with ``mplfonts``; return its family name (None if absent).

    The package is located without importing it (its import pulls in a command-line tool).
    """
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / _BUNDLED_CJK_FONT
    if not path.exists():
        return None
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def set_style() -> None:
    """House style: white grid, readable sizes, a font that shows Chinese as well as English."""
    sns.set_theme(style="whitegrid", context="notebook")
    register_cjk_font()
    plt.rcParams.update(
        {
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "axes.titleweight": "bold",
            "axes.titlesize": 12,
            "font.family": "sans-serif",
            "font.sans-serif": FONT_FAMILIES,
            "axes.unicode_minus": False,
        }
    )


def date_formats(language: str) -> dict:
    """Concise date tick formats; Chinese pages read 1997年 / 3月 rather than 1997 / Mar."""
    if not is_chinese(language):
        return {}
    return {
        "formats": ["%Y年", "%-m月", "%-d日", "%H:%M", "%H:%M", "%S.%f"],
        "zero_formats": ["", "%Y年", "%-m月", "%-m月%-d日", "%H:%M", "%H:%M"],
    }


def new_figure() -> tuple[Figure, plt.Axes]:
    set_style()
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    return fig, ax


def to_png(fig: Figure, scale: int = SCALE) -> bytes:
    """The figure as PNG bytes, at ``scale`` times the style's DPI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=DPI * scale)
    return buffer.getvalue()


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, read from the PNG header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        raise ValueError("not a PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def describe_figure(fig: Figure) -> str:
    """A plain description of what ``fig`` shows, from its titles and axis labels (the
    default alt text of a figure on a page)."""
    parts = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text().strip():
        parts.append(suptitle.get_text().strip())
    for ax in fig.get_axes():
        title = ax.get_title().strip()
        axes = [label for label in (ax.get_xlabel().strip(), ax.get_ylabel().strip()) if label]
        if title:
            parts.append(title + (f" ({' / '.join(axes)})" if axes else ""))
        elif axes:
            parts.append(" / ".join(axes))
    return "; ".join(dict.fromkeys(parts))


def show(fig: Figure, name: str, folder: str | Path | None = None, alt: str | None = None) -> bytes:
    """Display a figure as an embedded PNG (same in JupyterLab, papermill and pages),
    drawn at 2x and shown at its 1x width, with ``alt`` text (default: its titles and
    axis labels, :func:`describe_figure`).

    With ``folder`` the PNG is also saved there as ``<name>.png`` for the study outputs.
    The figure is closed afterwards so long notebooks do not accumulate memory.
    """
    description = alt if alt is not None else describe_figure(fig)
    png = to_png(fig)
    plt.close(fig)
    if folder is not None:
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{name}.png").write_bytes(png)
    width = max(1, round(png_size(png)[0] / SCALE))
    display(Image(data=png, format="png", width=width, metadata={"alt": description or name}))
    return png
