"""The review service's own rooms: the case store, blobs, the audit chain, API keys, the queue's
messages. Faces (``pipeline.web``, ``pipeline.worker``, ``pipeline.cli``) build on them."""
