-- Audio heard (transcriptions, translations) is priced per second.
ALTER TABLE prices ADD COLUMN per_audio_second REAL;
