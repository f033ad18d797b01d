-- As SQLite's 0014: images priced per image made.
ALTER TABLE prices ADD COLUMN per_image DOUBLE PRECISION;
