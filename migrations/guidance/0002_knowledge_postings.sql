-- Full-text ranking reads an inverted index of the chunks' tsvectors: one
-- row per (lexeme, active chunk) with the weight of its best position
-- (2 for the title and tags, A; 1.5 for the heading, B; 1 for the text),
-- and the number of active chunks each lexeme is in (its IDF's ndoc). A
-- query then touches only the postings of its own lexemes, where unnesting
-- the tsvector of every matching chunk (most of them, for a question with
-- a few common words) took most of the search's time. A trigger keeps both
-- equal to the active chunks' tsvectors.
CREATE TABLE knowledge_postings (
    lexeme   text NOT NULL,
    chunk_id bigint NOT NULL REFERENCES knowledge_chunks (id) ON DELETE CASCADE,
    entry_id text NOT NULL,
    weight   real NOT NULL CHECK (weight > 0),
    PRIMARY KEY (lexeme, chunk_id)
);
CREATE INDEX knowledge_postings_chunk ON knowledge_postings (chunk_id);

CREATE TABLE knowledge_lexemes (
    lexeme text PRIMARY KEY,
    ndoc   integer NOT NULL CHECK (ndoc >= 0)
);

CREATE FUNCTION knowledge_postings_sync() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF TG_OP = 'UPDATE' AND NEW.tsv = OLD.tsv AND NEW.active = OLD.active
           AND NEW.entry_id = OLD.entry_id THEN
            RETURN NEW;
        END IF;
        WITH gone AS (DELETE FROM knowledge_postings WHERE chunk_id = OLD.id RETURNING lexeme)
        UPDATE knowledge_lexemes l SET ndoc = l.ndoc - 1 FROM gone WHERE l.lexeme = gone.lexeme;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.active THEN
        INSERT INTO knowledge_postings (lexeme, chunk_id, entry_id, weight)
        SELECT t.lexeme, NEW.id, NEW.entry_id,
               CASE WHEN 'A' = ANY (t.weights) THEN 2.0
                    WHEN 'B' = ANY (t.weights) THEN 1.5 ELSE 1.0 END
          FROM unnest(NEW.tsv) AS t (lexeme, positions, weights);
        INSERT INTO knowledge_lexemes (lexeme, ndoc)
        SELECT t.lexeme, 1 FROM unnest(NEW.tsv) AS t (lexeme, positions, weights)
        ON CONFLICT (lexeme) DO UPDATE SET ndoc = knowledge_lexemes.ndoc + 1;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;

-- BEFORE DELETE: the postings go (and their counts with them) while the
-- chunk still exists; the foreign key's cascade would skip the counts.
CREATE TRIGGER knowledge_chunks_postings
    AFTER INSERT OR UPDATE ON knowledge_chunks
    FOR EACH ROW EXECUTE FUNCTION knowledge_postings_sync();
CREATE TRIGGER knowledge_chunks_postings_delete
    BEFORE DELETE ON knowledge_chunks
    FOR EACH ROW EXECUTE FUNCTION knowledge_postings_sync();

INSERT INTO knowledge_postings (lexeme, chunk_id, entry_id, weight)
SELECT t.lexeme, c.id, c.entry_id,
       CASE WHEN 'A' = ANY (t.weights) THEN 2.0
            WHEN 'B' = ANY (t.weights) THEN 1.5 ELSE 1.0 END
  FROM knowledge_chunks c CROSS JOIN LATERAL unnest(c.tsv) AS t (lexeme, positions, weights)
 WHERE c.active;
INSERT INTO knowledge_lexemes (lexeme, ndoc)
SELECT lexeme, count(*) FROM knowledge_postings GROUP BY lexeme;
ANALYZE knowledge_postings;
ANALYZE knowledge_lexemes;
