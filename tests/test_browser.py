"""The real server renders: `streamlit run app.py` driven by headless Chromium (Debian's
chromium + chromium-driver). Skipped, with the install command, where they are missing.

Screenshots are saved in pytest's tmp_path (``pytest --basetemp DIR`` keeps them somewhere known).
"""

import shutil
import time
from pathlib import Path

import pytest
from live_server import live_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1800",
]
SERVER_START_S = 90
PAGE_WAIT_S = 60


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    """`streamlit run app.py` on a free port of 127.0.0.1, until the module's tests are done."""
    with live_server(tmp_path_factory, SERVER_START_S) as server:
        yield server.url


@pytest.fixture
def browser(tmp_path):
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip(
            f"headless Chromium not found ({CHROMIUM}, {CHROMEDRIVER}); install Debian's packages with "
            "`sudo apt-get install chromium chromium-driver` (make test does this when run as root)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for_text(driver, *texts: str, timeout: float = PAGE_WAIT_S, screenshot: Path | None = None) -> str:
    """Wait until the page's visible text contains every one of ``texts``; return that text.

    On a timeout the test fails with the page's text, after saving ``screenshot`` if given.
    """
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    body = ""

    def has_all(d):
        nonlocal body
        body = d.find_element(By.TAG_NAME, "body").text
        return all(text in body for text in texts)

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.5).until(has_all)
    except TimeoutException:
        missing = [text for text in texts if text not in body]
        if screenshot is not None:
            driver.save_screenshot(str(screenshot))
        pytest.fail(f"the page never showed {missing}; it showed:\n{body[:3000]}")
    return body


def wait_until_idle(driver, timeout: float = PAGE_WAIT_S) -> None:
    """Wait until Streamlit has finished the script run (its "Running..." widget is gone)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    time.sleep(0.5)
    WebDriverWait(driver, timeout, poll_frequency=0.5).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']")
    )


def test_overview_renders_and_shows_a_gene(server_url, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server_url)
    wait_for_text(browser, "Genome overview", "chr01", "2,476,500 bp", "6,787", "Locus")
    wait_until_idle(browser)
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Traceback" not in body and "Error" not in body
    browser.save_screenshot(str(tmp_path / "overview.png"))

    query = browser.find_element(By.CSS_SELECTOR, "input[aria-label^='Gene name']")
    query.send_keys("um10944", Keys.ENTER)
    wait_for_text(browser, "1 match", screenshot=tmp_path / "search-failed.png")
    wait_until_idle(browser)
    # The locus figure is drawn by plotly.js in the page: its gene label is SVG text.
    WebDriverWait(browser, PAGE_WAIT_S).until(
        lambda d: any("um10944 (+)" in el.text for el in d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot text"))
    )
    locus_chart = browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")[-1]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", locus_chart)
    time.sleep(1)
    browser.save_screenshot(str(tmp_path / "locus.png"))
    assert "Traceback" not in browser.find_element(By.TAG_NAME, "body").text
    assert not base_letters(locus_chart)  # 2,395 bp in view: bases are colours only

    # Zoom in 5 times by half (2,395 bp -> about 75 bp): the bases get their letters.
    zoom_in = browser.find_elements(By.CSS_SELECTOR, ".modebar-btn[data-title='Zoom in']")[-1]
    for _ in range(5):
        browser.execute_script("arguments[0].click();", zoom_in)
        time.sleep(0.3)
    WebDriverWait(browser, 20).until(lambda d: len(base_letters(locus_chart)) >= 50)
    browser.save_screenshot(str(tmp_path / "locus-zoomed.png"))


def base_letters(chart) -> list[str]:
    """Single-base SVG labels drawn in a plotly chart (the sequence row's letters)."""
    from selenium.webdriver.common.by import By

    texts = [el.get_attribute("textContent") for el in chart.find_elements(By.CSS_SELECTOR, "text")]
    return [text for text in texts if text in ("A", "C", "G", "T", "a", "c", "g", "t")]


def test_a_page_url_opened_first_on_a_fresh_server_gets_the_router(tmp_path_factory, browser, tmp_path):
    # Until the router has run once in a server process, Streamlit runs a pages/ file straight
    # from its URL; the page must then hand over to the router, which opens that page.
    with live_server(tmp_path_factory, SERVER_START_S) as server:
        browser.get(f"{server.url}/logo")
        body = wait_for_text(browser, "Gene name, ID or description words", "Site model", screenshot=tmp_path / "a.png")
        assert "Choose a genome in the sidebar" not in body
        wait_until_idle(browser)
        assert browser.find_element("tag name", "h1").text == "Predicted logo"  # the page asked for
        browser.get(f"{server.url}/variants")  # now Streamlit routes the URL itself
        wait_for_text(browser, "Saturation scan of a region", "Site model", screenshot=tmp_path / "b.png")
        assert browser.find_element("tag name", "h1").text == "Variant effects"
