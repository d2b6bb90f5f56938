"""Outbound: prize fulfilment and member notifications through signed webhooks (issue 16).

The audit writer writes a fulfilment record and the webhook events of a grant in the transaction
that writes the grant (the outbox, `producer.py`); the dispatcher (`dispatcher.py`) fans events
out to the operators' endpoints and delivers them, signed per the Standard Webhooks spec, at
least once, with retries on a schedule. The kernel (`activities/`) never imports this package.
"""
