"""The demo as a person sees it: `make run`'s processes, a real Chromium, the HELP button."""

from tests.support.browser import chromium, screenshot


def test_it_shows_a_big_red_help_button_that_opens_the_help_page(demo_server):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(demo_server + "/")
        button = page.locator("#help-button")
        assert button.is_visible()
        assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(215, 25, 28)"
        box = button.bounding_box()
        assert box is not None
        assert box["width"] >= 120
        assert box["height"] >= 120
        screenshot(page, "home-page")
        button.click()
        page.wait_for_url(demo_server + "/help/")
        assert page.get_by_role("heading", name="How would you like help?").is_visible()
        screenshot(page, "help-page")
