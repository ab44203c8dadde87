"""PDF rendering with WeasyPrint from templates/pdf/, fetching nothing from outside.

Templates get plain dicts. Styles come from the package (passed as a string), fonts from
the system's fontconfig (DejaVu, so Polish letters render). The URL fetcher refuses every
URL: ``file:`` (local files), ``http:``/``https:`` (SSRF) and anything else, so text that
smuggles ``<img src="file:///etc/passwd">`` into a document fetches nothing.
"""

import logging
from functools import cache

from flask import render_template
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

from arbiter.config import ROOT

log = logging.getLogger(__name__)
STYLES_DIR = ROOT / "templates" / "pdf"


class RefusingURLFetcher(URLFetcher):
    """Fetches nothing; remembers what was asked for (so tests can prove it)."""

    def __init__(self):
        super().__init__(allowed_protocols=())
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        self.refused.append(url)
        log.warning("PDF rendering refused to fetch %s", url)
        raise ValueError(f"fetching {url!r} is not allowed while rendering documents")


@cache
def font_configuration() -> FontConfiguration:
    """Fonts are looked up once per process, not once per document."""
    return FontConfiguration()


@cache
def stylesheet(name: str) -> CSS:
    """Our own stylesheets, parsed once; they contain no URL, so nothing is ever fetched."""
    return CSS(string=(STYLES_DIR / name).read_text(encoding="utf-8"),
               url_fetcher=RefusingURLFetcher(), font_config=font_configuration())


def render_pdf(template: str, *, css: str, fetcher: RefusingURLFetcher | None = None,
               **context) -> bytes:
    fetcher = fetcher or RefusingURLFetcher()
    html = render_template(template, **context)
    return _write(html, stylesheet(css), fetcher)


def _write(html: str, css: CSS, fetcher: URLFetcher) -> bytes:
    # base_url is a scheme nobody serves: relative links resolve to something refused.
    document = HTML(string=html, base_url="arbiter-document:///", url_fetcher=fetcher)
    return document.write_pdf(stylesheets=[css], font_config=font_configuration())


def minimal_pdf(text: str) -> bytes:
    """The benchmark floor: one short paragraph on one page, the same pipeline."""
    return _write(f"<p>{text}</p>", stylesheet("minimal.css"), RefusingURLFetcher())


