"""The review app (FastAPI): ``create_app(settings)``; started by ``humiao serve`` (DESIGN.md §1, §8).

Pages (Chinese, mobile first, no external resources):

============================  =====================  ===========================================
path                          who                    what
============================  =====================  ===========================================
``/login``, ``/logout``       everybody              sign in / out (argon2, signed cookie, CSRF)
``/list``                     director, supervisor   the community's (township's) current list
``/child/<token>``            director, supervisor   reasons, evidence, name and address (vault,
                                                     audited), outcome / referral / correction
``/list/named.xlsx``          director               named Excel list of the own community
``/api/list``,                director, supervisor   the same data as JSON (pseudonymous)
``/api/children/<token>``
``/governance``               reviewer               model cards, approval status, approve /
                                                     roll back, override rate, audit aggregates
``/cards/<file>``             reviewer, data team    the rendered model cards
``/data``                     data team              ingest reconciliation, MLflow links
============================  =====================  ===========================================

A child outside the signed-in user's list — asked for by URL or API — gets 403 and an audit entry.
The reviewer and the data team never see a child row (no tokens either).
"""

import datetime as dt
import logging
import re
import secrets
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from serving.app import security
from serving.app.data import (
    SECTION_NAMES,
    ListStore,
    NoteSanitizer,
    VaultAccess,
    audit_access_denied,
    audit_summary,
    is_token,
    list_model_cards,
    read_ingest_report,
)
from serving.app.db import (
    ASSESSMENTS,
    CORRECTION_OPEN,
    CORRECTION_RESOLVED,
    DEPARTMENTS,
    REFERRAL_STATUSES,
    REQUESTERS,
    ROLES,
    SERVICES,
    VISIT_MODES,
    AppSession,
    CorrectionRequest,
    Referral,
    User,
    VisitOutcome,
    make_engine,
    make_sessionmaker,
    utcnow,
)
from serving.app.settings import AppSettings

__all__ = ["create_app"]

log = logging.getLogger("humiao.app")

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates" / "app"
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
CARD_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
_CARD_FILE = re.compile(r"^[a-z_]+(\.en)?\.(html|md|json)$")
_TARGET = re.compile(r"^[a-z_]+$")
FIELD_ROLES = ("director", "supervisor")


class _LoginRequired(Exception):
    pass


class _Forbidden(Exception):
    def __init__(self, message: str):
        self.message = message


@dataclass
class Ctx:
    """The signed-in user and their session (the CSRF token lives in the session)."""

    user: User
    session: AppSession

    @property
    def csrf(self) -> str:
        return self.session.csrf_token


def create_app(settings: AppSettings) -> FastAPI:
    """Build the review app.

    Parameters
    ----------
    settings : AppSettings
        Paths, database URL and keys (:func:`serving.app.settings.settings_from_config`).

    Returns
    -------
    fastapi.FastAPI
        ``app.state`` holds ``settings``, ``engine``, ``lists`` (:class:`ListStore`), ``vault``
        (:class:`VaultAccess`) and ``sanitizer`` (:class:`NoteSanitizer`).
    """
    app = FastAPI(title="护苗 走访与审核", docs_url=None, redoc_url=None, openapi_url=None)
    engine = make_engine(settings.database_url)
    Session = make_sessionmaker(engine)
    signer = security.CookieSigner(settings.session_secret, settings.session_max_age_s)
    login_signer = security.CookieSigner(settings.session_secret, 3600)
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.globals.update(ROLES=ROLES, SECTION_NAMES=SECTION_NAMES)
    lists = ListStore(settings.visit_lists_dir)
    vault = VaultAccess(settings.vault_path, settings.vault_key, settings.audit_log_path)
    sanitizer = NoteSanitizer(settings.identity_index_path, settings.vault_key)
    app.state.settings, app.state.engine, app.state.lists = settings, engine, lists
    app.state.vault, app.state.sanitizer = vault, sanitizer
    mlflow_lock = threading.Lock()

    # ------------------------------------------------------------------ plumbing
    def secure(request: Request) -> bool:
        return settings.secure_cookies or request.url.scheme == "https"

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def render(request: Request, name: str, ctx: Ctx | None, status: int = 200, **context) -> HTMLResponse:
        return templates.TemplateResponse(
            request, name, {"me": ctx.user if ctx else None, "csrf": ctx.csrf if ctx else "", **context},
            status_code=status)

    @app.exception_handler(_LoginRequired)
    async def _login_required(request: Request, _exc):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "未登录"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(_Forbidden)
    async def _forbidden(request: Request, exc: _Forbidden):
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.message}, status_code=403)
        return templates.TemplateResponse(request, "error.html", {"me": None, "csrf": "", "status": 403,
                                          "message": exc.message}, status_code=403)

    def current(request: Request) -> Ctx:
        sid = signer.unsign(request.cookies.get(security.SESSION_COOKIE))
        if not sid:
            raise _LoginRequired()
        with Session() as db:
            s = db.get(AppSession, sid)
            if s is None or s.expires_at < utcnow():
                raise _LoginRequired()
            user = db.get(User, s.user_id)
            if user is None or not user.active:
                raise _LoginRequired()
            return Ctx(user, s)

    AnyUser = Annotated[Ctx, Depends(current)]

    def role(*allowed: str):
        def dep(ctx: AnyUser) -> Ctx:
            if ctx.user.role not in allowed:
                raise _Forbidden(f"您的角色（{ctx.user.role_zh}）无权访问此页面")
            return ctx

        return dep

    FieldUser = Annotated[Ctx, Depends(role(*FIELD_ROLES))]
    Director = Annotated[Ctx, Depends(role("director"))]
    Reviewer = Annotated[Ctx, Depends(role("reviewer"))]
    DataTeam = Annotated[Ctx, Depends(role("data_team"))]
    CardReader = Annotated[Ctx, Depends(role("reviewer", "data_team"))]

    def check_csrf(ctx: Ctx, token: str) -> None:
        if not security.csrf_ok(ctx.csrf, token):
            raise _Forbidden("表单已失效（CSRF 校验失败），请返回刷新页面后重试")

    def scoped_rows(user: User) -> list[dict]:
        if user.role == "director":
            return lists.rows_for(community=user.community, township=user.township)
        return lists.rows_for(township=user.township)

    def in_scope(user: User, community: str | None, township: str | None) -> bool:
        if user.role == "director":
            return community == user.community and township == user.township
        if user.role == "supervisor":
            return township == user.township
        return False

    def child_rows_or_403(ctx: Ctx, token: str, where: str) -> list[dict]:
        """The child's list rows if they are on the user's list; else audit and 403."""
        rows = lists.rows_of_child(token) if is_token(token) else []
        mine = [r for r in rows if in_scope(ctx.user, r.get("community"), r.get("township"))]
        if not mine:
            audit_access_denied(settings.audit_log_path, ctx.user.username, ctx.user.scope, token, where,
                                "not on the user's list" if rows or not is_token(token) else "not on any list")
            raise _Forbidden("该儿童不在您负责的名单中，无权查看。此次访问已记入审计日志。")
        return mine

    def identity(ctx: Ctx, token: str, purpose: str) -> dict | None:
        """Audited vault look-up; None when the vault is unavailable or lacks the token."""
        if not vault.available:
            return None
        try:
            return vault.reidentify(ctx.user.username, ctx.user.scope, purpose, token)
        except KeyError:
            return None
        except PermissionError:
            raise _Forbidden("名册显示该儿童不在您的辖区，无权查看。此次访问已记入审计日志。") from None

    def child_flags(db, tokens: list[str], cycle: str | None) -> dict[str, list[str]]:
        flags: dict[str, list[str]] = {t: [] for t in tokens}
        if not tokens:
            return flags
        for t in db.scalars(select(CorrectionRequest.child_token).where(
                CorrectionRequest.child_token.in_(tokens), CorrectionRequest.status == CORRECTION_OPEN)):
            if "数据更正中" not in flags[t]:
                flags[t].append("数据更正中")
        q = select(VisitOutcome.child_token).where(VisitOutcome.child_token.in_(tokens))
        if cycle:
            q = q.where(VisitOutcome.cycle == cycle)
        for t in set(db.scalars(q)):
            flags[t].append("本期已记录走访")
        for t in set(db.scalars(select(Referral.child_token).where(
                Referral.child_token.in_(tokens), Referral.status != "已完成"))):
            flags[t].append("转介跟进中")
        return flags

    # ------------------------------------------------------------------ static, login
    @app.get("/static/app.css", include_in_schema=False)
    def css():
        return FileResponse(TEMPLATES_DIR / "app.css", media_type="text/css",
                            headers={"Cache-Control": "max-age=3600"})

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, error: str = ""):
        token = secrets.token_urlsafe(32)
        resp = templates.TemplateResponse(request, "login.html", {"me": None, "csrf": token, "error": error})
        resp.set_cookie(security.LOGIN_CSRF_COOKIE, login_signer.sign(token), httponly=True,
                        samesite="strict", secure=secure(request), max_age=3600, path="/login")
        return resp

    @app.post("/login")
    def login(request: Request, username: str = Form(""), password: str = Form(""), csrf_token: str = Form("")):
        expected = login_signer.unsign(request.cookies.get(security.LOGIN_CSRF_COOKIE))
        if not security.csrf_ok(expected, csrf_token):
            raise _Forbidden("登录表单已失效（CSRF 校验失败），请刷新登录页后重试")
        now = utcnow()
        with Session.begin() as db:
            user = db.scalar(select(User).where(User.username == username.strip()))
            ok = False
            if user is not None and user.active:
                if user.locked_until and user.locked_until > now:
                    return RedirectResponse("/login?error=locked", status_code=303)
                ok = security.check_password(user, password)
                if ok:
                    user.failed_logins, user.locked_until = 0, None
                    s = security.new_session(db, user, settings.session_max_age_s)
                    sid = s.id
                else:
                    user.failed_logins = (user.failed_logins or 0) + 1
                    if user.failed_logins >= security.LOCK_AFTER_FAILURES:
                        user.locked_until = now + dt.timedelta(minutes=security.LOCK_MINUTES)
                        user.failed_logins = 0
            else:
                security.hash_password(password or "x")  # same work for unknown users (timing)
        if not ok:
            log.info("failed sign-in for %r", username[:64])
            return RedirectResponse("/login?error=bad", status_code=303)
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(security.SESSION_COOKIE, signer.sign(sid), httponly=True, samesite="strict",
                        secure=secure(request), max_age=settings.session_max_age_s, path="/")
        resp.delete_cookie(security.LOGIN_CSRF_COOKIE, path="/login")
        return resp

    @app.post("/logout")
    def logout(ctx: AnyUser, csrf_token: str = Form("")):
        check_csrf(ctx, csrf_token)
        with Session.begin() as db:
            s = db.get(AppSession, ctx.session.id)
            if s is not None:
                db.delete(s)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(security.SESSION_COOKIE, path="/")
        return resp

    @app.get("/")
    def home(ctx: AnyUser):
        target = {"director": "/list", "supervisor": "/list", "reviewer": "/governance",
                  "data_team": "/data"}.get(ctx.user.role, "/login")
        return RedirectResponse(target, status_code=303)

    # ------------------------------------------------------------------ directors and supervisors
    @app.get("/list", response_class=HTMLResponse)
    def list_page(request: Request, ctx: FieldUser):
        rows = scoped_rows(ctx.user)
        cycle = lists.cycle()
        with Session() as db:
            flags = child_flags(db, [r["child_token"] for r in rows], cycle)
        groups: dict[tuple[str, str], dict[str, list[dict]]] = {}
        for r in rows:
            groups.setdefault((r["township"], r["community"]), {}).setdefault(r["section"], []).append(r)
        data_as_of = next((r.get("data_as_of") for r in rows if r.get("data_as_of")), None)
        return render(request, "list.html", ctx, groups=groups, flags=flags, cycle=cycle,
                      data_as_of=data_as_of, n_rows=len(rows))

    @app.get("/api/list")
    def api_list(ctx: FieldUser):
        rows = scoped_rows(ctx.user)
        with Session() as db:
            flags = child_flags(db, [r["child_token"] for r in rows], lists.cycle())
        return {"cycle": lists.cycle(), "rows": [{**_jsonable(r), "app_flags": flags[r["child_token"]]}
                                                 for r in rows]}

    @app.get("/api/children/{token}")
    def api_child(token: str, ctx: FieldUser):
        rows = child_rows_or_403(ctx, token, "/api/children")
        return {"child_token": token, "rows": [_jsonable(r) for r in rows]}

    @app.get("/child/{token}", response_class=HTMLResponse)
    def child_page(request: Request, token: str, ctx: FieldUser, saved: str = ""):
        rows = child_rows_or_403(ctx, token, "/child")
        return _child_response(request, ctx, token, rows, saved=saved)

    def _child_response(request, ctx, token, rows, *, saved="", error="", status=200, form=None):
        cycle = lists.cycle()
        ident = identity(ctx, token, f"走访核查 {cycle}")
        with Session() as db:
            outcomes = list(db.scalars(select(VisitOutcome).where(VisitOutcome.child_token == token)
                                       .order_by(VisitOutcome.visit_date.desc())))
            referrals = list(db.scalars(select(Referral).where(Referral.child_token == token)
                                        .order_by(Referral.created_at.desc())))
            corrections = list(db.scalars(select(CorrectionRequest).where(
                CorrectionRequest.child_token == token).order_by(CorrectionRequest.created_at.desc())))
            flags = child_flags(db, [token], cycle)[token]
        return render(request, "child.html", ctx, status, token=token, rows=rows, ident=ident,
                      vault_available=vault.available, outcomes=outcomes, referrals=referrals,
                      corrections=corrections, flags=flags, cycle=cycle, saved=saved, error=error,
                      form=form or {}, VISIT_MODES=VISIT_MODES, ASSESSMENTS=ASSESSMENTS, SERVICES=SERVICES,
                      REFERRAL_STATUSES=REFERRAL_STATUSES, REQUESTERS=REQUESTERS, DEPARTMENTS=DEPARTMENTS,
                      today=dt.date.today().isoformat())

    def _known(ctx: Ctx, token: str, purpose: str) -> dict | None:
        return identity(ctx, token, purpose)

    @app.post("/child/{token}/outcome", response_class=HTMLResponse)
    def record_outcome(
        request: Request, token: str, ctx: Director, csrf_token: str = Form(""),
        visit_date: str = Form(""), visit_mode: str = Form(""), assessment: str = Form(""),
        note: str = Form(""), agree: str = Form(""), disagree_reason: str = Form(""),
    ):
        check_csrf(ctx, csrf_token)
        rows = child_rows_or_403(ctx, token, "/child/outcome")
        form = {"visit_date": visit_date, "visit_mode": visit_mode, "assessment": assessment,
                "agree": agree, "disagree_reason": disagree_reason}
        errors = []
        try:
            vdate = dt.date.fromisoformat(visit_date)
            if vdate > dt.date.today() + dt.timedelta(days=1):
                errors.append("走访日期不能晚于今天")
            elif vdate < dt.date.today() - dt.timedelta(days=366):
                errors.append("走访日期不能早于一年前")
        except ValueError:
            errors.append("请填写走访日期（年-月-日）")
        if visit_mode not in VISIT_MODES:
            errors.append("请选择走访方式")
        if assessment not in ASSESSMENTS:
            errors.append("请选择监护评估")
        if agree not in ("同意", "不同意"):
            errors.append("请选择是否同意排序")
        if agree == "不同意" and not disagree_reason.strip():
            errors.append("不同意排序时请写明原因")
        if errors:
            return _child_response(request, ctx, token, rows, error="；".join(errors), status=400, form=form)
        known = _known(ctx, token, f"匿名化走访记录 {lists.cycle()}")
        clean_note, redacted = sanitizer.sanitize(note, known)
        clean_reason, redacted2 = sanitizer.sanitize(disagree_reason, known) if agree == "不同意" else (None, False)
        row = sorted(rows, key=lambda r: {"event_alert": 0, "guardianship_risk": 1}.get(r["section"], 2))[0]
        with Session.begin() as db:
            db.add(VisitOutcome(
                visit_id=f"APP-{dt.date.today():%Y%m%d}-{secrets.token_hex(6).upper()}",
                child_token=token, community=row["community"], township=row["township"], cycle=row.get("cycle"),
                section=row["section"], list_rank=row.get("rank"), visit_date=vdate, visit_mode=visit_mode,
                assessment=assessment, note=clean_note, agrees_with_ranking=(agree == "同意"),
                disagreement_reason=clean_reason, note_redacted=redacted or redacted2,
                recorded_by=ctx.user.username, recorded_at=utcnow()))
        _export_feedback()
        return RedirectResponse(f"/child/{token}?saved=outcome", status_code=303)

    def _export_feedback() -> None:
        from serving.feedback import export_feedback

        try:
            export_feedback(engine, settings.feedback_dir)
        except Exception:  # the outcome is stored; the pipeline's own export will retry
            log.exception("exporting feedback failed")

    @app.post("/child/{token}/referral")
    def add_referral(request: Request, token: str, ctx: Director,
                     csrf_token: str = Form(""), service: str = Form(""), need: str = Form("")):
        check_csrf(ctx, csrf_token)
        rows = child_rows_or_403(ctx, token, "/child/referral")
        if service not in SERVICES:
            return _child_response(request, ctx, token, rows, error="请选择转介服务", status=400)
        clean, _ = sanitizer.sanitize(need, _known(ctx, token, "匿名化转介说明"))
        with Session.begin() as db:
            db.add(Referral(child_token=token, community=rows[0]["community"], township=rows[0]["township"],
                            service=service, need=clean, status="已转介", created_by=ctx.user.username,
                            created_at=utcnow()))
        return RedirectResponse(f"/child/{token}?saved=referral", status_code=303)

    @app.post("/referral/{rid}/status")
    def referral_status(rid: int, ctx: FieldUser, csrf_token: str = Form(""),
                        status: str = Form("")):
        check_csrf(ctx, csrf_token)
        with Session.begin() as db:
            ref = db.get(Referral, rid)
            if ref is None or not in_scope(ctx.user, ref.community, ref.township):
                audit_access_denied(settings.audit_log_path, ctx.user.username, ctx.user.scope,
                                    ref.child_token if ref else f"referral:{rid}", "/referral", "outside scope")
                raise _Forbidden("该转介不在您的辖区，无权修改。此次访问已记入审计日志。")
            if status not in REFERRAL_STATUSES:
                raise _Forbidden("未知的转介状态")
            ref.status, ref.updated_by, ref.updated_at = status, ctx.user.username, utcnow()
            token = ref.child_token
        return RedirectResponse(f"/child/{token}?saved=referral", status_code=303)

    @app.post("/child/{token}/correction")
    def add_correction(request: Request, token: str, ctx: Director,
                       csrf_token: str = Form(""), what: str = Form(""), requested_by: str = Form(""),
                       department: str = Form("")):
        check_csrf(ctx, csrf_token)
        rows = child_rows_or_403(ctx, token, "/child/correction")
        errors = []
        if not what.strip():
            errors.append("请写明需要更正的内容")
        if requested_by not in REQUESTERS:
            errors.append("请选择申请人")
        if department not in DEPARTMENTS:
            errors.append("请选择数据来源部门")
        if errors:
            return _child_response(request, ctx, token, rows, error="；".join(errors), status=400)
        clean, _ = sanitizer.sanitize(what, _known(ctx, token, "匿名化更正申请"))
        with Session.begin() as db:
            db.add(CorrectionRequest(child_token=token, community=rows[0]["community"],
                                     township=rows[0]["township"], what=clean, requested_by=requested_by,
                                     department=department, status=CORRECTION_OPEN,
                                     recorded_by=ctx.user.username, created_at=utcnow()))
        _export_feedback()
        return RedirectResponse(f"/child/{token}?saved=correction", status_code=303)

    @app.post("/correction/{cid}/resolve")
    def resolve_correction(cid: int, ctx: FieldUser, csrf_token: str = Form(""),
                           resolution: str = Form("")):
        check_csrf(ctx, csrf_token)
        with Session() as db:
            c = db.get(CorrectionRequest, cid)
            if c is None or not in_scope(ctx.user, c.community, c.township):
                audit_access_denied(settings.audit_log_path, ctx.user.username, ctx.user.scope,
                                    c.child_token if c else f"correction:{cid}", "/correction", "outside scope")
                raise _Forbidden("该更正申请不在您的辖区，无权修改。此次访问已记入审计日志。")
            token = c.child_token
        clean, _ = sanitizer.sanitize(resolution, _known(ctx, token, "匿名化更正结果"))
        with Session.begin() as db:
            c = db.get(CorrectionRequest, cid)
            c.status, c.resolution = CORRECTION_RESOLVED, clean
            c.resolved_by, c.resolved_at = ctx.user.username, utcnow()
        _export_feedback()
        return RedirectResponse(f"/child/{token}?saved=correction", status_code=303)

    @app.get("/list/named.xlsx")
    def named_list(ctx: Director):
        from serving.app.named_list import named_list_workbook

        rows = scoped_rows(ctx.user)
        cycle = lists.cycle() or ""
        if not vault.available:
            raise _Forbidden("名册库不可用，无法生成含姓名名单")
        with Session() as db:
            flags = child_flags(db, [r["child_token"] for r in rows], cycle)
        seen: dict[str, dict | None] = {}

        def ident(t: str):
            if t not in seen:
                seen[t] = identity(ctx, t, f"下载含姓名走访名单 {cycle}")
            return seen[t]

        data = named_list_workbook(rows, ident, community=ctx.user.community, township=ctx.user.township,
                                   cycle=cycle, account=ctx.user.username, at=dt.datetime.now(),
                                   flags_of=lambda t: flags.get(t, []))
        fname = f"{ctx.user.community}_走访名单_含姓名_{cycle}.xlsx"
        return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": "attachment; filename=named_list.xlsx; "
                                 f"filename*=UTF-8''{urllib.parse.quote(fname)}",
                                 "Cache-Control": "no-store"})

    # ------------------------------------------------------------------ governance reviewer
    def _mlflow_client():
        if not settings.mlflow_tracking_uri:
            return None
        import mlflow
        from mlflow import MlflowClient

        with mlflow_lock:
            mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
            mlflow.set_registry_uri(settings.mlflow_tracking_uri)
        return MlflowClient()

    def version_card_url(target: str, version) -> str | None:
        """Link to a version's card (out/model_cards/versions/<target>/v<N>/), when it was rendered."""
        rel = f"versions/{target}/v{version}/{target}.html"
        return f"/cards/{rel}" if (settings.model_cards_dir / rel).is_file() else None

    def _approval_zh(approval: dict) -> dict:
        """The approval block as shown to the reviewer: the automatic approver of simulated input and its
        note in Chinese (the registry keeps the English tags)."""
        from models.cycle import AUTO_APPROVER

        shown = dict(approval)
        if shown.get("by") == AUTO_APPROVER:
            shown["by"] = GOVERNANCE_AUTO_APPROVER_ZH
        note = str(shown.get("note") or "")
        shown["note"] = GOVERNANCE_NOTES_ZH.get(note, note)
        return shown

    def registered_models() -> list[dict]:
        client = _mlflow_client()
        if client is None:
            return []
        from models.tracking import MODEL_PREFIX, approval_of

        out = []
        for m in client.search_registered_models():
            if not m.name.startswith(MODEL_PREFIX):
                continue
            aliases = dict(m.aliases or {})
            versions = sorted(client.search_model_versions(f"name='{m.name}'"), key=lambda v: int(v.version))
            target = m.name.removeprefix(MODEL_PREFIX)
            champion = str(aliases.get("champion", ""))
            out.append({
                "name": m.name, "target": target, "label": _model_label(m.name),
                "champion": champion, "challenger": str(aliases.get("challenger", "")),
                "champion_run_id": next((v.run_id for v in versions if str(v.version) == champion), None),
                "versions": [{"version": str(v.version), "run_id": v.run_id,
                              "card": version_card_url(target, v.version),
                              "approval": _approval_zh(approval_of(m.name, v.version)),
                              "cycle": (v.tags or {}).get("cycle", ""),
                              "aliases": [a for a, ver in aliases.items() if str(ver) == str(v.version)],
                              # an approved challenger is no longer 待审批: show only 正在使用
                              "alias_names": [GOVERNANCE_ALIASES_ZH.get(a, a) for a, ver in aliases.items()
                                              if str(ver) == str(v.version)
                                              and not (a == "challenger" and str(ver) == champion)]}
                             for v in reversed(versions)],
            })
        return out

    @app.get("/governance", response_class=HTMLResponse)
    def governance(request: Request, ctx: Reviewer, done: str = "", error: str = ""):
        from serving.feedback import override_rate

        cards = list_model_cards(settings.model_cards_dir)
        models = registered_models()
        by_target = {m["target"]: m for m in models}
        for c in cards:  # a card rendered before the latest approval still shows the earlier model
            m = by_target.get(c["target"])
            c["stale"] = bool(m and m["champion_run_id"] and c.get("run_id")
                              and not m["champion_run_id"].startswith(c["run_id"]))
            c["champion"] = m["champion"] if m else ""
        carded = {c["target"] for c in cards if not c["stale"]}
        awaiting_run = [m for m in models if m["champion"] and m["target"] not in carded]
        rates = {t: override_rate(engine, target=t) for t in ("guardianship_risk", "left_behind_risk")}
        rates["全部"] = override_rate(engine)
        return render(request, "governance.html", ctx, cards=cards, models=models, rates=rates,
                      audit=audit_summary(settings.audit_log_path), done=_done_message(done),
                      error=error, error_message=GOVERNANCE_ERRORS.get(error, f"操作未成功（{error}）。" if error else ""),
                      registry=settings.mlflow_tracking_uri is not None,
                      any_champion=any(m["champion"] for m in models), awaiting_run=awaiting_run)

    @app.post("/governance/approve")
    def approve(ctx: Reviewer, csrf_token: str = Form(""), model: str = Form(""),
                version: str = Form(""), note: str = Form("")):
        check_csrf(ctx, csrf_token)
        from models.tracking import MODEL_PREFIX
        from models.tracking import approve as do_approve

        if not model.startswith(MODEL_PREFIX) or not version.isdigit():
            raise _Forbidden("未知的模型或版本")
        if not note.strip():
            return RedirectResponse("/governance?error=note", status_code=303)
        _mlflow_client()
        try:
            do_approve(model, version, by=ctx.user.username, note=note.strip()[:500])
        except Exception as e:
            log.warning("approve %s v%s failed: %s", model, version, e)
            return RedirectResponse("/governance?error=approve", status_code=303)
        return RedirectResponse(f"/governance?done=approved:{model}:{version}", status_code=303)

    @app.post("/governance/rollback")
    def rollback(ctx: Reviewer, csrf_token: str = Form(""), model: str = Form(""),
                 note: str = Form("")):
        check_csrf(ctx, csrf_token)
        from models.tracking import MODEL_PREFIX
        from models.tracking import rollback as do_rollback

        if not model.startswith(MODEL_PREFIX):
            raise _Forbidden("未知的模型")
        if not note.strip():
            return RedirectResponse("/governance?error=note", status_code=303)
        _mlflow_client()
        try:
            now = do_rollback(model, by=ctx.user.username, note=note.strip()[:500])
        except ValueError:  # the only refusal: no earlier approved version in the champion history
            return RedirectResponse("/governance?error=no_earlier_version", status_code=303)
        return RedirectResponse(f"/governance?done=rolled_back:{model}:{now}", status_code=303)

    @app.get("/cards/{filename}")
    def card_file(filename: str, ctx: CardReader):
        path = settings.model_cards_dir / filename
        if not _CARD_FILE.match(filename) or not path.is_file():
            raise _Forbidden("没有这个模型卡文件")
        media = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8",
                 "json": "application/json"}[filename.rsplit(".", 1)[1]]
        return FileResponse(path, media_type=media, headers={"Content-Security-Policy": CARD_CSP})

    @app.get("/cards/versions/{target}/v{version}/{filename}")
    def version_card_file(target: str, version: str, filename: str, ctx: CardReader):
        """The card of one registered version (what the reviewer reads before approving it)."""
        if not (_TARGET.match(target) and version.isdigit() and _CARD_FILE.match(filename)):
            raise _Forbidden("没有这个模型卡文件")
        path = settings.model_cards_dir / "versions" / target / f"v{version}" / filename
        if not path.is_file():
            raise _Forbidden("没有这个模型卡文件")
        media = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8",
                 "json": "application/json"}[filename.rsplit(".", 1)[1]]
        return FileResponse(path, media_type=media, headers={"Content-Security-Policy": CARD_CSP})

    # ------------------------------------------------------------------ data team
    @app.get("/data", response_class=HTMLResponse)
    def data_page(request: Request, ctx: DataTeam):
        report = read_ingest_report(settings.ingest_report_path)
        runs, experiment_id = [], None
        client = _mlflow_client()
        models = []
        if client is not None:
            try:
                exps = client.search_experiments()
                for e in exps:
                    for r in client.search_runs([e.experiment_id], max_results=20,
                                                order_by=["attributes.start_time DESC"]):
                        runs.append({"experiment_id": e.experiment_id, "run_id": r.info.run_id,
                                     "name": r.info.run_name, "status": r.info.status,
                                     "start": dt.datetime.fromtimestamp(r.info.start_time / 1000)
                                     .strftime("%Y-%m-%d %H:%M") if r.info.start_time else ""})
                models = registered_models()
            except Exception as e:
                log.warning("MLflow not readable: %s", e)
        with Session() as db:
            counts = {
                "outcomes": db.scalar(select(func.count()).select_from(VisitOutcome)) or 0,
                "referrals_open": db.scalar(select(func.count()).select_from(Referral)
                                            .where(Referral.status != "已完成")) or 0,
                "corrections_open": db.scalar(select(func.count()).select_from(CorrectionRequest)
                                              .where(CorrectionRequest.status == CORRECTION_OPEN)) or 0,
            }
        return render(request, "data.html", ctx, report=report, runs=runs[:20], models=models,
                      mlflow_ui=settings.mlflow_ui_url.rstrip("/"), experiment_id=experiment_id,
                      counts=counts, cards=list_model_cards(settings.model_cards_dir))

    return app


#: Registry aliases as the governance page names them.
GOVERNANCE_ALIASES_ZH = {"champion": "正在使用", "challenger": "待审批"}
#: The automatic approver of simulated input (models.cycle.AUTO_APPROVER) and its note, in Chinese.
GOVERNANCE_AUTO_APPROVER_ZH = "护苗系统（模拟数据自动批准）"
GOVERNANCE_NOTES_ZH = {"simulated input: approved automatically": "模拟数据自动批准", "first approval": "首次批准"}
GOVERNANCE_MODEL_NAMES = {"guardianship_risk": "监护风险模型", "left_behind_risk": "疑似未登记留守模型"}
GOVERNANCE_ERRORS = {
    "note": "批准或回滚需要填写审查意见。",
    "approve": "批准未成功：模型登记库没有完成操作，请稍后再试；仍不成功请联系数据专班。",
    "no_earlier_version": "未回滚：没有更早的已批准版本可回滚，正在使用的版本不变。",
    "rollback": "未回滚：没有更早的已批准版本可回滚，正在使用的版本不变。",
}
_NEXT_RUN = "名单和正在使用的模型卡将在下一次运行（humiao run）时按该版本生成并发布。"


def _model_label(name: str) -> str:
    """``humiao_guardianship_risk`` → 监护风险模型 (unknown names as they are)."""
    return GOVERNANCE_MODEL_NAMES.get(name.removeprefix("humiao_"), name)


def _done_message(done: str) -> str:
    """The governance page's success message from the redirect's code, as a sentence."""
    kind, _, rest = done.partition(":")
    model, _, version = rest.rpartition(":")
    if kind == "approved" and model and version:
        return f"已批准 {_model_label(model)} 第{version}版为 champion（正在使用）。{_NEXT_RUN}"
    if kind == "rolled_back" and model and version:
        return f"已回滚：{_model_label(model)} 现在使用第{version}版。{_NEXT_RUN}"
    return "已完成。" if done else ""


def _jsonable(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        if isinstance(v, dt.date):
            v = v.isoformat()
        elif isinstance(v, float) and v != v:
            v = None
        out[k] = v
    return out
