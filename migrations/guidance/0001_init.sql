-- Guidance: the knowledge base (entries, their versions, embedded chunks),
-- conversations and their messages, and flags for admin review.

-- Knowledge ---------------------------------------------------------------
-- One row per entry (a Markdown file of services/guidance/knowledge, or an
-- entry an admin created). Every change bumps `version` and is kept in
-- knowledge_versions; entries are deactivated, never deleted.
CREATE TABLE knowledge_entries (
    id           text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,119}$'),
    domain       text NOT NULL,
    title        text NOT NULL,
    language     text NOT NULL CHECK (language IN ('en', 'ta', 'hi')),
    tags         text[] NOT NULL DEFAULT '{}',
    sources      text[] NOT NULL DEFAULT '{}',
    graha        text,
    house        integer CHECK (house BETWEEN 1 AND 12),
    sign         text,
    nakshatra    text,
    yoga         text,
    body         text NOT NULL,
    -- SHA-256 over everything above but the id: an unchanged file changes nothing.
    content_hash text NOT NULL,
    -- corpus entries: the content_hash of the file as last seeded. A seed
    -- rewrites the entry only when the file changed since, so an admin's
    -- later edit (or deactivation) stands until the file itself changes.
    source_hash  text,
    version      integer NOT NULL DEFAULT 1,
    active       boolean NOT NULL DEFAULT true,
    origin       text NOT NULL DEFAULT 'corpus' CHECK (origin IN ('corpus', 'admin')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX knowledge_entries_placement ON knowledge_entries (graha, house, sign, nakshatra) WHERE active;

CREATE TABLE knowledge_versions (
    entry_id     text NOT NULL REFERENCES knowledge_entries (id),
    version      integer NOT NULL,
    change       text NOT NULL CHECK (change IN ('created', 'updated', 'deactivated', 'reactivated')),
    title        text NOT NULL,
    body         text NOT NULL,
    content_hash text NOT NULL,
    -- the whole entry as it was after this change (tags, keys, language, ...)
    content      jsonb NOT NULL,
    active       boolean NOT NULL,
    changed_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entry_id, version)
);

-- An entry split at its headings. A chunk whose embedded text (and
-- embedding model) is unchanged keeps its embedding (`content_hash` covers
-- both); `tsv` covers the title, tags, heading, text and their glossary
-- expansions, so "Shani" finds "Saturn" and the other way round. It is
-- built with `fts_config`: `english` for English entries, `simple` (no
-- stemming, no stop words) for the others.
CREATE TABLE knowledge_chunks (
    id              bigserial PRIMARY KEY,
    entry_id        text NOT NULL REFERENCES knowledge_entries (id),
    ord             integer NOT NULL,
    heading         text,
    text            text NOT NULL,
    content_hash    text NOT NULL,
    embedding_model text NOT NULL,
    embedding       real[] NOT NULL,
    fts_config      text NOT NULL CHECK (fts_config IN ('english', 'simple')),
    tsv             tsvector NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT knowledge_chunks_entry_ord UNIQUE (entry_id, ord)
);
CREATE INDEX knowledge_chunks_tsv ON knowledge_chunks USING gin (tsv) WHERE active;
CREATE INDEX knowledge_chunks_hash ON knowledge_chunks (content_hash);

-- Conversations -------------------------------------------------------------
CREATE TABLE conversations (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL,
    profile_id  uuid,
    persona     text NOT NULL,
    language    text NOT NULL CHECK (language IN ('en', 'ta', 'hi')),
    title       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_user ON conversations (user_id, id DESC);

CREATE TABLE messages (
    id                uuid PRIMARY KEY,
    conversation_id   uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role              text NOT NULL CHECK (role IN ('user', 'assistant')),
    content           text NOT NULL,
    -- assistant answers: delivered, or why not
    status            text NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'failed', 'cancelled', 'crisis')),
    provider          text,
    prompt_tokens     integer,
    completion_tokens integer,
    credits_charged   bigint NOT NULL DEFAULT 0 CHECK (credits_charged >= 0),
    hold_id           uuid,
    sources           jsonb NOT NULL DEFAULT '[]',
    chart_facts       jsonb NOT NULL DEFAULT '[]',
    corrections       integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation ON messages (conversation_id, created_at);

-- Messages an admin should look at (crisis signals), with what was said.
CREATE TABLE flags (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL,
    conversation_id uuid REFERENCES conversations (id) ON DELETE SET NULL,
    kind            text NOT NULL CHECK (kind IN ('crisis')),
    language        text NOT NULL,
    excerpt         text NOT NULL,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'reviewed')),
    reviewed_by     uuid,
    reviewed_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flags_status ON flags (status, created_at DESC);
