"""The mailer domain: outgoing emails and their delivery. No framework imports here."""
