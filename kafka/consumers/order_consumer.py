"""Orders: topic ``orders`` -> table ``orders``, validated as ``OrderEvent``.

Each batch also moves the sales aggregates (``database/aggregates.py``) in its transaction.
Orders are stored even when their user or product row is not there yet (no foreign key);
``verify`` reports such orphans once all consumers caught up.
"""

from common.events import OrderEvent
from database.aggregates import order_deltas
from database.models import Order
from kafka.consumers.spec import ConsumerSpec
from kafka.topics import ORDERS

ORDER_CONSUMER = ConsumerSpec(
    entity="order",
    topic=ORDERS,
    schema=OrderEvent,
    table=Order.__table__,
    aggregate=order_deltas,
)
