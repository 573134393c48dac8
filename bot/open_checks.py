"""Check runs the service created and has not concluded yet, kept in the store until GitHub has
their conclusion: a check left "in progress" blocks a pull request forever.

A job notes its run when it creates it and crosses it off once GitHub accepted the conclusion.
When concluding fails (GitHub down: outages last minutes to hours) the job leaves here what the
conclusion should be; the reconciler (every minute, and when a worker starts) then tries again
with backoff (1 min, 2, 4, ... up to an hour apart) for ALEMBIC_REVIEW_PUBLISH_WINDOW seconds
(a day). A run whose job is gone without leaving a conclusion (a newer head, a closed pull
request, a job that ended in an error) is concluded `cancelled` / `failure` with the reason.
"""

from __future__ import annotations

import logging
import time

from bot import ledger
from bot.github_client import deadline, lacks_permission
from bot.store import KEEP

log = logging.getLogger("alembic_review.open_checks")

KIND = "open_check"
FIRST_RETRY, MAX_RETRY_GAP = 60.0, 3600.0
CALL_SECONDS = 60.0  # one attempt at concluding a run: GitHub calls end by then


def note(store, job: ledger.Job, run_id: int) -> None:
    """The job's run is in progress on GitHub from now on."""
    def fn(rec):
        if rec is not None and rec["run_id"] == run_id and rec["gen"] == job.gen:
            return KEEP, None
        return {"job": job.as_dict(), "gen": job.gen, "run_id": run_id, "since": time.time(),
                "final": None, "attempts": 0, "next_try": 0}, None
    store.mutate(KIND, _key(job, run_id), fn)


def concluded(store, job: ledger.Job, run_id: int) -> None:
    store.mutate(KIND, _key(job, run_id), lambda rec: (None if rec is not None else KEEP, None))


def conclude_later(store, job: ledger.Job, run_id: int, conclusion: str, title: str, summary: str) -> None:
    """GitHub did not take the conclusion now: the reconciler publishes it when GitHub is back."""
    final = {"conclusion": conclusion, "title": title[:255], "summary": summary[:65535]}

    def fn(rec):
        rec = rec or {"job": job.as_dict(), "gen": job.gen, "run_id": run_id, "since": time.time(),
                      "attempts": 0, "next_try": 0}
        return dict(rec, final=final, next_try=time.time() + FIRST_RETRY), None
    store.mutate(KIND, _key(job, run_id), fn)


def _key(job: ledger.Job, run_id: int) -> str:
    return f"{job.key}:{run_id}"


def _final_for(store, rec: dict, lease: float) -> dict | None:
    """What the run should conclude, or None while its job may still conclude it itself."""
    if rec.get("final"):
        return rec["final"]
    job = ledger.Job.from_dict(rec["job"])
    pull = store.get(ledger.PULL, job.key)
    if pull is not None and pull["gen"] == job.gen and pull["head_sha"] == job.head_sha:
        if pull["state"] == "queued" or (pull["state"] == "running" and ledger.holder_alive(pull, lease, time.time())):
            return None  # its job is queued again or running: it concludes the run
        if pull["state"] == "running":
            return None  # a dead holder: the reconciler queues the job again, which reuses the run
        if pull["state"] == "done" and pull.get("conclusion") not in ("error", None):
            return None if time.time() - rec["since"] < lease else {
                "conclusion": "failure", "title": "alembic-review could not finish",
                "summary": "The review ended without its result reaching GitHub. Re-run the check to try again."}
        return {"conclusion": "failure", "title": "alembic-review could not finish",
                "summary": f"The review failed ({pull.get('last_error') or 'see the service log'}). "
                           "Re-run the check to try again."}
    if pull is not None and pull["state"] == "closed":
        return {"conclusion": "cancelled", "title": "Pull request closed", "summary": "The pull request was closed."}
    return {"conclusion": "cancelled", "title": "Superseded by a newer commit",
            "summary": "A newer commit (or a re-run) is reviewed instead."}


_started = False  # the first sweep in this process takes every run, due or not (a worker starting)


def sweep(rt, window: float) -> int:
    """Conclude the runs that are due (on the first sweep of this process: all of them); returns
    how many GitHub accepted."""
    global _started
    all_due, _started = not _started, True
    store, now, done = rt.store, time.time(), 0
    for key, rec in store.items(KIND):
        if rec.get("next_try", 0) > now and not all_due:
            continue
        final = _final_for(store, rec, rt.settings.lease_seconds)
        if final is not None:
            done += _attempt(rt, key, rec, final, window)
    return done


def settle(rt, job: ledger.Job, run_id: int, fallback: dict) -> None:
    """The job is over: conclude its run now (with the verdict it left, else `fallback`), or later."""
    rec = rt.store.get(KIND, _key(job, run_id)) or {"job": job.as_dict(), "gen": job.gen, "run_id": run_id,
                                                      "since": time.time(), "attempts": 0}
    _attempt(rt, _key(job, run_id), rec, rec.get("final") or fallback, rt.settings.publish_window)


def _attempt(rt, key: str, rec: dict, final: dict, window: float) -> bool:
    job, now = ledger.Job.from_dict(rec["job"]), time.time()
    try:
        with deadline(time.monotonic() + CALL_SECONDS):
            gh = rt.auth.github(job.installation_id)
            run = gh.get_repo(job.repo, lazy=True).get_check_run(rec["run_id"])
            if run.status != "completed":
                run.edit(status="completed", conclusion=final["conclusion"],
                         output={"title": final["title"], "summary": final["summary"]})
    except Exception as exc:
        if lacks_permission(exc):  # the App lost checks: write: no retry will do; a status says it
            _status_instead(rt, job, final)
            rt.store.mutate(KIND, key, lambda r: (None if r is not None else KEEP, None))
            return False
        attempts = rec.get("attempts", 0) + 1
        if now - rec["since"] > window:
            log.error("check run %s of %s: given up after %d attempts over %.0fs: %s",
                      rec["run_id"], job, attempts, now - rec["since"], exc)
            rt.store.mutate(KIND, key, lambda r: (None if r is not None else KEEP, None))
            return False
        gap = min(FIRST_RETRY * 2 ** (attempts - 1), MAX_RETRY_GAP)
        rt.store.mutate(KIND, key, lambda r: (dict(r or rec, final=final, attempts=attempts, next_try=now + gap), None))
        log.warning("check run %s of %s left in progress (%s: %s); next try in %.0fs",
                    rec["run_id"], job, type(exc).__name__, exc, gap)
        return False
    rt.store.mutate(KIND, key, lambda r: (None if r is not None else KEEP, None))
    log.info("check run %s of %s concluded %s", rec["run_id"], job, final["conclusion"])
    return True


def _status_instead(rt, job: ledger.Job, final: dict) -> None:
    state = "success" if final["conclusion"] in ("success", "neutral", "skipped") else "failure"
    log.warning("check run of %s: no permission to conclude it; a commit status %s is published instead",
                job, state)
    try:
        with deadline(time.monotonic() + CALL_SECONDS):
            gh = rt.auth.github(job.installation_id)
            gh.get_repo(job.repo, lazy=True).get_commit(job.head_sha).create_status(
                state=state, description=final["title"][:140], context=rt.settings.check_name)
    except Exception as exc:
        log.error("check run of %s: the commit status could not be published either: %s", job, exc)
