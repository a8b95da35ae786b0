"""Initial identity tables.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Microsecond precision on MySQL and MariaDB too.
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "identity_domains",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_domains")),
        sa.UniqueConstraint("name", name=op.f("uq_identity_domains_name")),
    )
    op.create_table(
        "identity_regions",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("parent_region_id", sa.String(length=255), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_region_id"],
            ["identity_regions.id"],
            name=op.f("fk_identity_regions_parent_region_id"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_regions")),
    )
    op.create_index(
        op.f("ix_identity_regions_parent_region_id"), "identity_regions", ["parent_region_id"]
    )
    op.create_table(
        "identity_revocation_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("audit_id", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("project_id", sa.String(length=64), nullable=True),
        sa.Column("issued_before", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_revocation_events")),
    )
    op.create_index(
        op.f("ix_identity_revocation_events_audit_id"), "identity_revocation_events", ["audit_id"]
    )
    op.create_index(
        op.f("ix_identity_revocation_events_issued_before"),
        "identity_revocation_events",
        ["issued_before"],
    )
    op.create_index(
        op.f("ix_identity_revocation_events_project_id"),
        "identity_revocation_events",
        ["project_id"],
    )
    op.create_index(
        op.f("ix_identity_revocation_events_user_id"), "identity_revocation_events", ["user_id"]
    )
    op.create_table(
        "identity_roles",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_roles")),
        sa.UniqueConstraint("name", name=op.f("uq_identity_roles_name")),
    )
    op.create_table(
        "identity_services",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_services")),
    )
    op.create_index(op.f("ix_identity_services_type"), "identity_services", ["type"])
    op.create_table(
        "identity_assignments",
        sa.Column("actor_type", sa.String(length=8), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=8), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("role_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["identity_roles.id"],
            name=op.f("fk_identity_assignments_role_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "actor_type",
            "actor_id",
            "target_type",
            "target_id",
            "role_id",
            name=op.f("pk_identity_assignments"),
        ),
    )
    op.create_index(op.f("ix_identity_assignments_role_id"), "identity_assignments", ["role_id"])
    op.create_index(
        op.f("ix_identity_assignments_target_id"), "identity_assignments", ["target_id"]
    )
    op.create_table(
        "identity_endpoints",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("interface", sa.String(length=8), nullable=False),
        sa.Column("region_id", sa.String(length=255), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["identity_regions.id"], name=op.f("fk_identity_endpoints_region_id")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["identity_services.id"],
            name=op.f("fk_identity_endpoints_service_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_endpoints")),
    )
    op.create_index(op.f("ix_identity_endpoints_region_id"), "identity_endpoints", ["region_id"])
    op.create_index(op.f("ix_identity_endpoints_service_id"), "identity_endpoints", ["service_id"])
    op.create_table(
        "identity_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domains.id"],
            name=op.f("fk_identity_groups_domain_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_groups")),
        sa.UniqueConstraint("domain_id", "name", name=op.f("uq_identity_groups_domain_id_name")),
    )
    op.create_index(op.f("ix_identity_groups_domain_id"), "identity_groups", ["domain_id"])
    op.create_table(
        "identity_projects",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domains.id"],
            name=op.f("fk_identity_projects_domain_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_projects")),
        sa.UniqueConstraint("domain_id", "name", name=op.f("uq_identity_projects_domain_id_name")),
    )
    op.create_index(op.f("ix_identity_projects_domain_id"), "identity_projects", ["domain_id"])
    op.create_table(
        "identity_users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("domain_id", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("default_project_id", sa.String(length=64), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["identity_domains.id"],
            name=op.f("fk_identity_users_domain_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_users")),
        sa.UniqueConstraint("domain_id", "name", name=op.f("uq_identity_users_domain_id_name")),
    )
    op.create_index(op.f("ix_identity_users_domain_id"), "identity_users", ["domain_id"])
    op.create_table(
        "identity_application_credentials",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("unrestricted", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["identity_projects.id"],
            name=op.f("fk_identity_application_credentials_project_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_application_credentials_user_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_application_credentials")),
        sa.UniqueConstraint(
            "user_id", "name", name=op.f("uq_identity_application_credentials_user_id_name")
        ),
    )
    op.create_index(
        op.f("ix_identity_application_credentials_project_id"),
        "identity_application_credentials",
        ["project_id"],
    )
    op.create_table(
        "identity_group_members",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["identity_groups.id"],
            name=op.f("fk_identity_group_members_group_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_group_members_user_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_identity_group_members")),
    )
    op.create_index(
        op.f("ix_identity_group_members_user_id"), "identity_group_members", ["user_id"]
    )
    op.create_table(
        "identity_app_cred_roles",
        sa.Column("app_cred_id", sa.String(length=64), nullable=False),
        sa.Column("role_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_cred_id"],
            ["identity_application_credentials.id"],
            name=op.f("fk_identity_app_cred_roles_app_cred_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["identity_roles.id"],
            name=op.f("fk_identity_app_cred_roles_role_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("app_cred_id", "role_id", name=op.f("pk_identity_app_cred_roles")),
    )
    op.create_index(
        op.f("ix_identity_app_cred_roles_role_id"), "identity_app_cred_roles", ["role_id"]
    )


def downgrade() -> None:
    op.drop_table("identity_app_cred_roles")
    op.drop_table("identity_group_members")
    op.drop_table("identity_application_credentials")
    op.drop_table("identity_users")
    op.drop_table("identity_projects")
    op.drop_table("identity_groups")
    op.drop_table("identity_endpoints")
    op.drop_table("identity_assignments")
    op.drop_table("identity_services")
    op.drop_table("identity_roles")
    op.drop_table("identity_revocation_events")
    op.drop_table("identity_regions")
    op.drop_table("identity_domains")
