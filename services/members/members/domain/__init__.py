"""The members domain: who belongs, where, with which roles. No framework imports here."""
