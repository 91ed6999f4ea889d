"""Serve the built book on localhost and drive Debian's Chromium with Playwright."""

from __future__ import annotations

import copy
import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from bookpaths import ROOT
from booktools.publish import pdf

CHROMIUM = os.environ.get("CHROMIUM", pdf.CHROMIUM)
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
# The flags the PDF printer launches Chromium with: headless, as root, nothing fetched in the background.
CHROMIUM_ARGS = pdf.CHROMIUM_ARGS


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Every test of one page runs on one test worker, which loads the page once for all the tests that only read it.

    (Before pytest-xdist's own hook names the groups: tryfirst.)
    """
    here = Path(__file__).parent
    for item in items:
        params = getattr(item, "callspec", None) and item.callspec.params
        if Path(item.path).parent == here and params and "path" in params:
            item.add_marker(pytest.mark.xdist_group(f"browser-{params['path']}"))


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
    """The folder of the screenshots a reviewer reads: each page's first screen in light mode on a laptop, and in dark
    mode on a phone. A whole page takes 2 to 4 s of a core to capture, its first screen 0.1 s; the whole pages are in
    the built site that the workflow keeps beside them."""
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

    def seen(self) -> PageProblems:
        """A copy of what has been seen so far, which later events leave as it is."""
        snapshot = copy.copy(self)
        snapshot.console_errors, snapshot.failed, snapshot.foreign = map(list, (self.console_errors, self.failed, self.foreign))
        return snapshot


def _open(browser, site, path, context_options):
    """A page of the site in a fresh context, loaded and quiet; the context, the page and its problems."""
    context = browser.new_context(**context_options)
    page = context.new_page()
    problems = PageProblems(page, site)
    page.goto(site + path, wait_until="load")
    page.wait_for_load_state("networkidle")
    return context, page, problems


@pytest.fixture
def open_page(browser, site):
    """Open a page of the site in a fresh context; return (page, problems). For a test that clicks or changes it."""
    contexts = []

    def open_(path, **context_options):
        context, page, problems = _open(browser, site, path, context_options)
        contexts.append(context)
        return page, problems

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def read_page(browser, site):
    """Open each page of the site once per worker and context, for the tests that only read it; (page, problems).

    Loading a page is most of what a browser test costs, and most tests only
    read what loaded. The problems are those seen while the page loaded, so a
    test's verdict does not depend on which tests read the page before it.
    Keyword arguments are the context's (a viewport, a colour scheme). A test
    that clicks or scrolls opens its own with ``open_page``.
    """
    contexts, pages = [], {}

    def read(path, **context_options):
        key = (path, repr(sorted(context_options.items())))
        if key not in pages:
            context, page, problems = _open(browser, site, path, context_options)
            contexts.append(context)
            pages[key] = (page, problems.seen())
        return pages[key]

    yield read
    for context in contexts:
        context.close()
