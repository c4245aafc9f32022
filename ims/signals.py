"""Signals of the IMS side.

message_received is sent once the messages are stored and before their 200, so that a receiver's
work (e.g. numbering a help-desk chat message) is done before the IMS core hears "delivered".
It is not sent inside the transaction that stored them: a receiver that fails
leaves the MESSAGE unanswered, the core sends it again, and the receiver gets it again with
messages it may have taken before. Receivers must therefore take each message once. A receiver
returns the ids of the messages it shows as its own (a conversation's chat): the holder's windows
hear of those as taken, and need not look up whether to show them.
"""

from django.dispatch import Signal

# kwargs: messages (inbound ims.models.PagerMessages stored, in the order they came; some may have
# been stored and handed over before: a retransmission)
message_received = Signal()
# kwargs: messages (outbound PagerMessages whose fate the IMS core just decided, in one batch)
message_outcome = Signal()
# kwargs: local, remote (the identities of an inbound MESSAGE). A receiver answering True keeps
# the message for a holder who is away for a moment (a conversation they will resume).
message_wanted = Signal()
# kwargs: record (the ims.models.CallRecord just saved), state (the call's state in the event that
# changed it: calling, ringing, connected, ended). Sent after the record is committed; a receiver's
# failure is logged and leaves the call going.
call_changed = Signal()
