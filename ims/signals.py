"""Signals of the IMS side, sent inside the transaction that stores the message, so that a
receiver's work (e.g. numbering a help-desk chat message) is part of "stored" before the 200."""

from django.dispatch import Signal

# kwargs: messages (inbound ims.models.PagerMessages just stored in one batch, in the order they came)
message_received = Signal()
# kwargs: messages (outbound PagerMessages whose fate the IMS core just decided, in one batch)
message_outcome = Signal()
# kwargs: local, remote (the identities of an inbound MESSAGE). A receiver answering True keeps
# the message for a holder who is away for a moment (a conversation they will resume).
message_wanted = Signal()
