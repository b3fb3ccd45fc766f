"""The review app in real Chromium (Playwright) against a uvicorn server started here on a free port.

A director logs in, sees only their list, opens a child (name visible), records an outcome; another
director is refused (403); the audit log shows the look-ups; a reviewer sees the cards and no child
rows. Phone-sized screenshots of the list and the child page are saved (``HUMIAO_SCREENSHOT_DIR`` or
the test's tmp folder) for a person to look at.

Chromium is a system package (DESIGN §11.17): missing → skip locally, fail when ``CI=true``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from test_app_support import PASSWORD, audit_lines, build_env

from privacy.vault import verify_audit_log

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
TOKEN_RE = re.compile(r"P_k1_[0-9a-f]{20}")


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        msg = "Chromium is not installed: run `make system-deps` (root; apt-get install chromium fonts-wqy-microhei)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg + " — required in CI (DESIGN §11.17)")
        pytest.skip(msg)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from serving.app.main import create_app

    chromium = _chromium()
    env = build_env(tmp_path_factory.mktemp("browser"))
    app = create_app(env.settings)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "env": env, "chromium": chromium}
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=server["chromium"], args=CHROMIUM_ARGS)
        yield b
        b.close()


def _login(browser, server, username):
    ctx = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                              locale="zh-CN")
    page = ctx.new_page()
    page.goto(server["url"] + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("networkidle")
    return ctx, page


def _shots_dir(tmp_path) -> Path:
    d = Path(os.environ.get("HUMIAO_SCREENSHOT_DIR") or tmp_path)
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_director_flow_other_director_refused_and_audited(server, browser, tmp_path):
    env = server["env"]
    shots = _shots_dir(tmp_path)
    ctx, page = _login(browser, server, "dir_a")
    assert page.url.endswith("/list")
    body = page.content()
    own = {env.tokens[k] for k in ("a1", "a2", "a3", "a4", "a5")}
    assert set(TOKEN_RE.findall(body)) == own
    assert page.get_by_text("紧急核查").first.is_visible()
    page.screenshot(path=str(shots / "director_list_phone.png"), full_page=True)
    # the page fits the phone: no horizontal scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1

    tok = env.tokens["a1"]
    page.locator(f'a[href="/child/{tok}"]').click()
    page.wait_for_load_state("networkidle")
    name = env.identities[tok]["name"]
    assert page.locator("h1.name").inner_text() == name
    assert page.get_by_text("近3个月缺勤12天").first.is_visible()
    page.screenshot(path=str(shots / "director_child_phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1

    page.get_by_label("走访日期").fill("2026-01-12")
    page.get_by_label("走访方式").select_option("入户走访")
    page.get_by_label("一般", exact=True).check()
    page.locator('textarea[name="note"]').fill(f"见到{name}，由奶奶照看，作业完成较好。")
    page.get_by_label("同意", exact=True).check()
    page.get_by_role("button", name="保存走访记录").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("已保存走访记录").is_visible()
    history = page.locator("ul.history").first.inner_text()
    assert "一般" in history and "<PERSON_1>" in history and name not in history
    page.screenshot(path=str(shots / "director_child_saved_phone.png"), full_page=True)
    ctx.close()

    ctx2, page2 = _login(browser, server, "dir_c")
    resp = page2.goto(f"{server['url']}/child/{tok}")
    assert resp.status == 403
    assert "无权查看" in page2.content() and name not in page2.content()
    ctx2.close()

    entries = [e for e in audit_lines(env) if e["token"] == tok]
    assert any(e["actor"] == "dir_a" and e["outcome"] == "allowed" for e in entries)
    assert any(e["actor"] == "dir_c" and e["outcome"] == "refused" for e in entries)
    assert verify_audit_log(env.settings.audit_log_path)
    parquet = env.settings.feedback_dir / "visit_outcomes.parquet"
    assert parquet.exists() and name.encode() not in parquet.read_bytes()


def test_reviewer_sees_cards_but_no_child_rows(server, browser, tmp_path):
    env = server["env"]
    ctx, page = _login(browser, server, "reviewer")
    assert page.url.endswith("/governance")
    assert page.get_by_role("link", name=re.compile("模型卡：监护风险")).is_visible()
    body = page.content()
    assert not TOKEN_RE.search(body)
    assert not any(i["name"] in body for i in env.identities.values())
    page.screenshot(path=str(_shots_dir(tmp_path) / "reviewer_governance_phone.png"), full_page=True)
    page.get_by_role("link", name=re.compile("模型卡：监护风险")).click()
    page.wait_for_load_state("networkidle")
    assert "precision@capacity_abs" in page.content()
    resp = page.goto(server["url"] + "/list")
    assert resp.status == 403
    assert not TOKEN_RE.search(page.content())
    ctx.close()
