"""users.public_id (what tokens name an account by: random, never reused, unlike the numeric id
that SQLite gives again after a deletion) and users.token_version (advanced by signing out and
by a password change: older tokens are refused)

Every existing account gets its own public id. Tokens issued before this revision name the
numeric id and are refused: their users sign in again.
"""

import uuid

from alembic import op
import sqlalchemy as sa


revision, down_revision = '0008', '0007'


def upgrade() -> None:
    # Added as plain columns, never by rebuilding `users`: on SQLite a rebuild drops the old
    # table, and with foreign keys on, that deletes every session in cascade. NOT NULL needs a
    # default for the rows already there; each gets its own id below.
    op.add_column('users', sa.Column('public_id', sa.String(length=32), nullable=False,
                                     server_default=''))
    op.add_column('users', sa.Column('token_version', sa.Integer(), nullable=False,
                                     server_default='0'))
    users = sa.table('users', sa.column('id', sa.Integer()), sa.column('public_id', sa.String()))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(users.c.id)).all():
        connection.execute(
            users.update().where(users.c.id == user_id).values(public_id=uuid.uuid4().hex)
        )
    op.create_index(op.f('ix_users_public_id'), 'users', ['public_id'], unique=True)
    if connection.dialect.name != 'sqlite':  # SQLite cannot drop it without a rebuild
        op.alter_column('users', 'public_id', server_default=None)


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later), not a rebuild: see upgrade().
    op.drop_index(op.f('ix_users_public_id'), table_name='users')
    op.drop_column('users', 'token_version')
    op.drop_column('users', 'public_id')
