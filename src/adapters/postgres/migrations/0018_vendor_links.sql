-- Vendor mode (account_settings.direct_api = false): the account's Contacts come from a
-- unified-CRM vendor's copy of its org. The linked account's token is Fernet ciphertext
-- bound to its row, as salesforce_connections' tokens are (see crypto.py); never plain text.
CREATE TABLE vendor_links (
    account_id        text PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    account_token_enc bytea NOT NULL,
    linked_at         timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
