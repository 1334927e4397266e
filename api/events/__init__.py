"""Events out: the catalogue of webhook event types, the outbox, and its delivery.

Every event row a change writes (`api.progress.store.record_event`, in the change's own
transaction) becomes one outbox message per subscribed endpoint through a database trigger
(migration 0004), so a change that commits always has its webhooks and one that rolls back
never does. Delivery workers send the messages later, outside any request, signed as the
Standard Webhooks specification says.
"""
