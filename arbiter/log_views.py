"""The transparency log in public: its page (``/transparency/log``) and its JSON API.

Anyone may read the latest signed checkpoint, the public key that checks it, consistency
proofs (hashes only) and the inclusion proof of an entry that names no one (a decision
issued, a policy version published, an incident declared: ``audit.PUBLIC_ACTIONS``). The
inclusion proof of any other entry is for staff (a user token of a staff member).
``python -m arbiter.audit_verify URL`` checks the log with these endpoints alone.
"""

from dataclasses import dataclass
from urllib.parse import quote

import marshmallow as ma
from flask import Blueprint, abort, render_template
from flask_babel import gettext as _
from sqlalchemy import select

from arbiter import audit, tlog
from arbiter import transparency_log as log
from arbiter.api import Blueprint as ApiBlueprint
from arbiter.api import InSchema, OutSchema
from arbiter.documents import DECISION_OBJECT_TYPE
from arbiter.errors import DomainError
from arbiter.extensions import db

bp = Blueprint("audit_log", __name__)
blp = ApiBlueprint("Audit log", __name__, url_prefix="/api/v1",
                   description="The audit log's Merkle tree: signed checkpoints and proofs "
                               "(RFC 9162), to check that it only ever grows.")
PUBLIC_CACHE = {"Cache-Control": "public, max-age=30"}


@bp.app_template_filter("b64")
def b64_filter(digest: bytes) -> str:
    return log.b64(bytes(digest))


# --- what the page and the API show -------------------------------------------------------


@dataclass(frozen=True)
class Inclusion:
    """An entry's place in the tree and its proof against the latest checkpoint."""

    entry: audit.AuditEntry
    leaf_index: int | None  # None: not sequenced yet (within a minute)
    checkpoint: log.Checkpoint | None  # the latest one, when it includes the entry
    proof: list[bytes]

    @property
    def leaf_hash(self) -> bytes:
        return tlog.leaf_hash(tlog.entry_leaf(self.entry.id, self.entry.hash))

    @property
    def proven(self) -> bool:
        """The proof checks out against the signed root (what any reader can redo)."""
        return self.checkpoint is not None and tlog.verify_inclusion(
            self.leaf_index, self.checkpoint.tree_size, self.leaf_hash, self.proof,
            bytes(self.checkpoint.root_hash))


def decision_entry(number: str) -> audit.AuditEntry | None:
    return db.session.scalar(select(audit.AuditEntry).where(
        audit.AuditEntry.action == "decision.issued",
        audit.AuditEntry.object_type == DECISION_OBJECT_TYPE,
        audit.AuditEntry.object_id == number))


def inclusion_of(entry: audit.AuditEntry) -> Inclusion:
    leaf_index = log.leaf_of(entry.id)
    checkpoint = log.latest_checkpoint()
    if leaf_index is None or checkpoint is None or leaf_index >= checkpoint.tree_size:
        return Inclusion(entry, leaf_index, None, [])
    return Inclusion(entry, leaf_index, checkpoint,
                     log.inclusion(leaf_index, checkpoint.tree_size))


@bp.route("/transparency/log")
def transparency_log():
    """The audit log's latest signed checkpoint, its public key and how to check both."""
    return render_template("core/transparency_log.html", checkpoint=log.latest_checkpoint(),
                           verifier_key=log.verifier_key(), origin=log.origin(),
                           tree_size=log.tree_size())


# --- the API ------------------------------------------------------------------------------


class AuditLogOut(OutSchema):
    origin = ma.fields.String(required=True, metadata={
        "description": "the checkpoints' first line: which log this is"})
    verifier_key = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "the Ed25519 public key in the signed-note format "
                       "(name+keyid+base64), to check the checkpoints"})
    checkpoint = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "the latest C2SP tlog-checkpoint signed note; null before the first"})
    tree_size = ma.fields.Integer(required=True, metadata={
        "description": "leaves in the latest checkpoint"})
    root_hash = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "base64 of the latest checkpoint's root hash"})
    signed_at = ma.fields.DateTime(required=True, allow_none=True)


class AuditEntryOut(OutSchema):
    id = ma.fields.Integer(required=True)
    chain = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "the case or object chain; null for entries of the first global chain"})
    seq = ma.fields.Integer(required=True, allow_none=True)
    prev_hash = ma.fields.String(required=True, metadata={"description": "hex"})
    hash = ma.fields.String(required=True, metadata={
        "description": "hex SHA-256 of prev_hash followed by the canonical JSON of content"})
    content = ma.fields.Dict(required=True)


class InclusionProofQuery(InSchema):
    tree_size = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1),
                                  metadata={"description": "default: the latest checkpoint's"})


class InclusionProofOut(OutSchema):
    leaf_index = ma.fields.Integer(required=True)
    tree_size = ma.fields.Integer(required=True)
    leaf_hash = ma.fields.String(required=True, metadata={
        "description": "base64 of SHA-256(0x00 || leaf), the leaf being "
                       "'arbiter-audit-entry/v1\\n<id>\\n<hash>\\n'"})
    inclusion_path = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "base64 hashes, RFC 9162 section 2.1.3"})
    entry = ma.fields.Nested(AuditEntryOut, required=True)


class ConsistencyQuery(InSchema):
    first = ma.fields.Integer(required=True, data_key="from", validate=ma.validate.Range(min=1))
    second = ma.fields.Integer(required=True, data_key="to", validate=ma.validate.Range(min=1))


class ConsistencyOut(OutSchema):
    first = ma.fields.Integer(required=True, data_key="from")
    second = ma.fields.Integer(required=True, data_key="to")
    proof = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "base64 hashes, RFC 9162 section 2.1.4"})


class DecisionEntryOut(OutSchema):
    number = ma.fields.String(required=True)
    leaf_index = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "null until the sequencer has added the entry (within a minute)"})
    fingerprints = ma.fields.Dict(required=True, metadata={
        "description": "per language: SHA-256 of the document's content, printed on it"})
    entry = ma.fields.Nested(AuditEntryOut, required=True)


class BadProof(DomainError):
    status = 422
    code = "invalid_proof_request"


@blp.route("/audit/log", methods=["GET"])
@blp.response(200, AuditLogOut)
def log_head():
    """The latest signed checkpoint and the public key that checks it; public."""
    checkpoint = log.latest_checkpoint()
    return {"origin": log.origin(), "verifier_key": log.verifier_key(),
            "checkpoint": checkpoint.note if checkpoint else None,
            "tree_size": checkpoint.tree_size if checkpoint else 0,
            "root_hash": log.b64(checkpoint.root_hash) if checkpoint else None,
            "signed_at": checkpoint.signed_at if checkpoint else None}, 200, PUBLIC_CACHE


def _tree_size(asked: int | None) -> int:
    if asked is not None:
        return asked
    checkpoint = log.latest_checkpoint()
    if checkpoint is None:
        raise BadProof(_("No checkpoint has been published yet."))
    return checkpoint.tree_size


def _may_read(entry: audit.AuditEntry) -> None:
    """Public entries for everyone; the others only with a staff member's token."""
    if entry.is_public:
        return
    from accounts import second_factor
    from integrations import auth

    caller = auth.load_caller()  # 401 without a valid token
    if caller.user is None or not caller.user.is_staff:
        abort(403)
    refusal = second_factor.token_refusal(caller.user)  # as every staff endpoint
    if refusal is not None:
        raise refusal


@blp.route("/audit/entries/<int:leaf_index>/proof", methods=["GET"])
@blp.arguments(InclusionProofQuery, location="query")
@blp.response(200, InclusionProofOut)
@blp.alt_response(401, description="an entry that names someone, asked without a token")
@blp.alt_response(403, description="an entry that names someone, asked by someone not staff")
@blp.alt_response(404, description="no leaf with this index")
@blp.alt_response(422, description="a tree size the log does not have")
def entry_proof(query, leaf_index: int):
    """The entry at this leaf and the proof of its inclusion in the tree of ``tree_size``
    leaves (default: the latest checkpoint's). Public for entries that name no one; a
    staff member's token for the others."""
    entry = log.entry_at(leaf_index)
    if entry is None:
        abort(404)
    _may_read(entry)
    size = _tree_size(query["tree_size"])
    try:
        path = log.inclusion(leaf_index, size)
    except log.ProofRefused as error:
        raise BadProof(str(error), fields={"tree_size": [str(error)]}) from None
    return {"leaf_index": leaf_index, "tree_size": size,
            "leaf_hash": log.b64(tlog.leaf_hash(tlog.entry_leaf(entry.id, entry.hash))),
            "inclusion_path": [log.b64(digest) for digest in path],
            "entry": entry.published()}, 200, PUBLIC_CACHE if entry.is_public else {}


@blp.route("/audit/consistency", methods=["GET"])
@blp.arguments(ConsistencyQuery, location="query")
@blp.response(200, ConsistencyOut)
@blp.alt_response(422, description="sizes the log does not have")
def consistency(query):
    """The proof that the tree of ``to`` leaves extends the tree of ``from`` leaves; public
    (hashes only)."""
    try:
        proof = log.consistency(query["first"], query["second"])
    except log.ProofRefused as error:
        raise BadProof(str(error), fields={"to": [str(error)]}) from None
    return {"first": query["first"], "second": query["second"],
            "proof": [log.b64(digest) for digest in proof]}, 200, PUBLIC_CACHE


@blp.route("/audit/decisions/<path:number>", methods=["GET"])
@blp.response(200, DecisionEntryOut)
@blp.alt_response(404, description="no decision with this number")
def decision(number: str):
    """A decision's public entry in the log and its leaf index, for the inclusion proof."""
    entry = decision_entry(number)
    if entry is None:
        abort(404)
    return {"number": number, "leaf_index": log.leaf_of(entry.id),
            "fingerprints": entry.after["fingerprints"], "entry": entry.published()}, \
        200, PUBLIC_CACHE


def decision_api_url(number: str) -> str:
    return f"/api/v1/audit/decisions/{quote(number, safe='/')}"
