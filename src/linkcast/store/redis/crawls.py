"""The Redis backend's crawls (``crawl_scripts.py`` has the keys and the scripts)."""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from typing import Any

import orjson

from linkcast.core.crawls import CrawlCounts, CrawlOutcome, CrawlRecord, Discovered, accepted_event, seen_key
from linkcast.core.errors import Conflict, NotFound
from linkcast.core.events import CRAWL_JOB, Job, Page
from linkcast.core.inputs import host_key
from linkcast.settings import Settings
from linkcast.store.listing import LISTING_BYTES, within_budget
from linkcast.store.redis.core import READ_AT_ONCE
from linkcast.store.redis.crawl_scripts import ADMIT, CANCEL, CLAIM_URL, CREATE, DROP_JOBS, FINISH_PAGE
from linkcast.store.redis.events import SCAN_PAGE, RedisEvents
from linkcast.store.redis.scripts import FORGET_INDEXES

# Links one script admits at most: 128 new ones cost Redis about 6 ms (a whole page of 100,000 took 0.4 s).
LINKS_PER_STEP = 128
# Jobs of a cancelled crawl one script drops at most (about 2 ms).
JOBS_PER_STEP = 256
# Crawl specs a process keeps, each at most --max-request-bytes (its crawl job holds the rules of 256, seeds and all).
SPECS_KEPT = 64


def _links(links: list[Discovered]) -> list[Any]:
    """Links as the scripts take them: (url, key, host, depth, referrer) each."""
    return [
        part
        for link in links
        for part in (link.url, seen_key(link.url), host_key(link.url), link.depth, link.referrer or "")
    ]


class RedisCrawls(RedisEvents):
    def _preread(self, job: Job, read: list[Any]) -> Job:
        if job.kind == CRAWL_JOB:
            fields = {name: value for name, value in zip(read[0], read[1], strict=True) if value is not None}
            if not fields:
                return dataclasses.replace(job, preread=(None,))
            spec = self._specs.get((job.request_id, fields[b"created_at"]))
            if spec is None:
                return job  # its handler reads the crawl, spec and all (get_crawl), which keeps the spec
            return dataclasses.replace(job, preread=(_record(job.request_id, {**fields, b"spec": spec}),))
        return super()._preread(job, read)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        # Specs of crawls read lately, by crawl id and creation time (a crawl pruned may be made again with that id):
        # a claim leaves the spec out, which may be a megabyte of seeds read again for each of 10,000 pages.
        self._specs: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        scripts = {"create_crawl": CREATE, "admit": ADMIT, "finish_crawl": FINISH_PAGE, "cancel": CANCEL}
        self.register({**scripts, "drop_jobs": DROP_JOBS, "claim_url": CLAIM_URL, "forget_indexes": FORGET_INDEXES})

    def crawl_key(self, crawl_id: str, part: str | None = None) -> str:
        return self.key("crawl", crawl_id, *((part,) if part else ()))

    async def create_crawl(self, crawl_id: str, spec: dict[str, Any], seeds: list[str]) -> tuple[CrawlRecord, bool]:
        now = time.time()
        unique = list(dict.fromkeys(seeds))[: int(spec["max_pages"])]
        record = CrawlRecord(crawl_id, spec, created_at=now)
        record.counts.queued = record.admitted = len(unique)
        stored = orjson.dumps(spec)
        answer = await self.run_script(
            "create_crawl", repr(now), self.concurrency, crawl_id, stored,
            orjson.dumps(CrawlCounts().to_dict()), accepted_event(record).data, self._maxlen,
            *_links([Discovered(url, 0, None) for url in unique]),
        )  # fmt: skip
        if answer == -1:
            raise Conflict(f"crawl {crawl_id!r} already exists with other options")
        if answer == 0:
            existing = await self.get_crawl(crawl_id)
            assert existing is not None
            return existing, False
        self._keep_spec(crawl_id, repr(now).encode(), stored)
        return record, True

    async def get_crawl(self, crawl_id: str) -> CrawlRecord | None:
        fields = await self.redis.hgetall(self.crawl_key(crawl_id))
        if not fields:
            return None
        self._keep_spec(crawl_id, fields[b"created_at"], fields[b"spec"])
        return _record(crawl_id, fields)

    def _keep_spec(self, crawl_id: str, created_at: bytes, spec: bytes) -> None:
        self._specs[(crawl_id, created_at)] = spec
        self._specs.move_to_end((crawl_id, created_at))
        while len(self._specs) > SPECS_KEPT:
            self._specs.popitem(last=False)

    async def list_crawls(self, after: str | None, limit: int, max_bytes: int = LISTING_BYTES) -> Page:
        """Records are read ``READ_AT_ONCE`` at a time, and no more once they hold ``max_bytes``."""
        entries = await self.redis.zrangebyscore(
            self.key("crawls"), f"({int(after or 0)}", "+inf", start=0, num=limit + 1, withscores=True
        )
        read: list[tuple[float, dict[bytes, bytes]]] = []
        size = 0
        for start in range(0, min(limit, len(entries)), READ_AT_ONCE):
            if size > max_bytes:
                break
            part = entries[start : min(start + READ_AT_ONCE, limit)]
            async with self.redis.pipeline(transaction=False) as pipe:
                for crawl_id, _score in part:
                    pipe.hgetall(self.crawl_key(crawl_id.decode()))
                fields = await pipe.execute()
            for (crawl_id, score), found in zip(part, fields, strict=True):
                if found:
                    read.append((score, {**found, b"id": crawl_id}))
                    size += sum(map(len, found.values()))
        taken, _ = within_budget(read, limit, max_bytes, lambda row: sum(map(len, row[1].values())))
        more = len(entries) > len(taken)  # cut by the limit or by bytes (a record deleted meanwhile: a short page)
        records = [_record(fields.pop(b"id").decode(), fields) for _score, fields in taken]
        return Page(records, str(int(taken[-1][0])) if more and taken else None)

    async def crawl_pages(self, crawl_id: str, after: str | None, limit: int, max_bytes: int = LISTING_BYTES) -> Page:
        """Read ``READ_AT_ONCE`` events at a time, and no more once they hold ``max_bytes``."""
        key = self.crawl_key(crawl_id, "pages")
        start = int(after or 0)
        read: list[bytes] = []
        size = 0
        while len(read) < limit and size <= max_bytes:
            part = await self.redis.lrange(key, start + len(read), start + min(len(read) + READ_AT_ONCE, limit) - 1)
            if not part:
                break
            read += part
            size += sum(map(len, part))
        taken, _ = within_budget(read, limit, max_bytes, len)
        items = [{"seq": start + n + 1, **orjson.loads(body)} for n, body in enumerate(taken)]
        more = start + len(taken) < await self.redis.llen(key)
        return Page(items, str(start + len(taken)) if more else None)

    async def claim_crawl_url(self, crawl_id: str, url: str) -> bool:
        return bool(await self.run_script("claim_url", crawl_id, seen_key(url)))

    async def finish_crawl_page(self, job: Job, outcome: CrawlOutcome) -> bool:
        job_id, owner = self.receipt_of(job)
        final = seen_key(outcome.final_url) if outcome.final_url else b""
        # All but the last step's links first, a step each (the job's lease still renewed meanwhile): a worker that
        # dies between steps leaves them queued, and its job's second delivery counts them as duplicates.
        links = outcome.links
        last = len(links) - (len(links) - 1) % LINKS_PER_STEP - 1 if links else 0  # where the last step's links begin
        for start in range(0, last, LINKS_PER_STEP):
            part = links[start : start + LINKS_PER_STEP]
            args = (repr(time.time()), self.concurrency, job.request_id, seen_key(job.url), final, *_links(part))
            if not await self.run_script("admit", *args):
                last = len(links)  # ended, or recorded already: the last step records nothing either
                break
        self.forget(job)
        recorded = await self.run_script(
            "finish_crawl", repr(time.time()), self.concurrency, job_id, owner, job.request_id, seen_key(job.url),
            outcome.body.data, outcome.result, final, orjson.dumps(outcome.skipped), self._maxlen,
            *_links(links[last:]),
        )  # fmt: skip
        return bool(recorded)

    async def cancel_crawl(self, crawl_id: str) -> CrawlRecord:
        answer = await self.run_script("cancel", repr(time.time()), self.concurrency, crawl_id, self._maxlen)
        while answer != -1 and await self.run_script(
            "drop_jobs", repr(time.time()), self.concurrency, crawl_id, JOBS_PER_STEP
        ):
            pass
        record = await self.get_crawl(crawl_id) if answer != -1 else None
        if record is None:
            raise NotFound(f"no crawl with id {crawl_id!r}")
        return record

    async def _prune_crawls(self, older_than: float) -> None:
        ended = self.key("crawls_ended")
        while doomed := await self.redis.zrangebyscore(ended, "-inf", f"({older_than!r}", start=0, num=SCAN_PAGE):
            async with self.redis.pipeline(transaction=False) as pipe:
                for raw in doomed:
                    crawl_id = raw.decode()
                    pipe.unlink(
                        *(self.crawl_key(crawl_id, part) for part in ("seen", "done", "pages", "jobs")),
                        self.crawl_key(crawl_id),
                    )
                await self.queue_script(pipe, "forget_indexes", *doomed)  # those of no request or feed
                pipe.zrem(ended, *doomed)
                pipe.zrem(self.key("crawls"), *doomed)
                await pipe.execute()


def _record(crawl_id: str, fields: dict[bytes, bytes]) -> CrawlRecord:
    def number(name: bytes) -> float | None:
        value = fields.get(name)
        return float(value) if value else None

    record = CrawlRecord(
        crawl_id,
        orjson.loads(fields[b"spec"]),
        fields[b"state"].decode(),
        number(b"created_at") or 0.0,
        number(b"started_at"),
        number(b"finished_at"),
        CrawlCounts.from_dict(orjson.loads(fields.get(b"counts", b"{}"))),
    )
    record.admitted = int(fields.get(b"admitted", b"0"))
    record.given_back = int(fields.get(b"given_back", b"0"))
    return record
