"""Products: topic ``products`` -> table ``products``, validated as ``ProductEvent``."""

from common.events import ProductEvent
from database.models import Product
from kafka.consumers.spec import ConsumerSpec
from kafka.topics import PRODUCTS

PRODUCT_CONSUMER = ConsumerSpec(entity="product", topic=PRODUCTS, schema=ProductEvent, table=Product.__table__)
