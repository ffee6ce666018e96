"""What people read: the result table and its ordering (`table`, the low module the others
share), the report model (`model`), the HTML page (`html`), Markdown (`markdown`),
thumbnails and SVG charts, and the --gen-report dispatcher (`writer`)."""

from .table import summary_lines
from .writer import write_report

__all__ = ["summary_lines", "write_report"]
