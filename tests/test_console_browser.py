"""The web console in a real browser: Debian's Chromium driven by Playwright against one real
``precheck serve`` (embedded defaults, real reviews of generated fixture cases). Screenshots of the
queue, a case page and the statistics go to ``var/test-artifacts/console/``.

Chromium must be installed (``scripts/setup.sh`` does: Debian package ``chromium``); a missing
browser fails these tests, it never skips them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright

from fixtures.scans.generate import generate_all
from tests.processes import REPO, environment, new_key, served, submit_folder, wait_report

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "var" / "test-artifacts" / "console"
SEAL_CASE, EDITED_CASE = "seal_outside_box", "scan_edited_photoshop"
USERS = {"clerk": ("wang.clerk", "clerk-password-1"), "auditor": ("zhao.auditor", "auditor-password-1")}


@dataclass
class Site:
    base: str
    key: str
    cases: dict[str, str]  # fixture name -> case id
    folders: dict[str, Path]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One served app for every browser test: two needs-review cases submitted and reviewed."""
    root = tmp_path_factory.mktemp("console-site")
    folders = {f.name: f for f in generate_all(root / "cases", only=[SEAL_CASE, EDITED_CASE])}
    env = environment(PRECHECK_SESSION_SECRET="browser-test-secret")
    for name in ("PRECHECK_DATABASE_URL", "PRECHECK_BROKER_URL", "PRECHECK_BLOB_STORE", "PRECHECK_BLOB_DIR"):
        env.pop(name, None)
    for role, (user, password) in USERS.items():
        assert _create_user(root, env, user, role, password), f"precheck user create {user} failed"
    key = new_key(root, env)
    with served(root, env) as base:
        cases = {name: submit_folder(base, key, folder) for name, folder in folders.items()}
        for case_id in cases.values():
            assert wait_report(base, key, case_id)["decision"] == "needs_review"
        yield Site(base, key, cases, folders)


def _create_user(cwd: Path, env: dict[str, str], name: str, role: str, password: str) -> bool:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "pipeline", "user", "create", name, "--role", role], cwd=cwd,
                            env=env, input=password + "\n", capture_output=True, text=True, timeout=60)
    return result.returncode == 0 and "user created" in result.stdout


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh installs it)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


def signed_in(browser: Browser, site: Site, role: str) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN").new_page()
    page.goto(f"{site.base}/")
    user, password = USERS[role]
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    expect(page).to_have_url(f"{site.base}/queue")
    return page


def test_a_clerk_opens_a_needs_review_case_sees_the_seal_box_over_the_scan_and_approves_it(
        browser: Browser, site: Site) -> None:
    page = signed_in(browser, site, "clerk")
    case_id = site.cases[SEAL_CASE]
    expect(page.locator(f"table.queue a[href='/cases/{case_id}']")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)
    page.click(f"table.queue a[href='/cases/{case_id}']")
    expect(page).to_have_url(f"{site.base}/cases/{case_id}")
    # the seal box is drawn over the application form's scan, and the scan itself loaded
    form_scan = page.locator("#slot-application_form .sheet").first
    expect(form_scan.locator("img")).to_be_visible()
    assert form_scan.locator("img").evaluate("img => img.naturalWidth") > 0
    seal = form_scan.locator(".mark", has_text="seal.org_name").first
    expect(seal).to_be_visible()
    box, sheet = seal.bounding_box(), form_scan.bounding_box()
    assert box and sheet and sheet["x"] <= box["x"] and box["x"] + box["width"] <= sheet["x"] + sheet["width"] + 1
    page.screenshot(path=str(ARTIFACTS / "case.png"), full_page=False)
    seal.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "case-scan.png"), full_page=False)
    page.fill("#approve-form textarea[name=reason]", "公章文字经人工核对为本单位名称；盖章位置可接受")
    page.click("#approve-form button[type=submit]")
    expect(page.locator("#current-action")).to_contain_text("审核员通过")
    expect(page.locator(f"table.queue a[href='/cases/{case_id}']")).to_have_count(0)


def test_an_auditor_then_sees_the_approval_as_an_audit_event_and_the_chain_verified(browser: Browser,
                                                                                     site: Site) -> None:
    page = signed_in(browser, site, "auditor")
    page.goto(f"{site.base}/cases/{site.cases[SEAL_CASE]}/audit")
    event = page.locator("tr.ev-clerk_approved")
    expect(event).to_have_count(1)
    expect(event).to_contain_text(USERS["clerk"][0])
    expect(event).to_contain_text("公章文字经人工核对")
    expect(page.locator("tr.ev-decision_approved")).to_have_count(1)
    expect(page.locator("#chain.ok")).to_contain_text("审计链校验通过")
    page.goto(f"{site.base}/stats")
    expect(page.locator("svg.chart rect").first).to_be_attached()
    page.screenshot(path=str(ARTIFACTS / "stats.png"), full_page=True)


def test_a_clerk_asks_for_a_new_upload_and_the_case_comes_back_reviewed_after_the_applicant_replaces_it(
        browser: Browser, site: Site) -> None:
    page = signed_in(browser, site, "clerk")
    case_id = site.cases[EDITED_CASE]
    page.goto(f"{site.base}/cases/{case_id}")
    page.check("#upload-form input[value=org_license]")
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#current-action")).to_contain_text("要求补传材料")
    page.goto(f"{site.base}/queue")
    expect(page.locator(f"table.queue a[href='/cases/{case_id}']")).to_have_count(0)
    # the applicant replaces the file through the API (the same licence, saved again)
    original = next((site.folders[EDITED_CASE] / "uploads").glob("org_license.*"))
    again = io.BytesIO()
    Image.open(original).convert("RGB").save(again, "JPEG", quality=92)
    answer = httpx.put(f"{site.base}/api/cases/{case_id}/uploads/org_license", timeout=60,
                       headers={"Authorization": f"Bearer {site.key}"},
                       files={"file": ("org_license.jpg", again.getvalue(), "image/jpeg")})
    assert answer.status_code == 202, answer.text
    report = wait_report(site.base, site.key, case_id)
    page.goto(f"{site.base}/cases/{case_id}")
    expect(page.locator("#files")).to_contain_text("v2 · 当前")
    data = page.request.get(f"{site.base}/cases/{case_id}.json").json()
    assert data["decision"] == report["decision"] and data["current_action"] is None
    assert [u["version"] for u in data["uploads"] if u["slot"] == "org_license"] == [1, 2]
    if report["decision"] == "needs_review":  # back in the queue for a person
        page.goto(f"{site.base}/queue")
        expect(page.locator(f"table.queue a[href='/cases/{case_id}']")).to_have_count(1)


def test_a_user_of_the_wrong_role_gets_403(browser: Browser, site: Site) -> None:
    page = signed_in(browser, site, "clerk")
    answer = page.goto(f"{site.base}/stats")
    assert answer is not None and answer.status == 403
    assert "forbidden" in page.content()


def test_a_form_posted_without_its_csrf_token_is_refused(browser: Browser, site: Site) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{site.base}/login")
    page.evaluate("document.querySelector('form[action=\"/login\"] input[name=csrf_token]').remove()")
    page.fill("input[name=username]", USERS["clerk"][0])
    page.fill("input[name=password]", USERS["clerk"][1])
    with page.expect_response(f"{site.base}/login") as answer:
        page.click("form[action='/login'] button[type=submit]")
    assert answer.value.status == 403
    assert "CSRF" in page.content()
