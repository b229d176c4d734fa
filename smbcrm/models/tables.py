"""The shop's tables as peewee models; the schema itself is created by numbered migrations."""

from __future__ import annotations

from peewee import (
    BooleanField,
    CompositeKey,
    DateField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from smbcrm.core.dates import utc_now


class BaseModel(Model):
    class Meta:
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = IntegerField(primary_key=True)
    name = TextField()
    applied_at = DateTimeField(default=utc_now)


class Setting(BaseModel):
    """Shop settings as JSON values; their keys and defaults are declared in services.settings."""

    key = TextField(primary_key=True)
    value = TextField()


class Customer(BaseModel):
    code = TextField(null=True, unique=True)
    first_name = TextField(default="")
    last_name = TextField(default="")
    email = TextField(null=True, index=True)
    phone = TextField(default="")  # as typed
    phone_e164 = TextField(null=True, index=True)  # normalised, when the number could be parsed
    phone_digits = TextField(default="")  # digit strings for search (core.phones)
    city = TextField(default="")
    region = TextField(default="")
    country = TextField(default="")
    birthday = DateField(null=True)
    notes = TextField(default="")
    email_consent = TextField(default="unknown")  # unknown | granted | withdrawn
    archived = BooleanField(default=False)
    created_at = DateTimeField(default=utc_now)
    updated_at = DateTimeField(default=utc_now)
    merged_into = ForeignKeyField("self", null=True, on_delete="SET NULL", backref="merged")
    # Kept in step with purchases by triggers (schema_v2.sql).
    purchase_count = IntegerField(default=0)
    total_spent = IntegerField(default=0)
    last_purchase_at = DateTimeField(null=True)


class Tag(BaseModel):
    name = TextField(unique=True)


class CustomerTag(BaseModel):
    customer = ForeignKeyField(Customer, on_delete="CASCADE", backref="tag_links")
    tag = ForeignKeyField(Tag, on_delete="CASCADE", backref="customer_links")

    class Meta:
        primary_key = CompositeKey("customer", "tag")


class Category(BaseModel):
    name = TextField(unique=True)


class Product(BaseModel):
    sku = TextField(null=True, unique=True)
    name = TextField()
    category = ForeignKeyField(Category, null=True, on_delete="SET NULL", backref="products")
    price = IntegerField(default=0)  # minor units of the shop's currency
    archived = BooleanField(default=False)


class ImportBatch(BaseModel):
    kind = TextField()  # customers | purchases | vcard
    file_name = TextField()
    imported_at = DateTimeField(default=utc_now)
    rows = IntegerField(default=0)
    created = IntegerField(default=0)
    updated = IntegerField(default=0)
    skipped = IntegerField(default=0)
    errors = IntegerField(default=0)
    undone_at = DateTimeField(null=True)


class ImportChange(BaseModel):
    batch = ForeignKeyField(ImportBatch, on_delete="CASCADE", backref="changes")
    customer_id = IntegerField()
    action = TextField()  # created | updated
    previous = TextField(null=True)  # JSON


class SavedMapping(BaseModel):
    name = TextField()
    kind = TextField()
    mapping = TextField()
    saved_at = DateTimeField(default=utc_now)

    class Meta:
        primary_key = CompositeKey("kind", "name")


class Purchase(BaseModel):
    customer = ForeignKeyField(Customer, null=True, on_delete="SET NULL", backref="purchases")
    purchased_at = DateTimeField()
    total = IntegerField()  # minor units
    currency = TextField()
    reference = TextField(null=True)
    source = TextField(default="")
    import_batch = ForeignKeyField(
        ImportBatch, null=True, on_delete="SET NULL", backref="purchases"
    )


class PurchaseLine(BaseModel):
    purchase = ForeignKeyField(Purchase, on_delete="CASCADE", backref="lines")
    product = ForeignKeyField(Product, null=True, on_delete="SET NULL", backref="lines")
    description = TextField(default="")
    quantity = FloatField(default=1)
    unit_price = IntegerField()  # minor units
    amount = IntegerField()  # minor units
    import_key = TextField(null=True, unique=True)  # the file row it came from


class Activity(BaseModel):
    """One event on a customer's timeline (note, mail, message, survey answer, points...)."""

    customer = ForeignKeyField(Customer, on_delete="CASCADE", backref="activities")
    occurred_at = DateTimeField(default=utc_now)
    kind = TextField()
    summary = TextField(default="")
    ref_id = IntegerField(null=True)
    data = TextField(default="{}")


class CustomField(BaseModel):
    name = TextField(unique=True)
    kind = TextField()  # text | number | date | yesno | choice
    choices = TextField(default="[]")  # JSON list, for kind "choice"
    position = IntegerField(default=0)


class CustomerFieldValue(BaseModel):
    customer = ForeignKeyField(Customer, on_delete="CASCADE", backref="field_values")
    field = ForeignKeyField(CustomField, on_delete="CASCADE", backref="values")
    value = TextField()

    class Meta:
        primary_key = CompositeKey("customer", "field")


class ConsentEvent(BaseModel):
    """Evidence of a consent change: appended, never overwritten."""

    customer = ForeignKeyField(Customer, on_delete="CASCADE", backref="consent_events")
    channel = TextField(default="email")
    state = TextField()  # unknown | granted | withdrawn
    recorded_at = DateTimeField(default=utc_now)
    method = TextField()  # e.g. counter, form, import, unsubscribe
    source = TextField(default="")  # e.g. "import clientes.xlsx row 12"
    import_batch = ForeignKeyField(ImportBatch, null=True, on_delete="SET NULL")


class Suppression(BaseModel):
    """Addresses never to mail again, stored as a hash."""

    email_hash = TextField(unique=True)
    reason = TextField()
    created_at = DateTimeField(default=utc_now)


class CustomerMerge(BaseModel):
    kept = ForeignKeyField(Customer, on_delete="CASCADE", backref="merges_kept")
    merged = ForeignKeyField(Customer, on_delete="CASCADE", backref="merges_absorbed")
    merged_at = DateTimeField(default=utc_now)
    undo = TextField()  # JSON: what to put back
    undone_at = DateTimeField(null=True)


class DuplicateDismissal(BaseModel):
    first = ForeignKeyField(Customer, on_delete="CASCADE")
    second = ForeignKeyField(Customer, on_delete="CASCADE")

    class Meta:
        primary_key = CompositeKey("first", "second")


class Segment(BaseModel):
    """A saved segment: a rule (versioned JSON, see services.segment_rules) or a static list."""

    name = TextField(unique=True)
    kind = TextField()  # rule | static
    rule = TextField(default="{}")
    created_at = DateTimeField(default=utc_now)
    updated_at = DateTimeField(default=utc_now)


class SegmentMember(BaseModel):
    """A customer on a static list."""

    segment = ForeignKeyField(Segment, on_delete="CASCADE", backref="members")
    customer = ForeignKeyField(Customer, on_delete="CASCADE", backref="segment_memberships")
    added_at = DateTimeField(default=utc_now)

    class Meta:
        primary_key = CompositeKey("segment", "customer")


class EmailAccount(BaseModel):
    """An SMTP account of the shop; its password lives in the OS keyring, never here."""

    name = TextField(unique=True)
    provider = TextField(default="custom")
    host = TextField()
    port = IntegerField()
    security = TextField()  # starttls | tls | none
    username = TextField(default="")
    from_name = TextField(default="")
    from_address = TextField()
    reply_to = TextField(null=True)
    per_minute = IntegerField(null=True)
    per_hour = IntegerField(null=True)
    per_day = IntegerField(null=True)
    held_until = DateTimeField(null=True)
    hold_reason = TextField(default="")
    created_at = DateTimeField(default=utc_now)


class AccountSend(BaseModel):
    account = ForeignKeyField(EmailAccount, on_delete="CASCADE")
    sent_at = DateTimeField()


class MailTemplate(BaseModel):
    name = TextField(unique=True)
    subject = TextField()
    body_html = TextField()
    marketing = BooleanField(default=True)
    builtin_key = TextField(null=True)
    created_at = DateTimeField(default=utc_now)
    updated_at = DateTimeField(default=utc_now)


class Campaign(BaseModel):
    name = TextField(unique=True)
    template = ForeignKeyField(MailTemplate, null=True, on_delete="SET NULL")
    account = ForeignKeyField(EmailAccount, null=True, on_delete="SET NULL")
    audience = TextField()  # all | tag:NAME | segment:NAME | customers:1,2,3
    subject = TextField(default="")
    body_html = TextField(default="")
    marketing = BooleanField(default=True)
    state = TextField(default="draft")  # draft | queued | paused | finished | cancelled
    pause_reason = TextField(default="")
    created_at = DateTimeField(default=utc_now)
    queued_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)


class OutboxMessage(BaseModel):
    campaign = ForeignKeyField(Campaign, on_delete="CASCADE")
    customer = ForeignKeyField(Customer, null=True, on_delete="SET NULL")
    state = TextField(default="queued")
    handed_over = BooleanField(default=False)
    claimed_boot = TextField(null=True)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(null=True)
    email = TextField(default="")
    reason = TextField(default="")
    server_reply = TextField(default="")
    message_id = TextField(null=True)
    sent_at = DateTimeField(null=True)
    updated_at = DateTimeField(default=utc_now)


ALL_TABLES = (
    SchemaVersion,
    Setting,
    Customer,
    Tag,
    CustomerTag,
    Category,
    Product,
    Purchase,
    PurchaseLine,
    Activity,
    CustomField,
    CustomerFieldValue,
    ConsentEvent,
    Suppression,
    CustomerMerge,
    DuplicateDismissal,
    ImportBatch,
    ImportChange,
    SavedMapping,
    Segment,
    SegmentMember,
    EmailAccount,
    AccountSend,
    MailTemplate,
    Campaign,
    OutboxMessage,
)
