"""PDF rendering with WeasyPrint from templates/pdf/, fetching nothing from outside.

Templates get plain dicts. Styles come from the package (passed as a string), fonts from
the system's fontconfig (DejaVu, so Polish letters render). The URL fetcher refuses every
URL: ``file:`` (local files), ``http:``/``https:`` (SSRF) and anything else, so text that
smuggles ``<img src="file:///etc/passwd">`` into a document fetches nothing.
"""

import logging

from flask import render_template
from weasyprint import CSS, HTML
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


def stylesheet(name: str, fetcher: URLFetcher) -> CSS:
    return CSS(string=(STYLES_DIR / name).read_text(encoding="utf-8"), url_fetcher=fetcher)


def render_pdf(template: str, *, css: str, fetcher: RefusingURLFetcher | None = None,
               **context) -> bytes:
    fetcher = fetcher or RefusingURLFetcher()
    html = render_template(template, **context)
    # base_url is a scheme nobody serves: relative links resolve to something refused.
    document = HTML(string=html, base_url="arbiter-document:///", url_fetcher=fetcher)
    return document.write_pdf(stylesheets=[stylesheet(css, fetcher)])


def minimal_pdf(text: str) -> bytes:
    """The benchmark floor: one short paragraph on one page, same fetcher, same fonts."""
    fetcher = RefusingURLFetcher()
    return HTML(string=f"<p>{text}</p>", base_url="arbiter-document:///",
                url_fetcher=fetcher).write_pdf(
        stylesheets=[CSS(string="body { font-family: 'DejaVu Sans'; }", url_fetcher=fetcher)])


