"""create_app(settings) — wires services, blueprints and middleware, nothing else."""

from __future__ import annotations

from flask import Flask

from .bodylimits import BodyLimitedRequest
from .catalogue import Catalogue
from .clock import Clock
from .idp.keys import KeyRing
from .jsonlimits import LimitedJSONProvider
from .lazyrules import LazyBuilderRule
from .rp import models as _rp_tables  # noqa: F401  (its tables exist before create_schema)
from .services import Services
from .settings import Settings
from .store import Database
from .store.outage import wait_for_database


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.url_rule_class = LazyBuilderRule  # URL builders compiled on first url_for, not at start (lazyrules.py)
    app.request_class = BodyLimitedRequest  # 413 over the limit, chunked bodies too (bodylimits.py)
    app.json = LimitedJSONProvider(app)  # nesting limit on every JSON body (jsonlimits.py)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    from .filing.legacy import tables as _legacy_tables  # noqa: F401  (created with the schema)

    db = Database(settings.resolved_database_url)
    catalogue = Catalogue.shared()  # parsed once per process; forked workers inherit it
    from .world import ensure_world

    def start() -> Services:
        from .startup import initialised_by_main

        if initialised_by_main(db):  # a worker of `serve`: its main process did the checks below (startup.py)
            return Services(settings=settings, db=db, clock=Clock(db, settings.clock_speed), keys=KeyRing(db),
                            catalogue=catalogue)
        with db.init_lock():  # several workers/replicas may start on one empty database at once
            db.create_schema()
            services = Services(settings=settings, db=db, clock=Clock(db, settings.clock_speed), keys=KeyRing(db),
                                catalogue=catalogue)
            ensure_world(services)
        return services

    # a worker started while the database is down waits for it instead of crash-looping the server
    app.extensions["egov_sim"] = wait_for_database(start, wait=settings.database_start_wait)
    from . import worlds
    from .ops import world_routing

    # worlds: their registry (worlds.py) and routing step; like start(), it meets the database and waits for it
    wait_for_database(lambda: worlds.install(app, app.extensions["egov_sim"]), wait=settings.database_start_wait)

    from .filing import legacy as filing_legacy
    from .filing import v2 as filing_v2
    from .idp import egov_auth, egov_broker, gbizid_http
    from .ops import admin, admin_ops, middleware, outage_http

    app.register_blueprint(egov_auth.bp)
    app.register_blueprint(filing_v2.bp)
    filing_legacy.install(app)  # /shinsei/1: the legacy 外部連携API over the same FilingBackend
    app.register_blueprint(admin.bp)  # /__admin: clock/world, ops, cases, gbizid nested under one guard
    app.register_blueprint(admin.bp, url_prefix="/__admin/worlds/<in_world>", name="admin_in_world")  # a world's
    app.register_blueprint(admin_ops.public)
    faultable = {filing_v2.bp.url_prefix: "api", filing_legacy.PREFIX: "api", egov_auth.bp.url_prefix: "auth"}
    wait_for_database(lambda: middleware.install(app, faultable=faultable,  # the journal may live in the database
                                                 answers={filing_legacy.PREFIX: filing_legacy.ops_answer}),
                      wait=settings.database_start_wait)
    outage_http.install(app, faultable)
    app.register_blueprint(gbizid_http.bp)
    app.register_blueprint(egov_broker.bp)
    from .rp import review, shinsa, views

    world_routing.install(app)  # first of the before-request hooks
    app.register_blueprint(views.bp)  # /keieikakushin: 経営革新計画電子申請システム (a GビズID RP)
    app.register_blueprint(review.bp)
    app.register_blueprint(review.bp, url_prefix="/__admin/worlds/<in_world>/keieikakushin",
                           name="admin_in_world_keieikakushin")  # a world's RP (world_routing drops in_world)
    app.register_blueprint(shinsa.bp)  # /keieikakushin/shinsa: the prefecture reviewers' pages
    from . import console

    app.register_blueprint(console.bp)  # /__console: the web console over OpsBackend, behind the admin guard
    from .filing.v2.fast_poll import FAST_POLL_KEY, FastPoll

    app.wsgi_app = app.extensions[FAST_POLL_KEY] = FastPoll(app, app.wsgi_app)  # type: ignore[method-assign]
    return app
