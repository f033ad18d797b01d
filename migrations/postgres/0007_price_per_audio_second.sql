-- As SQLite's 0015: audio heard priced per second.
ALTER TABLE prices ADD COLUMN per_audio_second DOUBLE PRECISION;
