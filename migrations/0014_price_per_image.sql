-- Images are priced per image made (besides any tokens they report).
ALTER TABLE prices ADD COLUMN per_image REAL;
