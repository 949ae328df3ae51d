"""The text toolkit: finding a person in whatever they are written in (normalized
forms, names, emails, phone numbers, obfuscations, file formats) and what they
become (redaction, deterministic fakes, stripped metadata)."""
