"""The schema as a list of migrations; PRAGMA user_version is the number applied."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: sessions, logical jobs, submissions (intents), attempts, events, log offsets
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        manifest_path TEXT,
        manifest TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        task INTEGER,
        cluster TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,
        exit_code INTEGER,
        spec TEXT NOT NULL,
        missing_since REAL,
        outputs_verified INTEGER,
        outputs_expected INTEGER,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE UNIQUE INDEX jobs_key ON jobs(session_id, name, IFNULL(task, -1));
    CREATE INDEX jobs_state ON jobs(session_id, state);
    CREATE TABLE submissions (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        job_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        tag TEXT NOT NULL UNIQUE,
        cluster TEXT NOT NULL,
        tasks TEXT NOT NULL,
        command TEXT,
        status TEXT NOT NULL,
        prior TEXT,
        scheduler_id TEXT,
        error TEXT,
        parent_id INTEGER REFERENCES submissions(id),
        created_at REAL NOT NULL,
        settled_at REAL
    );
    CREATE INDEX submissions_status ON submissions(session_id, status);
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        submission_id INTEGER REFERENCES submissions(id),
        kind TEXT NOT NULL,
        scheduler_id TEXT,
        state TEXT NOT NULL,
        raw_state TEXT,
        reason TEXT,
        exit_code INTEGER,
        submit_time REAL,
        start_time REAL,
        end_time REAL,
        log_path TEXT,
        err_path TEXT,
        requeues INTEGER NOT NULL DEFAULT 0,
        UNIQUE (job_id, number)
    );
    CREATE INDEX attempts_scheduler_id ON attempts(scheduler_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        job_id INTEGER REFERENCES jobs(id) ON DELETE CASCADE,
        attempt INTEGER,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT,
        message TEXT NOT NULL
    );
    CREATE INDEX events_job ON events(job_id, at);
    CREATE INDEX events_session ON events(session_id, at);
    CREATE TABLE log_offsets (
        attempt_id INTEGER NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
        stream TEXT NOT NULL,
        path TEXT NOT NULL,
        offset INTEGER NOT NULL,
        identity TEXT,
        updated_at REAL NOT NULL,
        PRIMARY KEY (attempt_id, stream)
    );
    CREATE TABLE outputs (
        job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        present INTEGER NOT NULL,
        problem TEXT,
        size INTEGER,
        checked_at REAL NOT NULL,
        PRIMARY KEY (job_id, path)
    );
    """,
    # 2: the monitor lease (one monitor acts per session) and log growth for the stall warning
    """
    CREATE TABLE leases (
        session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        holder TEXT NOT NULL,
        acquired_at REAL NOT NULL,
        renewed_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    ALTER TABLE attempts ADD COLUMN log_size INTEGER;
    ALTER TABLE attempts ADD COLUMN log_grew_at REAL;
    """,
    # 3: the last lines of finished Kubernetes pods' logs, kept for when the pod is gone
    # (data NULL: the pod was gone before a copy could be taken)
    """
    CREATE TABLE log_copies (
        attempt_id INTEGER NOT NULL REFERENCES attempts(id) ON DELETE CASCADE,
        stream TEXT NOT NULL,
        data BLOB,
        saved_at REAL NOT NULL,
        PRIMARY KEY (attempt_id, stream)
    );
    """,
    # 4: when a monitor (an attached one or a `sync`) last completed a whole cycle, and which one
    """
    ALTER TABLE sessions ADD COLUMN last_cycle_at REAL;
    ALTER TABLE sessions ADD COLUMN last_cycle_by TEXT;
    """,
)

LATEST = len(MIGRATIONS)
