"""Serve the built book on localhost and drive Debian's Chromium with Playwright."""

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from bookpaths import ROOT
from booktools import pdf

CHROMIUM = os.environ.get("CHROMIUM", pdf.CHROMIUM)
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
# The flags the PDF printer launches Chromium with: headless, as root, nothing fetched in the background.
CHROMIUM_ARGS = pdf.CHROMIUM_ARGS


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site(built_book):
    """The built site's base URL on a local HTTP server."""
    assert built_book.returncode == 0, "the book did not build; see tests/book/test_build.py"
    handler = functools.partial(QuietHandler, directory=str(built_book.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (apt-get install chromium).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots():
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


class PageProblems:
    """Console errors, failed requests and requests to other hosts seen while a page was open."""

    def __init__(self, page, site):
        self.console_errors, self.failed, self.foreign = [], [], []
        local = urlparse(site).netloc
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        page.on("requestfailed", lambda request: self.failed.append(f"{request.url} ({request.failure})"))
        page.on("response", lambda response: response.status >= 400 and self.failed.append(f"{response.url} ({response.status})"))

        def route(route):
            host = urlparse(route.request.url).netloc
            if route.request.url.startswith(("data:", "blob:")) or host == local:
                route.continue_()
            else:
                self.foreign.append(route.request.url)
                route.abort()

        page.route("**/*", route)


@pytest.fixture
def open_page(browser, site):
    """Open a page of the site in a fresh context; return (page, problems)."""
    contexts = []

    def open_(path, **context_options):
        context = browser.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        problems = PageProblems(page, site)
        page.goto(site + path, wait_until="load")
        page.wait_for_load_state("networkidle")
        return page, problems

    yield open_
    for context in contexts:
        context.close()
