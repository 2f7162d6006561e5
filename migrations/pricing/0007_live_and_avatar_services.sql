-- Live consultations are priced per minute by kind (media quotes them when a
-- session is requested); avatar messages per job. The old single
-- `live_session_minute` entry is no longer offered.
INSERT INTO services (code, name, category, unit, base_price, llm_ktokens_milli, tts_minutes_milli, avatar_minutes_milli, agora_minutes_milli, chart_computations_milli) VALUES
    ('live_chat', 'Live chat with a reader (per minute)', 'live', 'minute', 3, 0, 0, 0, 0, 0),
    ('live_voice', 'Live voice call with a reader (per minute)', 'live', 'minute', 5, 0, 0, 0, 1000, 0),
    ('live_video', 'Live video call with a reader (per minute)', 'live', 'minute', 8, 0, 0, 0, 1000, 0),
    ('avatar_voice', 'Avatar voice message', 'media', 'request', 10, 0, 1000, 0, 0, 0)
ON CONFLICT (code) DO NOTHING;
INSERT INTO price_history (id, service_code, price, kind, starts_at)
SELECT gen_random_uuid(), s.code, s.base_price, 'base', '-infinity'::timestamptz
FROM services s
WHERE s.code IN ('live_chat', 'live_voice', 'live_video', 'avatar_voice')
  AND NOT EXISTS (SELECT 1 FROM price_history h WHERE h.service_code = s.code);
UPDATE services SET active = false WHERE code = 'live_session_minute';
