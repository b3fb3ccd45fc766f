"""The review app through FastAPI's TestClient: login, role scoping, 403 + audit, CSRF, outcomes →
visit records, corrections, referrals, the named list, the reviewer's and the data team's pages."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from test_app_support import PASSWORD, audit_lines, build_env, csrf_of, register_two_versions

from privacy.vault import verify_audit_log
from serving.app.main import create_app
from serving.feedback import (
    APP_SOURCE_FILE,
    REDACTED_NOTE,
    VISIT_RECORDS_SCHEMA,
    export_feedback,
    override_rate,
    tokens_under_correction,
    visit_outcomes_table,
)

REPO = Path(__file__).resolve().parents[2]
TOKEN_RE = re.compile(r"P_k1_[0-9a-f]{20}")


@pytest.fixture
def env(tmp_path):
    return build_env(tmp_path)


@pytest.fixture
def app(env):
    return create_app(env.settings)


def login(app, username: str, password: str = PASSWORD, base_url: str = "http://testserver") -> TestClient:
    c = TestClient(app, base_url=base_url, follow_redirects=False)
    page = c.get("/login")
    r = c.post("/login", data={"username": username, "password": password, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    return c


def test_login_sets_strict_httponly_cookie_and_routes_by_role(app):
    c = login(app, "dir_a")
    cookie = [v for k, v in c.cookies.items() if k == "humiao_session"]
    assert cookie
    r = c.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/list"
    assert login(app, "reviewer").get("/").headers["location"] == "/governance"
    assert login(app, "datateam").get("/").headers["location"] == "/data"


def test_set_cookie_flags_and_secure_over_https(app):
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    page = c.get("/login")
    r = c.post("/login", data={"username": "dir_a", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    sc = r.headers["set-cookie"].lower()
    assert "humiao_session=" in sc and "httponly" in sc and "samesite=strict" in sc and "secure" in sc
    c2 = TestClient(app, base_url="http://testserver", follow_redirects=False)
    page = c2.get("/login")
    r2 = c2.post("/login", data={"username": "dir_a", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert "secure" not in r2.headers["set-cookie"].lower()


def test_wrong_password_and_lockout(app):
    c = TestClient(app, follow_redirects=False)
    for _ in range(5):
        page = c.get("/login")
        r = c.post("/login", data={"username": "dir_a", "password": "wrong-password-1", "csrf_token": csrf_of(page.text)})
        assert r.headers["location"] == "/login?error=bad"
    page = c.get("/login")
    r = c.post("/login", data={"username": "dir_a", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert r.headers["location"] == "/login?error=locked"
    assert c.get("/list").status_code == 303  # not signed in


def test_login_without_csrf_is_refused(app):
    c = TestClient(app, follow_redirects=False)
    c.get("/login")
    r = c.post("/login", data={"username": "dir_a", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 403
    assert "humiao_session" not in r.headers.get("set-cookie", "")


def test_pages_need_login(app):
    c = TestClient(app, follow_redirects=False)
    assert c.get("/list").headers["location"] == "/login"
    assert c.get("/api/list").status_code == 401


def test_director_sees_only_own_community(app, env):
    c = login(app, "dir_a")
    html = c.get("/list").text
    shown = set(TOKEN_RE.findall(html))
    own = {env.tokens[k] for k in ("a1", "a2", "a3", "a4", "a5")}
    assert shown == own
    assert "紧急核查" in html and "监护人住院" in html and "近3个月缺勤12天" in html
    assert "林晓雨" not in html  # names only on the child page
    api = c.get("/api/list").json()
    assert {r["community"] for r in api["rows"]} == {"光明村"} and len(api["rows"]) == 5


def test_supervisor_sees_township(app, env):
    c = login(app, "sup_ds")
    shown = set(TOKEN_RE.findall(c.get("/list").text))
    assert shown == {env.tokens[k] for k in ("a1", "a2", "a3", "a4", "a5", "b1", "b2")}
    page = c.get(f"/child/{env.tokens['b1']}")
    assert page.status_code == 200 and "孙佳怡" in page.text
    assert c.get(f"/child/{env.tokens['c1']}").status_code == 403


def test_child_page_shows_name_and_audits_the_lookup(app, env):
    c = login(app, "dir_a")
    tok = env.tokens["a1"]
    r = c.get(f"/child/{tok}")
    assert r.status_code == 200
    assert "林晓雨" in r.text and "光明村12组8号" in r.text and "已210天未走访" in r.text
    assert r.headers["cache-control"] == "no-store"
    entries = [e for e in audit_lines(env) if e["token"] == tok]
    assert entries[-1]["outcome"] == "allowed" and entries[-1]["actor"] == "dir_a"
    assert entries[-1]["purpose"].startswith("走访核查")
    assert verify_audit_log(env.settings.audit_log_path)


def test_other_communitys_child_is_403_and_logged(app, env):
    c = login(app, "dir_a")
    other = env.tokens["c1"]
    r = c.get(f"/child/{other}")
    assert r.status_code == 403 and "何雨桐" not in r.text
    api = c.get(f"/api/children/{other}")
    assert api.status_code == 403
    post = c.post(f"/child/{other}/outcome", data={"csrf_token": csrf_of(c.get("/list").text)})
    assert post.status_code == 403
    refused = [e for e in audit_lines(env) if e["token"] == other]
    assert len(refused) == 3 and all(e["outcome"] == "refused" and e["actor"] == "dir_a" for e in refused)
    assert {e["purpose"] for e in refused} == {"访问 /child", "访问 /api/children", "访问 /child/outcome"}
    assert c.get("/child/not-a-token").status_code == 403
    assert audit_lines(env)[-1]["token"] == "not-a-token"
    assert verify_audit_log(env.settings.audit_log_path)
    # the other community's director can open it
    assert "何雨桐" in login(app, "dir_c").get(f"/child/{other}").text


def _outcome(c, tok, **over):
    page = c.get(f"/child/{tok}")
    data = {"csrf_token": csrf_of(page.text), "visit_date": "2026-01-10", "visit_mode": "入户走访",
            "assessment": "监护不当", "agree": "同意", "note": "", "disagree_reason": ""}
    data.update(over)
    return c.post(f"/child/{tok}/outcome", data=data)


def test_csrf_is_required_on_posts(app, env):
    c = login(app, "dir_a")
    tok = env.tokens["a1"]
    r = c.post(f"/child/{tok}/outcome", data={"visit_date": "2026-01-10", "visit_mode": "入户走访",
                                             "assessment": "良好", "agree": "同意"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = c.post(f"/child/{tok}/outcome", data={"csrf_token": "x" * 43, "visit_date": "2026-01-10",
                                             "visit_mode": "入户走访", "assessment": "良好", "agree": "同意"})
    assert r.status_code == 403
    # a token from another session does not work either
    other = login(app, "dir_a")
    foreign = csrf_of(other.get("/list").text)
    r = c.post(f"/child/{tok}/correction", data={"csrf_token": foreign, "what": "x", "requested_by": "母亲",
                                                "department": "公安"})
    assert r.status_code == 403
    assert len(visit_outcomes_table(env.settings.database_url)) == 0
    assert tokens_under_correction(env.settings.database_url) == set()


def test_outcome_is_anonymized_and_exported_as_visit_records(app, env):
    c = login(app, "dir_a")
    tok = env.tokens["a1"]
    ident = env.identities[tok]
    raw_note = f"入户见到{ident['name']}，奶奶说孩子电话{ident['phone']}，身份证{ident['id_number']}，常一个人在家。"
    r = _outcome(c, tok, note=raw_note, agree="不同意", disagree_reason=f"{ident['name']}其实由姑姑照看")
    assert r.status_code == 303, r.text
    assert _outcome(c, env.tokens["a2"], assessment="未见到儿童").status_code == 303
    assert _outcome(c, env.tokens["a3"], assessment="良好", visit_mode="电话回访").status_code == 303
    path = env.settings.feedback_dir / "visit_outcomes.parquet"
    table = pq.read_table(path)
    assert table.schema.equals(VISIT_RECORDS_SCHEMA, check_metadata=False)
    real = REPO / "data" / "work" / "pseudonymized" / "visit_records.parquet"
    if real.exists():
        ref = pq.read_schema(real)
        assert [(f.name, str(f.type)) for f in table.schema] == [(f.name, str(f.type)) for f in ref]
    df = table.to_pandas()
    assert len(df) == 2  # 未见到儿童 carries no assessment: not a visit record
    assert set(df["source_file"]) == {APP_SOURCE_FILE}
    assert df["visit_id"].str.startswith("APP-").all() and df["visit_id"].is_unique
    row = df[df["child_token"] == tok].iloc[0]
    assert row["guardianship_assessment"] == "监护不当" and row["visit_mode"] == "入户走访"
    assert str(row["visit_date"]) == "2026-01-10" and row["filed_date"] == row["knowledge_date"]
    assert "<PERSON_1>" in row["notes"] and "常一个人在家" in row["notes"]
    blob = path.read_bytes()
    for secret in (ident["name"], ident["phone"], ident["id_number"]):
        assert secret not in row["notes"] and secret.encode() not in blob
    # nor in the database, nor the disagreement reason
    db_bytes = Path(env.settings.database_url.removeprefix("sqlite:///")).read_bytes()
    for secret in (ident["name"], ident["phone"], ident["id_number"]):
        assert secret.encode() not in db_bytes
    rate = override_rate(env.settings.database_url)
    assert (rate["outcomes"], rate["disagreed"], rate["by_reason_given"]) == (3, 1, 1)
    assert rate["rate"] == pytest.approx(1 / 3) and rate["suppressed"] is True
    assert override_rate(env.settings.database_url, target="left_behind_risk")["outcomes"] == 0
    page = c.get(f"/child/{tok}").text
    assert "本期已记录走访" in page and "&lt;PERSON_1&gt;" in page and ident["phone"] not in page
    # the anonymizer's leftover check: a note the scanner still flags is redacted whole
    from serving.app.data import NoteSanitizer

    class Flagging:
        def scan_text(self, text, free_text=False):
            return [("PERSON", 0, 1)]

    s = NoteSanitizer()
    s._anonymizer, s._index_scanner = s._engines()[0], Flagging()
    assert s.sanitize("一切正常", ident) == (REDACTED_NOTE, True)


def test_outcome_validation_errors_are_shown_and_nothing_stored(app, env):
    c = login(app, "dir_a")
    r = _outcome(c, env.tokens["a1"], assessment="很好", agree="不同意", disagree_reason="")
    assert r.status_code == 400 and "请选择监护评估" in r.text and "不同意排序时请写明原因" in r.text
    assert len(visit_outcomes_table(env.settings.database_url)) == 0


def test_only_directors_record_outcomes(app, env):
    c = login(app, "sup_ds")
    tok = env.tokens["a1"]
    r = c.post(f"/child/{tok}/outcome", data={"csrf_token": csrf_of(c.get(f"/child/{tok}").text)})
    assert r.status_code == 403


def test_correction_request_flags_the_child_until_resolved(app, env):
    c = login(app, "dir_a")
    tok = env.tokens["a2"]
    page = c.get(f"/child/{tok}")
    r = c.post(f"/child/{tok}/correction", data={"csrf_token": csrf_of(page.text),
                                                "what": "户籍登记的监护人关系有误（应为祖母）",
                                                "requested_by": "母亲", "department": "公安"})
    assert r.status_code == 303
    assert tokens_under_correction(env.settings.database_url) == {tok}
    html = c.get("/list").text
    block = re.search(rf'<li class="child[^"]*">\s*<a href="/child/{tok}".*?</li>', html, re.S).group(0)
    assert "数据更正中" in block
    assert html.count("数据更正中") == 1
    out = export_feedback(env.settings.database_url, env.settings.feedback_dir)
    assert pq.read_table(out["under_correction"]).column("child_token").to_pylist() == [tok]
    # another director cannot resolve it (403 + audit)
    other = login(app, "dir_c")
    cid = re.search(r"/correction/(\d+)/resolve", page.text) or re.search(
        r"/correction/(\d+)/resolve", c.get(f"/child/{tok}").text)
    r = other.post(f"/correction/{cid.group(1)}/resolve",
                   data={"csrf_token": csrf_of(other.get("/list").text), "resolution": "x"})
    assert r.status_code == 403 and audit_lines(env)[-1]["actor"] == "dir_c"
    r = c.post(f"/correction/{cid.group(1)}/resolve",
               data={"csrf_token": csrf_of(c.get("/list").text), "resolution": "公安已更正"})
    assert r.status_code == 303
    assert tokens_under_correction(env.settings.database_url) == set()
    assert "数据更正中" not in c.get("/list").text


def test_referral_status_is_tracked(app, env):
    c = login(app, "dir_a")
    tok = env.tokens["a3"]
    page = c.get(f"/child/{tok}")
    r = c.post(f"/child/{tok}/referral", data={"csrf_token": csrf_of(page.text), "service": "心理支持",
                                              "need": "孩子情绪低落，建议心理咨询"})
    assert r.status_code == 303
    page = c.get(f"/child/{tok}").text
    assert "心理支持" in page and "已转介" in page and "转介跟进中" in page
    rid = re.search(r"/referral/(\d+)/status", page).group(1)
    r = c.post(f"/referral/{rid}/status", data={"csrf_token": csrf_of(page), "status": "已完成"})
    assert r.status_code == 303
    page = c.get(f"/child/{tok}").text
    assert "转介跟进中" not in page and re.search(r"<option selected>已完成</option>", page)


def test_named_list_download(app, env):
    out_before = sorted(p for p in env.settings.out_dir.rglob("*"))
    c = login(app, "dir_a")
    r = c.get("/list/named.xlsx")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert "attachment" in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb.active
    cells = [str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    text = "\n".join(cells)
    for k in ("a1", "a2", "a3", "a4", "a5"):
        assert env.identities[env.tokens[k]]["name"] in text
    for k in ("b1", "c1"):
        assert env.identities[env.tokens[k]]["name"] not in text
    assert "导出账号 dir_a" in ws["A2"].value
    assert "导出账号 dir_a" in ws.oddHeader.center.text and "导出账号 dir_a" in ws.oddFooter.center.text
    allowed = [e for e in audit_lines(env) if e["purpose"].startswith("下载含姓名走访名单")]
    assert len(allowed) == 5 and all(e["outcome"] == "allowed" for e in allowed)
    assert sorted(p for p in env.settings.out_dir.rglob("*")) == out_before  # nothing written to out/
    assert login(app, "sup_ds").get("/list/named.xlsx").status_code == 403
    assert login(app, "reviewer").get("/list/named.xlsx").status_code == 403


def test_reviewer_sees_cards_and_no_child_rows(app, env):
    # some activity first, so that there is something to leak
    d = login(app, "dir_a")
    _outcome(d, env.tokens["a1"], note="一切正常")
    c = login(app, "reviewer")
    html = c.get("/governance").text
    assert "模型卡：监护风险" in html and "/cards/guardianship_risk.html" in html
    assert "审计日志哈希链" in html and "完整" in html
    assert not TOKEN_RE.search(html)
    for ident in env.identities.values():
        assert ident["name"] not in html
    card = c.get("/cards/guardianship_risk.html")
    assert card.status_code == 200 and "precision@capacity_abs" in card.text
    assert "default-src 'none'" in card.headers["content-security-policy"]
    assert c.get("/cards/..%2Fvisit_lists%2F2026-01%2Fvisit_lists.parquet").status_code in (403, 404)
    for path in ("/list", "/api/list", f"/child/{env.tokens['a1']}", f"/api/children/{env.tokens['a1']}"):
        r = c.get(path)
        assert r.status_code == 403, path
        assert "林晓雨" not in r.text
    assert not [e for e in audit_lines(env) if e["actor"] == "reviewer" and e["outcome"] == "allowed"]


def test_data_team_sees_reconciliation_and_no_names(app, env):
    c = login(app, "datateam")
    html = c.get("/data").text
    assert "入库核对" in html and "visit_records" in html and "INVALID_ID_CHECKSUM 3" in html
    assert not TOKEN_RE.search(html)
    assert c.get(f"/child/{env.tokens['a1']}").status_code == 403
    assert c.get("/governance").status_code == 403


@pytest.fixture
def mlflow_env(tmp_path):
    uri = register_two_versions(tmp_path / "ml")
    return build_env(tmp_path / "app", mlflow_uri=uri)


def test_approval_moves_champion_and_rollback_moves_it_back(mlflow_env):
    from mlflow import MlflowClient

    from models.tracking import approval_of

    app = create_app(mlflow_env.settings)
    c = login(app, "reviewer")
    page = c.get("/governance").text
    assert "humiao_guardianship_risk" in page and "待审批" in page and "已批准" in page
    name = "humiao_guardianship_risk"
    r = c.post("/governance/approve", data={"csrf_token": csrf_of(page), "model": name, "version": "2", "note": ""})
    assert r.headers["location"] == "/governance?error=note"
    r = c.post("/governance/approve", data={"csrf_token": "bad", "model": name, "version": "2", "note": "ok"})
    assert r.status_code == 403
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    r = c.post("/governance/approve", data={"csrf_token": csrf_of(page), "model": name, "version": "2",
                                            "note": "模型卡已审阅，公平性在区间内"})
    assert r.status_code == 303 and "approved" in r.headers["location"]
    assert str(client.get_model_version_by_alias(name, "champion").version) == "2"
    a = approval_of(name, "2")
    assert a["status"] == "approved" and a["by"] == "reviewer" and a["note"].startswith("模型卡已审阅")
    r = c.post("/governance/rollback", data={"csrf_token": csrf_of(page), "model": name, "note": "发现问题，回滚"})
    assert r.status_code == 303
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert approval_of(name, "2")["status"] == "rolled_back"
    # directors cannot approve
    d = login(app, "dir_a")
    r = d.post("/governance/approve", data={"csrf_token": csrf_of(d.get("/list").text), "model": name,
                                            "version": "2", "note": "x"})
    assert r.status_code == 403
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    data = login(app, "datateam").get("/data").text
    assert "#/models/humiao_guardianship_risk" in data and "#/experiments/" in data


def test_each_version_links_its_own_card(mlflow_env):
    """The reviewer reads the card of the version they approve (out/model_cards/versions/), not only
    the serving model's card."""
    folder = mlflow_env.settings.model_cards_dir / "versions" / "guardianship_risk" / "v2"
    folder.mkdir(parents=True)
    (folder / "guardianship_risk.html").write_text("<html><title>v2 待审批</title>第2版模型卡</html>", encoding="utf-8")
    app = create_app(mlflow_env.settings)
    c = login(app, "reviewer")
    page = c.get("/governance").text
    link = "/cards/versions/guardianship_risk/v2/guardianship_risk.html"
    assert link in page
    assert "/cards/versions/guardianship_risk/v1/" not in page  # v1's card was never rendered: no dead link
    r = c.get(link)
    assert r.status_code == 200 and "第2版模型卡" in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]
    for bad in ("/cards/versions/guardianship_risk/v2/..%2F..%2F..%2Fsecret.html",
                "/cards/versions/guardianship_risk/vx/guardianship_risk.html",
                "/cards/versions/guardianship_risk/v3/guardianship_risk.html"):
        assert c.get(bad).status_code in (403, 404), bad
    assert login(app, "dir_a").get(link).status_code == 403


def test_logout_ends_the_session(app):
    c = login(app, "dir_a")
    cookie = c.cookies.get("humiao_session")
    r = c.post("/logout", data={"csrf_token": csrf_of(c.get("/list").text)})
    assert r.status_code == 303
    replay = TestClient(app, follow_redirects=False)
    replay.cookies.set("humiao_session", cookie)
    assert replay.get("/list").status_code == 303


def test_users_cli_adds_and_lists(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from humiao.cli import app as cli

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("HUMIAO_APP_DATABASE_URL", url)
    monkeypatch.setenv("HUMIAO_APP_PASSWORD", PASSWORD)
    runner = CliRunner()
    r = runner.invoke(cli, ["users", "add", "--username", "zhuren1", "--role", "director",
                            "--community", "光明村", "--township", "东山镇"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["users", "add", "--username", "zhuren2", "--role", "director"])
    assert r.exit_code == 2
    monkeypatch.setenv("HUMIAO_APP_PASSWORD", "short")
    r = runner.invoke(cli, ["users", "add", "--username", "rev", "--role", "reviewer"])
    assert r.exit_code == 2
    r = runner.invoke(cli, ["users", "list"])
    assert r.exit_code == 0 and "zhuren1\tdirector\t东山镇\t光明村\tactive" in r.stdout
    assert "zhuren2" not in r.stdout and "argon2" not in r.stdout
    raw = (tmp_path / "cli.sqlite").read_bytes()
    assert PASSWORD.encode() not in raw and b"$argon2id$" in raw


def test_audit_log_json_lines_hold_no_identities(app, env):
    c = login(app, "dir_a")
    c.get(f"/child/{env.tokens['a1']}")
    c.get(f"/child/{env.tokens['c1']}")
    text = env.settings.audit_log_path.read_text(encoding="utf-8")
    for ident in env.identities.values():
        assert ident["name"] not in text and ident["id_number"] not in text
    assert all(json.loads(x)["hash"] for x in text.splitlines())


# ---------------------------------------------------------------------------------------------------
# governance page wording (new-user findings)
# ---------------------------------------------------------------------------------------------------


def _visible_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_governance_page_speaks_plainly_after_approval(mlflow_env):
    """After approving, the page said 尚无已批准的模型 (the cards change only with the next run), the
    message was a raw code, the table showed ``champion = v—`` and English alias names."""
    app = create_app(mlflow_env.settings)
    c = login(app, "reviewer")
    page = c.get("/governance").text
    text = _visible_text(page)
    assert "champion = v" not in text and "challenger、champion" not in text
    assert "正在使用：第1版" in text and "待审批：第2版" in text
    assert "尚无已批准的模型" not in text  # v1 is approved in the registry
    name = "humiao_guardianship_risk"
    r = c.post("/governance/approve", data={"csrf_token": csrf_of(page), "model": name, "version": "2",
                                            "note": "模型卡已审阅"})
    page = c.get(r.headers["location"]).text
    text = _visible_text(page)
    assert "已完成：approved:" not in text and "approved:humiao" not in text
    assert "已批准 监护风险模型 第2版为 champion" in text and "下一次运行（humiao run）" in text
    assert "尚无已批准的模型" not in text
    assert "监护风险模型已批准第2版（正在使用）" in text  # the published card is still the earlier run's
    assert "正在使用：第2版" in text
    row = re.search(r"<tr class=\"approval-approved\">.*?</tr>", page, re.S).group(0)
    assert "正在使用" in row and "champion" not in _visible_text(row)
    assert "待审批、正在使用" not in row  # approved: no longer awaiting review


def test_governance_without_an_approved_model_says_so(mlflow_env):
    from mlflow import MlflowClient

    app = create_app(mlflow_env.settings)
    c = login(app, "reviewer")
    c.get("/governance")  # points MLflow at the test registry
    client = MlflowClient()
    name = "humiao_guardianship_risk"
    client.delete_registered_model_alias(name, "champion")
    text = _visible_text(c.get("/governance").text)
    assert "尚无已批准的模型：名单在审查员批准模型之前不会发布" in text
    assert "正在使用：尚无" in text


def test_rollback_without_an_earlier_version_says_why(mlflow_env):
    app = create_app(mlflow_env.settings)
    c = login(app, "reviewer")
    page = c.get("/governance").text
    r = c.post("/governance/rollback", data={"csrf_token": csrf_of(page), "model": "humiao_guardianship_risk",
                                             "note": "试试回滚"})
    assert r.status_code == 303
    text = _visible_text(c.get(r.headers["location"]).text)
    assert "没有更早的已批准版本可回滚" in text
    assert "操作未成功（rollback）" not in text


def test_automatic_approval_is_shown_in_chinese(mlflow_env):
    from models import tracking
    from models.cycle import AUTO_APPROVER

    app = create_app(mlflow_env.settings)
    c = login(app, "reviewer")
    c.get("/governance")
    tracking.approve("humiao_guardianship_risk", "2", by=AUTO_APPROVER, note="simulated input: approved automatically")
    text = _visible_text(c.get("/governance").text)
    assert "automatic: simulated input" not in text and "approved automatically" not in text
    assert "模拟数据自动批准" in text


def test_governance_table_stacks_on_a_phone(mlflow_env):
    """On a 390px phone the six-column table squeezed 审批状态 to one character a line: below 640px the
    rows are stacked label–value blocks."""
    app = create_app(mlflow_env.settings)
    c = login(app, "reviewer")
    page = c.get("/governance").text
    assert 'class="grid stacked"' in page
    for label in ("版本", "周期", "别名", "审批状态", "审批人 / 时间 / 意见", "操作"):
        assert f'data-label="{label}"' in page
    css = c.get("/static/app.css").text
    block = css[css.index("@media (max-width: 640px)"):]
    assert "table.stacked thead { display: none; }" in block and "attr(data-label)" in block
