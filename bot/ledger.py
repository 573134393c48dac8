"""Where each pull request's review stands, kept in the store so that any worker can tell whether a
job is still wanted, already done, or orphaned by a worker that died.

One record per pull request ("owner/repo#N"): the latest head and base, a generation number
bumped by every event that asks for a review, and the state of that generation's job:
queued -> running (holder + heartbeat) -> done; closed when the PR is closed.

A job carries the generation it was queued for. A worker runs it only if that generation is still
the latest and nobody alive is running it: a job for an older head is dropped, a job queued twice
(a duplicate, or a reconciler re-queue racing the original) runs once.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass

from bot.store import KEEP, Effects, Store

PULL = "pull"
SLOTS = "slots"


def _proc_start(pid: int) -> str | None:
    """The start time of a process (field 22 of /proc/PID/stat): tells a live pid from a reused one."""
    try:
        stat = open(f"/proc/{pid}/stat", "rb").read().decode(errors="replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


HOST = socket.gethostname()


def new_holder() -> dict:
    """Who runs a job: this process on this machine, plus an id of its own."""
    return {"host": HOST, "pid": os.getpid(), "start": _proc_start(os.getpid()), "id": uuid.uuid4().hex}


def holder_alive(rec: dict, lease: float, now: float) -> bool:
    holder = rec.get("holder") or {}
    if holder.get("host") == HOST:  # on this machine we can ask the kernel, no need to wait a lease
        if _proc_start(holder.get("pid", -1)) != holder.get("start"):
            return False
    return now - rec.get("heartbeat", 0) < lease


def pull_key(repo: str, number: int) -> str:
    return f"{repo}#{number}"


@dataclass
class Job:
    repo: str
    number: int
    installation_id: int
    head_sha: str
    base_sha: str
    gen: int

    @property
    def key(self) -> str:
        return pull_key(self.repo, self.number)

    def as_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict) -> "Job":
        return cls(**{k: data[k] for k in ("repo", "number", "installation_id", "head_sha", "base_sha", "gen")})

    def __str__(self) -> str:
        return f"{self.key}@{self.head_sha[:7]}"


def request_review(store: Store, *, repo: str, number: int, installation_id: int, head_sha: str,
                   base_sha: str, updated_at: str = "", force: bool = False, effects: Effects | None = None):
    """Note the PR's head from an event; a Job to queue when a review is due, None otherwise
    (same head and base already queued, running or done; or an event older than the one we have).
    With `effects` (the webhook's), the job is counted and queued in the same step, and DUPLICATE
    is returned, nothing changed, for a delivery already seen."""
    def fn(rec):
        now = time.time()
        if rec is not None:
            if updated_at and rec.get("updated_at", "") > updated_at and rec["head_sha"] != head_sha:
                return KEEP, None  # delivered out of order: a newer event already moved the head
            same = rec["head_sha"] == head_sha and rec["base_sha"] == base_sha
            if same and not force and rec["state"] in ("queued", "running", "done"):
                return KEEP, None
        gen = (rec or {}).get("gen", 0) + 1
        new = dict(rec or {}, repo=repo, number=number, installation_id=installation_id, head_sha=head_sha,
                   base_sha=base_sha, updated_at=max(updated_at, (rec or {}).get("updated_at", "")),
                   gen=gen, state="queued", queued_at=now, attempts=0)
        for key in ("holder", "check_run_id", "check_head"):  # a new generation gets a new check run
            new.pop(key, None)
        return new, Job(repo, number, installation_id, head_sha, base_sha, gen)
    return store.mutate(PULL, pull_key(repo, number), fn, effects)


def rerequest(store: Store, repo: str, number: int, head_sha: str) -> Job | None:
    """A check re-run asked for on GitHub: a new generation for the same head."""
    rec = store.get(PULL, pull_key(repo, number))
    if rec is None or rec["head_sha"] != head_sha or rec["state"] == "closed":
        return None
    return request_review(store, repo=repo, number=number, installation_id=rec["installation_id"],
                          head_sha=head_sha, base_sha=rec["base_sha"], force=True)


def close(store: Store, repo: str, number: int) -> None:
    def fn(rec):
        if rec is None:
            return KEEP, None
        return dict(rec, state="closed", closed_at=time.time()), None
    store.mutate(PULL, pull_key(repo, number), fn)


def _verdict(rec: dict | None, job: Job, lease: float, now: float) -> str:
    if rec is None or rec["gen"] != job.gen or rec["state"] == "closed":
        return "superseded"
    if rec["state"] == "done" or (rec["state"] == "running" and holder_alive(rec, lease, now)):
        return "duplicate"
    return "run"


def verdict(store: Store, job: Job, lease: float) -> str:
    """What claim() would answer now, without claiming: a job that is already pointless is dropped
    before it waits for a slot (a stale job must not be re-queued until a slot frees up)."""
    return _verdict(store.get(PULL, job.key), job, lease, time.time())


def claim(store: Store, job: Job, holder: dict, lease: float) -> str:
    """"run" (the job is ours now), "superseded" (a newer head or request) or "duplicate"."""
    def fn(rec):
        now = time.time()
        answer = _verdict(rec, job, lease, now)
        if answer != "run":
            return KEEP, answer
        return dict(rec, state="running", holder=holder, heartbeat=now, started_at=now,
                    attempts=rec.get("attempts", 0) + 1), "run"
    return store.mutate(PULL, job.key, fn)


def _if_ours(job: Job, holder: dict, change):
    def fn(rec):
        if rec is None or rec["gen"] != job.gen or (rec.get("holder") or {}).get("id") != holder["id"]:
            return KEEP, False
        return change(rec), True
    return fn


def heartbeat(store: Store, job: Job, holder: dict) -> bool:
    """Still ours and still wanted? (False: a newer head arrived, or the lease was lost.)"""
    return store.mutate(PULL, job.key, _if_ours(job, holder, lambda rec: dict(rec, heartbeat=time.time())))


def still_wanted(store: Store, job: Job) -> bool:
    rec = store.get(PULL, job.key)
    return rec is not None and rec["gen"] == job.gen and rec["state"] != "closed"


def remember_check_run(store: Store, job: Job, run_id: int) -> None:
    def fn(rec):
        if rec is None or rec["head_sha"] != job.head_sha:
            return KEEP, None
        return dict(rec, check_run_id=run_id, check_head=job.head_sha), None
    store.mutate(PULL, job.key, fn)


def finish(store: Store, job: Job, holder: dict, conclusion: str) -> None:
    store.mutate(PULL, job.key, _if_ours(job, holder, lambda rec: dict(
        {k: v for k, v in rec.items() if k != "holder"}, state="done", conclusion=conclusion,
        finished_at=time.time())))


def release(store: Store, job: Job, holder: dict, error: str) -> None:
    """The job failed and will be retried: back to queued, free for the next claim."""
    store.mutate(PULL, job.key, _if_ours(job, holder, lambda rec: dict(
        {k: v for k, v in rec.items() if k != "holder"}, state="queued", queued_at=time.time(),
        last_error=error[:500])))


def orphans(store: Store, lease: float, queued_grace: float) -> list[tuple[Job, dict]]:
    """Jobs nobody is doing: running under a dead or silent holder, or queued for so long that the
    queued message was probably lost (queueing it again is harmless: claim() runs it once)."""
    now = time.time()
    out = []
    for _, rec in store.items(PULL):
        state = rec.get("state")
        if (state == "running" and not holder_alive(rec, lease, now)) or \
                (state == "queued" and now - rec.get("queued_at", now) > queued_grace):
            out.append((Job.from_dict(rec), rec))
    return out


def touch_queued(store: Store, job: Job) -> None:
    """Mark an orphan as queued again (now), so the next reconciler pass leaves it alone."""
    def fn(rec):
        if rec is None or rec["gen"] != job.gen or rec["state"] in ("done", "closed"):
            return KEEP, None
        return dict({k: v for k, v in rec.items() if k != "holder"}, state="queued", queued_at=time.time()), None
    store.mutate(PULL, job.key, fn)


def mark_done_elsewhere(store: Store, job: Job, conclusion: str) -> None:
    """GitHub already has a completed check for this head (the worker died after publishing)."""
    def fn(rec):
        if rec is None or rec["gen"] != job.gen:
            return KEEP, None
        return dict({k: v for k, v in rec.items() if k != "holder"}, state="done", conclusion=conclusion), None
    store.mutate(PULL, job.key, fn)


def prune(store: Store, older_than: float) -> int:
    """Forget pull requests closed or done more than `older_than` seconds ago."""
    limit = time.time() - older_than

    def old(rec) -> bool:
        ended = rec.get("closed_at") or rec.get("finished_at") or 0
        return rec.get("state") in ("closed", "done") and 0 < ended < limit

    gone = 0
    for key, rec in store.items(PULL):
        if old(rec):
            gone += store.mutate(PULL, key, lambda r: (None, 1) if r is not None and old(r) else (KEEP, 0))
    return gone


# --- concurrency slots ----------------------------------------------------------------------------

def _slot_alive(entry: dict, now: float) -> bool:
    if entry.get("host") == HOST and _proc_start(entry.get("pid", -1)) != entry.get("start"):
        return False  # its process on this machine is gone: no need to wait for the ttl
    return entry["expires"] > now


def acquire_slot(store: Store, scope: str, limit: int, holder: dict, ttl: float) -> int | None:
    """A numbered slot (0..limit-1) in `scope`, held until released, `ttl` seconds without
    renewal, or the death of the holder's process."""
    holder_id = holder["id"]

    def fn(rec):
        now = time.time()
        held = {h: v for h, v in (rec or {}).get("held", {}).items() if _slot_alive(v, now)}
        if holder_id in held:
            return KEEP, held[holder_id]["slot"]
        used = {v["slot"] for v in held.values()}
        free = next((i for i in range(limit) if i not in used), None)
        if free is None:
            return ({"held": held} if rec and len(held) != len(rec.get("held", {})) else KEEP), None
        held[holder_id] = {"slot": free, "expires": now + ttl, "host": holder["host"], "pid": holder["pid"],
                           "start": holder["start"]}
        return {"held": held}, free
    return store.mutate(SLOTS, scope, fn)


def renew_slot(store: Store, scope: str, holder_id: str, ttl: float) -> None:
    def fn(rec):
        if not rec or holder_id not in rec.get("held", {}):
            return KEEP, None
        held = dict(rec["held"])
        held[holder_id] = dict(held[holder_id], expires=time.time() + ttl)
        return {"held": held}, None
    store.mutate(SLOTS, scope, fn)


def release_slot(store: Store, scope: str, holder_id: str) -> None:
    def fn(rec):
        if not rec or holder_id not in rec.get("held", {}):
            return KEEP, None
        held = {h: v for h, v in rec["held"].items() if h != holder_id}
        return ({"held": held} if held else None), None
    store.mutate(SLOTS, scope, fn)
