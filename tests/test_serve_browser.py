"""The demo page in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium):
draw a digit, see the model's prediction and bars; upload an image, see the top 5."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from serving import CNN_LABELS, DIGITS, cnn_model, make_repository, require, running_server

require("starlette", "uvicorn", "prometheus_client", "selenium", "PIL")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

import onyx  # noqa: E402

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("ONYX_TEST_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1100,760"]


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        message = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    profile = tempfile.mkdtemp(prefix="onyx-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(browser, tmp_path_factory):
    with running_server(make_repository(tmp_path_factory.mktemp("serve"))) as address:
        browser.get(f"http://{address}/")
        yield browser


def wait_for(driver, condition, timeout_s: float = 30):
    return WebDriverWait(driver, timeout_s, poll_frequency=0.05).until(lambda d: condition(d))


def demo_state(driver) -> dict:
    return driver.execute_script("return {calls: onyxDemo.calls, input: onyxDemo.lastInput, scores: onyxDemo.lastScores};")


def test_drawing_a_digit_shows_the_models_prediction_and_bars(page):
    wait_for(page, lambda d: d.find_elements(By.CSS_SELECTOR, "nav button"))
    pad = page.find_element(By.ID, "pad")
    assert pad.is_displayed()
    # a "7": a bar across the top, then a diagonal down to the left
    stroke = ActionChains(page, duration=10).move_to_element_with_offset(pad, -80, -90).click_and_hold()
    for dx, dy in [(40, 0), (40, 0), (40, 0), (40, 0), (-20, 40), (-20, 40), (-20, 40), (-20, 40), (-15, 30)]:
        stroke = stroke.move_by_offset(dx, dy)
    stroke.release().perform()
    wait_for(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#bars li")) == 10
             and demo_state(d)["calls"] >= 1 and d.find_element(By.ID, "prediction").text.isdigit())
    calls = demo_state(page)["calls"]
    wait_for(page, lambda d: demo_state(d)["calls"] == calls, 5)  # the last drawing's call has come back
    state = demo_state(page)
    pixels = np.array(state["input"], np.float32).reshape(1, 64)
    assert 0 < pixels.sum() and pixels.max() <= 16
    expected = onyx.InferenceSession(str(DIGITS)).run(["probabilities"], {"image": pixels})[0][0]
    np.testing.assert_allclose(state["scores"], expected, rtol=1e-5, atol=1e-7)
    assert page.find_element(By.ID, "prediction").text == str(int(np.argmax(expected)))
    drawn = [li.find_element(By.CLASS_NAME, "fill").size["width"] / li.find_element(By.CLASS_NAME, "track").size["width"]
             for li in page.find_elements(By.CSS_SELECTOR, "#bars li")]
    np.testing.assert_allclose(drawn, expected, atol=0.02)  # the bars as rendered, to the pixel
    assert page.find_element(By.ID, "latency").text.endswith(" ms")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert page.save_screenshot(str(ARTIFACTS / "serve-demo-digits.png"))


def test_uploading_an_image_shows_the_top_five_labels(page, tmp_path):
    from PIL import Image

    picture = tmp_path / "picture.png"
    gradient = np.linspace(0, 255, 40 * 40 * 3).reshape(40, 40, 3).astype(np.uint8)
    Image.fromarray(gradient).save(picture)
    next(b for b in page.find_elements(By.CSS_SELECTOR, "nav button") if b.text.startswith("cnn")).click()
    wait_for(page, lambda d: d.find_element(By.ID, "panel-title").text.startswith("cnn"))
    page.find_element(By.ID, "upload").send_keys(str(picture))
    wait_for(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#top5 li")) == 5)
    state = demo_state(page)
    pixels = np.array(state["input"], np.float32).reshape(1, 3, 16, 16)
    assert 0 <= pixels.min() and pixels.max() <= 1
    scores = onyx.InferenceSession(cnn_model().SerializeToString()).run(None, {"pixels": pixels})[0][0]
    np.testing.assert_allclose(state["scores"], scores, rtol=1e-5, atol=1e-7)
    shown = [li.find_element(By.CLASS_NAME, "name").text for li in page.find_elements(By.CSS_SELECTOR, "#top5 li")]
    assert shown == [CNN_LABELS[i] for i in np.argsort(-scores, kind="stable")]
    assert not page.find_element(By.ID, "pad").is_displayed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert page.save_screenshot(str(ARTIFACTS / "serve-demo-image.png"))
