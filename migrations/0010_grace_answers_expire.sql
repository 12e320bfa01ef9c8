-- Sealed grace answers are forgotten by the clean-up once their grace is over; this index
-- finds them without reading every refresh token.
CREATE INDEX refresh_tokens_graced ON refresh_tokens (spent_at) WHERE grace_answer IS NOT NULL;
