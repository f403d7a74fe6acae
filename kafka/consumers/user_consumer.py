"""Users: topic ``users`` -> table ``users``, validated as ``UserEvent``."""

from common.events import UserEvent
from database.models import User
from kafka.consumers.spec import ConsumerSpec
from kafka.topics import USERS

USER_CONSUMER = ConsumerSpec(entity="user", topic=USERS, schema=UserEvent, table=User.__table__)
