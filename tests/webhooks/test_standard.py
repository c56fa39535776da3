"""What a demanding Standard Webhooks receiver expects of each delivery, beyond a signature that verifies: a
``webhook-id`` with no full stop in it (the specification: the id must not hold a ``.``, the separator of what is
signed), answers of a 2xx taken as delivered whatever follows them, and a ``Retry-After`` honoured."""

from __future__ import annotations

from tests.support.webhook_receiver import WebhookReceiver
from tests.webhooks.conftest import RuntimeFactory, add_endpoint
from tests.webhooks.test_delivery import submit


async def test_the_webhook_id_holds_no_full_stop_even_when_the_endpoint_id_does(
    make_runtime: RuntimeFactory, receiver: WebhookReceiver
) -> None:
    runtime = await make_runtime()
    dotted = await add_endpoint(runtime.store, "v1.2", receiver.answer("/dotted"))
    plain = await add_endpoint(runtime.store, "v1_2", receiver.answer("/plain"))
    await submit(runtime.store, receiver, "a")
    await receiver.wait_for(lambda: bool(receiver.at("/dotted") and receiver.at("/plain")))
    got, other = receiver.at("/dotted")[0], receiver.at("/plain")[0]
    event_id = got.verified(dotted.secret)["id"]
    assert other.verified(plain.secret)["id"] == event_id
    assert "." not in got.webhook_id, "a full stop in the webhook-id makes what is signed ambiguous"
    assert got.webhook_id != other.webhook_id, "two endpoints' ids stay apart"
    assert other.webhook_id == f"msg_v1_2_{event_id}", "ids without a full stop are unchanged"
    page = await runtime.store.webhook_deliveries("v1.2", None, 10)
    assert [d.public()["webhook_id"] for d in page.items] == [got.webhook_id], "the API shows the id sent"
