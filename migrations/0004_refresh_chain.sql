-- Which token a spent refresh token was exchanged for, so only the token spent last may be
-- answered again within the grace window; an older one walking the chain is a theft.
ALTER TABLE refresh_tokens ADD COLUMN replaced_by TEXT;
