"""What a feed's subscription keeps of the hubs it names: the first few, to ask in turn, not all of them."""

from __future__ import annotations

from linkcast.feeds.websub.subscriptions import MAX_HUBS, Subscriptions
from linkcast.settings import Settings
from linkcast.store.memory import MemoryStore


async def test_a_feed_naming_a_hundred_long_hubs_keeps_the_first_few() -> None:
    """A feed may name 100 hubs of 8 KiB each: kept whole, its subscription's record was 800 KiB, written again at
    every push and every step of its life."""
    settings = Settings(store="memory://", public_url="https://linkcast.example")
    store = MemoryStore(settings)
    await store.open()
    try:
        hubs = [f"https://hub{n}.example/{'h' * 8000}" for n in range(100)]
        await Subscriptions(settings, store).noticed("f", hubs, "https://feed.example/", "https://feed.example/", 0.0)
        sub = await store.get_subscription("f")
        assert sub is not None and sub.hub == hubs[0]
        assert sub.hubs == hubs[:MAX_HUBS] and len(sub.to_json()) < 50_000
    finally:
        await store.close()
