"""A release serving: every PAUSE seconds, one "request" through the
release's Flask-SQLAlchemy models (an account written under the release's
own column names, then the newest accounts read back), until STOP exists.

    python client.py RELEASE_DIR REPORT_JSON STOP_FILE [PAUSE]

The report (rewritten after each request) counts requests, keeps each
failed one's error, the worst request's latency, and what was read of the
other release's accounts: their names under this release's column name.
"""

import json
import logging
import os
import sys
import time
import traceback

release_dir, report_path, stop_path = sys.argv[1:4]
pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.01
sys.path.insert(0, os.path.abspath(release_dir))

import accounts  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy import text  # noqa: E402

logging.basicConfig(level=logging.INFO, format="%(levelname)s [%(name)s] %(message)s")
label = os.path.basename(os.path.abspath(release_dir))
app = accounts.create_app()
report = {
    "release": label,
    "requests": 0,
    "failed": 0,
    "errors": [],
    "worst_ms": 0.0,
    "others_seen": [],
    "nameless": [],
    "balances_ok": True,
}


def save():
    partial = report_path + ".part"
    with open(partial, "w") as file:
        json.dump(report, file)
    os.replace(partial, report_path)


def request(number):
    Account = accounts.Account
    with app.app_context():
        session = accounts.db.session
        account = Account(balance=number)
        setattr(account, accounts.NAME, f"{label}-{number}")
        session.add(account)
        session.commit()
        reports = accounts.db.engines.get("reports")
        if reports is not None:  # another bind, not migrated by this folder
            with reports.connect() as connection:
                connection.execute(text("SELECT 1"))
        newest = session.execute(
            select(Account).order_by(Account.id.desc()).limit(20)
        ).scalars()
        for row in newest:
            name = getattr(row, accounts.NAME)
            if name is None:
                report["nameless"].append(row.id)
            elif not name.startswith(label) and name not in report["others_seen"]:
                report["others_seen"].append(name)
            if name is not None and row.balance != int(name.rsplit("-", 1)[1]):
                report["balances_ok"] = False


number = 0
while not os.path.exists(stop_path):
    number += 1
    started = time.perf_counter()
    try:
        request(number)
    except Exception as error:  # every failure is counted, and the run goes on
        report["failed"] += 1
        if len(report["errors"]) < 5:
            report["errors"].append(f"{type(error).__name__}: {error}".splitlines()[0])
        if report["failed"] == 1:
            traceback.print_exc()
    elapsed = (time.perf_counter() - started) * 1000
    report["requests"] += 1
    report["worst_ms"] = max(report["worst_ms"], elapsed)
    report["others_seen"] = report["others_seen"][-50:]
    save()
    time.sleep(pause)
save()
