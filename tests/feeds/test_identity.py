"""Entry identity and fingerprints: what a poller compares between two fetches of a feed."""

from __future__ import annotations

from linkcast.feeds import parse_feed

URL = "https://feeds.example.com/feed"


def rss(*items: str) -> bytes:
    return f"<rss version='2.0'><channel>{''.join(items)}</channel></rss>".encode()


def test_ids_survive_reordering_and_content_changes_show_only_in_the_fingerprint() -> None:
    a = "<item><guid>a</guid><title>A</title><description>first</description></item>"
    b = "<item><guid>b</guid><title>B</title><description>second</description></item>"
    b_edited = "<item><guid>b</guid><title>B</title><description>second, edited</description></item>"
    before = {entry.entry_id: entry.fingerprint for entry in parse_feed(rss(a, b), URL).entries}
    reordered = {entry.entry_id: entry.fingerprint for entry in parse_feed(rss(b, a), URL).entries}
    edited = {entry.entry_id: entry.fingerprint for entry in parse_feed(rss(b_edited, a), URL).entries}
    assert before == reordered
    assert edited.keys() == before.keys() and edited["a"] == before["a"] and edited["b"] != before["b"]


def test_a_new_updated_date_changes_the_fingerprint_and_a_new_title_alone_does_not() -> None:
    def atom(updated: str, title: str) -> bytes:
        return (f'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</id><title>{title}</title>'
                f"<updated>{updated}</updated><content>c</content></entry></feed>").encode()  # fmt: skip

    [first] = parse_feed(atom("2026-01-01T00:00:00Z", "T"), URL).entries
    [later] = parse_feed(atom("2026-01-02T00:00:00Z", "T"), URL).entries
    [retitled] = parse_feed(atom("2026-01-01T00:00:00Z", "Other"), URL).entries
    assert first.fingerprint != later.fingerprint and first.fingerprint == retitled.fingerprint


def test_without_an_id_the_link_is_the_identity_and_without_a_link_a_hash_of_title_date_and_content() -> None:
    linked = "<item><link>https://example.com/p</link><title>L</title></item>"
    bare = "<item><title>T</title><pubDate>Sun, 06 Dec 2026 15:04:30 GMT</pubDate><description>d</description></item>"
    first, second = parse_feed(rss(linked, bare), URL).entries
    assert first.entry_id == "https://example.com/p"
    assert second.entry_id.startswith("sha256:") and len(second.entry_id) == 7 + 64
    [again] = parse_feed(rss(bare.replace("<item>", "<item><category>new</category>")), URL).entries
    assert again.entry_id == second.entry_id
    [changed] = parse_feed(rss(bare.replace(">d<", ">e<")), URL).entries
    assert changed.entry_id != second.entry_id


def test_an_entry_with_nothing_to_identify_it_is_skipped() -> None:
    empty = "<item><category>only a category</category><description>  </description></item>"
    feed = parse_feed(rss(empty, "<item><guid>kept</guid></item>"), URL)
    assert [entry.entry_id for entry in feed.entries] == ["kept"]


def test_a_huge_id_is_kept_as_a_hash_of_all_of_it() -> None:
    huge = "x" * 1_000_000
    first, second = parse_feed(
        rss(f"<item><guid>{huge}</guid></item>", f"<item><guid>{huge}y</guid></item>"), URL
    ).entries
    assert first.entry_id.startswith("sha256:") and len(first.entry_id) == 71
    assert first.entry_id != second.entry_id  # the hash covers the whole id, not what was kept of it
    [again] = parse_feed(rss(f"<item><guid>{huge}</guid><title>retitled</title></item>"), URL).entries
    assert again.entry_id == first.entry_id


def test_strings_are_bounded() -> None:
    long = "w " * 100_000
    item = f"<item><guid>g</guid><title>{long}</title><author>{long}</author><description>{long}</description></item>"
    [entry] = parse_feed(rss(item), URL).entries
    assert entry.title is not None and len(entry.title) <= 1024
    assert entry.author is not None and len(entry.author) <= 1024
    assert entry.summary is not None and len(entry.summary) <= 1000
    many = "".join(f"<dc:creator>Author {n}</dc:creator>" for n in range(100_000))
    [entry] = parse_feed(rss(f"<item><guid>g</guid>{many}</item>"), URL).entries
    assert entry.author is not None and entry.author.startswith("Author 0, Author 1,") and len(entry.author) <= 1024


def test_a_guid_that_is_no_permalink_is_no_link() -> None:
    item = "<item><guid isPermaLink='false'>https://example.com/not-a-link</guid></item>"
    [entry] = parse_feed(rss(item), URL).entries
    assert (entry.entry_id, entry.link) == ("https://example.com/not-a-link", None)


def test_only_http_links_are_links() -> None:
    items = ("<item><guid>1</guid><link>javascript:alert(1)</link></item>"
             "<item><guid>2</guid><link>ftp://example.com/x</link></item>")  # fmt: skip
    assert [entry.link for entry in parse_feed(rss(items), URL).entries] == [None, None]
