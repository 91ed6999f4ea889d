"""The built site as a reader sees it, in headless Chromium, with no third-party host reachable."""

import re

import pytest
import yaml

from bookpaths import ROOT, chapters_with_maths, chapters_with_solutions, toc_chapters

pytestmark = pytest.mark.browser

PAGES = [f"{name}.html" for name in toc_chapters()]
EXERCISE_PAGES = [f"{name}.html" for name in chapters_with_solutions()]
MATH_PAGES = [f"{name}.html" for name in chapters_with_maths()]
# A phone in dark mode, as many readers open the book: its layout in CSS pixels (a pixel density changes no width, and
# rendering four times the pixels is slow). The phone and dark-mode tests read one load of each page in it.
PHONE_IN_DARK_MODE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 1,
    "is_mobile": True,
    "has_touch": True,
    "color_scheme": "dark",
}


def slug(path):
    return path.removesuffix(".html").replace("/", "-")


def wait_for_mathjax(page):
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => MathJax.startup.promise")


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_cleanly(read_page, screenshots, path):
    page, problems = read_page(path)
    assert problems.foreign == [], "the page asked another host for something"
    assert problems.failed == []
    assert problems.console_errors == []
    images = page.evaluate(
        "() => Array.from(document.images).map(i => ({src: i.src, loaded: i.complete && i.naturalWidth > 0, alt: i.alt}))"
    )
    for image in images:
        assert image["loaded"], f"image did not load: {image['src']}"
        assert image["alt"].strip(), f"image without alternative text: {image['src']}"
    page.screenshot(path=screenshots / f"{slug(path)}-light.png")


def test_theory_and_practice_pages_have_figures(read_page):
    page, _ = read_page("book/convolution.html")
    assert page.locator("figure img").count() >= 2


@pytest.mark.parametrize("path", MATH_PAGES)
def test_maths_is_typeset(read_page, path):
    page, _ = read_page(path)
    wait_for_mathjax(page)
    assert page.locator("mjx-container").count() > 0
    text = page.locator("article").inner_text()
    assert "$$" not in text and "\\frac" not in text and "\\lfloor" not in text


@pytest.mark.parametrize("path", [p for p in PAGES if p != "book/index.html"])
def test_launch_download_and_repository_buttons(read_page, path):
    page, _ = read_page(path)
    name = path.removesuffix(".html")
    colab = page.locator(".dropdown-launch-buttons a[href*='colab.research.google.com']")
    binder = page.locator(".dropdown-launch-buttons a[href*='mybinder.org']")
    assert colab.count() == 1 and binder.count() == 1
    # The notebooks open at the branch _config.yml names: main here, the tag in a term release.
    branch = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["branch"]
    assert colab.get_attribute("href").endswith(f"/blob/{branch}/{name}.ipynb")
    assert f"/{branch}?" in binder.get_attribute("href") and binder.get_attribute("href").endswith(f"/{name}.ipynb")
    assert page.locator(".dropdown-download-buttons a.btn-download-notebook-button").count() == 1
    assert page.locator("a.btn-source-repository-button").count() == 1


@pytest.mark.parametrize("path", PAGES)
def test_phone_has_no_horizontal_scroll(read_page, screenshots, path):
    page, _ = read_page(path, **PHONE_IN_DARK_MODE)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the phone"
    page.screenshot(path=screenshots / f"{slug(path)}-phone-dark.png")


CONTRAST = """
(element) => {
  const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const background = (node) => {
    while (node) {
      const colour = getComputedStyle(node).backgroundColor;
      const parts = colour.match(/[\\d.]+/g);
      if (parts && (parts.length < 4 || Number(parts[3]) > 0.5)) return rgb(colour);
      node = node.parentElement;
    }
    return [255, 255, 255];
  };
  const luminance = ([r, g, b]) => {
    const [R, G, B] = [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  const [a, b] = [luminance(rgb(getComputedStyle(element).color)), luminance(background(element))];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
"""

OPAQUE_CORNER = """
(image) => {
  const canvas = document.createElement('canvas');
  canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  return context.getImageData(1, 1, 1, 1).data[3];
}
"""


@pytest.mark.parametrize("path", PAGES)
def test_dark_mode_keeps_text_code_and_figures_readable(read_page, path):
    page, problems = read_page(path, **PHONE_IN_DARK_MODE)
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    assert problems.console_errors == []
    readable = [page.locator("article p").first]
    for selector in ("div.cell_input pre", "div.cell_output pre"):
        if page.locator(selector).count():
            readable.append(page.locator(selector).first)
    for element in readable:
        assert page.evaluate(CONTRAST, element.element_handle()) >= 4.5
    for figure in page.locator("figure img").element_handles():
        # Figures are drawn on an opaque white background, so their dark lines stay visible on a dark page.
        assert page.evaluate(OPAQUE_CORNER, figure) == 255


def test_search_finds_padding(open_page):
    page, problems = open_page("search.html?q=padding")
    page.locator("#search-results ul.search li").first.wait_for(timeout=20_000)
    results = page.locator("#search-results ul.search li a").all_inner_texts()
    assert any(re.search("padding", text, re.IGNORECASE) for text in results)
    hrefs = page.locator("#search-results ul.search li a").evaluate_all("links => links.map(a => a.href)")
    assert any("padding-and-stride" in href for href in hrefs)
    assert problems.foreign == [] and problems.console_errors == []


@pytest.mark.parametrize("path", PAGES)
def test_no_serious_accessibility_violations(read_page, path):
    from axe_playwright_python.sync_playwright import Axe

    page, _ = read_page(path)
    results = Axe().run(page)
    serious = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} -> "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == []


PLAYERS = [("book/convolution.html", [16]), ("book/padding-and-stride.html", [25, 9])]


@pytest.mark.parametrize(("path", "steps"), PLAYERS)
def test_step_through_animations(open_page, path, steps):
    page, problems = open_page(path)
    players = page.locator("figure.cnnlab-player")
    assert players.count() == len(steps)
    for index, count in enumerate(steps):
        player = players.nth(index)
        image, caption, counter = player.locator("img"), player.locator("figcaption"), player.locator(".cnnlab-counter")
        player.scroll_into_view_if_needed()
        assert counter.inner_text() == f"step 1 of {count}"
        first_src, first_caption = image.get_attribute("src"), caption.inner_text()
        assert image.get_attribute("alt") == first_caption
        player.get_by_role("button", name="Next step").click()
        assert counter.inner_text() == f"step 2 of {count}"
        assert image.get_attribute("src") != first_src and caption.inner_text() != first_caption
        assert image.get_attribute("alt") == caption.inner_text()
        player.get_by_role("button", name="Last step").click()
        assert counter.inner_text() == f"step {count} of {count}"
        player.get_by_role("button", name="Previous step").click()
        assert counter.inner_text() == f"step {count - 1} of {count}"
        player.get_by_role("button", name="First step").click()
        assert image.get_attribute("src") == first_src
        play = player.get_by_role("button", name="Play the steps")
        play.click()
        assert play.get_attribute("aria-pressed") == "true"
        page.wait_for_function(f"(element) => element.textContent !== 'step 1 of {count}'", arg=counter.element_handle())
        play.click()
        assert play.get_attribute("aria-pressed") == "false"
        stopped = counter.inner_text()
        page.wait_for_timeout(1500)
        assert counter.inner_text() == stopped, "the animation kept playing after Pause"
    assert problems.console_errors == [] and problems.foreign == []


@pytest.mark.parametrize("path", EXERCISE_PAGES)
def test_hints_come_before_solutions_and_both_open_on_click(open_page, path):
    """Hints first and open on a click; solutions hidden until a click, and hidden again by a second (one page load)."""
    page, _ = open_page(path)
    hints = page.locator("div.admonition.dropdown", has=page.locator("p.admonition-title", has_text="Hint"))
    assert hints.count() >= 3
    for index in range(hints.count()):
        hint = hints.nth(index)
        body = hint.locator("p").nth(1)
        assert not body.is_visible(), f"hint {index} is open before a click"
        hint.locator("button.toggle-button").click()
        body.wait_for(state="visible")
    order = page.evaluate(
        """() => Array.from(document.querySelectorAll('div.admonition.dropdown, div.solution'))
                   .map(e => e.classList.contains('solution') ? 'solution' : 'hint')"""
    )
    assert order[0] == "hint" and order.index("solution") > 0

    solutions = page.locator("div.solution")
    assert solutions.count() >= 3
    for index in range(solutions.count()):
        solution = solutions.nth(index)
        content = solution.locator("section").first
        assert not content.is_visible(), f"solution {index} is visible before a click"
        toggle = solution.locator("button.toggle-button")
        assert toggle.get_attribute("aria-expanded") == "false"
        toggle.click()
        content.wait_for(state="visible")
        assert content.locator("pre").first.is_visible()
        assert toggle.get_attribute("aria-expanded") == "true"
        toggle.click()
        content.wait_for(state="hidden")
