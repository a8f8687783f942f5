"""The admin web in a real headless Chromium (Debian's chromium and chromedriver, driven by Selenium),
at a phone's width of 375 px. Each step saves a screenshot under tests/artifacts/."""
from __future__ import annotations

import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage import communities, events, staff
from storage.models import Opinion
from tests.conftest import ROOT, run_jobs

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = ROOT / "tests" / "artifacts"

pytestmark = [pytest.mark.browser, pytest.mark.http, pytest.mark.slow,
              pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                 reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")]


@pytest.fixture
def site(make_stack):
    from datetime import datetime, timezone

    from storage import demo as demo_data

    stack = make_stack("sqlite+redis")
    demo_data.load(stack.rt.db, datetime.now(timezone.utc), stack.rt.config.app.secret_key)
    return stack


def _font_env(tmp_path: Path) -> dict[str, str]:
    """Chromium finds the project's Chinese font (make fetches it into var/fonts), so that the
    screenshots are readable where no Chinese font is installed."""
    import os

    conf = tmp_path / "fonts.conf"
    conf.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                    '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
                    f'<dir>{ROOT / "var" / "fonts"}</dir><cachedir>{tmp_path / "fc-cache"}</cachedir></fontconfig>')
    return {**os.environ, "FONTCONFIG_FILE": str(conf)}


@pytest.fixture
def browser(request, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--lang=zh-CN"):
        options.add_argument(arg)
    # a phone: headless windows are never narrower than 500 px, device emulation is
    options.add_experimental_option(
        "mobileEmulation", {"deviceMetrics": {"width": 375, "height": 812, "pixelRatio": 2}}
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, env=_font_env(tmp_path)), options=options)
    driver.implicitly_wait(3)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = iter(range(1, 100))
    driver.shot = lambda name: driver.save_screenshot(
        str(ARTIFACTS / f"{request.node.name}-{next(shots):02d}-{name}.png"))
    yield driver
    driver.quit()


def _submit(browser, element) -> None:
    """Click a button that submits a form, and wait for the page it leads to."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def left_the_page(_) -> bool:
        try:
            element.is_enabled()
            return False
        except WebDriverException:  # stale, or "node does not belong to the document" mid-navigation
            return True

    element.click()
    WebDriverWait(browser, 10).until(left_the_page)
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return document.readyState") == "complete")


def _log_in(browser, site, username="admin", password="nanhu-demo-2026") -> None:
    from selenium.webdriver.common.by import By

    browser.get(site.url + "/admin/login")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.shot("login")
    _submit(browser, browser.find_element(By.ID, "login"))
    assert "治理数据" in browser.find_element(By.TAG_NAME, "h1").text


def test_create_an_event_see_a_sign_up_arrive_and_check_the_resident_in(site, browser):
    from selenium.webdriver.common.by import By

    _log_in(browser, site)
    browser.shot("dashboard")
    browser.get(site.url + "/admin/events")
    start = (site.rt.now() + timedelta(days=3)).astimezone(site.rt.tz).replace(hour=9, minute=30)
    browser.find_element(By.ID, "f-title").send_keys("社区义诊")
    browser.find_element(By.ID, "f-place").send_keys("南湖社区党群服务中心")
    for field, moment in (("f-start", start), ("f-end", start + timedelta(hours=2))):
        browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.ID, field),
                               moment.strftime("%Y-%m-%dT%H:%M"))
    capacity = browser.find_element(By.ID, "f-capacity")
    capacity.clear()
    capacity.send_keys("30")
    browser.shot("event-form")
    _submit(browser, browser.find_element(By.ID, "publish"))
    assert "已发布" in browser.page_source
    browser.shot("event-created")
    event_url = browser.current_url

    reply = site.client().say("o_browser", "报名社区义诊 两个人")["Content"]
    code = re.search(r"签到码：(\d{6})", reply).group(1)
    browser.get(event_url)
    assert f"****{code[-2:]}" in browser.find_element(By.ID, "registrations").text
    assert browser.find_element(By.ID, "taken").text == "2/30"
    browser.shot("sign-up-arrived")
    browser.find_element(By.ID, "code").send_keys(code)
    _submit(browser, browser.find_element(By.ID, "checkin"))
    assert "签到成功：2 人" in browser.page_source
    assert browser.find_element(By.ID, "attended").text == "2"
    browser.shot("checked-in")
    browser.find_element(By.ID, "code").send_keys(code)
    _submit(browser, browser.find_element(By.ID, "checkin"))
    assert "不能重复签到" in browser.page_source
    assert browser.execute_script("return window.innerWidth") == 375
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 375  # no sideways scroll


def test_send_an_announcement_and_open_its_delivery_report(site, browser, wechat_api):
    from selenium.webdriver.common.by import By

    for openid in ("o_b1", "o_b2"):
        site.client().event(openid, "subscribe")
    _log_in(browser, site)
    browser.get(site.url + "/admin/announcements")
    browser.find_element(By.ID, "a-title").send_keys("停水通知")
    browser.find_element(By.ID, "a-body").send_keys("明天上午9点至12点停水，请提前储水。")
    _submit(browser, browser.find_element(By.ID, "send"))
    count = int(re.search(r"将发送给 (\d+) 位居民", browser.find_element(By.ID, "audience-count").text).group(1))
    assert count >= 2
    browser.shot("announcement-count")
    _submit(browser, browser.find_element(By.ID, "send"))
    assert "送达报告" in browser.page_source
    run_jobs(site.rt)
    assert wechat_api.wait_messages("o_b1") and wechat_api.wait_messages("o_b2")
    browser.refresh()
    assert int(browser.find_element(By.ID, "sent").text) == count
    browser.shot("delivery-report")


def test_community_staff_editing_the_url_to_another_communitys_event_get_404(site, browser):

    names = {c.name: c.id for c in communities.all_communities(site.rt.db)}
    staff.add(site.rt.db, "wenhua", "文华社区工作人员", "a-long-password-1", "community", names["文华社区"], "system",
              site.rt.now())
    other = events.create(site.rt.db, events.EventSpec("罗湖读书会", site.rt.now() + timedelta(days=3),
                                                       site.rt.now() + timedelta(days=3, hours=2), 20,
                                                       community_id=names["罗湖社区"]), "staff:admin", site.rt.now())
    _log_in(browser, site, "wenhua", "a-long-password-1")
    browser.get(site.url + "/admin/events")
    assert "罗湖读书会" not in browser.page_source
    browser.get(f"{site.url}/admin/events/{other.id}")
    assert "Not Found" in browser.page_source or "404" in browser.title
    browser.shot("other-community-404")


def test_a_newcomer_finds_an_overdue_opinion_assigns_it_and_replies(site, browser, wechat_api):
    """Issue 8's done-when: from the dashboard to the resident's notice."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    chat = site.client()
    chat.say("o_late_lamp", "3栋楼道灯坏了一个星期")
    chat.say("o_late_lamp", "1")
    ticket = re.search(r"MY\d{11}", chat.say("o_late_lamp", "是")["Content"]).group(0)
    with site.rt.db.transaction() as s:
        o = s.scalar(select(Opinion).where(Opinion.ticket_no == ticket))
        o.created_at -= timedelta(days=10)
        o.due_at -= timedelta(days=10)
    _log_in(browser, site)
    _submit(browser, browser.find_element(By.ID, "overdue-link"))
    browser.shot("overdue-list")
    _submit(browser, browser.find_element(By.LINK_TEXT, ticket))
    Select(browser.find_element(By.ID, "assignee")).select_by_visible_text("发展更新部")
    _submit(browser, browser.find_element(By.ID, "assign"))
    assert "已受理并分派" in browser.page_source
    browser.find_element(By.ID, "reply-note").send_keys("电工明天上午上门更换灯具")
    _submit(browser, browser.find_element(By.ID, "reply"))
    assert "答复已发给居民" in browser.page_source
    browser.shot("assigned-and-replied")
    run_jobs(site.rt)
    told = [m["content"] for m in wechat_api.wait_messages("o_late_lamp", 2)]
    assert any("已受理" in t for t in told) and any("电工明天上午上门" in t for t in told)
