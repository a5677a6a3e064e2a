//! SMTP login checks against the SES SMTP endpoint (AUTH only; no mail is ever sent).
