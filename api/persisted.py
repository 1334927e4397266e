"""Persisted documents: Apollo's automatic persisted queries, and trusted documents.

Automatic persisted queries (the default): a client sends only
`extensions.persistedQuery.sha256Hash` (over POST, or GET so that caches can keep the
answer); an unknown hash is answered `PersistedQueryNotFound`, and the client sends the
document once with its hash, which Heed checks and keeps (per worker, the most recent
`APQ_CAPACITY` documents; another worker simply asks for the document once more).

Trusted documents (`HEED_TRUSTED_DOCUMENTS=path/to/manifest.json`): only documents listed in
the manifest run, whether asked for by hash (`extensions.persistedQuery.sha256Hash` or
`documentId`) or sent in full. The manifest is what the client's build produces: Relay's and
GraphQL Codegen's `{"<sha256>": "<document>"}`, or Apollo's persisted query manifest
(`{"format": "apollo-persisted-query-manifest", "operations": [{"id", "body", …}]}`).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import orjson

APQ_CAPACITY = 2000
NOT_FOUND = "PersistedQueryNotFound"


class PersistedDocumentError(Exception):
    """A persisted-document request that cannot run; `code` goes to `extensions.code`."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ManifestError(Exception):
    """The trusted-documents manifest cannot be used; the message says why."""


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def requested_hash(params: Mapping[str, Any]) -> str | None:
    """The document hash a request names, if any (APQ extension or `documentId`)."""
    extensions = params.get("extensions")
    if isinstance(extensions, dict):
        persisted = extensions.get("persistedQuery")
        if isinstance(persisted, dict) and isinstance(persisted.get("sha256Hash"), str):
            return persisted["sha256Hash"].lower()
    document_id = params.get("documentId")
    if isinstance(document_id, str):
        return document_id.removeprefix("sha256:").lower()
    return None


def load_manifest(path: Path) -> dict[str, str]:
    """Hash → document, from a Relay/Codegen map or an Apollo persisted query manifest."""
    try:
        raw = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ManifestError(f"cannot read {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise ManifestError(f"{path} is not valid JSON: {exc}") from None
    if isinstance(raw, dict) and raw.get("format") == "apollo-persisted-query-manifest":
        operations = raw.get("operations")
        if not isinstance(operations, list):
            raise ManifestError(f"{path}: 'operations' must be a list")
        pairs = [(op.get("id"), op.get("body")) for op in operations if isinstance(op, dict)]
    elif isinstance(raw, dict):
        pairs = list(raw.items())
    else:
        raise ManifestError(f"{path}: expected an object of hash to document")
    manifest: dict[str, str] = {}
    for key, document in pairs:
        if not isinstance(key, str) or not isinstance(document, str):
            raise ManifestError(f"{path}: every entry needs a string id and document")
        manifest[key.removeprefix("sha256:").lower()] = document
    if not manifest:
        raise ManifestError(f"{path} lists no documents")
    return manifest


class DocumentRegistry:
    """Resolves persisted-document requests to their document, before execution."""

    def __init__(self, trusted: Mapping[str, str] | None = None) -> None:
        # Every trusted document is also known by the hash of its text, so that clients
        # that hash what they send (Apollo's link) match manifests keyed by other ids.
        self.trusted = (
            {**{sha256_hex(doc): doc for doc in trusted.values()}, **trusted}
            if trusted is not None
            else None
        )
        self._trusted_texts = {sha256_hex(doc) for doc in (trusted or {}).values()}
        self._automatic: OrderedDict[str, str] = OrderedDict()

    def resolve(self, params: MutableMapping[str, Any]) -> None:
        """Fill in `params["query"]` for a persisted request, or refuse the request."""
        wanted = requested_hash(params)
        query = params.get("query")
        if self.trusted is not None:
            self._resolve_trusted(params, wanted, query)
        elif wanted is not None:
            self._resolve_automatic(params, wanted, query)

    def _resolve_trusted(
        self, params: MutableMapping[str, Any], wanted: str | None, query: Any
    ) -> None:
        assert self.trusted is not None
        if isinstance(query, str):
            if sha256_hex(query) not in self._trusted_texts:
                raise PersistedDocumentError(
                    "this server runs only registered documents: add this operation to the "
                    "trusted documents manifest (HEED_TRUSTED_DOCUMENTS)",
                    "DOCUMENT_NOT_TRUSTED",
                )
            return
        if wanted is None:
            return  # no document at all: the usual "no query" error follows
        document = self.trusted.get(wanted)
        if document is None:
            raise PersistedDocumentError(NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND")
        params["query"] = document

    def _resolve_automatic(self, params: MutableMapping[str, Any], wanted: str, query: Any) -> None:
        if isinstance(query, str):
            if sha256_hex(query) != wanted:
                raise PersistedDocumentError(
                    "provided sha256Hash does not match the query", "PERSISTED_QUERY_HASH_MISMATCH"
                )
            self._automatic[wanted] = query
            self._automatic.move_to_end(wanted)
            while len(self._automatic) > APQ_CAPACITY:
                self._automatic.popitem(last=False)
            return
        document = self._automatic.get(wanted)
        if document is None:
            raise PersistedDocumentError(NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND")
        self._automatic.move_to_end(wanted)
        params["query"] = document
