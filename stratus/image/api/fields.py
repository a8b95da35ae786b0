"""What an image is made of: the values its attributes may take, which of them clients
may write, and the request models that check them. The served JSON schemas
(:mod:`stratus.image.api.schemas`) are built from the same definitions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from stratus.runtime.api.errors import Forbidden

DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES = ("public", "community", "shared", "private")
STATUSES = (
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "pending_delete",
    "deactivated",
    "uploading",
    "importing",
)
MEMBER_STATUSES = ("pending", "accepted", "rejected")
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
MAX_INT = 2**31 - 1
NAME_LENGTH = 255

# Attributes the service manages: clients read them and never write them (``id`` only
# when creating an image).
READ_ONLY = frozenset(
    {
        "checksum",
        "created_at",
        "direct_url",
        "file",
        "id",
        "os_hash_algo",
        "os_hash_value",
        "schema",
        "self",
        "size",
        "status",
        "stores",
        "updated_at",
        "virtual_size",
    }
)
# Names no image may carry: Glance's internal bookkeeping, and store locations, which
# this service never exposes.
RESERVED = frozenset({"deleted", "deleted_at", "location", "locations"})
RESERVED_PREFIX = "os_glance"

Tag = Annotated[str, Field(min_length=1, max_length=NAME_LENGTH)]


def check_writable(name: str) -> None:
    """403 unless clients may set an attribute of this name."""
    if name in READ_ONLY:
        raise Forbidden(f"Attribute '{name}' is read-only.")
    if name in RESERVED or name.startswith(RESERVED_PREFIX):
        raise Forbidden(f"Attribute '{name}' is reserved.")


class ImageFields(BaseModel):
    """The attributes a client may set; any other key is a custom string property."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str | None = Field(None, max_length=NAME_LENGTH)
    visibility: Literal[VISIBILITIES] = "shared"  # type: ignore[valid-type]
    protected: bool = False
    os_hidden: bool = False
    min_disk: int = Field(0, ge=0, le=MAX_INT)
    min_ram: int = Field(0, ge=0, le=MAX_INT)
    disk_format: Literal[DISK_FORMATS] | None = None  # type: ignore[valid-type]
    container_format: Literal[CONTAINER_FORMATS] | None = None  # type: ignore[valid-type]
    owner: str | None = Field(None, max_length=NAME_LENGTH)
    tags: list[Tag] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_properties(self) -> ImageFields:
        for key, value in self.properties.items():
            if len(key) > NAME_LENGTH:
                raise ValueError(f"property name {key[:20]!r}... is over {NAME_LENGTH} characters")
            if not isinstance(value, str):
                raise ValueError(f"property {key!r} must be a string, not {value!r}")
        self.tags = list(dict.fromkeys(self.tags))
        return self

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def core(self) -> dict[str, Any]:
        """The core attributes (everything but the custom properties and the tags)."""
        return {name: getattr(self, name) for name in CORE_ATTRIBUTES}


CORE_ATTRIBUTES = tuple(name for name in ImageFields.model_fields if name != "tags")
WRITABLE = frozenset(ImageFields.model_fields)


class NewImage(ImageFields):
    """``POST /v2/images``: the settable attributes, and optionally the image's id."""

    id: str | None = Field(None, pattern=UUID_PATTERN)


# Member bodies ignore members they don't use, as Glance does: openstacksdk sends the
# member id along with the status it changes.
class NewMember(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    member: str = Field(min_length=1, max_length=NAME_LENGTH)


class MemberStatus(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    status: Literal[MEMBER_STATUSES]  # type: ignore[valid-type]


class PatchOperation(BaseModel):
    """One operation of an ``application/openstack-images-v2.1-json-patch`` document;
    members other than these are ignored, as RFC 6902 says."""

    model_config = ConfigDict(extra="ignore", strict=True)

    op: Literal["add", "replace", "remove"]
    path: str
    value: Any = None


class PatchDocument(RootModel[list[PatchOperation]]):
    """The body of ``PATCH /v2/images/{id}``: the operations, applied in order."""
