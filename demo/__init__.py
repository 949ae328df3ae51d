"""Demo tenants: realistic, reproducible AtomiCRM data for demos, benchmarks and tests.

The CRM's data is not the service's: this package is beside `server/`, which never
imports it (an import-linter contract). `privacyctl seed`, the bench and the
tests' factories all write CRM rows through it.

- `demo.seeding.seed_tenant` fills one new tenant with staff users, contacts and
  everything around them: messages on every channel, notes, deals, files (with
  their blobs), sessions, usage events, billing contacts and channel credentials;
- `demo.planner` plans those rows from a seed, `demo.records` writes a contact's
  deal, notes, threads and files, `demo.identities` keeps everyone's identifiers
  apart, `demo.corpus` holds the wording;
- `demo.rows` are the rows of a plan and `demo.writer` the one writer of CRM rows
  (COPY, ids allocated first), which the tests' own small plans use too;
- `demo.command.seed` is what `privacyctl seed` runs.

Two promises the tests build on:

* Reproducible: the same (tenant_id, contacts, seed, users, messages_per_contact)
  give the same rows, byte for byte, except row ids, timestamps (they are relative
  to now), blob keys and the tenant key. All randomness comes from one seeded
  Faker and one seeded random.Random; nothing touches the global random state.
* Separable: a contact's identifiers (email, phone, full name, Telegram handle,
  live-chat visitor id) appear only in that contact's own records: its row, rows
  with its contact_id, deals linked to it and its files. They never appear in
  another contact's records or in the staff users' rows, not even as a substring,
  case-insensitively. So a test can erase one contact and then search the whole
  tenant for its identifiers. How each kind of identifier is kept apart:
  demo/identities.py.
"""
