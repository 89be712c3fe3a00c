"""turns: the timings from the end of speech take the names the rest of the app gives them,
from the record to the API (eos_first_token_ms becomes first_token_ms...)
"""

from alembic import op
import sqlalchemy as sa


revision, down_revision = '0009', '0008'

RENAMED = (
    ('eos_transcript_ms', 'transcript_ms'),
    ('eos_first_token_ms', 'first_token_ms'),
    ('eos_first_audio_ms', 'first_audio_ms'),
)


def upgrade() -> None:
    # ALTER TABLE ... RENAME COLUMN (SQLite 3.25 and later), not a batch rebuild of `turns`:
    # in place, the rows stay where they are and nothing is copied.
    for old, new in RENAMED:
        op.alter_column('turns', old, new_column_name=new, existing_type=sa.Float(),
                        existing_nullable=True)


def downgrade() -> None:
    for old, new in RENAMED:
        op.alter_column('turns', new, new_column_name=old, existing_type=sa.Float(),
                        existing_nullable=True)
